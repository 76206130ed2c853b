/**
 * Text comparison for SEARCH string keys (RFC 3501 6.4.4, RFC 9051 6.4.4:
 * "case-insensitive substring" matching; RFC 9051 leaves the comparator to
 * the server, Dovecot uses i;unicode-casemap of RFC 5051).
 *
 * Both the client's string and the message text go through foldText(), and
 * a key matches when the folded text contains the folded string:
 *
 * - compatibility normalisation (NFKC), so "ﬁ" matches "fi", full-width
 *   letters match ASCII ones, and precomposed and decomposed accents match;
 * - full case folding approximated by upper-casing then lower-casing, so
 *   "STRASSE" matches "Straße" and "ΣΟΦΟΣ" matches "σοφος";
 * - final sigma read as sigma (lower-casing in JavaScript is context aware).
 *
 * ASCII-only text, by far the most common, takes the fast path: one
 * toLowerCase, no normalisation (none of those steps can change it).
 */

/** Any character outside US-ASCII. */
const NON_ASCII = /[^\x00-\x7f]/;

/** Folds text for case-insensitive, normalisation-insensitive substring search. */
export function foldText(text: string): string {
  if (!NON_ASCII.test(text)) return text.toLowerCase();
  return text.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC').replace(/ς/g, 'σ');
}

/** True when the folded `haystack` contains the folded `needle`; an empty needle matches anything. */
export function containsFolded(haystack: string, needle: string): boolean {
  return needle.length === 0 || haystack.includes(needle);
}
