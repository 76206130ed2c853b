import { limitResetValue, limitSettingValue, limitSpecs, limitsFromSettings, whenApplied, type LimitSpec } from '../config/limits.js';
import { printTable, UsageError } from './args.js';
import { storeVerbGroup } from './command.js';

const setUsage = 'rookery config set limits.NAME VALUE';
const resetUsage = 'rookery config reset limits.NAME';

/** The limit a `limits.NAME` key names, or a usage error that says what is wrong. */
function limitOf(key: string, usage: string): LimitSpec {
  if (!key.startsWith('limits.')) throw new UsageError(`only limits.* can be set here\nusage: ${usage}`);
  const name = key.slice('limits.'.length);
  // Own keys only: "toString" is not a limit.
  if (!Object.hasOwn(limitSpecs, name)) throw new UsageError(`unknown limit "${name}"; rookery config list shows them`);
  return (limitSpecs as Record<string, LimitSpec>)[name]!;
}

export const configCommand = storeVerbGroup({
  name: 'config',
  summary: 'show and change the cluster-wide limits kept in the store',
  options: { json: { type: 'boolean' } },
  verbs: {
    list: {
      usage: 'rookery config list [--json]',
      args: 0,
      async run(store, _, values) {
        const limits = limitsFromSettings(await store.settings.all()) as unknown as Record<string, number | string>;
        const specs = limitSpecs as Record<string, LimitSpec>;
        printTable(Object.keys(specs).map((name) => ({
          name: `limits.${name}`,
          value: limits[name]!,
          default: specs[name]!.default,
          meaning: specs[name]!.atRestart ? `${specs[name]!.description} Read when a node starts.` : specs[name]!.description,
        })), Boolean(values.json), limits);
      },
    },
    set: {
      usage: setUsage,
      args: 2,
      async run(store, [key, value]) {
        const spec = limitOf(key!, setUsage);
        let parsed;
        try {
          parsed = limitSettingValue(key!, value!);
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
        await store.settings.set(key!, parsed);
        console.log(`${key} = ${parsed}; ${whenApplied(spec)}`);
      },
    },
    reset: {
      usage: resetUsage,
      args: 1,
      async run(store, [key]) {
        const spec = limitOf(key!, resetUsage);
        // The value that means "the default", as the API's DELETE writes it: no row to delete on either backend.
        await store.settings.set(key!, limitResetValue);
        console.log(`${key} = ${spec.default} (the default); ${whenApplied(spec)}`);
      },
    },
  },
});
