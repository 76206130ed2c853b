/**
 * BODY and BODYSTRUCTURE values (RFC 3501 7.4.2 and its formal syntax in
 * section 9: body-type-1part, body-type-mpart, body-ext-1part,
 * body-ext-mpart; RFC 9051 7.5.2), built from the MIME header fields of one
 * entity (RFC 2045 5-8, RFC 2183, RFC 3282, RFC 2557 4).
 *
 * Choices, matching what Dovecot 2.3 sends, checked against it:
 * - type, subtype, parameter names and values are sent as written (IMAP
 *   compares them case-insensitively); defaults are lowercase ("text"
 *   "plain", "7bit");
 * - a text part without a charset parameter gets ("charset" "us-ascii")
 *   appended (RFC 2045 5.2);
 * - Content-Language is always a list; Content-MD5 is sent as written;
 * - a multipart with no parts gets one empty text/plain part, since the
 *   grammar needs at least one.
 */

import type { MimeParam, StructuredValue } from './params.js';
import type { ImapValue } from './types.js';

/** The MIME header fields of one entity, as read, with defaults applied. */
export interface PartHeaders {
  /** Media type as written, or the default ("text", or "message" in a digest). */
  type: string;
  /** Subtype as written, or the default ("plain" or "rfc822"). */
  subtype: string;
  /** Content-Type parameters as written, RFC 2231 segments joined. */
  params: MimeParam[];
  /** Content-ID as written; null when absent or empty. */
  id: string | null;
  /** Content-Description as written (encoded words kept); null when absent or empty. */
  description: string | null;
  /** Content-Transfer-Encoding as written; "7bit" when absent. */
  encoding: string;
  /** Content-MD5 as written; null when absent. */
  md5: string | null;
  /** Content-Disposition; null when absent or empty. */
  disposition: StructuredValue | null;
  /** Content-Language tags; null when absent or empty. */
  languages: string[] | null;
  /** Content-Location as written; null when absent. */
  location: string | null;
}

/** The parameter list of body-fld-param: ("name" "value" ...), or NIL. */
function paramList(params: readonly MimeParam[]): ImapValue {
  return params.length === 0 ? null : params.flat();
}

/** Content-Type parameters as sent: a text part without a charset gets us-ascii. */
function typeParams(h: PartHeaders): ImapValue {
  const params = [...h.params];
  if (h.type.toLowerCase() === 'text' && !params.some(([n]) => n.toLowerCase() === 'charset')) {
    params.push(['charset', 'us-ascii']);
  }
  return paramList(params);
}

/** body-fld-dsp: ("type" params) or NIL. */
function dispositionValue(h: PartHeaders): ImapValue {
  return h.disposition === null ? null : [h.disposition.value, paramList(h.disposition.params)];
}

/** body-fields: type, subtype, parameters, id, description, encoding, size. */
function bodyFields(h: PartHeaders, type: string, subtype: string, params: ImapValue, size: number): ImapValue[] {
  return [type, subtype, params, h.id, h.description, h.encoding, size];
}

/** body-ext-1part: md5, disposition, language, location. */
function leafExtension(h: PartHeaders): ImapValue[] {
  return [h.md5, dispositionValue(h), h.languages, h.location];
}

/**
 * A non-multipart, non-message part (body-type-basic or body-type-text).
 *
 * @param lines the body's line count for text parts (RFC 3501 body-fld-lines); null for others
 * @param extended true for BODYSTRUCTURE, false for BODY
 */
export function leafStructure(h: PartHeaders, size: number, lines: number | null, extended: boolean): ImapValue {
  const out = bodyFields(h, h.type, h.subtype, typeParams(h), size);
  if (lines !== null) out.push(lines);
  if (extended) out.push(...leafExtension(h));
  return out;
}

/**
 * A part left opaque (too deep, or over the part limit): described as
 * application/octet-stream so that the grammar holds whatever it declared,
 * keeping its id, description, encoding and disposition.
 */
export function opaqueStructure(h: PartHeaders, size: number, extended: boolean): ImapValue {
  const out = bodyFields(h, 'application', 'octet-stream', null, size);
  if (extended) out.push(...leafExtension(h));
  return out;
}

/**
 * A message/rfc822 part (body-type-msg): the body fields, then the
 * envelope and structure of the message inside, then its line count.
 */
export function messageStructure(
  h: PartHeaders,
  size: number,
  envelope: ImapValue,
  inner: ImapValue,
  lines: number,
  extended: boolean,
): ImapValue {
  const out = bodyFields(h, h.type, h.subtype, paramList(h.params), size);
  out.push(envelope, inner, lines);
  if (extended) out.push(...leafExtension(h));
  return out;
}

/** ENVELOPE of a message whose header could not be read (every field NIL). */
export function emptyEnvelope(): ImapValue {
  return [null, null, null, null, null, null, null, null, null, null];
}

/** The empty text/plain part that stands in for missing parts. */
export function emptyTextStructure(extended: boolean): ImapValue {
  const out: ImapValue[] = ['text', 'plain', ['charset', 'us-ascii'], null, null, '7bit', 0, 0];
  if (extended) out.push(null, null, null, null);
  return out;
}

/** A multipart (body-type-mpart): the parts, the subtype, then body-ext-mpart. */
export function multipartStructure(h: PartHeaders, children: readonly ImapValue[], extended: boolean): ImapValue {
  const out: ImapValue[] = children.length > 0 ? [...children] : [emptyTextStructure(extended)];
  out.push(h.subtype);
  if (extended) out.push(paramList(h.params), dispositionValue(h), h.languages, h.location);
  return out;
}
