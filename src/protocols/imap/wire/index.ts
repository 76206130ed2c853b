/**
 * The IMAP wire layer in one import: framing (RFC 3501 section 2.2, RFC 7888),
 * command parsing (RFC 3501 / RFC 9051 section 9 and the extensions of
 * issue 3), response encoding (section 7), modified UTF-7 (section 5.1.3)
 * and sequence sets. Pure: no sockets, no session, no store.
 */
export * from './errors.js';
export * from './request.js';
export * from './framer.js';
export * from './parser.js';
export * from './encoder.js';
export * from './mutf7.js';
export * from './sequence-set.js';
export * from './dates.js';
export { fetchResponseItemName, formatSection, FETCH_MACROS } from './fetch-attributes.js';
export { SEARCH_CHARSETS } from './search-keys.js';
