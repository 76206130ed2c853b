/** Access tokens (API bearer tokens, web sessions) on PostgreSQL; expiry is judged on the database's clock. */
import { StoreError } from '../errors.js';
import { checkNewToken } from '../token-rules.js';
import type { AccessToken, AccessTokenKind, AccessTokens, NewAccessToken } from '../types.js';
import { nowMs, type Pg } from './database.js';
import { toToken, type TokenRow } from '../rows.js';

export class PgTokens implements AccessTokens {
  constructor(private readonly db: Pg) {}

  async create(token: NewAccessToken): Promise<AccessToken> {
    const t = checkNewToken(token);
    const [row] = await this.db.query<TokenRow>('creating a token',
      `INSERT INTO access_tokens (id, kind, secret_hash, role, domain, subject, label, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, ${nowMs}, $8) ON CONFLICT (id) DO NOTHING RETURNING *`,
      [t.id, t.kind, t.secretHash, t.role, t.domain, t.subject, t.label, t.expiresAt?.getTime() ?? null]);
    if (!row) throw new StoreError('exists', `a token with id ${t.id} exists already`);
    return toToken(row);
  }

  async find(id: string): Promise<{ token: AccessToken; secretHash: string } | null> {
    const [row] = await this.db.query<TokenRow>('reading a token',
      `SELECT * FROM access_tokens WHERE id = $1 AND (expires_at IS NULL OR expires_at > ${nowMs})`, [id]);
    return row ? { token: toToken(row), secretHash: row.secret_hash } : null;
  }

  async list(opts: { kind?: AccessTokenKind } = {}): Promise<AccessToken[]> {
    const rows = await this.db.query<TokenRow>('listing tokens',
      `SELECT * FROM access_tokens WHERE (expires_at IS NULL OR expires_at > ${nowMs}) AND ($1::text IS NULL OR kind = $1) ORDER BY created_at, id`,
      [opts.kind ?? null]);
    return rows.map(toToken);
  }

  async touch(id: string, at: Date): Promise<void> {
    await this.db.query('recording a token\'s use', 'UPDATE access_tokens SET last_used_at = $2 WHERE id = $1', [id, at.getTime()]);
  }

  async remove(id: string): Promise<void> {
    const rows = await this.db.query('removing a token', 'DELETE FROM access_tokens WHERE id = $1 RETURNING id', [id]);
    if (rows.length === 0) throw new StoreError('not-found', `no token ${id}`);
  }

  async removeForSubject(subject: string): Promise<number> {
    return (await this.db.query('removing tokens', 'DELETE FROM access_tokens WHERE subject = $1 RETURNING id', [subject.trim().toLowerCase()])).length;
  }

  async removeExpired(): Promise<number> {
    return (await this.db.query('removing expired tokens', `DELETE FROM access_tokens WHERE expires_at IS NOT NULL AND expires_at <= ${nowMs} RETURNING id`)).length;
  }
}
