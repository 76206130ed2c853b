/**
 * Access token text: `rookery_<id>_<secret>`, where the id (24 hex
 * characters) finds the row and the secret (32 random bytes, base64url) is
 * checked against the SHA-256 kept in the store. The secret has 256 bits
 * of entropy, so a fast hash is enough (a slow one, as for passwords,
 * protects guessable secrets only); a stolen copy of the store holds no
 * usable token. The prefix lets secret scanners recognise a leaked token.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AccessToken, AccessTokenKind, Store, UserRole } from '../store/types.js';

const pattern = /^rookery_([0-9a-f]{24})_([A-Za-z0-9_-]{43})$/;

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Splits token text into its id and secret, or null if it is not one. */
export function parseToken(text: string): { id: string; secret: string } | null {
  const m = pattern.exec(text.trim());
  return m ? { id: m[1]!, secret: m[2]! } : null;
}

export interface MintOptions {
  kind?: AccessTokenKind;
  role: UserRole;
  domain?: string | null;
  subject?: string | null;
  label?: string;
  expiresAt?: Date | null;
}

/** Creates a token in the store; returns its record and the text (shown once, never stored). */
export async function mintToken(store: Store, opts: MintOptions): Promise<{ token: AccessToken; text: string }> {
  const id = randomBytes(12).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const token = await store.tokens.create({
    id,
    kind: opts.kind ?? 'api',
    secretHash: hashSecret(secret),
    role: opts.role,
    domain: opts.domain ?? null,
    subject: opts.subject ?? null,
    label: opts.label ?? '',
    expiresAt: opts.expiresAt ?? null,
  });
  return { token, text: `rookery_${id}_${secret}` };
}

/** The stored token the text names, if its secret matches and it has not expired; null otherwise. */
export async function verifyToken(store: Store, text: string, kind: AccessTokenKind): Promise<AccessToken | null> {
  const parsed = parseToken(text);
  if (!parsed) return null;
  const found = await store.tokens.find(parsed.id);
  if (!found || found.token.kind !== kind) return null;
  const given = Buffer.from(hashSecret(parsed.secret), 'hex');
  const expected = Buffer.from(found.secretHash, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  return found.token;
}
