/** Access tokens (API bearer tokens, web sessions) on the embedded store. */
import { StoreError, asStoreError } from '../errors.js';
import { checkNewToken } from '../token-rules.js';
import type { AccessToken, AccessTokenKind, AccessTokens, NewAccessToken } from '../types.js';
import { type Db, isUniqueViolation, prepared, storeCall } from './database.js';
import { toToken, type TokenRow } from '../rows.js';


export class SqliteTokens implements AccessTokens {
  constructor(private readonly db: Db) {}


  async create(token: NewAccessToken): Promise<AccessToken> {
    const t = checkNewToken(token);
    const now = Date.now();
    try {
      prepared(this.db, `INSERT INTO access_tokens (id, kind, secret_hash, role, domain, subject, label, created_at, expires_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(t.id, t.kind, t.secretHash, t.role, t.domain, t.subject, t.label, now, t.expiresAt?.getTime() ?? null);
    } catch (err) {
      if (isUniqueViolation(err)) throw new StoreError('exists', `a token with id ${t.id} exists already`);
      throw asStoreError(err, 'creating a token');
    }
    return { id: t.id, kind: t.kind, role: t.role, domain: t.domain, subject: t.subject, label: t.label, createdAt: new Date(now), expiresAt: t.expiresAt, lastUsedAt: null };
  }

  async find(id: string): Promise<{ token: AccessToken; secretHash: string } | null> {
    const row = storeCall('reading a token', () =>
      prepared(this.db, 'SELECT * FROM access_tokens WHERE id = ? AND (expires_at IS NULL OR expires_at > ?)').get(id, Date.now()) as TokenRow | undefined);
    return row ? { token: toToken(row), secretHash: row.secret_hash } : null;
  }

  async list(opts: { kind?: AccessTokenKind } = {}): Promise<AccessToken[]> {
    const rows = storeCall('listing tokens', () =>
      prepared(this.db, `SELECT * FROM access_tokens WHERE (expires_at IS NULL OR expires_at > ?) AND (? IS NULL OR kind = ?) ORDER BY created_at, id`)
        .all(Date.now(), opts.kind ?? null, opts.kind ?? null) as TokenRow[]);
    return rows.map(toToken);
  }

  async touch(id: string, at: Date): Promise<void> {
    storeCall('recording a token\'s use', () => prepared(this.db, 'UPDATE access_tokens SET last_used_at = ? WHERE id = ?').run(at.getTime(), id));
  }

  async remove(id: string): Promise<void> {
    const changes = storeCall('removing a token', () => prepared(this.db, 'DELETE FROM access_tokens WHERE id = ?').run(id).changes);
    if (changes === 0) throw new StoreError('not-found', `no token ${id}`);
  }

  async removeForSubject(subject: string): Promise<number> {
    return storeCall('removing tokens', () => prepared(this.db, 'DELETE FROM access_tokens WHERE subject = ?').run(subject.trim().toLowerCase()).changes);
  }

  async removeExpired(): Promise<number> {
    return storeCall('removing expired tokens', () => prepared(this.db, 'DELETE FROM access_tokens WHERE expires_at IS NOT NULL AND expires_at <= ?').run(Date.now()).changes);
  }
}
