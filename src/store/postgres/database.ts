/**
 * The connection pool every part of the PostgreSQL store shares, and the
 * two ways to use it: one statement (query) or a transaction (transaction).
 *
 * Transactions run at READ COMMITTED and take explicit row locks (FOR NO
 * KEY UPDATE) in one global order, so concurrent writers on any number of
 * nodes queue instead of deadlocking:
 *
 *   1. user rows (quota, mailbox names, UIDVALIDITY), ascending id;
 *   2. mailbox rows (UID and modseq counters), ascending id;
 *   3. message rows, only ever after their mailbox's lock.
 *
 * A deadlock or serialization failure the server reports anyway (it rolls
 * the transaction back) is retried a few times before it becomes a
 * 'temporary' StoreError. A broken connection is never retried: the commit
 * may or may not have happened, so the caller answers "try again later",
 * which can at worst duplicate a message, never lose one.
 */
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { isConnectionError, isRetryable, pgStoreError } from './errors.js';

export type Client = pg.PoolClient;
export type Row = Record<string, unknown>;

/** int8 (bigint, count(*)) as a JS number: ids, sizes and ms timestamps stay far below 2^53. */
const int8Oid = 20;
const parseInt8 = (value: string): number => Number(value);
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === int8Oid && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** How many times a transaction the server aborted (deadlock, serialization) is run again. */
const maxRetries = 5;

export interface PgOptions {
  /** A libpq-style URL without rookery's own parameters. */
  connectionString: string;
  /** Most connections this process opens. */
  poolSize: number;
  /** How long to wait for a connection (from the pool or a new one) before 'unavailable'. */
  connectTimeoutMs: number;
}

export class Pg {
  readonly pool: pg.Pool;

  constructor(opts: PgOptions) {
    this.pool = new pg.Pool({
      connectionString: opts.connectionString,
      max: opts.poolSize,
      connectionTimeoutMillis: opts.connectTimeoutMs,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      types,
      application_name: 'rookery',
      // A lock held by a stuck peer becomes a 'temporary' error instead of a hang,
      // and a node that stalls inside a transaction cannot hold its locks forever.
      lock_timeout: 30_000,
      idle_in_transaction_session_timeout: 60_000,
      // A commit is a promise made to a sender: it must be on disk (WAL fsynced)
      // even if the server's default was relaxed. An options= in the URL overrides.
      options: '-c synchronous_commit=on',
    });
    // An idle connection the server closed (restart, failover) is dropped by the
    // pool and reported here; the next query opens a new one. Without a listener
    // the event would crash the process.
    this.pool.on('error', () => undefined);
  }

  /** One statement, autocommitted. */
  async query<R extends object = Row>(what: string, text: string, values: unknown[] = []): Promise<R[]> {
    try {
      return (await this.pool.query(text, values)).rows as R[];
    } catch (err) {
      throw pgStoreError(err, what);
    }
  }

  /**
   * Runs fn inside BEGIN ... COMMIT on one connection. Anything fn throws
   * rolls back; StoreErrors pass through, driver errors are mapped.
   */
  async transaction<T>(what: string, fn: (c: Client) => Promise<T>, opts: { readOnly?: boolean } = {}): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let client: Client;
      try {
        client = await this.pool.connect();
      } catch (err) {
        throw pgStoreError(err, what);
      }
      let broken: unknown = undefined;
      let begun = false;
      try {
        // A read-only snapshot: several reads that agree with each other (never aborts at this level).
        await client.query(opts.readOnly ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN');
        begun = true;
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        if (isConnectionError(err)) broken = err;
        else {
          try {
            await client.query('ROLLBACK');
          } catch (rollbackErr) {
            broken = rollbackErr;
          }
        }
        if (broken === undefined && isRetryable(err) && attempt < maxRetries) {
          await sleep(5 + Math.random() * 20 * (attempt + 1));
          continue;
        }
        // A pooled connection the server closed while it sat idle fails at BEGIN,
        // before anything was done: one more try on a fresh connection is safe.
        if (!begun && broken !== undefined && attempt === 0) continue;
        throw pgStoreError(err, what);
      } finally {
        // A connection in doubt is destroyed rather than handed to the next caller.
        client.release(broken === undefined ? undefined : (broken as Error));
      }
    }
  }

  private ending: Promise<void> | null = null;

  /** Closes every connection; a second call waits for the first. */
  end(): Promise<void> {
    this.ending ??= this.pool.end();
    return this.ending;
  }
}

/** Rows of one statement on a transaction's connection; errors propagate to transaction(). */
export async function q<R extends object = Row>(c: Client, text: string, values: unknown[] = []): Promise<R[]> {
  return (await c.query(text, values)).rows as R[];
}

/** The database server's clock in ms: the one clock every node agrees on (leases, heartbeats). */
export const nowMs = `(extract(epoch from clock_timestamp()) * 1000)::bigint`;
