/**
 * The embedded store: one directory holding rookery.sqlite (directory,
 * mailbox index, settings) and blobs/ (message bodies). Several processes
 * may open the same directory at once.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { asStoreError } from '../errors.js';
import { FsBlobs } from '../fs/fs-blobs.js';
import type { Store } from '../types.js';
import { openDatabase } from './database.js';
import { latestVersion } from './migrations.js';
import { SqliteDirectory } from './directory.js';
import { SqliteMailStore } from './mail-store.js';
import { SqliteSettings } from './settings.js';
import { SqliteClusterRegistry } from './cluster-registry.js';
import { SqliteChangeFeed } from './changes.js';
import { SqliteTransfer } from './transfer.js';
import { SqliteQueue } from './queue.js';
import { SqliteTokens } from './tokens.js';
import { SqliteLoginFailures } from './login-failures.js';
import { SqliteVacations } from './vacation.js';

export async function openSqliteStore(dir: string, opts: { migrate?: boolean } = {}): Promise<Store> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw asStoreError(err, `creating the store directory ${dir}`);
  }
  const db = (() => {
    try {
      return openDatabase(join(dir, 'rookery.sqlite'), opts);
    } catch (err) {
      throw asStoreError(err, `opening the store at ${dir}`);
    }
  })();
  const blobs = new FsBlobs(join(dir, 'blobs'));
  await blobs.init();
  const changes = new SqliteChangeFeed(db);
  return {
    location: dir,
    schemaVersion: latestVersion,
    directory: new SqliteDirectory(db, changes),
    mail: new SqliteMailStore(db, changes),
    blobs,
    settings: new SqliteSettings(db, changes),
    cluster: new SqliteClusterRegistry(db),
    queue: new SqliteQueue(db),
    changes,
    tokens: new SqliteTokens(db),
    loginFailures: new SqliteLoginFailures(db),
    transfer: new SqliteTransfer(db, dir),
    vacation: new SqliteVacations(db),
    async close() {
      changes.close();
      db.close();
    },
  };
}
