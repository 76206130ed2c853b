import { need, parse, printTable, UsageError, withStore } from './args.js';
import type { CommandGroup } from './command.js';

const usage = [
  'rookery forward add ADDRESS TARGET [--keep-copy]',
  'rookery forward list [DOMAIN] [--json]',
  'rookery forward del ADDRESS TARGET',
];

export const forwardCommand: CommandGroup = {
  name: 'forward',
  summary: "add, list and delete forwards of a user's mail",
  usage,
  async run(args) {
    const [verb, ...rest] = args;
    const { values, positionals } = parse(rest, { json: { type: 'boolean' }, 'keep-copy': { type: 'boolean' } }, usage.join('\n       '));
    await withStore(values, async (store) => {
      switch (verb) {
        case 'add': {
          const [address, target] = need(positionals, 2, usage[0]!);
          const f = await store.directory.addForward(address!, target!, Boolean(values['keep-copy']));
          console.log(`${f.address} -> ${f.target}${f.keepCopy ? ' (keeps a copy)' : ''}`);
          return;
        }
        case 'list': {
          const forwards = await store.directory.listForwards(positionals[0]);
          printTable(forwards.map((f) => ({ address: f.address, target: f.target, 'keep-copy': f.keepCopy ? 'yes' : 'no' })), Boolean(values.json), forwards);
          return;
        }
        case 'del':
        case 'delete': {
          const [address, target] = need(positionals, 2, usage[2]!);
          await store.directory.removeForward(address!, target!);
          console.log(`deleted forward ${address!.toLowerCase()} -> ${target!.toLowerCase()}`);
          return;
        }
        default:
          throw new UsageError(`unknown verb "${verb ?? ''}" for forward\nusage: ${usage.join('\n       ')}`);
      }
    });
  },
};
