import { addTransport, readTransportEntries, removeTransport } from '../outbound/transport-map.js';
import { printTable } from './args.js';
import { storeVerbGroup } from './command.js';

/** `rookery transport add|list|del`: the transport map (Postfix's transport_maps; "*" is the relayhost). */
export const transportCommand = storeVerbGroup({
  name: 'transport',
  summary: 'route a domain\'s outbound mail to a host instead of its MX ("*": a smarthost for all)',
  options: { json: { type: 'boolean' } },
  verbs: {
    add: {
      usage: 'rookery transport add DOMAIN HOST[:PORT]   (DOMAIN "*" is the smarthost for every other domain)',
      args: 2,
      async run(store, [domain, target]) {
        const made = await addTransport(store.settings, domain!, target!);
        console.log(`${made.domain} -> ${made.target}`);
      },
    },
    list: {
      usage: 'rookery transport list [--json]',
      args: 0,
      async run(store, _, values) {
        const entries = await readTransportEntries(store.settings);
        printTable(Object.entries(entries).map(([domain, target]) => ({ domain, target })), Boolean(values.json), entries);
      },
    },
    del: {
      usage: 'rookery transport del DOMAIN',
      args: 1,
      async run(store, [domain]) {
        console.log(`deleted the transport for ${await removeTransport(store.settings, domain!)}`);
      },
    },
  },
});
