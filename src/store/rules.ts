/**
 * Rules every store backend applies the same way: value checks, flag
 * arithmetic, mailbox and alias name forms. Kept here so the backends
 * cannot drift apart.
 */
import { normalizeAddress, normalizeDomain } from './address.js';
import { StoreError } from './errors.js';
import type { FlagUpdate, UserRole } from './types.js';

export const userRoles: readonly UserRole[] = ['admin', 'domain-admin', 'user'];

/** A cluster member's name: letters, digits, ".", "_", "-"; what the registry, DNS node sets and the traffic manager's config accept. */
export const memberNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function checkMemberName(name: string): void {
  if (!memberNamePattern.test(name)) throw new StoreError('bad-parameters', `"${name}" is not a member name (letters, digits, ".", "_", "-")`);
}

/**
 * The seeds' webmail "magic name" for a member: webmailNN from the digits
 * its name ends in (null when it ends in none). The DNS publishes it, the
 * web redirects webmail.DOMAIN to it.
 */
export function webmailLabel(name: string): string | null {
  const m = /(\d+)$/.exec(name);
  return m ? `webmail${m[1]!.padStart(2, '0')}` : null;
}

/** Aliases pointing at aliases are followed this deep before the chain is called a loop. */
export const maxAliasDepth = 10;

export function checkQuota(quota: number | undefined): void {
  if (quota !== undefined && (!Number.isSafeInteger(quota) || quota < 0)) {
    throw new StoreError('bad-parameters', `quota must be a whole number of bytes (0 for unlimited), not ${quota}`);
  }
}

export function checkRole(role: string | undefined): void {
  if (role !== undefined && !userRoles.includes(role as UserRole)) {
    throw new StoreError('bad-parameters', `role must be one of ${userRoles.join(', ')}, not "${role}"`);
  }
}

export function checkPassword(password: string | undefined): void {
  if (password !== undefined && (password.length === 0 || password.length > 1024)) {
    throw new StoreError('bad-parameters', 'a password must have between 1 and 1024 characters');
  }
}

/** Alias addresses are full addresses or "@domain" for a catch-all. */
export function normalizeAliasAddress(address: string): string {
  const trimmed = address.trim();
  if (trimmed.startsWith('@')) return `@${normalizeDomain(trimmed.slice(1))}`;
  return normalizeAddress(trimmed);
}

/** INBOX is case-insensitive (RFC 3501 5.1); every other name is kept as given. */
export function canonicalMailboxName(name: string): string {
  return name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
}

/** Applies a STORE operation to a flag list; keywords compare case-insensitively. */
export function applyFlagOperation(current: readonly string[], update: FlagUpdate): string[] {
  const key = (f: string) => f.toLowerCase();
  const given = new Map(update.flags.map((f) => [key(f), f]));
  switch (update.operation) {
    case 'set':
      return [...given.values()];
    case 'add': {
      const have = new Set(current.map(key));
      return [...current, ...[...given].filter(([k]) => !have.has(k)).map(([, f]) => f)];
    }
    case 'remove':
      return current.filter((f) => !given.has(key(f)));
  }
}

/** Whether two flag lists hold the same flags (case-insensitively, in any order). */
export function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a.map((f) => f.toLowerCase()));
  return b.every((f) => set.has(f.toLowerCase()));
}
