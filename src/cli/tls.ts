import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { validateCertificate } from '../net/tls.js';
import { parse, UsageError, withStore } from './args.js';
import type { CommandGroup } from './command.js';

const usage = ['rookery tls set --cert FILE --key FILE', 'rookery tls show'];

export const tlsCommand: CommandGroup = {
  name: 'tls',
  summary: "set or show the cluster's certificate (every node presents it)",
  usage,
  async run(args) {
    const [verb, ...rest] = args;
    const { values } = parse(rest, { cert: { type: 'string' }, key: { type: 'string' } }, usage.join('\n       '));
    switch (verb) {
      case 'set': {
        if (!values.cert || !values.key) throw new UsageError(`give both --cert and --key\nusage: ${usage[0]}`);
        const read = async (path: string, what: string) => {
          try {
            return await readFile(path, 'utf8');
          } catch (err) {
            throw new UsageError(`cannot read the ${what} file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
          }
        };
        const material = { cert: await read(values.cert, 'certificate'), key: await read(values.key, 'key') };
        let info;
        try {
          info = validateCertificate(material);
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
        await withStore(values, async (store) => {
          // Key first: a node reading between the two writes must never pair a new certificate with the old key.
          await store.settings.set('tls.key', material.key);
          await store.settings.set('tls.cert', material.cert);
        });
        console.log(`certificate set: ${info.subject.replace(/\n/g, ', ')}, valid until ${info.validTo}; nodes use it for new connections within 30 seconds`);
        return;
      }
      case 'show':
        await withStore(values, async (store) => {
          const cert = await store.settings.get('tls.cert');
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
        });
        return;
      default:
        throw new UsageError(`unknown verb "${verb ?? ''}" for tls\nusage: ${usage.join('\n       ')}`);
    }
  },
};
