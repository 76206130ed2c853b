/** Export and import of the whole PostgreSQL store (rookery store copy); see ../dump.ts. */
import { exportTables, importTables, tablesEmpty, type SqlAccess } from '../dump.js';
import type { StoreDumpBatch, StoreTransfer } from '../types.js';
import type { Client, Pg } from './database.js';
import { pgStoreError } from './errors.js';

const ignore = () => undefined;

function access(c: Client | Pg['pool']): SqlAccess {
  return {
    placeholder: (n) => `$${n}`,
    all: async (sql, params) => (await c.query(sql, params)).rows as Record<string, unknown>[],
    run: async (sql, params) => {
      await c.query(sql, params);
    },
    bool: (value) => value,
  };
}

export class PgTransfer implements StoreTransfer {
  constructor(private readonly db: Pg, private readonly where: string) {}

  async isEmpty(): Promise<boolean> {
    try {
      return await tablesEmpty(access(this.db.pool));
    } catch (err) {
      throw pgStoreError(err, 'reading the store');
    }
  }

  async *exportState(): AsyncGenerator<StoreDumpBatch> {
    let client: Client;
    try {
      client = await this.db.pool.connect();
      // Reported by the next statement instead; an unheard 'error' event would end the process.
      client.on('error', ignore);
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    } catch (err) {
      throw pgStoreError(err, 'reading the store');
    }
    let failed: unknown = undefined;
    try {
      for await (const batch of exportTables(access(client))) yield batch;
    } catch (err) {
      failed = err;
      throw pgStoreError(err, 'reading the store');
    } finally {
      await client.query('ROLLBACK').catch((err: unknown) => { failed ??= err; });
      client.removeListener('error', ignore);
      client.release(failed === undefined ? undefined : (failed as Error));
    }
  }

  async importState(batches: AsyncIterable<StoreDumpBatch>): Promise<void> {
    let client: Client;
    try {
      client = await this.db.pool.connect();
      client.on('error', ignore);
    } catch (err) {
      throw pgStoreError(err, 'loading the store');
    }
    let failed: unknown = undefined;
    try {
      await client.query('BEGIN');
      // A large installation takes a while; no other writer should be waiting anyway.
      await client.query("SET LOCAL idle_in_transaction_session_timeout = '1h'");
      await client.query('LOCK TABLE domains, users, settings IN EXCLUSIVE MODE');
      await importTables(access(client), batches, this.where);
      // Ids were given explicitly: the next ones generated must come after them.
      for (const table of ['users', 'mailboxes']) {
        await client.query(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), coalesce(max(id), 0) + 1, false) FROM ${table}`);
      }
      // Processes already running on this store keep copies (the local domains): they read everything again.
      await this.db.feed?.notifyIn(client, [{ kind: 'resync' }]);
      await client.query('COMMIT');
      this.db.feed?.committed([{ kind: 'resync' }]);
    } catch (err) {
      failed = err;
      await client.query('ROLLBACK').catch(() => undefined);
      throw pgStoreError(err, 'loading the store');
    } finally {
      client.removeListener('error', ignore);
      client.release(failed === undefined ? undefined : (failed as Error));
    }
  }
}
