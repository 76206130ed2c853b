/**
 * Structured MIME header values: Content-Type (RFC 2045 5.1, defaults of
 * RFC 2045 5.2), Content-Disposition (RFC 2183 2), Content-Transfer-Encoding
 * (RFC 2045 6.1), Content-Language (RFC 3282 2) and parameter value
 * continuations and charsets (RFC 2231 3, 4).
 *
 * Parameters are kept two ways. For BODYSTRUCTURE, as written: names and
 * values keep their case, quoted strings lose their quotes and escapes, and
 * RFC 2231 segments are joined under one name, "name*" with the value still
 * percent-encoded when any segment was (what Dovecot sends; RFC 3501 leaves
 * decoding to the client). For people (webmail file names), decoded to
 * Unicode, also reading RFC 2047 encoded words inside quoted values, which
 * RFC 2047 5 forbids but many mailers write.
 *
 * The tokenizer is lenient where mailers are sloppy: comments anywhere
 * between tokens, an unquoted value runs to the next ";" or white space (so
 * `boundary=----=_Part_1` and `name=a(1).pdf` work), stray ";" are ignored,
 * a parameter without "=" is dropped. It never throws.
 */

import libmime from 'libmime';
import { decode as decodeCharsetBytes } from 'libmime/lib/charset.js';
import { headerBytesToString } from './header.js';

/** A parameter as written: name and value in their original case. */
export type MimeParam = [name: string, value: string];

/** A parsed Content-Type or Content-Disposition value. */
export interface StructuredValue {
  /** The value before the parameters ("text/plain", "attachment") as written, comments removed. */
  value: string;
  /** Parameters in order, RFC 2231 segments joined (see the file comment). */
  params: MimeParam[];
}

const TSPECIAL_STOP = new Set([';', '"', '(', ' ', '\t', '\r', '\n']);

/** Skips white space and (nested) comments from `i`; returns the next index. */
function skipCfws(s: string, i: number): number {
  while (i < s.length) {
    const c = s[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
    } else if (c === '(') {
      let depth = 0;
      for (; i < s.length; i++) {
        const d = s[i];
        if (d === '\\') i++;
        else if (d === '(') depth++;
        else if (d === ')' && --depth === 0) {
          i++;
          break;
        }
      }
    } else {
      break;
    }
  }
  return i;
}

/** Reads a quoted string starting at the quote; returns its unescaped text and the next index. */
function readQuoted(s: string, i: number): [string, number] {
  let out = '';
  for (i++; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"') return [out, i + 1];
    if (c === '\\' && i + 1 < s.length) out += s[++i];
    else out += c;
  }
  return [out, i];
}

/** Parses `value; name=value; ...` (Content-Type, Content-Disposition). */
export function parseStructured(header: string): StructuredValue {
  let i = skipCfws(header, 0);
  let value = '';
  while (i < header.length && header[i] !== ';') {
    const c = header[i]!;
    if (c === '(' || c === ' ' || c === '\t') {
      i = skipCfws(header, i);
    } else if (c === '"') {
      const [q, n] = readQuoted(header, i);
      value += q;
      i = n;
    } else {
      value += c;
      i++;
    }
  }
  const raw: MimeParam[] = [];
  while (i < header.length) {
    // At a ';' or at junk: find the next parameter.
    i = skipCfws(header, i + 1);
    let name = '';
    while (i < header.length && !TSPECIAL_STOP.has(header[i]!) && header[i] !== '=') name += header[i++];
    i = skipCfws(header, i);
    if (header[i] !== '=' || name === '') {
      while (i < header.length && header[i] !== ';') i = header[i] === '"' ? readQuoted(header, i)[1] : i + 1;
      continue;
    }
    i = skipCfws(header, i + 1);
    let v = '';
    if (header[i] === '"') {
      [v, i] = readQuoted(header, i);
    } else {
      while (i < header.length && header[i] !== ';' && header[i] !== ' ' && header[i] !== '\t') v += header[i++];
    }
    raw.push([name, v]);
    // Skip anything after the value up to the next ';' (comments, junk).
    while (i < header.length && header[i] !== ';') i = header[i] === '"' ? readQuoted(header, i)[1] : i + 1;
  }
  return { value, params: joinContinuations(raw) };
}

const SEGMENT = /^(.*?)\*(\d+)(\*?)$/;

/**
 * Joins RFC 2231 3 continuations (`name*0`, `name*1*`...) into one
 * parameter at the place of the first segment: `name*` with the values
 * concatenated as written when any segment is extended (`*` suffix), else
 * `name` with the plain values concatenated. Segments are ordered by number.
 */
