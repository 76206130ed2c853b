/**
 * The IMAP response encoder (RFC 3501 sections 7 and 9 `response`, RFC 9051
 * sections 7 and 9): bytes for tagged, untagged and continuation lines, and
 * for the values inside them:
 *
 *     response-tagged  = tag SP resp-cond-state CRLF
 *     resp-cond-state  = ("OK" / "NO" / "BAD") SP resp-text
 *     resp-text        = ["[" resp-text-code "]" SP] text
 *     continue-req     = "+" SP (resp-text / base64) CRLF
 *     untagged         = "*" SP ... CRLF
 *     string = quoted / literal;  nstring = string / nil;  literal8 = "~{" number64 "}" CRLF *OCTET
 *
 * A value is a JSON-like tree: a JS string or Buffer is an IMAP string
 * (quoted when that is safe, else a literal: CR, LF, NUL, or 8-bit text
 * unless UTF8=ACCEPT is on and the text is valid UTF-8 - RFC 6855 section 5),
 * a number is a number, null is NIL, an array is a parenthesised list, and
 * `atom()` / `literal()` force a form. ENVELOPE and BODYSTRUCTURE trees from
 * the MIME index are exactly such trees. Output is a list of Buffers so large
 * literals (message bodies) are passed through without being copied.
 */
import { isUtf8 } from 'node:buffer';
import { encodeModifiedUtf7 } from './mutf7.js';
import { compressSequenceNumbers } from './sequence-set.js';

/** An atom (or any token written exactly as given: flags, item names, sequence sets). */
export interface AtomValue {
  readonly atom: string;
}

/** A string forced into literal form; `binary` writes literal8 (`~{n}`, RFC 3516). */
export interface LiteralValue {
  readonly literal: Buffer | string;
  readonly binary?: boolean;
}

/** Anything the encoder can write. */
export type ImapValue = null | number | bigint | string | Buffer | AtomValue | LiteralValue | readonly ImapValue[];

/** Options for writing values. */
export interface EncodeOptions {
  /** UTF8=ACCEPT is enabled: valid UTF-8 text may go in quoted strings (RFC 6855 section 5). */
  readonly utf8?: boolean;
}

/**
 * Marks text as an atom, written as is. The caller vouches for its syntax;
 * CR, LF and NUL are refused outright (RangeError), since they would let a
 * value end the line and inject a response.
 */
export function atom(text: string): AtomValue {
  if (/[\r\n\0]/.test(text)) throw new RangeError('an atom cannot contain CR, LF or NUL');
  return { atom: text };
}

/** Marks data to be sent as a literal (or literal8 with `binary`). */
export function literal(data: Buffer | string, binary = false): LiteralValue {
  return { literal: data, binary };
}

/** A response code (`resp-text-code`), e.g. `{ name: 'UIDNEXT', args: [5] }` -> `[UIDNEXT 5]`. */
export interface ResponseCode {
  /** The code's name, e.g. "UIDVALIDITY", "TOOBIG", "COPYUID". */
  readonly name: string;
  /** Values after the name, separated by spaces. */
  readonly args?: readonly ImapValue[];
}

const CRLF = '\r\n';

/** A string that needs neither escaping nor a literal: printable ASCII but " and \. */
const PLAIN_QUOTABLE = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** Accumulates text and buffers; text runs are joined, literal data is kept as is. */
export class ResponseWriter {
  private readonly chunks: Buffer[] = [];
  private text = '';
  private chunkBytes = 0;

  constructor(readonly options: EncodeOptions = {}) {}

  /** Appends text exactly as given (UTF-8). */
  raw(text: string): this {
    this.text += text;
    return this;
  }

  /** Appends bytes exactly as given. */
  bytes(data: Buffer): this {
    this.flushText();
    if (data.length > 0) {
      this.chunks.push(data);
      this.chunkBytes += data.length;
    }
    return this;
  }

  /** About how many bytes were written so far (text counted in characters): for batching writes. */
  get approximateLength(): number {
    return this.chunkBytes + this.text.length;
  }

  /** Appends one value. */
  value(value: ImapValue): this {
    if (value === null) return this.raw('NIL');
    if (typeof value === 'number') {
      if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`an IMAP number must be a non-negative integer, not ${value}`);
      return this.raw(String(value));
    }
    if (typeof value === 'bigint') {
      if (value < 0n) throw new RangeError('an IMAP number must be non-negative');
      return this.raw(value.toString());
    }
    // Printable ASCII without quote or backslash (INTERNALDATE, most ENVELOPE strings) is quoted as is.
    if (typeof value === 'string') return PLAIN_QUOTABLE.test(value) ? this.raw(`"${value}"`) : this.stringValue(Buffer.from(value, 'utf8'));
    if (Buffer.isBuffer(value)) return this.stringValue(value);
    if (Array.isArray(value)) {
      this.raw('(');
      value.forEach((item: ImapValue, i: number) => {
        if (i > 0) this.raw(' ');
        this.value(item);
      });
      return this.raw(')');
    }
    if ('atom' in value) return this.raw(value.atom);
    if ('literal' in value) return this.literalValue(typeof value.literal === 'string' ? Buffer.from(value.literal, 'utf8') : value.literal, value.binary ?? false);
    throw new TypeError('not an IMAP value');
  }

  /** Appends values separated by single spaces. */
  values(values: readonly ImapValue[]): this {
    values.forEach((v, i) => {
      if (i > 0) this.raw(' ');
      this.value(v);
    });
    return this;
  }

  /** Appends a literal header and its data. */
  literalValue(data: Buffer, binary: boolean): this {
    this.raw(`${binary ? '~' : ''}{${data.length}}${CRLF}`);
    return this.bytes(data);
  }

  private stringValue(data: Buffer): this {
    if (!canQuote(data, this.options.utf8 ?? false)) return this.literalValue(data, false);
    return this.raw('"').bytes(escapeQuoted(data)).raw('"');
  }

  private flushText(): void {
    if (this.text.length > 0) {
      const chunk = Buffer.from(this.text, 'utf8');
      this.chunks.push(chunk);
      this.chunkBytes += chunk.length;
      this.text = '';
    }
  }

  /** The bytes written so far, as a list (literal data not copied). */
  toChunks(): Buffer[] {
    this.flushText();
    return [...this.chunks];
  }

  /** The bytes written so far, as one Buffer. */
  toBuffer(): Buffer {
    return Buffer.concat(this.toChunks());
  }
}

