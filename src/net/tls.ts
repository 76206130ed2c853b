/**
 * The cluster certificate lives in the store's settings, certificate and key
 * together as one value (so no reader ever pairs a new certificate with an
 * old key), and every node presents the same one. On first start a
 * self-signed certificate is generated; `rookery tls set` replaces it.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { generate } from 'selfsigned';
import type { Store } from '../store/types.js';
import type { TlsMaterial } from './service.js';

/** The settings key that holds the cluster's certificate and key (JSON of TlsMaterial). */
export const certificateSetting = 'tls.certificate';

/** The cluster's certificate, or null if none was made or set yet. */
export async function readCertificate(store: Store): Promise<TlsMaterial | null> {
  const value = await store.settings.get(certificateSetting);
  return value ? (JSON.parse(value) as TlsMaterial) : null;
}

/** Replaces the cluster's certificate (validate it first). */
export async function writeCertificate(store: Store, material: TlsMaterial): Promise<void> {
  await store.settings.set(certificateSetting, JSON.stringify({ cert: material.cert, key: material.key }));
}

export async function ensureCertificate(store: Store, hostname: string): Promise<TlsMaterial> {
  const existing = await readCertificate(store);
  if (existing) return existing;
  const made = await selfSigned(hostname);
  // Nodes starting together may each make one; the first written wins for all.
  return JSON.parse(await store.settings.setIfAbsent(certificateSetting, JSON.stringify(made))) as TlsMaterial;
}

export async function selfSigned(hostname: string): Promise<TlsMaterial> {
  const pems = await generate([{ name: 'commonName', value: hostname }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 5 * 365 * 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'subjectAltName', altNames: [{ type: 2, value: hostname }, { type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  } as never);
  return { cert: pems.cert, key: pems.private };
}

/** Checks that a certificate and key are well-formed and belong together; throws a sentence otherwise. */
export function validateCertificate(material: TlsMaterial): { subject: string; validTo: string } {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(material.cert);
  } catch {
    throw new Error('the certificate file is not a PEM certificate');
  }
  let key;
  try {
    key = createPrivateKey(material.key);
  } catch {
    throw new Error('the key file is not a PEM private key');
  }
  if (!x509.checkPrivateKey(key)) throw new Error('the key does not belong to the certificate');
  return { subject: x509.subject, validTo: x509.validTo };
}
