/**
 * Header sections on the exact bytes of a message: where a header section
 * ends, which fields it holds, and their unfolded values (RFC 5322 2.2,
 * 2.2.3, 3.6; obsolete syntax of RFC 5322 4.5, "Name :" with space before the
 * colon), plus the field filter behind BODY[HEADER.FIELDS (...)] and
 * HEADER.FIELDS.NOT (RFC 3501 6.4.5).
 *
 * Lines end in LF with or without a CR before it; offsets always count the
 * real bytes. Only the bytes of a section are scanned, once, so time is
 * linear in the section's size whatever its line lengths.
 */

import { isUtf8 } from 'node:buffer';

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;
const DASH = 0x2d;

/** A header field found in a header section; offsets into the message. */
export interface HeaderField {
  /** Field name lowercased ("content-type"). */
  name: string;
  /** Offset of the first byte of the field's value (after the colon). */
  valueStart: number;
  /** Offset just past the value, before the line break that ends the field. */
  valueEnd: number;
}

/** Where a header section ends and what it held. */
export interface HeaderScan {
  /** The fields wanted by the caller, in order of appearance. */
  fields: HeaderField[];
  /** End of the header section, which is also where the body starts. */
  headerEnd: number;
  /** Offset of the boundary delimiter line that ended the section, or -1. */
  boundaryLine: number;
  /** The section ended at a line that was not a field, without an empty line. */
  noEmptyLine: boolean;
  /** Lines that were neither fields nor continuations were skipped. */
  junkLines: boolean;
  /** Fields beyond the byte limit were not read. */
  truncated: boolean;
}

/**
 * Returns the offset of the colon when the line at `pos` (content ending at
 * `lineEnd`, before its line break) starts a header field, else -1.
 * A field name is printable US-ASCII except the colon (RFC 5322 2.2);
 * white space before the colon is the obsolete form (RFC 5322 4.5).
 */
function fieldColon(buf: Buffer, pos: number, lineEnd: number): number {
  let i = pos;
  while (i < lineEnd) {
    const c = buf[i]!;
    if (c === COLON || c <= SP || c >= 0x7f) break;
    i++;
  }
  if (i === pos) return -1;
  while (i < lineEnd && (buf[i] === SP || buf[i] === HT)) i++;
  return i < lineEnd && buf[i] === COLON ? i : -1;
}

/** End of the line's content (before CR LF or LF) and the start of the next line. */
function lineAt(buf: Buffer, pos: number): { contentEnd: number; next: number } {
  const lf = buf.indexOf(LF, pos);
  if (lf === -1) return { contentEnd: buf.length, next: buf.length };
  return { contentEnd: lf > pos && buf[lf - 1] === CR ? lf - 1 : lf, next: lf + 1 };
}

/** Length of the line break that ends just before `pos` (0, 1 for LF, 2 for CR LF). */
export function breakBefore(buf: Buffer, pos: number): number {
  if (pos > 0 && buf[pos - 1] === LF) return pos > 1 && buf[pos - 2] === CR ? 2 : 1;
  return 0;
}

/**
 * Scans the header section that starts at `start`.
 *
 * The section ends at the first empty line (which it includes), at the end
 * of the message, at a line for which `isBoundary` is true (a boundary of an
 * enclosing multipart: the part had no body), or, for a message that lacks
 * the empty line, at the first line that is neither a field nor a
 * continuation and is not followed by a field. A lone broken line among
 * fields is skipped instead, so one bad line does not hide the fields after
 * it; a body glued to its header is not swallowed into it.
 *
 * @param wanted lowercased names of the fields to return
 * @param maxHeaderBytes fields that start this many bytes or more after
 *   `start` are not returned
 */
