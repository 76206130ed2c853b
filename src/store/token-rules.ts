/**
 * Checks both backends apply to a new access token (types.ts,
 * AccessTokens), so they accept and refuse the same tokens.
 */
import { normalizeAddress, normalizeDomain } from './address.js';
import { StoreError } from './errors.js';
import { checkRole } from './rules.js';
import type { AccessTokenKind, NewAccessToken } from './types.js';

const kinds: readonly AccessTokenKind[] = ['api', 'session'];

/** A new token with its domain and subject normalised; throws 'bad-parameters' for what no backend may keep. */
export function checkNewToken(t: NewAccessToken): NewAccessToken & { domain: string | null; subject: string | null; label: string; expiresAt: Date | null } {
  if (!/^[0-9a-f]{8,64}$/.test(t.id)) throw new StoreError('bad-parameters', 'a token id is 8 to 64 lower-case hex characters');
  if (!kinds.includes(t.kind)) throw new StoreError('bad-parameters', `a token's kind is one of ${kinds.join(', ')}, not "${t.kind}"`);
  checkRole(t.role);
  if (typeof t.secretHash !== 'string' || t.secretHash.length < 16) throw new StoreError('bad-parameters', 'a token needs the hash of its secret');
  const domain = t.domain ? normalizeDomain(t.domain) : null;
  const subject = t.subject ? normalizeAddress(t.subject) : null;
  if (t.role === 'domain-admin' && domain === null) throw new StoreError('bad-parameters', 'a domain-admin token needs its domain');
  if (t.role === 'user' && subject === null) throw new StoreError('bad-parameters', 'a user token needs the user it acts as');
  const label = t.label ?? '';
  if (label.length > 200) throw new StoreError('bad-parameters', 'a token label has at most 200 characters');
  return { ...t, domain, subject, label, expiresAt: t.expiresAt ?? null };
}
