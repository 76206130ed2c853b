/**
 * Mail addresses as the store keys them: the local part exactly as given
 * (RFC 5321 2.4: only the receiving host may interpret it), the domain
 * lower-cased and in Unicode form, so "User@EXAMPLE.test" and
 * "User@example.test" name the same mailbox and IDNs compare equal whether
 * they arrived as A-labels or U-labels.
 */
import { domainToUnicode } from 'node:url';

/** An address split at its last "@". */
export interface AddressParts {
  local: string;
  domain: string;
}

/**
 * Splits an address at the last "@" (a quoted local part may contain "@").
 * Returns null when there is no "@" or either side is empty.
 */
export function splitAddress(address: string): AddressParts | null {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return null;
  return { local: address.slice(0, at), domain: address.slice(at + 1) };
}

/**
 * Normalises a domain: lower case, no trailing dot, punycode A-labels turned
 * into Unicode. Address literals ("[127.0.0.1]") are kept as they are.
 */
export function normaliseDomain(domain: string): string {
  let d = domain.trim().replace(/\.$/, '');
  if (d.startsWith('[')) return d;
  if (/(^|\.)xn--/i.test(d)) {
    const unicode = domainToUnicode(d);
    if (unicode) d = unicode;
  }
  return d.toLowerCase();
}

/**
 * Normalises a whole address for directory lookups; null when it is not of
 * the form local@domain.
 */
export function normaliseAddress(address: string): string | null {
  const parts = splitAddress(address.trim());
  if (!parts) return null;
  return `${parts.local}@${normaliseDomain(parts.domain)}`;
}

/** The domain of an address, normalised; null when there is none. */
export function domainOf(address: string): string | null {
  const parts = splitAddress(address.trim());
  return parts ? normaliseDomain(parts.domain) : null;
}
