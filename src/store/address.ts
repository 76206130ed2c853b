/**
 * Address rules the directory applies everywhere: addresses are compared
 * case-insensitively (as Postfix and Dovecot do by default), so they are
 * stored lower-cased; domains are lower-case and without a trailing dot.
 */
import { StoreError } from './errors.js';

// A domain name: labels of letters, digits and hyphens (or any non-ASCII, for IDNs in UTF-8).
const labelPattern = /^(?!-)[a-z0-9\u0080-\uffff-]{1,63}(?<!-)$/;

export function normalizeDomain(name: string): string {
  const domain = name.trim().toLowerCase().replace(/\.$/, '');
  if (domain.length === 0 || domain.length > 253 || !domain.split('.').every((l) => labelPattern.test(l))) {
    throw new StoreError('bad-parameters', `"${name}" is not a valid domain name`);
  }
  return domain;
}

/** Lower-cases and checks "local@domain"; throws StoreError('bad-parameters') otherwise. */
export function normalizeAddress(address: string): string {
  const trimmed = address.trim();
  const at = trimmed.lastIndexOf('@');
  if (at <= 0 || at === trimmed.length - 1) throw new StoreError('bad-parameters', `"${address}" is not a mail address (local@domain)`);
  const local = trimmed.slice(0, at);
  // eslint-disable-next-line no-control-regex
  if (local.length > 64 || /[\s\x00-\x1f\x7f<>()[\]\\,;:"]/.test(local)) {
    throw new StoreError('bad-parameters', `"${address}" has an invalid local part`);
  }
  return `${local.toLowerCase()}@${normalizeDomain(trimmed.slice(at + 1))}`;
}

export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}
