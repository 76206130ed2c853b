/**
 * `rookery store migrate`: bring a store's schema up to date (nodes do the
 * same at start). `rookery store copy`: move a whole installation into a
 * new, empty store, e.g. from the embedded store to PostgreSQL and back.
 * `rookery store gc`: delete message bodies nothing refers to any more.
 */
import { collectBlobs, collectionDefaults, type BlobCollectionResult } from '../store/blob-gc.js';
import { readCollectionTurn } from '../upkeep/blob-collection.js';
import { copyStore } from '../store/copy.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/types.js';
import { intOption, isPostgresLocation, need, parse, UsageError, withBlobs, withStore } from './args.js';
import type { CommandGroup } from './command.js';

const migrateUsage = 'rookery store migrate [--store LOCATION] [--blobs DIR]';
const copyUsage = 'rookery store copy --from LOCATION --to LOCATION [--blobs DIR]';
const gcUsage = 'rookery store gc [--store LOCATION] [--blobs DIR] [--min-age-hours 24] [--settle-seconds 60] [--dry-run] | --last';

const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`;

/** What a collection did, in one sentence. */
function described(r: BlobCollectionResult, minAgeHours: number): string {
  return `${r.examined} blob(s) older than ${minAgeHours} h; removed ${r.removed} unreferenced (${mb(r.removedBytes)}); ` +
    `${r.keptAfterAll} kept after all (referenced or reused meanwhile)` +
    (r.restoredFromEarlierRun > 0 ? `; ${r.restoredFromEarlierRun} put back from an earlier run that stopped midway` : '');
}

/** The nodes' last collection (src/upkeep/blob-collection.ts), as kept in the store. */
async function lastCollection(store: Store): Promise<void> {
  const turn = await readCollectionTurn(store.settings);
  if (turn === null) {
    console.log('no node has collected blobs yet');
    return;
  }
  const ended = turn.finishedAt ? `finished ${turn.finishedAt}` : 'not finished (still running, or its node stopped)';
  const outcome = turn.error ? `: ended early, ${turn.error}` : turn.result ? `: ${described(turn.result, collectionDefaults.minAgeMs / 3_600_000)}` : '';
  console.log(`last collection: node ${turn.node}, started ${turn.startedAt}, ${ended}${outcome}`);
}

async function gc(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { 'min-age-hours': { type: 'string' }, 'settle-seconds': { type: 'string' }, 'dry-run': { type: 'boolean' }, last: { type: 'boolean' } }, gcUsage);
  need(positionals, 0, gcUsage);
  if (values.last) {
    if (values['min-age-hours'] !== undefined || values['settle-seconds'] !== undefined || values['dry-run']) throw new UsageError(`--last only reads; it takes no other option\nusage: ${gcUsage}`);
    await withStore(values, lastCollection);
    return;
  }
  const minAgeHours = intOption(values, 'min-age-hours', 0, 24 * 365, collectionDefaults.minAgeMs / 3_600_000);
  const settleSeconds = intOption(values, 'settle-seconds', 0, 3600, collectionDefaults.settleMs / 1000);
  const dryRun = Boolean(values['dry-run']);
  await withStore(values, async (store) => {
    const r = await collectBlobs(store, { minAgeMs: minAgeHours * 3_600_000, settleMs: settleSeconds * 1000, dryRun });
    if (dryRun) {
      console.log(`${r.examined} blob(s) older than ${minAgeHours} h, ${r.unreferenced} of them unreferenced; nothing deleted (--dry-run)`);
      return;
    }
    console.log(described(r, minAgeHours));
  });
}

async function migrate(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {}, migrateUsage);
  need(positionals, 0, migrateUsage);
  // Opening a store runs its migrations.
  await withStore(values, async (store) => {
    console.log(`store ${store.location} is at schema version ${store.schemaVersion}`);
  });
}

async function copy(args: string[]): Promise<void> {
  const { values } = parse(args, { from: { type: 'string' }, to: { type: 'string' } }, copyUsage);
  if (values.store !== undefined) throw new UsageError(`store copy takes --from and --to, not --store\nusage: ${copyUsage}`);
  if (typeof values.from !== 'string' || values.from === '' || typeof values.to !== 'string' || values.to === '') {
    throw new UsageError(`give both --from and --to\nusage: ${copyUsage}`);
  }
  let from = values.from;
  let to = values.to;
  if (typeof values.blobs === 'string') {
    // --blobs names the blob directory of the one PostgreSQL side; with two, each URL says its own.
    const pgFrom = isPostgresLocation(from);
    const pgTo = isPostgresLocation(to);
    if (pgFrom && pgTo) throw new UsageError('both stores are postgres:// URLs; give each its blob directory as ?blobs=DIR in its URL instead of --blobs');
    if (!pgFrom && !pgTo) throw new UsageError('--blobs is for a postgres:// store; both of these are embedded stores');
    if (pgFrom) from = withBlobs(from, values.blobs);
    else to = withBlobs(to, values.blobs);
  }
  const source = await openStore(from);
  let target: Store;
  try {
    target = await openStore(to);
  } catch (err) {
    await source.close();
    throw err;
  }
  try {
    const counts = await copyStore(source, target);
    console.log(`copied ${source.location} to ${target.location}: ${counts.domains} domain(s), ${counts.users} user(s), ` +
      `${counts.aliases} alias target(s), ${counts.forwards} forward(s), ${counts.mailboxes} mailbox(es), ${counts.messages} message(s), ` +
      `${counts.expunged} expunge record(s), ${counts.settings} setting(s), ${counts.blobs} blob(s)`);
  } finally {
    await Promise.allSettled([source.close(), target.close()]);
  }
}

export const storeCommand: CommandGroup = {
  name: 'store',
  summary: "bring the store's schema up to date; copy an installation to another store; delete unreferenced message bodies",
  usage: [migrateUsage, copyUsage, gcUsage],
  async run(args) {
    const [verb, ...rest] = args;
    if (verb === 'migrate') return migrate(rest);
    if (verb === 'copy') return copy(rest);
    if (verb === 'gc') return gc(rest);
    throw new UsageError(`unknown verb "${verb ?? ''}" for store\nusage: ${migrateUsage}\n       ${copyUsage}\n       ${gcUsage}`);
  },
};
