/**
 * Decoded text of a message for SEARCH BODY and SEARCH TEXT (RFC 3501
 * 6.4.4; RFC 9051 6.4.4.1: servers may match after decoding MIME): the
 * text parts with their transfer encoding undone (quoted-printable, base64:
 * RFC 2045 6.7, 6.8), converted from their charset to Unicode, flowed text
 * joined (RFC 3676 4.2), HTML reduced to its text. Parts that are not text
 * are skipped.
 *
 * Memory stays bounded: at most `maxTextBytes` of text come out for one
 * message, and only the bytes of a part that can yield them are read, so a
 * 50 MB base64 body costs no more than a small one.
 */

import { decodeHTML } from 'entities';
import libmime from 'libmime';
import { decodeCharset } from './params.js';
import type { MimeIndex, MimePart } from './types.js';

/** The text of one part. */
export interface PartText {
  /** The part's IMAP number. */
  section: string;
  /** "type/subtype", lowercased. */
  mediaType: string;
  /** The decoded text; cut short when the budget ran out. */
  text: string;
}

/** Decoded text returned for one message when no limit is given, in UTF-8 bytes. */
export const DEFAULT_MAX_TEXT_BYTES = 1024 * 1024;

/** How many input bytes may be read per output byte wanted (quoted-printable is at most 3:1). */
const INPUT_PER_OUTPUT_BYTE = 4;
/** HTML shrinks more when its tags go. */
const HTML_INPUT_PER_OUTPUT_BYTE = 16;

/**
 * Yields the decoded text of each text part in order (nested messages
 * included), until `maxTextBytes` of UTF-8 text have been produced.
 */
export function* textParts(message: Buffer, index: MimeIndex, maxTextBytes = DEFAULT_MAX_TEXT_BYTES): Generator<PartText> {
  let budget = maxTextBytes;
  for (const part of leaves(index.root)) {
    if (budget <= 0) return;
    if (!part.mediaType.startsWith('text/')) continue;
    const html = part.mediaType === 'text/html';
    const inputCap = budget * (html ? HTML_INPUT_PER_OUTPUT_BYTE : INPUT_PER_OUTPUT_BYTE) + 16;
    const raw = message.subarray(part.bodyStart, Math.min(part.bodyEnd, part.bodyStart + inputCap));
    let text = decodeCharset(decodeTransferEncoding(raw, part.encoding), part.charset);
    if (html) text = htmlToText(text);
    else if (part.flowed) text = libmime.decodeFlowed(text, part.flowed.delSp);
    const bytes = Buffer.byteLength(text);
    if (bytes > budget) text = cutToBytes(text, budget);
    budget -= Math.min(bytes, budget);
    yield { section: part.section, mediaType: part.mediaType, text };
  }
}

/** All text of the message's text parts joined by newlines, at most `maxTextBytes` of it. */
export function searchableText(message: Buffer, index: MimeIndex, maxTextBytes = DEFAULT_MAX_TEXT_BYTES): string {
  const pieces: string[] = [];
  for (const { text } of textParts(message, index, maxTextBytes)) pieces.push(text);
  return pieces.join('\n');
}

/** The leaves of an entity in part order, entering multiparts and message/rfc822 parts. */
function* leaves(part: MimePart): Generator<MimePart> {
  if (part.kind === 'multipart') for (const p of part.parts!) yield* leaves(p);
  else if (part.kind === 'message') yield* leaves(part.message!);
  else yield part;
}

/** Undoes a Content-Transfer-Encoding; identity and unknown encodings pass through. */
export function decodeTransferEncoding(bytes: Buffer, encoding: string): Buffer {
  switch (encoding.toLowerCase()) {
    case 'base64':
      return Buffer.from(bytes.toString('latin1'), 'base64');
    case 'quoted-printable':
      return decodeQuotedPrintable(bytes);
    default:
      return bytes;
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Decodes quoted-printable (RFC 2045 6.7): "=XX" octets, "=" at the end of a
 * line joins it to the next (white space before the break allowed); a "="
 * followed by anything else is kept as it is.
 */
export function decodeQuotedPrintable(bytes: Buffer): Buffer {
  const out = Buffer.alloc(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c !== 0x3d) {
      out[n++] = c;
      continue;
    }
    const hi = hexValue(bytes[i + 1] ?? -1);
    const lo = hexValue(bytes[i + 2] ?? -1);
    if (hi >= 0 && lo >= 0) {
      out[n++] = hi * 16 + lo;
      i += 2;
      continue;
    }
    // A soft line break, maybe with transport padding before it.
    let j = i + 1;
    while (bytes[j] === 0x20 || bytes[j] === 0x09) j++;
    if (bytes[j] === 0x0d && bytes[j + 1] === 0x0a) i = j + 1;
    else if (bytes[j] === 0x0a) i = j;
    else if (j >= bytes.length) i = j;
    else out[n++] = c;
  }
  return out.subarray(0, n);
}

const BLOCK_TAGS = new Set(['br', 'p', 'div', 'tr', 'li', 'ul', 'ol', 'table', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'hr', 'pre', 'td', 'th']);

/**
 * The text of an HTML document for searching: tags, comments, scripts and
 * styles removed, block elements turned into line breaks, character
 * references decoded. One pass; no regular expression that can backtrack.
 */
export function htmlToText(html: string): string {
  const lower = html.toLowerCase();
  let out = '';
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    if (lt === -1) {
      out += html.slice(i);
      break;
    }
    out += html.slice(i, lt);
    if (lower.startsWith('<!--', lt)) {
      const end = lower.indexOf('-->', lt + 4);
      i = end === -1 ? html.length : end + 3;
      continue;
    }
    const gt = html.indexOf('>', lt + 1);
    if (gt === -1) break;
    const name = /^<\/?([a-z0-9]+)/.exec(lower.slice(lt, Math.min(gt, lt + 16)))?.[1] ?? '';
    i = gt + 1;
    if ((name === 'script' || name === 'style') && lower[lt + 1] !== '/') {
      const close = lower.indexOf(`</${name}`, i);
      const closeEnd = close === -1 ? -1 : lower.indexOf('>', close);
      i = closeEnd === -1 ? html.length : closeEnd + 1;
    } else if (BLOCK_TAGS.has(name)) {
      out += '\n';
    }
  }
  // Every HTML5 character reference (named, decimal, hex), as a browser reads them.
  return decodeHTML(out);
}

/** Cuts a string to at most `maxBytes` of UTF-8 without splitting a character. */
function cutToBytes(text: string, maxBytes: number): string {
  const cut = Buffer.from(text, 'utf8').subarray(0, maxBytes).toString('utf8');
  return cut.endsWith('\uFFFD') && !text.startsWith(cut) ? cut.slice(0, -1) : cut;
}
