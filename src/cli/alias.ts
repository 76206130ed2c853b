import { need, parse, printTable, UsageError, withStore } from './args.js';
import type { CommandGroup } from './command.js';

const usage = [
  'rookery alias add ALIAS TARGET [TARGET...]   (ALIAS "@domain" is the domain\'s catch-all)',
  'rookery alias list [DOMAIN] [--json]',
  'rookery alias del ALIAS',
];

export const aliasCommand: CommandGroup = {
  name: 'alias',
  summary: 'add, list and delete aliases (one address to one or more targets)',
  usage,
  async run(args) {
    const [verb, ...rest] = args;
    const { values, positionals } = parse(rest, { json: { type: 'boolean' } }, usage.join('\n       '));
    await withStore(values, async (store) => {
      switch (verb) {
        case 'add': {
          const [alias, ...targets] = need(positionals, 2, usage[0]!);
          const made = await store.directory.addAlias(alias!, targets);
          console.log(`${made.address} -> ${made.targets.join(', ')}`);
          return;
        }
        case 'list': {
          const aliases = await store.directory.listAliases(positionals[0]);
          printTable(aliases.map((a) => ({ alias: a.address, targets: a.targets.join(', ') })), Boolean(values.json), aliases);
          return;
        }
        case 'del':
        case 'delete': {
          const [alias] = need(positionals, 1, usage[2]!);
          await store.directory.removeAlias(alias!);
          console.log(`deleted alias ${alias!.toLowerCase()}`);
          return;
        }
        default:
          throw new UsageError(`unknown verb "${verb ?? ''}" for alias\nusage: ${usage.join('\n       ')}`);
      }
    });
  },
};
