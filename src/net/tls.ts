/**
 * The cluster certificate lives in the store's settings (tls.cert, tls.key),
 * so every node presents the same one. On first start a self-signed
 * certificate is generated; `rookery tls set` replaces it with a real one.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { generate } from 'selfsigned';
import type { Store } from '../store/types.js';
import type { TlsMaterial } from './service.js';

export async function ensureCertificate(store: Store, hostname: string): Promise<TlsMaterial> {
  const cert = await store.settings.get('tls.cert');
  const key = await store.settings.get('tls.key');
  if (cert && key) return { cert, key };
  const made = await selfSigned(hostname);
  await store.settings.set('tls.key', made.key);
  await store.settings.set('tls.cert', made.cert);
  // Another node may have raced us to it; whatever the store holds now wins.
  return { cert: (await store.settings.get('tls.cert'))!, key: (await store.settings.get('tls.key'))! };
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
