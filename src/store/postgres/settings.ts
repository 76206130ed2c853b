/** Cluster-wide settings (certificate, limits) on PostgreSQL. */
import type { Settings } from '../types.js';
import { q, type Pg } from './database.js';

export class PgSettings implements Settings {
  constructor(private readonly db: Pg) {}

  async get(key: string): Promise<string | null> {
    const rows = await this.db.query<{ value: string }>('reading a setting', 'SELECT value FROM settings WHERE key = $1', [key]);
    return rows[0]?.value ?? null;
  }

  async set(key: string, value: string): Promise<void> {
    await this.db.transaction('writing a setting', async (c, changed) => {
      await q(c, 'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
      changed({ kind: 'settings', key });
    });
  }

  async setIfAbsent(key: string, value: string): Promise<string> {
    // One statement: the insert wins, or the row that beat it is read. A row
    // another transaction inserts concurrently is waited for by ON CONFLICT,
    // and a value is never deleted, so the second read always finds it.
    const inserted = await this.db.transaction('writing a setting', async (c, changed) => {
      const rows = await q<{ value: string }>(c, 'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING value', [key, value]);
      if (rows[0]) changed({ kind: 'settings', key });
      return rows[0]?.value ?? null;
    });
    if (inserted !== null) return inserted;
    const rows = await this.db.query<{ value: string }>('reading a setting', 'SELECT value FROM settings WHERE key = $1', [key]);
    return rows[0]?.value ?? value;
  }

  async compareAndSet(key: string, expected: string | null, value: string): Promise<boolean> {
    // One statement each: a concurrent insert is waited for by ON CONFLICT, a
    // concurrent update by the row lock, after which the value is compared again.
    return this.db.transaction('writing a setting', async (c, changed) => {
      const rows = expected === null
        ? await q(c, 'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING key', [key, value])
        : await q(c, 'UPDATE settings SET value = $2 WHERE key = $1 AND value = $3 RETURNING key', [key, value, expected]);
      if (rows.length > 0) changed({ kind: 'settings', key });
      return rows.length > 0;
    });
  }

  async all(): Promise<Record<string, string>> {
    const rows = await this.db.query<{ key: string; value: string }>('reading settings', 'SELECT key, value FROM settings ORDER BY key');
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }
}
