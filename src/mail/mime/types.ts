/**
 * The shapes of the MIME index: what is computed once at delivery from a
 * message's exact bytes and stored beside it, so that IMAP FETCH (RFC 3501
 * 6.4.5, 7.4.2; RFC 9051 6.4.5, 7.5.2), SEARCH and webmail never re-parse.
 * Everything here is plain JSON: numbers, strings, null, arrays, objects.
 */

/**
 * A value an IMAP encoder can write directly: a string (sent quoted or as a
 * literal, the encoder decides), a number, NIL (null) or a parenthesised list.
 * ENVELOPE, BODY and BODYSTRUCTURE are given in this form.
 */
export type ImapValue = string | number | null | ImapValue[];

/**
 * How a part's body is interpreted:
 * - `multipart`: its body holds the entities in `parts` (RFC 2046 5.1);
 * - `message`: a message/rfc822 part whose body is the message in `message`
 *   (RFC 2046 5.2.1);
 * - `leaf`: anything else, including parts left opaque by a limit.
 */
export type MimePartKind = 'leaf' | 'multipart' | 'message';

/**
 * One entity of the message: the message itself, a part of a multipart, or a
 * message inside a message/rfc822 part. Offsets count bytes of the stored
 * message, so `message.subarray(headerStart, headerEnd)` is the header section
 * and `message.subarray(bodyStart, bodyEnd)` the body.
 *
 * Always `headerStart <= headerEnd === bodyStart <= bodyEnd`.
 */
export interface MimePart {
  /**
   * The IMAP part number (RFC 3501 6.4.5) by which `BODY[n]` returns this
   * entity's body: "1", "1.2"... Empty for an entity that has none: a
   * multipart message (the root, or the message inside a message/rfc822
   * part), whose body is reached by TEXT instead.
   */
  section: string;
  kind: MimePartKind;
  /** "type/subtype" lowercased, after defaults (RFC 2045 5.2, RFC 2046 5.1.5). */
  mediaType: string;
  /** The charset parameter lowercased, for text parts; null when absent. */
  charset: string | null;
  /** Content-Transfer-Encoding lowercased; "7bit" when absent (RFC 2045 6.1). */
  encoding: string;
  /** Content-Disposition type lowercased ("inline", "attachment"); null when absent. */
  disposition: string | null;
  /** The file name (disposition filename, else content-type name), decoded to Unicode; null when none. */
  fileName: string | null;
  /** Present only for text/plain with format=flowed (RFC 3676 4.1): its delsp parameter. */
  flowed?: { delSp: boolean };
  /** Content-ID as written, null when absent; for cid: links (RFC 2392). */
  contentId: string | null;
  /** Start of the header section (its first field line). */
  headerStart: number;
  /** End of the header section, including the empty line that closes it. */
  headerEnd: number;
  /** Start of the body; equal to headerEnd. */
  bodyStart: number;
  /**
   * End of the body. In a multipart, the line break before a boundary
   * delimiter belongs to the delimiter (RFC 2046 5.1.1), not to the body.
   */
  bodyEnd: number;
  /** The entities of a multipart, in order (kind `multipart` only). */
  parts?: MimePart[];
  /** The encapsulated message (kind `message` only). */
  message?: MimePart;
}

/** One mailbox from an address header, decoded for display and search. */
export interface DecodedAddress {
  /** Display name with encoded words decoded (RFC 2047); empty when none. */
  name: string;
  /** "local@domain" as written (no decoding); may lack the "@domain". */
  address: string;
}

/** Header values decoded to Unicode for SEARCH and webmail. */
export interface DecodedHeaders {
  /** Subject with encoded words decoded; null when there is no Subject field. */
  subject: string | null;
  from: DecodedAddress[];
  sender: DecodedAddress[];
  replyTo: DecodedAddress[];
  to: DecodedAddress[];
  cc: DecodedAddress[];
  bcc: DecodedAddress[];
  /** The Date field as written; null when absent. */
  date: string | null;
  /**
   * The calendar date of the Date field as "YYYY-MM-DD", time and zone
   * disregarded, as SEARCH SENTON/SENTBEFORE/SENTSINCE want (RFC 3501 6.4.4);
   * null when absent or unreadable.
   */
  sentDate: string | null;
  /** The instant of the Date field in ms since the epoch; null when unreadable. */
  sentAtMs: number | null;
  /** Message-ID as written; null when absent. */
  messageId: string | null;
}

/** Something unusual the indexer met and worked around (for logs and tests). */
export type MimeAnomaly =
  | 'header-without-empty-line'
  | 'header-junk-line'
  | 'header-truncated'
  | 'invalid-content-type'
  | 'multipart-without-boundary'
  | 'multipart-unterminated'
  | 'multipart-without-parts'
  | 'depth-limit'
  | 'part-limit'
  | 'address-limit';

/** The stored index of one message. */
export interface MimeIndex {
  /** Format version; an index with another version is recomputed. */
  version: typeof MIME_INDEX_VERSION;
  /** Size of the message in octets. */
  size: number;
  /** The message as a tree of entities with byte offsets. */
  root: MimePart;
  /** ENVELOPE (RFC 3501 7.4.2), encoded words left as written. */
  envelope: ImapValue;
  /** BODYSTRUCTURE: BODY with extension data (RFC 3501 7.4.2). */
  bodyStructure: ImapValue;
  /** BODY: the non-extensible form (RFC 3501 7.4.2). */
  body: ImapValue;
  /** Subject, addresses and date decoded, for SEARCH and webmail. */
  headers: DecodedHeaders;
  /** What was malformed and how it was read; empty for a clean message. */
  anomalies: MimeAnomaly[];
}

/** Version of the stored index format. */
export const MIME_INDEX_VERSION = 1;

/**
 * Bounds on the work and the index size for one message; hostile input
 * (a nesting bomb, 500k addresses in a header, CVE-2024-23184) stays cheap.
 */
export interface MimeLimits {
  /**
   * Entities nested deeper than this (multipart in multipart, message in
   * message) are not opened: they are indexed as one opaque
   * application/octet-stream part whose bytes are still served.
   */
  maxDepth: number;
  /** Entities in one message; once reached, further parts are not split out. */
  maxParts: number;
  /**
   * Bytes of one header section that are read for fields; fields starting
   * beyond are skipped (the section still ends at its empty line).
   */
  maxHeaderBytes: number;
  /** Addresses kept per address header in ENVELOPE; the rest are dropped. */
  maxAddressesPerField: number;
}

/** The limits used when none are given. */
export const defaultMimeLimits: Readonly<MimeLimits> = Object.freeze({
  maxDepth: 50,
  maxParts: 5000,
  maxHeaderBytes: 256 * 1024,
  maxAddressesPerField: 1000,
});
