import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { readCertificate, validateCertificate, writeCertificate } from '../net/tls.js';
import { UsageError } from './args.js';
import { storeVerbGroup } from './command.js';

const setUsage = 'rookery tls set --cert FILE --key FILE';

async function readPem(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the ${what} file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export const tlsCommand = storeVerbGroup({
  name: 'tls',
  summary: "set or show the cluster's certificate (every node presents it)",
  options: { cert: { type: 'string' }, key: { type: 'string' } },
  verbs: {
    set: {
      usage: setUsage,
      args: 0,
      async run(store, _, values) {
        if (typeof values.cert !== 'string' || typeof values.key !== 'string') throw new UsageError(`give both --cert and --key\nusage: ${setUsage}`);
        const material = { cert: await readPem(values.cert, 'certificate'), key: await readPem(values.key, 'key') };
        let info;
        try {
          info = validateCertificate(material);
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
        await writeCertificate(store, material);
        console.log(`certificate set: ${info.subject.replace(/\n/g, ', ')}, valid until ${info.validTo}; nodes use it for new connections at once (within 30 seconds at worst)`);
      },
    },
    show: {
      usage: 'rookery tls show',
      args: 0,
      async run(store) {
        const cert = (await readCertificate(store))?.cert;
        if (!cert) {
          console.log('no certificate yet; the first node to start generates a self-signed one');
          return;
        }
        const x = new X509Certificate(cert);
        console.log(`subject   ${x.subject.replace(/\n/g, ', ')}`);
        console.log(`issuer    ${x.issuer.replace(/\n/g, ', ')}`);
        console.log(`names     ${x.subjectAltName ?? '-'}`);
        console.log(`valid     ${x.validFrom} to ${x.validTo}`);
        console.log(`sha256    ${x.fingerprint256}`);
      },
    },
  },
});
