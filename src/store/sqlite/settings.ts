/** Cluster-wide settings (certificate, limits) on the embedded store. */
import { asStoreError } from '../errors.js';
import type { Settings } from '../types.js';
import { prepared, type Db } from './database.js';
import type { SqliteChangeFeed } from './changes.js';

export class SqliteSettings implements Settings {
  constructor(private readonly db: Db, private readonly feed: SqliteChangeFeed) {}

  async get(key: string): Promise<string | null> {
    try {
      const row = prepared(this.db, 'SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined;
      return row?.value ?? null;
    } catch (err) {
      throw asStoreError(err, 'reading a setting');
    }
  }

  async set(key: string, value: string): Promise<void> {
    try {
      this.feed.transaction((changed) => {
        prepared(this.db, 'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
        changed({ kind: 'settings', key });
      });
    } catch (err) {
      throw asStoreError(err, 'writing a setting');
    }
  }

  async setIfAbsent(key: string, value: string): Promise<string> {
    try {
      return this.feed.transaction((changed) => {
        const inserted = prepared(this.db, 'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING').run(key, value).changes > 0;
        if (inserted) changed({ kind: 'settings', key });
        return (prepared(this.db, 'SELECT value FROM settings WHERE key = ?').get(key) as { value: string }).value;
      });
    } catch (err) {
      throw asStoreError(err, 'writing a setting');
    }
  }

  async compareAndSet(key: string, expected: string | null, value: string): Promise<boolean> {
    try {
      return this.feed.transaction((changed) => {
        const done = expected === null
          ? prepared(this.db, 'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING').run(key, value).changes > 0
          : prepared(this.db, 'UPDATE settings SET value = ? WHERE key = ? AND value = ?').run(value, key, expected).changes > 0;
        if (done) changed({ kind: 'settings', key });
        return done;
      });
    } catch (err) {
      throw asStoreError(err, 'writing a setting');
    }
  }

  async all(): Promise<Record<string, string>> {
    try {
      const rows = prepared(this.db, 'SELECT key, value FROM settings ORDER BY key').all() as { key: string; value: string }[];
      return Object.fromEntries(rows.map((r) => [r.key, r.value]));
    } catch (err) {
      throw asStoreError(err, 'reading settings');
    }
  }
}
