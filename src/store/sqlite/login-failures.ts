/**
 * Recent failed logins on the embedded store: one row per key, counted up
 * in place, so the table holds one row per guessing address or guessed
 * account, never one per attempt. Times are this process's clock, as
 * everywhere in the embedded store (its nodes share one machine).
 */
import type { LoginFailures, LoginFailureTally } from '../types.js';
import { toLoginFailureTally, type LoginFailureRow } from '../rows.js';
import { type Db, prepared, storeCall, writeTransaction } from './database.js';

export class SqliteLoginFailures implements LoginFailures {
  constructor(private readonly db: Db) {}


  async record(keys: readonly string[], forgetAfterMs: number): Promise<LoginFailureTally[]> {
    const now = Date.now();
    return storeCall('recording a failed login', () => writeTransaction(this.db, () => [...new Set(keys)].map((key) => toLoginFailureTally(
      prepared(this.db, `INSERT INTO login_failures (key, failures, last_failure_at, expires_at) VALUES (?, 1, ?, ?)
        ON CONFLICT (key) DO UPDATE SET
          failures = CASE WHEN login_failures.expires_at <= excluded.last_failure_at THEN 1 ELSE login_failures.failures + 1 END,
          last_failure_at = excluded.last_failure_at, expires_at = excluded.expires_at
        RETURNING *`).get(key, now, now + forgetAfterMs) as LoginFailureRow))));
  }

  async get(keys: readonly string[]): Promise<LoginFailureTally[]> {
    const now = Date.now();
    return storeCall('reading failed logins', () => [...new Set(keys)].flatMap((key) => {
      const row = prepared(this.db, 'SELECT * FROM login_failures WHERE key = ? AND expires_at > ?').get(key, now) as LoginFailureRow | undefined;
      return row ? [toLoginFailureTally(row)] : [];
    }));
  }

  async changedSince(since: Date): Promise<LoginFailureTally[]> {
    const rows = storeCall('reading failed logins', () =>
      prepared(this.db, 'SELECT * FROM login_failures WHERE last_failure_at >= ? AND expires_at > ? ORDER BY last_failure_at')
        .all(since.getTime(), Date.now()) as LoginFailureRow[]);
    return rows.map(toLoginFailureTally);
  }

  async clear(keys: readonly string[]): Promise<number> {
    return storeCall('clearing failed logins', () => writeTransaction(this.db, () =>
      keys.reduce((n, key) => n + prepared(this.db, 'DELETE FROM login_failures WHERE key = ?').run(key).changes, 0)));
  }

  async removeExpired(): Promise<number> {
    return storeCall('removing expired failed logins', () =>
      prepared(this.db, 'DELETE FROM login_failures WHERE expires_at <= ?').run(Date.now()).changes);
  }
}
