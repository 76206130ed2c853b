/**
 * The MIME index, computed once at delivery and stored with the message, and
 * what IMAP FETCH, SEARCH and webmail do with it (RFC 3501 6.4.4, 6.4.5,
 * 7.4.2; RFC 9051). Pure: bytes in, JSON-serialisable values out; no store,
 * no network.
 *
 *   const index = indexMessage(bytes);            // at delivery, stored as JSON
 *   index.envelope, index.bodyStructure            // FETCH ENVELOPE, BODYSTRUCTURE
 *   sectionRange(index, [1, 2], 'MIME')            // FETCH BODY[1.2.MIME] -> bytes to slice
 *   searchableText(bytes, index)                   // SEARCH BODY / TEXT
 */

export { indexMessage } from './parse.js';
export { findPart, sectionRange, type ByteRange, type SectionText } from './section.js';
export { filterHeaderFields, headerFieldValues } from './header.js';
export { searchableText, textParts, decodeTransferEncoding, DEFAULT_MAX_TEXT_BYTES, type PartText } from './text.js';
export { decodeWords, decodeCharset } from './params.js';
export {
  defaultMimeLimits,
  MIME_INDEX_VERSION,
  type DecodedAddress,
  type DecodedHeaders,
  type ImapValue,
  type MimeAnomaly,
  type MimeIndex,
  type MimeLimits,
  type MimePart,
  type MimePartKind,
} from './types.js';
