/** Export and import of the whole embedded store (rookery store copy); see ../dump.ts. */
import { exportTables, importTables, tablesEmpty, type SqlAccess } from '../dump.js';
import { asStoreError } from '../errors.js';
import type { StoreDumpBatch, StoreTransfer } from '../types.js';
import type { Db } from './database.js';

function access(db: Db): SqlAccess {
  return {
    placeholder: () => '?',
    all: async (sql, params) => db.prepare(sql).all(...params) as Record<string, unknown>[],
    run: async (sql, params) => {
      db.prepare(sql).run(...params);
    },
    bool: (value) => (value ? 1 : 0),
  };
}

export class SqliteTransfer implements StoreTransfer {
  constructor(private readonly db: Db, private readonly where: string) {}

  async isEmpty(): Promise<boolean> {
    try {
      return await tablesEmpty(access(this.db));
    } catch (err) {
      throw asStoreError(err, 'reading the store');
    }
  }

  async *exportState(): AsyncGenerator<StoreDumpBatch> {
    // One read transaction for the whole dump: a consistent snapshot (WAL
    // readers do not block writers, and writers do not change what we see).
    try {
      this.db.exec('BEGIN DEFERRED');
    } catch (err) {
      throw asStoreError(err, 'reading the store');
    }
    try {
      for await (const batch of exportTables(access(this.db))) yield batch;
    } catch (err) {
      throw asStoreError(err, 'reading the store');
    } finally {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
    }
  }

  async importState(batches: AsyncIterable<StoreDumpBatch>): Promise<void> {
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (err) {
      throw asStoreError(err, 'loading the store');
    }
    try {
      await importTables(access(this.db), batches, this.where);
      this.db.exec('COMMIT');
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw asStoreError(err, 'loading the store');
    }
  }
}
