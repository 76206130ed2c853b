/**
 * The scale-out store: directory, mailbox index, settings and the cluster
 * registry in PostgreSQL; message bodies in a blob directory every node
 * mounts (the seeds' shared NFS), with the same write-tmp, fsync, rename
 * rule as the embedded store.
 *
 * Location: a libpq-style URL plus two rookery parameters, which are taken
 * out before the URL reaches the driver:
 *
 *   postgres://user@host:5432/db?pool=10&blobs=/srv/rookery/blobs
 *
 *   pool   connections this process may open (default 10)
 *   blobs  the blob directory (default ./rookery-data/blobs, the same place
 *          the embedded store keeps its blobs). Nodes on several machines
 *          must all name one shared directory.
 *
 * A blob directory is tied to its store by a marker file holding a token
 * kept in the database: a node that opens the store with a directory
 * belonging to another store, or with an empty directory while the store
 * already holds messages (a local directory where the shared one was
 * meant), is refused at start instead of accepting mail that other nodes
 * cannot read.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { StoreError, asStoreError } from '../errors.js';
import { FsBlobs } from '../fs/fs-blobs.js';
import type { Store } from '../types.js';
import { PgChangeFeed } from './changes.js';
import { PgTransfer } from './transfer.js';
import { PgClusterRegistry } from './cluster-registry.js';
import { Pg } from './database.js';
import { PgDirectory } from './directory.js';
import { pgStoreError } from './errors.js';
import { PgMailStore } from './mail-store.js';
import { checkVersion, latestVersion, migrate } from './migrations.js';
import { PgSettings } from './settings.js';
import { PgQueue } from './queue.js';
import { PgTokens } from './tokens.js';
import { PgLoginFailures } from './login-failures.js';
import { PgVacations } from './vacation.js';

export { latestVersion as postgresSchemaVersion };

export interface PostgresStoreOptions {
  /** Connections this process may open; overrides ?pool=. */
  poolSize?: number;
  /** The blob directory; overrides ?blobs=. */
  blobsDir?: string;
  /** Run the migrations at open (default true). */
  migrate?: boolean;
  /** How long to wait for a connection before 'unavailable' (default 10 s). */
  connectTimeoutMs?: number;
}

export const defaultPoolSize = 10;
export const defaultBlobsDir = './rookery-data/blobs';
const markerName = '.rookery-store';

export interface PostgresLocation {
  /** What the driver gets: the URL without rookery's parameters. */
  connectionString: string;
  poolSize?: number;
  blobsDir?: string;
  /** The URL with any password masked, for messages and Store.location. */
  display: string;
}

/** Splits a postgres:// location into the driver's URL and rookery's own parameters. */
export function parsePostgresLocation(location: string): PostgresLocation {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw new StoreError('bad-parameters', `"${location}" is not a valid postgres:// URL`);
  }
  if (!/^postgres(ql)?:$/i.test(url.protocol)) throw new StoreError('bad-parameters', `"${location}" is not a postgres:// URL`);
  const out: PostgresLocation = { connectionString: '', display: '' };
  const pool = url.searchParams.get('pool');
  if (pool !== null) out.poolSize = parsePoolSize(pool);
  const blobs = url.searchParams.get('blobs');
  if (blobs !== null) {
    if (blobs === '') throw new StoreError('bad-parameters', 'the blobs parameter needs a directory');
    out.blobsDir = blobs;
  }
  url.searchParams.delete('pool');
  url.searchParams.delete('blobs');
  out.connectionString = url.toString();
  if (url.password !== '') url.password = '***';
  out.display = url.toString();
  return out;
}

function parsePoolSize(value: string | number): number {
  const n = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 1000) {
    throw new StoreError('bad-parameters', `pool must be a number of connections from 1 to 1000, not "${value}"`);
  }
  return n;
}

export async function openPostgresStore(location: string, opts: PostgresStoreOptions = {}): Promise<Store> {
  const where = parsePostgresLocation(location);
  const poolSize = opts.poolSize !== undefined ? parsePoolSize(opts.poolSize) : where.poolSize ?? defaultPoolSize;
  const blobsDir = resolve(opts.blobsDir ?? where.blobsDir ?? defaultBlobsDir);
  const db = new Pg({ connectionString: where.connectionString, poolSize, connectTimeoutMs: opts.connectTimeoutMs ?? 10_000 });
  try {
    if (opts.migrate !== false) await migrate(db);
    await checkVersion(db, where.display);
    const blobs = new FsBlobs(blobsDir);
    try {
      await blobs.init();
    } catch (err) {
      throw asStoreError(err, `opening the blob directory ${blobsDir}`);
    }
    await checkBlobMarker(db, blobsDir);
    const changes = new PgChangeFeed(db, where.connectionString);
    db.feed = changes;
    return {
      location: where.display,
      schemaVersion: latestVersion,
      directory: new PgDirectory(db, changes),
      mail: new PgMailStore(db),
      blobs,
      settings: new PgSettings(db),
      cluster: new PgClusterRegistry(db),
      queue: new PgQueue(db),
      changes,
      tokens: new PgTokens(db),
      loginFailures: new PgLoginFailures(db),
      transfer: new PgTransfer(db, where.display),
      vacation: new PgVacations(db, changes),
      async close() {
        await changes.close();
        await db.end();
      },
    };
  } catch (err) {
    await db.end().catch(() => undefined);
    const e = pgStoreError(err, 'opening the store');
    throw new StoreError(e.category, `opening the store at ${where.display}: ${e.message}`, { cause: e.cause ?? e });
  }
}

/** Ties the blob directory to this store (see the top of this file). */
async function checkBlobMarker(db: Pg, dir: string): Promise<void> {
  await db.query('reading the store marker', "INSERT INTO store_info (key, value) VALUES ('blobs.marker', $1) ON CONFLICT (key) DO NOTHING", [randomUUID()]);
  const [row] = await db.query<{ value: string }>('reading the store marker', "SELECT value FROM store_info WHERE key = 'blobs.marker'");
  const token = row!.value;
  const path = join(dir, markerName);
  const found = await readFile(path, 'utf8').then((s) => s.trim(), (err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw asStoreError(err, `reading ${path}`);
  });
  if (found === token) return;
  if (found !== null) {
    throw new StoreError('unavailable', `the blob directory ${dir} belongs to another store (its ${markerName} does not match this database); give this store's own blob directory`);
  }
  const [messages] = await db.query<{ any: boolean }>('counting messages', 'SELECT EXISTS (SELECT 1 FROM messages) AS any');
  if (messages!.any) {
    throw new StoreError('unavailable', `the blob directory ${dir} is not this store's: the store holds messages but the directory has no ${markerName}; every node must use the one shared blob directory`);
  }
  // First opener: write the marker durably (tmp, fsync, rename, fsync the directory).
  const tmp = join(dir, 'tmp', `marker-${randomBytes(8).toString('hex')}`);
  try {
    await writeFile(tmp, `${token}\n`, { mode: 0o640 });
    const fh = await open(tmp, 'r');
    await fh.sync().finally(() => fh.close());
    await rename(tmp, path);
    const dh = await open(dir, 'r');
    await dh.sync().finally(() => dh.close());
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw asStoreError(err, `writing ${path}`);
  }
}
