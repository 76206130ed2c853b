/**
 * Opens the embedded SQLite database so that several processes (nodes and
 * the CLI) can share it: WAL for concurrent readers, a busy timeout so
 * writers queue instead of failing, BEGIN IMMEDIATE for every write
 * transaction so two writers never deadlock on a lock upgrade, and
 * synchronous=FULL because WAL with NORMAL can lose the last commits on a
 * power cut, and a commit here is a promise made to a sender.
 */
import Database from 'better-sqlite3';
import { StoreError, asStoreError } from '../errors.js';
import { latestVersion, migrations } from './migrations.js';

export type Db = Database.Database;

export function openDatabase(path: string, opts: { migrate?: boolean } = {}): Db {
  const db = new Database(path);
  db.pragma('busy_timeout = 15000');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  if (opts.migrate !== false) migrate(db);
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > latestVersion) {
    db.close();
    throw new StoreError('unavailable', `the store at ${path} has schema version ${version}, newer than this rookery understands (${latestVersion}); upgrade rookery`);
  }
  return db;
}

/** Brings the schema up to date; safe to run from several processes at once. */
export function migrate(db: Db): number[] {
  const applied: number[] = [];
  const step = db.transaction(() => {
    // Read the version inside the write lock: another process may have just migrated.
    const current = db.pragma('user_version', { simple: true }) as number;
    for (const m of migrations) {
      if (m.version <= current) continue;
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
      applied.push(m.version);
    }
  });
  step.immediate();
  return applied;
}

/** Runs one store call; a driver error comes out as a StoreError that says what was being done. */
export function storeCall<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw asStoreError(err, what);
  }
}

/** Whether a driver error is a duplicate key (a primary key or unique constraint). */
export function isUniqueViolation(err: unknown): boolean {
  const code = String((err as { code?: string })?.code);
  return code.startsWith('SQLITE_CONSTRAINT_PRIMARYKEY') || code.startsWith('SQLITE_CONSTRAINT_UNIQUE');
}

/** Runs fn in a write transaction that takes the write lock up front. */
export function writeTransaction<T>(db: Db, fn: () => T): T {
  return db.transaction(fn).immediate();
}

/** Prepared statements kept per database; bounded so SQL built at run time cannot grow it without end. */
const statementCaches = new WeakMap<Db, Map<string, Database.Statement>>();
const MAX_CACHED_STATEMENTS = 256;

/**
 * The prepared statement for `sql` on `db`, compiled once and reused
 * (preparing costs tens of microseconds, more than most of the queries).
 * Callers must not leave a cached statement in a non-default mode (raw,
 * pluck, expand) without setting the mode they need on every use.
 */
export function prepared(db: Db, sql: string): Database.Statement {
  let cache = statementCaches.get(db);
  if (!cache) {
    cache = new Map();
    statementCaches.set(db, cache);
  }
  let statement = cache.get(sql);
  if (!statement) {
    statement = db.prepare(sql);
    if (cache.size >= MAX_CACHED_STATEMENTS) cache.delete(cache.keys().next().value as string);
    cache.set(sql, statement);
  }
  return statement;
}
