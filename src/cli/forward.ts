import { printTable } from './args.js';
import { storeVerbGroup } from './command.js';

export const forwardCommand = storeVerbGroup({
  name: 'forward',
  summary: "add, list and delete forwards of a user's mail",
  options: { json: { type: 'boolean' }, 'keep-copy': { type: 'boolean' } },
  verbs: {
    add: {
      usage: 'rookery forward add ADDRESS TARGET [--keep-copy]',
      args: 2,
      async run(store, [address, target], values) {
        const f = await store.directory.addForward(address!, target!, Boolean(values['keep-copy']));
        console.log(`${f.address} -> ${f.target}${f.keepCopy ? ' (keeps a copy)' : ''}`);
      },
    },
    list: {
      usage: 'rookery forward list [DOMAIN] [--json]',
      args: 0,
      async run(store, [domain], values) {
        const forwards = await store.directory.listForwards(domain);
        printTable(forwards.map((f) => ({ address: f.address, target: f.target, 'keep-copy': f.keepCopy ? 'yes' : 'no' })), Boolean(values.json), forwards);
      },
    },
    del: {
      usage: 'rookery forward del ADDRESS TARGET',
      args: 2,
      async run(store, [address, target]) {
        await store.directory.removeForward(address!, target!);
        console.log(`deleted forward ${address!.toLowerCase()} -> ${target!.toLowerCase()}`);
      },
    },
  },
});