export function scanHeader(
  buf: Buffer,
  start: number,
  wanted: ReadonlySet<string>,
  isBoundary: (lineStart: number) => boolean,
  maxHeaderBytes: number,
): HeaderScan {
  const scan: HeaderScan = {
    fields: [],
    headerEnd: buf.length,
    boundaryLine: -1,
    noEmptyLine: false,
    junkLines: false,
    truncated: false,
  };
  let current: HeaderField | null = null;
  let pos = start;
  while (pos < buf.length) {
    const { contentEnd, next } = lineAt(buf, pos);
    if (contentEnd === pos && next > pos) {
      // The empty line: it belongs to the header section (RFC 3501 6.4.5 HEADER).
      scan.headerEnd = next;
      return scan;
    }
    const first = buf[pos]!;
    if (first === DASH && isBoundary(pos)) {
      // The line break before a delimiter belongs to the delimiter (RFC 2046 5.1.1).
      scan.headerEnd = Math.max(start, pos - breakBefore(buf, pos));
      scan.boundaryLine = pos;
      return scan;
    }
    if (first === SP || first === HT) {
      // A folded continuation; at the very start, or after junk, it continues nothing.
      if (current) current.valueEnd = contentEnd;
    } else {
      const colon = fieldColon(buf, pos, contentEnd);
      if (colon !== -1) {
        current = null;
        if (pos - start < maxHeaderBytes) {
          const name = buf.toString('latin1', pos, colon).trimEnd().toLowerCase();
          if (wanted.has(name)) {
            current = { name, valueStart: colon + 1, valueEnd: contentEnd };
            scan.fields.push(current);
          }
        } else {
          scan.truncated = true;
        }
      } else if (next < buf.length && startsField(buf, next, isBoundary)) {
        scan.junkLines = true;
        current = null;
      } else {
        scan.noEmptyLine = true;
        scan.headerEnd = pos;
        return scan;
      }
    }
    pos = next;
  }
  // The message ended inside its header: all of it is header, the body is empty.
  return scan;
}

/** Whether the line at `pos` starts a header field (and is not a boundary). */
function startsField(buf: Buffer, pos: number, isBoundary: (lineStart: number) => boolean): boolean {
  if (buf[pos] === DASH && isBoundary(pos)) return false;
  return fieldColon(buf, pos, lineAt(buf, pos).contentEnd) !== -1;
}

/**
 * Turns header bytes into a string: UTF-8 when they are valid UTF-8 (RFC 6532
 * headers), otherwise Latin-1 so that no byte is lost or replaced.
 */
export function headerBytesToString(bytes: Buffer): string {
  return isUtf8(bytes) ? bytes.toString('utf8') : bytes.toString('latin1');
}

/**
 * The value of a field, unfolded (the line breaks removed, the white space
 * after them kept: RFC 5322 2.2.3), with the white space around it trimmed.
 * Encoded words are left as written; NUL becomes U+FFFD.
 *
 * @param maxBytes read at most this many bytes of the value
 */
export function fieldValue(buf: Buffer, field: HeaderField, maxBytes = Infinity): string {
  let bytes = buf.subarray(field.valueStart, Math.min(field.valueEnd, field.valueStart + maxBytes));
  if (bytes.includes(LF) || bytes.includes(CR)) {
    bytes = Buffer.from(bytes.filter((b) => b !== CR && b !== LF));
  }
  // NUL cannot be sent in an IMAP string or literal (RFC 3501 4.3): it becomes U+FFFD.
  return headerBytesToString(bytes)
    .replace(/^[ \t]+|[ \t]+$/g, '')
    .replace(/\0/g, '\uFFFD');
}

/**
 * The subset of a header section for BODY[...HEADER.FIELDS (names)] (or
 * HEADER.FIELDS.NOT when `exclude` is true): the matching fields with their
 * continuation lines, byte for byte, followed by the empty line
 * (RFC 3501 6.4.5). Names compare case-insensitively. Lines that are not
 * fields match neither list and are dropped.
 *
 * @param header the bytes of a header section, e.g. sliced with sectionRange()
 */
export function filterHeaderFields(header: Buffer, names: readonly string[], exclude: boolean): Buffer {
  const set = new Set(names.map((n) => n.toLowerCase()));
  const kept: Buffer[] = [];
  let keep = false;
  let pos = 0;
  while (pos < header.length) {
    const { contentEnd, next } = lineAt(header, pos);
    if (contentEnd === pos) break;
    const first = header[pos]!;
    if (first !== SP && first !== HT) {
      const colon = fieldColon(header, pos, contentEnd);
      if (colon === -1) keep = false;
      else keep = set.has(header.toString('latin1', pos, colon).trimEnd().toLowerCase()) !== exclude;
    }
    if (keep) {
      kept.push(header.subarray(pos, next));
      // A last field without its line break still gets one, so the empty line stays empty.
      if (next === header.length && contentEnd === next) kept.push(Buffer.from('\r\n'));
    }
    pos = next;
  }
  kept.push(Buffer.from('\r\n'));
  return Buffer.concat(kept);
}

/**
 * The unfolded values of every field with the given name (case-insensitive)
 * in a header section, in order; for SEARCH HEADER (RFC 3501 6.4.4) and
 * webmail. Encoded words are left as written.
 *
 * @param header the bytes of a header section, e.g. sliced with sectionRange()
 */
export function headerFieldValues(header: Buffer, name: string): string[] {
  const scan = scanHeader(header, 0, new Set([name.toLowerCase()]), () => false, header.length);
  return scan.fields.map((field) => fieldValue(header, field));
}