/** True when `data` may be sent as a quoted string. */
export function canQuote(data: Buffer, utf8: boolean): boolean {
  let eightBit = false;
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    if (b === 0x00 || b === 0x0a || b === 0x0d) return false;
    if (b >= 0x80) eightBit = true;
  }
  return !eightBit || (utf8 && isUtf8(data));
}

function escapeQuoted(data: Buffer): Buffer {
  if (!data.includes(0x22) && !data.includes(0x5c)) return data;
  const out: number[] = [];
  for (const b of data) {
    if (b === 0x22 || b === 0x5c) out.push(0x5c);
    out.push(b);
  }
  return Buffer.from(out);
}

/** Makes resp-text safe: no CR, LF or NUL (they would end or corrupt the line), never empty. */
export function sanitizeText(text: string): string {
  const clean = text.replace(/[\r\n\0]+/g, ' ').trim();
  return clean.length > 0 ? clean : 'done';
}

function writeCode(w: ResponseWriter, code: ResponseCode | undefined): void {
  if (!code) return;
  w.raw(`[${code.name}`);
  if (code.args && code.args.length > 0) {
    w.raw(' ');
    w.values(code.args);
  }
  w.raw('] ');
}

/** `tag OK|NO|BAD [CODE] text` CRLF. */
export function encodeTagged(tag: string, status: 'OK' | 'NO' | 'BAD', text: string, code?: ResponseCode): Buffer {
  const w = new ResponseWriter().raw(`${tag} ${status} `);
  writeCode(w, code);
  return w.raw(sanitizeText(text) + CRLF).toBuffer();
}

/** `* OK|NO|BAD|PREAUTH|BYE [CODE] text` CRLF. */
export function encodeUntaggedStatus(status: 'OK' | 'NO' | 'BAD' | 'PREAUTH' | 'BYE', text: string, code?: ResponseCode): Buffer {
  const w = new ResponseWriter().raw(`* ${status} `);
  writeCode(w, code);
  return w.raw(sanitizeText(text) + CRLF).toBuffer();
}

/**
 * `* ` values CRLF, e.g. `encodeUntagged([3, atom('EXISTS')])` -> "* 3 EXISTS".
 * Returns chunks so literal data is not copied.
 */
export function encodeUntagged(values: readonly ImapValue[], options: EncodeOptions = {}): Buffer[] {
  return new ResponseWriter(options).raw('* ').values(values).raw(CRLF).toChunks();
}

/** `+ text` CRLF: a continuation request (for a literal, or IDLE). */
export function encodeContinuation(text = 'go ahead'): Buffer {
  return Buffer.from(`+ ${sanitizeText(text)}${CRLF}`, 'utf8');
}

/** `+ base64` CRLF: a SASL challenge ("+ " alone for an empty one). */
export function encodeChallenge(data: Buffer): Buffer {
  return Buffer.from(`+ ${data.toString('base64')}${CRLF}`, 'latin1');
}

/**
 * `* seq FETCH (name value ...)` CRLF. Item names are written as given (see
 * fetchResponseItemName in fetch-attributes.ts); values follow the value rules.
 */
export function encodeFetch(seq: number, items: ReadonlyArray<readonly [string, ImapValue]>, options: EncodeOptions = {}): Buffer[] {
  return writeFetch(new ResponseWriter(options), seq, items).toChunks();
}

/** The same, appended to a writer: many responses share one writer and go out as a few chunks. */
export function writeFetch(w: ResponseWriter, seq: number, items: ReadonlyArray<readonly [string, ImapValue]>): ResponseWriter {
  w.raw(`* ${seq} FETCH (`);
  for (let i = 0; i < items.length; i++) {
    const [name, value] = items[i]!;
    w.raw(i > 0 ? ` ${name} ` : `${name} `);
    w.value(value);
  }
  return w.raw(')' + CRLF);
}

/** A mailbox name as a value: modified UTF-7 unless UTF8=ACCEPT is on, always a string. */
export function mailboxValue(name: string, utf8: boolean): string {
  return utf8 ? name : encodeModifiedUtf7(name);
}

/** A flag list value, e.g. `(\Seen $Forwarded)`. */
export function flagListValue(flags: Iterable<string>): AtomValue[] {
  return Array.from(flags, (f) => atom(f));
}

/** A sequence set value from numbers, e.g. [1, 2, 3, 5] -> `1:3,5` (order kept; see compressSequenceNumbers). */
export function sequenceSetValue(numbers: Iterable<number>, options: { sort?: boolean } = {}): AtomValue {
  return atom(compressSequenceNumbers(numbers, options));
}

/** Encodes a JSON-like tree (ENVELOPE, BODYSTRUCTURE) to bytes, without a line end. */
export function encodeValue(value: ImapValue, options: EncodeOptions = {}): Buffer {
  return new ResponseWriter(options).value(value).toBuffer();
}
