import { limitSpecs, limitsFromSettings, parseLimit, type LimitSpec } from '../config/limits.js';
import { need, parse, printTable, UsageError, withStore } from './args.js';
import type { CommandGroup } from './command.js';

const usage = ['rookery config list [--json]', 'rookery config set limits.NAME VALUE'];

export const configCommand: CommandGroup = {
  name: 'config',
  summary: 'show and change the cluster-wide limits kept in the store',
  usage,
  async run(args) {
    const [verb, ...rest] = args;
    const { values, positionals } = parse(rest, { json: { type: 'boolean' } }, usage.join('\n       '));
    await withStore(values, async (store) => {
      switch (verb) {
        case 'list': {
          const limits = limitsFromSettings(await store.settings.all()) as unknown as Record<string, number | string>;
          const specs = limitSpecs as Record<string, LimitSpec>;
          printTable(Object.keys(specs).map((name) => ({
            name: `limits.${name}`,
            value: limits[name]!,
            default: specs[name]!.default,
            meaning: specs[name]!.description,
          })), Boolean(values.json), limits);
          return;
        }
        case 'set': {
          const [key, value] = need(positionals, 2, usage[1]!);
          if (!key!.startsWith('limits.')) throw new UsageError(`only limits.* can be set here\nusage: ${usage[1]}`);
          let parsed;
          try {
            parsed = parseLimit(key!.slice('limits.'.length), value!);
          } catch (err) {
            throw new UsageError((err as Error).message);
          }
          await store.settings.set(key!, String(parsed));
          console.log(`${key} = ${parsed}; nodes apply it when they next start`);
          return;
        }
        default:
          throw new UsageError(`unknown verb "${verb ?? ''}" for config\nusage: ${usage.join('\n       ')}`);
      }
    });
  },
};
