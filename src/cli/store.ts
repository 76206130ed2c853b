import { latestVersion } from '../store/sqlite/migrations.js';
import { parse, storeLocation, UsageError, withStore } from './args.js';
import type { CommandGroup } from './command.js';

const usage = ['rookery store migrate'];

export const storeCommand: CommandGroup = {
  name: 'store',
  summary: "bring the store's schema up to date",
  usage,
  async run(args) {
    const [verb, ...rest] = args;
    const { values } = parse(rest, {}, usage.join('\n       '));
    if (verb !== 'migrate') throw new UsageError(`unknown verb "${verb ?? ''}" for store\nusage: ${usage.join('\n       ')}`);
    // Opening a store migrates it (nodes do the same at start).
    await withStore(values, async () => undefined);
    console.log(`store ${storeLocation(values)} is at schema version ${latestVersion}`);
  },
};
