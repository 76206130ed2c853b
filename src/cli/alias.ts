import { printTable } from './args.js';
import { storeVerbGroup } from './command.js';

export const aliasCommand = storeVerbGroup({
  name: 'alias',
  summary: 'add, list and delete aliases (one address to one or more targets)',
  options: { json: { type: 'boolean' } },
  verbs: {
    add: {
      usage: 'rookery alias add ALIAS TARGET [TARGET...]   (ALIAS "@domain" is the domain\'s catch-all)',
      args: 2,
      async run(store, [alias, ...targets]) {
        const made = await store.directory.addAlias(alias!, targets);
        console.log(`${made.address} -> ${made.targets.join(', ')}`);
      },
    },
    list: {
      usage: 'rookery alias list [DOMAIN] [--json]',
      args: 0,
      async run(store, [domain], values) {
        const aliases = await store.directory.listAliases(domain);
        printTable(aliases.map((a) => ({ alias: a.address, targets: a.targets.join(', ') })), Boolean(values.json), aliases);
      },
    },
    del: {
      usage: 'rookery alias del ALIAS',
      args: 1,
      async run(store, [alias]) {
        await store.directory.removeAlias(alias!);
        console.log(`deleted alias ${alias!.toLowerCase()}`);
      },
    },
  },
});
