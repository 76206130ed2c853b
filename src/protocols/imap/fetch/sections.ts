/**
 * The bytes of BODY[section]<partial> and BINARY[part]<partial> (RFC 3501
 * 6.4.5, RFC 3516 4.2, RFC 9051 6.4.5), sliced from the exact stored message
 * with the MIME index's byte offsets. Slices are views of the stored Buffer
 * (`subarray`), so a large body is never copied here; only HEADER.FIELDS
 * (a filtered header) and BINARY of an encoded part (decoded data) are new
 * buffers.
 *
 * Sections the message does not have (part 3 of a two-part message, HEADER
 * or TEXT of a part that is not message/rfc822) are an empty string, as
 * Dovecot answers them.
 */
import { decodeTransferEncoding, filterHeaderFields, findPart, sectionRange, type MimeIndex } from '../../../mail/mime/index.js';
import type { PartialRange, SectionSpec } from '../wire/request.js';
import { unknownCteError } from './errors.js';

const EMPTY = Buffer.alloc(0);

/** Encodings whose decoding is the identity (RFC 2045 6.2). */
const IDENTITY_ENCODINGS = new Set(['7bit', '8bit', 'binary']);
/** Encodings that are decoded (RFC 2045 6.7, 6.8). */
const DECODED_ENCODINGS = new Set(['base64', 'quoted-printable']);

/** Whether a section is the whole message, which needs no index. */
export function isWholeMessage(section: SectionSpec): boolean {
  return section.part.length === 0 && section.text === null;
}

/**
 * The bytes of BODY[section] (before any partial). `index` may be null only
 * for the whole message ({@link isWholeMessage}).
 */
export function bodySection(message: Buffer, index: MimeIndex | null, section: SectionSpec): Buffer {
  if (isWholeMessage(section)) return message;
  if (!index) throw new Error('a section other than BODY[] needs the MIME index');
  if (section.text === 'HEADER.FIELDS' || section.text === 'HEADER.FIELDS.NOT') {
    const range = sectionRange(index, section.part, 'HEADER');
    if (!range) return EMPTY;
    return filterHeaderFields(message.subarray(range.start, range.end), section.fields, section.text === 'HEADER.FIELDS.NOT');
  }
  const range = sectionRange(index, section.part, section.text);
  return range ? message.subarray(range.start, range.end) : EMPTY;
}

/**
 * Where BINARY[part] comes from: a byte range of the stored message and the
 * Content-Transfer-Encoding to undo (null when the bytes are the content).
 */
export interface BinarySource {
  /** First byte of the part's body in the stored message. */
  readonly start: number;
  /** End of the part's body (exclusive). */
  readonly end: number;
  /** Lowercased CTE to undo ("base64", "quoted-printable"), or null for an identity encoding. */
  readonly decode: string | null;
}

/**
 * Resolves BINARY[part] without touching the message bytes; null when the
 * message has no such part. `index` may be null only for BINARY[] (the whole
 * message, `messageSize` bytes). Throws FetchError('unknown-cte') for an
 * encoding the server cannot decode (RFC 3516 4.2).
 */
export function binarySource(index: MimeIndex | null, part: readonly number[], messageSize: number): BinarySource | null {
  // BINARY[] is the whole message: a message has no transfer encoding of its own, only its body does.
  if (part.length === 0) return { start: 0, end: messageSize, decode: null };
  if (!index) throw new Error('BINARY[part] needs the MIME index');
  const found = findPart(index, part);
  if (!found) return null;
  const range = { start: found.bodyStart, end: found.bodyEnd };
  // A multipart or message/rfc822 body is MIME entities, never encoded as a whole (RFC 2045 6.4).
  if (found.kind !== 'leaf') return { ...range, decode: null };
  const encoding = found.encoding.toLowerCase();
  if (IDENTITY_ENCODINGS.has(encoding)) return { ...range, decode: null };
  if (DECODED_ENCODINGS.has(encoding)) return { ...range, decode: encoding };
  throw unknownCteError(part, found.encoding);
}

/** The content of a resolved BINARY source: a view for identity encodings, decoded bytes otherwise. */
export function binaryContent(message: Buffer, source: BinarySource): Buffer {
  const raw = message.subarray(source.start, source.end);
  return source.decode === null ? raw : decodeTransferEncoding(raw, source.decode);
}

/**
 * Applies `<offset.length>` (RFC 3501 6.4.5): at most `length` bytes from
 * `offset`; an offset at or past the end gives an empty string. A view, not a copy.
 */
export function slicePartial(data: Buffer, partial: PartialRange | null): Buffer {
  if (!partial) return data;
  if (partial.offset >= data.length) return EMPTY;
  return data.subarray(partial.offset, Math.min(data.length, partial.offset + partial.length));
}
