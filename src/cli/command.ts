/** A command group of the rookery command: `rookery NAME VERB ...`. */
import type { Store } from '../store/types.js';
import { need, parse, UsageError, withStore, type Options } from './args.js';

export interface CommandGroup {
  name: string;
  /** One line for `rookery help`. */
  summary: string;
  /** The usage lines shown by `rookery NAME help` and with mistakes. */
  usage: string[];
  run(args: string[]): Promise<void>;
}

/** Parsed option values, as node:util parseArgs gives them. */
export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** One verb of a group that works on the store: `rookery GROUP VERB ARGS... [--options]`. */
export interface StoreVerb {
  /** The usage line, e.g. "rookery domain add DOMAIN". */
  usage: string;
  /** Positional arguments required. */
  args: number;
  run(store: Store, positionals: string[], values: OptionValues): Promise<void>;
}

/**
 * A command group made of verbs over the store: parses the options (the
 * group's, plus --store), checks the verb and its arguments, opens the
 * store, runs the verb and closes the store. "delete" is accepted for "del".
 */
export function storeVerbGroup(spec: { name: string; summary: string; options?: Options; verbs: Record<string, StoreVerb> }): CommandGroup {
  const usage = Object.values(spec.verbs).map((v) => v.usage);
  return {
    name: spec.name,
    summary: spec.summary,
    usage,
    async run(args) {
      const [verbName, ...rest] = args;
      const verb = spec.verbs[verbName === 'delete' ? 'del' : verbName ?? ''];
      if (!verb) throw new UsageError(`unknown verb "${verbName ?? ''}" for ${spec.name}\nusage: ${usage.join('\n       ')}`);
      const { values, positionals } = parse(rest, spec.options ?? {}, verb.usage);
      need(positionals, verb.args, verb.usage);
      await withStore(values, (store) => verb.run(store, positionals, values));
    },
  };
}
