/**
 * Section specifications of FETCH BODY[section] (RFC 3501 6.4.5; RFC 9051
 * 6.4.5) resolved to byte ranges of the stored message, so the bytes are
 * sliced from the blob and never re-encoded.
 *
 * - `BODY[]`: the whole message; `BODY[HEADER]`, `BODY[TEXT]`: its header
 *   section (with the empty line) and its body.
 * - `BODY[n...]`: the body of part n; a message that is not multipart is
 *   itself part 1; the parts of a message inside message/rfc822 part N are
 *   N.1, N.2...
 * - `BODY[n...MIME]`: the part's own header section.
 * - `BODY[n...HEADER]`, `BODY[n...TEXT]`: header and body of the message
 *   inside a message/rfc822 part (null for other parts).
 * HEADER.FIELDS and HEADER.FIELDS.NOT select from the HEADER range; see
 * filterHeaderFields().
 */

import type { MimeIndex, MimePart } from './types.js';

/** A range of bytes [start, end) of the stored message. */
export interface ByteRange {
  start: number;
  end: number;
}

/** The text part of a section specification; null for the part itself (or the whole message). */
export type SectionText = 'HEADER' | 'TEXT' | 'MIME' | null;

/** The numbered parts of a message: its parts when multipart, else the message itself as part 1. */
function partsOfMessage(message: MimePart): readonly MimePart[] {
  return message.kind === 'multipart' ? message.parts! : [message];
}

/** The numbered sub-parts of a part: a multipart's parts, or those of the message inside a message/rfc822 part. */
function subParts(part: MimePart): readonly MimePart[] {
  if (part.kind === 'multipart') return part.parts!;
  if (part.kind === 'message') return partsOfMessage(part.message!);
  return [];
}

/**
 * The part with the given number (e.g. [1, 2] for "1.2"), or undefined when
 * the message has no such part. An empty path names no part.
 */
export function findPart(index: MimeIndex, path: readonly number[]): MimePart | undefined {
  let candidates = partsOfMessage(index.root);
  let part: MimePart | undefined;
  for (const n of path) {
    part = Number.isInteger(n) && n >= 1 ? candidates[n - 1] : undefined;
    if (!part) return undefined;
    candidates = subParts(part);
  }
  return part;
}

/**
 * The bytes of a section, or null when the message has no such section (a
 * part number that does not exist, HEADER or TEXT of a part that is not
 * message/rfc822, MIME without a part number). The IMAP layer answers those
 * with an empty string, as Dovecot does.
 */
export function sectionRange(index: MimeIndex, path: readonly number[], text: SectionText): ByteRange | null {
  if (path.length === 0) {
    const root = index.root;
    switch (text) {
      case null:
        return { start: 0, end: index.size };
      case 'HEADER':
        return { start: root.headerStart, end: root.headerEnd };
      case 'TEXT':
        return { start: root.bodyStart, end: root.bodyEnd };
      case 'MIME':
        return null;
    }
  }
  const part = findPart(index, path);
  if (!part) return null;
  switch (text) {
    case null:
      return { start: part.bodyStart, end: part.bodyEnd };
    case 'MIME':
      return { start: part.headerStart, end: part.headerEnd };
    case 'HEADER':
      return part.kind === 'message' ? { start: part.message!.headerStart, end: part.message!.headerEnd } : null;
    case 'TEXT':
      return part.kind === 'message' ? { start: part.message!.bodyStart, end: part.message!.bodyEnd } : null;
  }
}
