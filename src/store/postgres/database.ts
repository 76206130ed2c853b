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
 * 'temporary' StoreError. A connection lost before COMMIT is retried on a
 * fresh one (nothing was done); one lost during COMMIT is resolved by
 * asking whether the change is there (see transaction()), so an answer
 * given to a client matches what is stored.
 *
 * A change that one statement makes entirely (a delivery, through a
 * function) runs autocommitted instead (commitStatement()): its locks are
 * held for no round trip at all.
 */
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { StoreError } from '../errors.js';
import type { StoreChange } from '../types.js';
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

/**
 * How many times a transaction the server aborted (deadlock, serialization)
 * or whose connection was lost before COMMIT is run again.
 */
const maxRetries = 5;

/** How long a commit whose answer was lost is checked for (an SMTP client waits 10 minutes for its reply). */
const confirmWindowMs = 30_000;

/** What a transaction needs of the change feed (changes.ts). */
export interface TransactionFeed {
  /** Queues NOTIFYs on the transaction's connection: sent by the server exactly at COMMIT. */
  notifyIn(c: Client, changes: readonly StoreChange[]): Promise<void>;
  /** Tells this process's subscribers, after the commit. */
  committed(changes: readonly StoreChange[]): void;
  /** The mailbox changes' channel and this process's token, for a statement that NOTIFYs by itself (rookery_deliver). */
  readonly mailboxChannel: string;
  readonly origin: string;
}

/** What commitStatement runs, made afresh for every attempt. */
export interface SettledStatement<R> {
  /**
   * A name makes it a prepared statement on each connection that runs it
   * (parsed and planned once there): for the statements run per message.
   * One name, one text.
   */
  name?: string;
  text: string;
  values: unknown[];
  /**
   * Asked on a fresh connection when the statement's answer was lost: the
   * rows it returned if it committed, or null if it did not and never will
   * (the statement is fenced, e.g. by a token that settle claims first).
   */
  settle(): Promise<R[] | null>;
}