function joinContinuations(raw: MimeParam[]): MimeParam[] {
  const out: (MimeParam | { base: string; segments: Map<number, [string, boolean]> })[] = [];
  const groups = new Map<string, { base: string; segments: Map<number, [string, boolean]> }>();
  for (const [name, value] of raw) {
    const m = SEGMENT.exec(name);
    if (!m) {
      out.push([name, value]);
      continue;
    }
    const key = m[1]!.toLowerCase();
    let group = groups.get(key);
    if (!group) {
      group = { base: m[1]!, segments: new Map() };
      groups.set(key, group);
      out.push(group);
    }
    const n = Number(m[2]);
    if (!group.segments.has(n) && n < 1000) group.segments.set(n, [value, m[3] === '*']);
  }
  return out.map((p) => {
    if (Array.isArray(p)) return p;
    const numbers = [...p.segments.keys()].sort((a, b) => a - b);
    let extended = false;
    let value = '';
    for (const n of numbers) {
      const [v, ext] = p.segments.get(n)!;
      extended ||= ext;
      value += v;
    }
    return [extended ? `${p.base}*` : p.base, value];
  });
}

/** The value of a parameter by name (case-insensitive), as written; undefined when absent. */
export function paramValue(params: readonly MimeParam[], name: string): string | undefined {
  const lname = name.toLowerCase();
  return params.find(([n]) => n.toLowerCase() === lname)?.[1];
}

/**
 * The value of a parameter decoded to Unicode: an extended `name*` value
 * (charset'language'percent-encoded, RFC 2231 4) is preferred; a plain
 * value gets its RFC 2047 encoded words decoded. Unknown charsets decode as
 * UTF-8. Undefined when the parameter is absent.
 */
export function decodedParam(params: readonly MimeParam[], name: string): string | undefined {
  const extended = paramValue(params, `${name}*`);
  if (extended !== undefined) return decodeExtendedValue(extended);
  const plain = paramValue(params, name);
  return plain === undefined ? undefined : decodeWords(plain);
}

/** Decodes RFC 2047 encoded words; unknown charsets decode as UTF-8. Never throws. */
export function decodeWords(value: string): string {
  if (!value.includes('=?')) return value;
  try {
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
}

/** Decodes `charset'language'%xx...` (RFC 2231 4); a value without the quotes is only unescaped. */
export function decodeExtendedValue(value: string): string {
  const first = value.indexOf("'");
  const second = first === -1 ? -1 : value.indexOf("'", first + 1);
  const charset = second === -1 ? 'utf-8' : value.slice(0, first) || 'utf-8';
  const text = second === -1 ? value : value.slice(second + 1);
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25 && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      bytes.push(...Buffer.from(text[i]!, 'utf8'));
    }
  }
  return decodeCharset(Buffer.from(bytes), charset);
}

/** Charset names libmime was asked about, and whether it can decode them. */
const charsetSupport = new Map<string, boolean>();

/** Whether libmime (iconv-lite and its Japanese tables) knows a charset. */
function isKnownCharset(charset: string): boolean {
  let known = charsetSupport.get(charset);
  if (known === undefined) {
    known = libmime.createDecodeStream(charset).supported;
    if (charsetSupport.size < 256) charsetSupport.set(charset, known);
  }
  return known;
}

/**
 * Decodes bytes in a charset to a string. US-ASCII, UTF-8 and unknown
 * charsets are read as UTF-8, falling back to Latin-1 when the bytes are not
 * valid UTF-8 (unlabelled or mislabelled 8-bit text is most often Latin-1 or
 * Windows-1252), so no byte silently becomes U+FFFD. Others go through
 * libmime's tables (iconv-lite), which also resolve aliases ("win-1257").
 * Node 20's TextDecoder is not used: it reads windows-1252 as Latin-1.
 */
export function decodeCharset(bytes: Buffer, charset: string | null): string {
  const cs = (charset ?? '').trim().toLowerCase();
  if (cs === '' || cs === 'us-ascii' || cs === 'ascii' || cs === 'utf-8' || cs === 'utf8' || !isKnownCharset(cs)) {
    return headerBytesToString(bytes);
  }
  return decodeCharsetBytes(bytes, cs);
}

/** Splits a Content-Type value "type/subtype"; null when it is not syntactically valid. */
export function splitMediaType(value: string): [type: string, subtype: string] | null {
  const slash = value.indexOf('/');
  if (slash <= 0 || slash === value.length - 1) return null;
  const type = value.slice(0, slash).trim();
  const subtype = value.slice(slash + 1).trim();
  const token = /^[!#$%&'*+\-.^_`{|}~0-9A-Za-z]+$/;
  return token.test(type) && token.test(subtype) ? [type, subtype] : null;
}

/** The first token of a Content-Transfer-Encoding value, as written; null when empty. */
export function parseTransferEncoding(value: string): string | null {
  const token = parseStructured(value).value.trim();
  return token === '' ? null : token;
}

/** Content-Language tags (RFC 3282), comments removed; empty when none. */
export function parseLanguages(value: string): string[] {
  const out: string[] = [];
  for (const piece of value.split(',')) {
    const tag = parseStructured(piece).value.trim();
    if (tag !== '') out.push(tag);
  }
  return out;
}
