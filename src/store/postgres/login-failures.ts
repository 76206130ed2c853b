/**
 * Recent failed logins on PostgreSQL: one row per key, counted up in place
 * by one upsert, so concurrent failures on several nodes all count. Times
 * are the database's clock, so every node judges expiry alike.
 */
import type { LoginFailures, LoginFailureTally } from '../types.js';
import { toLoginFailureTally, type LoginFailureRow } from '../rows.js';
import { nowMs, type Pg } from './database.js';

/** In the caller's order, each key once. */
function inOrder(keys: readonly string[], rows: LoginFailureRow[]): LoginFailureTally[] {
  const byKey = new Map(rows.map((r) => [r.key, r]));
  return keys.flatMap((k) => {
    const r = byKey.get(k);
    return r ? [toLoginFailureTally(r)] : [];
  });
}

export class PgLoginFailures implements LoginFailures {
  constructor(private readonly db: Pg) {}

  async record(keys: readonly string[], forgetAfterMs: number): Promise<LoginFailureTally[]> {
    const unique = [...new Set(keys)];
    if (unique.length === 0) return [];
    const rows = await this.db.query<LoginFailureRow>('recording a failed login',
      `WITH t AS (SELECT ${nowMs} AS now)
       INSERT INTO login_failures (key, failures, last_failure_at, expires_at)
       SELECT k, 1, t.now, t.now + $2::bigint FROM unnest($1::text[]) AS k, t
       ON CONFLICT (key) DO UPDATE SET
         failures = CASE WHEN login_failures.expires_at <= EXCLUDED.last_failure_at THEN 1 ELSE login_failures.failures + 1 END,
         last_failure_at = EXCLUDED.last_failure_at, expires_at = EXCLUDED.expires_at
       RETURNING *`, [unique, Math.round(forgetAfterMs)]);
    return inOrder(unique, rows);
  }

  async get(keys: readonly string[]): Promise<LoginFailureTally[]> {
    const unique = [...new Set(keys)];
    if (unique.length === 0) return [];
    const rows = await this.db.query<LoginFailureRow>('reading failed logins',
      `SELECT * FROM login_failures WHERE key = ANY($1::text[]) AND expires_at > ${nowMs}`, [unique]);
    return inOrder(unique, rows);
  }

  async changedSince(since: Date): Promise<LoginFailureTally[]> {
    const rows = await this.db.query<LoginFailureRow>('reading failed logins',
      `SELECT * FROM login_failures WHERE last_failure_at >= $1 AND expires_at > ${nowMs} ORDER BY last_failure_at`, [since.getTime()]);
    return rows.map(toLoginFailureTally);
  }

  async clear(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const rows = await this.db.query('clearing failed logins', 'DELETE FROM login_failures WHERE key = ANY($1::text[]) RETURNING key', [[...keys]]);
    return rows.length;
  }

  async removeExpired(): Promise<number> {
    const rows = await this.db.query('removing expired failed logins', `DELETE FROM login_failures WHERE expires_at <= ${nowMs} RETURNING key`);
    return rows.length;
  }
}