/** Whether a failure means PostgreSQL could not be reached (rather than a refused statement). */
function unreachable(err: unknown): boolean {
  return isConnectionError(err) || pgStoreError(err, '').category === 'unavailable';
}

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

  /** A pooled connection; a pool that cannot connect counts as the store failing, and says what was being done. */
  private async connect(what: string): Promise<Client> {
    try {
      return await this.pool.connect();
    } catch (err) {
      this.outcome(err);
      throw pgStoreError(err, what);
    }
  }

  /**
   * One statement, autocommitted. A read (SELECT) that meets a connection
   * the server closed is tried again on a fresh one; a write is not, as it
   * may have been done. A `name` makes it a prepared statement on each
   * connection (parsed and planned once there; one name, one text): for the
   * statements run for every message.
   */
  async query<R extends object = Row>(what: string, text: string, values: unknown[] = [], name?: string): Promise<R[]> {
    const read = /^\s*SELECT\b/i.test(text);
    for (let attempt = 0; ; attempt++) {
      try {
        const rows = (await this.pool.query({ name, text, values })).rows as R[];
        this.outcome(undefined);
        return rows;
      } catch (err) {
        // Several pooled connections may have been closed at once: a few tries, a moment apart.
        if (read && attempt < 3 && isConnectionError(err)) {
          await sleep(10 + 20 * attempt);
          continue;
        }
        this.outcome(err);
        throw pgStoreError(err, what);
      }
    }
  }

  /**
   * Where a transaction's changes are announced (the store's change feed):
   * NOTIFY inside the transaction, so other processes hear of a change
   * exactly when it commits, and this process's subscribers right after.
   */
  feed: TransactionFeed | null = null;

  /**
   * Set when a statement could not reach PostgreSQL. Reads that failed
   * meanwhile (an IDLE session's catch-up) were not retried by anyone, so
   * the first success afterwards tells subscribers to read again ('resync').
   */
  private troubled = false;

  private outcome(err: unknown): void {
    if (err === undefined) {
      if (this.troubled) {
        this.troubled = false;
        this.feed?.committed([{ kind: 'resync' }]);
      }
    } else if (unreachable(err)) {
      this.troubled = true;
    }
  }

  /**
   * Runs fn inside BEGIN ... COMMIT on one connection. Anything fn throws
   * rolls back; StoreErrors pass through, driver errors are mapped. fn
   * reports what it changed with `changed` (see `feed`); fn may run more
   * than once, so it must not keep state outside itself.
   *
   * A connection lost before COMMIT was sent means the server rolled the
   * transaction back, so it is run again on a fresh connection. A connection
   * lost while COMMIT was on its way leaves the outcome unknown: with
   * `confirm`, the store asks on a fresh connection (for up to
   * confirmWindowMs) whether the changes are there, and answers as if the
   * commit had been seen, or runs the transaction again if it did not
   * happen; without it, or if PostgreSQL stays out of reach, the caller gets
   * 'unavailable' (saying the outcome is unknown).
   */
  async transaction<T>(
    what: string,
    fn: (c: Client, changed: (change: StoreChange) => void) => Promise<T>,
    opts: { readOnly?: boolean; confirm?: (result: T) => Promise<boolean> } = {},
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const client = await this.connect(what);
      let broken: unknown = undefined;
      let committing = false;
      let outcome: { result: T } | null = null;
      const pending: StoreChange[] = [];
      // A checked-out connection the server ends between two statements reports it
      // as an 'error' event, which would end the process if nobody listened.
      const onError = (err: Error) => { broken ??= err; };
      client.on('error', onError);
      const release = (err?: unknown) => {
        client.removeListener('error', onError);
        client.release(err === undefined ? undefined : (err as Error));
      };
      try {
        // A read-only snapshot: several reads that agree with each other (never aborts at this level).
        await client.query(opts.readOnly ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN');
        const result = await fn(client, (change) => pending.push(change));
        outcome = { result };
        if (pending.length > 0 && this.feed) await this.feed.notifyIn(client, pending);
        committing = true;
        await client.query('COMMIT');
      } catch (err) {
        if (isConnectionError(err)) broken = err;
        else {
          try {
            await client.query('ROLLBACK');
          } catch (rollbackErr) {
            broken = rollbackErr;
          }
        }
        // Released now (a connection in doubt is destroyed), before any waiting below.
        release(broken);
        // A read-only transaction changed nothing, so a lost COMMIT is no doubt at all.
        if (broken !== undefined && committing && outcome !== null && !opts.readOnly) {
          const landed = opts.confirm ? await this.confirmCommit(() => opts.confirm!(outcome!.result)) : null;
          if (landed === true) {
            this.feed?.committed(pending);
            this.outcome(undefined);
            return outcome.result;
          }
          if (landed === null) {
            this.outcome(err);
            throw new StoreError('unavailable', `${what}: the connection to PostgreSQL was lost while committing, and whether the change was made is unknown`, { cause: err });
          }
          // It did not commit: as if the connection had been lost before COMMIT.
        }
        if (attempt < maxRetries && (broken !== undefined || isRetryable(err))) {
          await sleep(5 + Math.random() * 20 * (attempt + 1));
          continue;
        }
        this.outcome(broken ?? err);
        throw pgStoreError(err, what);
      }
      release(broken);
      this.feed?.committed(pending);
      this.outcome(undefined);
      return outcome.result;
    }
  }

  /**
   * One statement that makes a change and commits by itself (autocommit):
   * the whole change in one round trip, so its row locks are held only
   * while PostgreSQL runs and commits it, never while a node's event loop
   * gets round to sending the next statement. A server error rolls it back
   * (deadlocks and serialization failures are run again, with a fresh
   * `make()`); a lost connection leaves it in doubt, which `settle` resolves
   * (for up to confirmWindowMs): the rows it committed, or a fresh attempt
   * if it did not. The statement NOTIFYs other processes itself; `changes`
   * says what its rows changed, for this process's subscribers.
   */
  async commitStatement<R extends object>(what: string, make: () => SettledStatement<R>, changes: (rows: R[]) => StoreChange[]): Promise<R[]> {
    for (let attempt = 0; ; attempt++) {
      const statement = make();
      const client = await this.connect(what);
      let broken: unknown = undefined;
      const onError = (err: Error) => { broken ??= err; };
      client.on('error', onError);
      const release = () => {
        client.removeListener('error', onError);
        client.release(broken === undefined ? undefined : (broken as Error));
      };
      let rows: R[];
      try {
        rows = (await client.query({ name: statement.name, text: statement.text, values: statement.values })).rows as R[];
      } catch (err) {
        if (isConnectionError(err)) broken ??= err;
        release();
        if (broken !== undefined) {
          const settled = await this.settleWithin(() => statement.settle());
          if (settled === null) {
            this.outcome(err);
            throw new StoreError('unavailable', `${what}: the connection to PostgreSQL was lost, and whether the change was made is unknown`, { cause: err });
          }
          if (settled.value !== null) {
            this.feed?.committed(changes(settled.value));
            this.outcome(undefined);
            return settled.value;
          }
          // It did not happen and cannot any more: as if it had never been sent.
        }
        if (attempt < maxRetries && (broken !== undefined || isRetryable(err))) {
          await sleep(5 + Math.random() * 20 * (attempt + 1));
          continue;
        }
        this.outcome(broken ?? err);
        throw pgStoreError(err, what);
      }
      release();
      this.feed?.committed(changes(rows));
      this.outcome(undefined);
      return rows;
    }
  }

  /** What `check` says once PostgreSQL answers it, or null if it stays out of reach for confirmWindowMs. */
  private async settleWithin<V>(check: () => Promise<V>): Promise<{ value: V } | null> {
    const deadline = Date.now() + confirmWindowMs;
    for (;;) {
      try {
        return { value: await check() };
      } catch {
        if (Date.now() >= deadline) return null;
        await sleep(250);
      }
    }
  }

  /**
   * Whether a commit whose answer was lost happened: true or false once
   * PostgreSQL answers, null if it stays out of reach for confirmWindowMs.
   */
  private async confirmCommit(check: () => Promise<boolean>): Promise<boolean | null> {
    const settled = await this.settleWithin(check);
    return settled === null ? null : settled.value;
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
