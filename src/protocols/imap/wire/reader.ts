/**
 * The token reader under the IMAP command parser: a cursor over a framed
 * command's lines and literals that reads the basic productions of RFC 3501
 * section 9 / RFC 9051 section 9:
 *
 *     atom      = 1*ATOM-CHAR
 *     ATOM-CHAR = <any CHAR except atom-specials>
 *     atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials
 *     astring   = 1*ASTRING-CHAR / string          ; ASTRING-CHAR = ATOM-CHAR / "]"
 *     string    = quoted / literal
 *     quoted    = DQUOTE *QUOTED-CHAR DQUOTE       ; "\" escapes only DQUOTE and "\"
 *     literal   = "{" number64 ["+"] "}" CRLF *CHAR8 ; literal8 = "~{" ... (RFC 3516)
 *     nstring   = string / nil
 *     list-mailbox = 1*list-char / string          ; list-char adds "%" "*" "]"
 *
 * Text is UTF-8 (RFC 9051 section 4.1.2, RFC 6855); the whole line is
 * checked up front, so 8-bit bytes can only appear inside quoted strings.
 * Every failure is a WireSyntaxError with a sentence; nesting is counted so
 * that a hostile command cannot recurse the parser into a stack overflow.
 */
import { isUtf8 } from 'node:buffer';
import { WireSyntaxError, syntaxError } from './errors.js';
import type { FramedCommand, FramedLiteral } from './framer.js';
import { literalMarkerAtEnd } from './framer.js';

const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const TILDE = 0x7e;
const RBRACKET = 0x5d;

/** ATOM-CHAR (RFC 3501 section 9). */
export function isAtomChar(b: number): boolean {
  if (b <= 0x20 || b >= 0x7f) return false;
  return b !== 0x28 && b !== 0x29 && b !== 0x7b && b !== 0x25 && b !== 0x2a && b !== DQUOTE && b !== BACKSLASH && b !== RBRACKET;
}

/** ASTRING-CHAR: ATOM-CHAR or "]". */
export function isAstringChar(b: number): boolean {
  return b === RBRACKET || isAtomChar(b);
}

/** list-char (RFC 3501): ATOM-CHAR, list-wildcards ("%" "*") or resp-specials ("]"). */
export function isListChar(b: number): boolean {
  return b === 0x25 || b === 0x2a || isAstringChar(b);
}

/** A string read from the command: its bytes and how it was sent. */
export interface StringToken {
  /** The string's bytes (escapes removed for a quoted string). */
  readonly bytes: Buffer;
  /** How it was written. */
  readonly form: 'atom' | 'quoted' | 'literal';
  /** Set for a literal: the literal itself. */
  readonly literal: FramedLiteral | null;
}

/** Turns bytes into text: NUL and invalid UTF-8 are refused with their own codes. */
export function bytesToText(bytes: Buffer, what: string): string {
  if (bytes.includes(0)) throw new WireSyntaxError('nul-byte', `${what} contains a NUL byte`);
  if (!isUtf8(bytes)) throw new WireSyntaxError('invalid-utf8', `${what} is not valid UTF-8`);
  return bytes.toString('utf8');
}

/** Cursor over a framed command. */
export class CommandReader {
  private seg = 0;
  private pos = 0;
  private depth = 0;

  constructor(
    private readonly command: FramedCommand,
    /** Deepest nesting of parentheses and NOT/OR operators allowed. */
    readonly maxNestingDepth: number,
  ) {}

  /**
   * Checks every line for NUL and invalid UTF-8, so 8-bit bytes reach the
   * grammar only as valid UTF-8. Called once, after the tag has been read
   * (a tag is ASCII), so that the error can carry it.
   */
  validateText(): void {
    for (const line of this.command.lines) {
      if (line.includes(0)) throw new WireSyntaxError('nul-byte', 'the command contains a NUL byte');
      if (!isUtf8(line)) throw new WireSyntaxError('invalid-utf8', 'the command is not valid UTF-8');
    }
  }

  private get line(): Buffer {
    return this.command.lines[this.seg]!;
  }

  /** The byte at the cursor, or -1 at the end of the current line. */
  peek(): number {
    return this.pos < this.line.length ? this.line[this.pos]! : -1;
  }

  /** The byte `n` places ahead, or -1. */
  peekAt(n: number): number {
    return this.pos + n < this.line.length ? this.line[this.pos + n]! : -1;
  }

  /** True when the whole command has been read. */
  atEnd(): boolean {
    return this.seg === this.command.lines.length - 1 && this.pos >= this.line.length;
  }

  /** Requires the end of the command. */
  expectEnd(after: string): void {
    if (!this.atEnd()) throw syntaxError(`unexpected text after ${after}`);
  }

  /** Requires one space. */
  sp(before: string): void {
    if (this.peek() !== SP) throw syntaxError(this.atEnd() ? `${before} is missing` : `expected a space before ${before}`);
    this.pos++;
  }

  /** Consumes a space if there is one (and something after it). */
  trySp(): boolean {
    if (this.peek() === SP) {
      this.pos++;
      return true;
    }
    return false;
  }

  /** Requires the byte `b` (given as a one-character string). */
  expect(ch: string, what: string): void {
    if (this.peek() !== ch.charCodeAt(0)) throw syntaxError(`expected "${ch}" ${what}`);
    this.pos++;
  }

  /** Consumes `ch` if it is next. */
  tryByte(ch: string): boolean {
    if (this.peek() === ch.charCodeAt(0)) {
      this.pos++;
      return true;
    }
    return false;
  }

  /** Reads a run of bytes accepted by `pred` (possibly empty), as latin1 text (they are ASCII). */
  readWhile(pred: (b: number) => boolean): string {
    const start = this.pos;
    const line = this.line;
    while (this.pos < line.length && pred(line[this.pos]!)) this.pos++;
    return line.toString('latin1', start, this.pos);
  }

  /** Reads an atom (1*ATOM-CHAR). */
  atom(what: string): string {
    const text = this.readWhile(isAtomChar);
    if (text.length === 0) throw syntaxError(`${what} is missing or malformed`);
    return text;
  }

  /** Reads a run of ASTRING-CHAR (an atom that may contain "]"). */
  astringAtom(what: string): string {
    const text = this.readWhile(isAstringChar);
    if (text.length === 0) throw syntaxError(`${what} is missing or malformed`);
    return text;
  }

  /** True when a string (quoted or literal) starts here. */
  atString(): boolean {
    const b = this.peek();
    return b === DQUOTE || b === LBRACE || (b === TILDE && this.peekAt(1) === LBRACE);
  }

  /** Reads a quoted string or a literal; `binary` allows literal8. */
  string(what: string, options: { binary?: boolean } = {}): StringToken {
    const b = this.peek();
    if (b === DQUOTE) return { bytes: this.quoted(what), form: 'quoted', literal: null };
    if (b === LBRACE || b === TILDE) {
      const literal = this.literal(what);
      if (literal.binary && !options.binary) throw syntaxError(`${what} may not be a literal8 ("~{")`);
      return { bytes: literal.data, form: 'literal', literal };
    }
    throw syntaxError(`${what} must be a quoted string or a literal`);
  }

  /** Reads an astring. */
  astring(what: string): StringToken {
    if (this.atString()) return this.string(what);
    return { bytes: Buffer.from(this.astringAtom(what), 'latin1'), form: 'atom', literal: null };
  }

  /** Reads an astring as text (UTF-8, no NUL). */
  astringText(what: string): string {
    return bytesToText(this.astring(what).bytes, what);
  }

  /** Reads an nstring: NIL gives null. */
  nstring(what: string): StringToken | null {
    if (this.atString()) return this.string(what);
    const word = this.readWhile(isAtomChar);
    if (word.toUpperCase() !== 'NIL') throw syntaxError(`${what} must be a string or NIL`);
    return null;
  }

  /** Reads an nstring, tolerating a bare atom where a string belongs (some clients' ID). */
  nstringOrAtom(what: string): StringToken | null {
    if (this.atString()) return this.string(what);
    const word = this.astringAtom(what);
    if (word.toUpperCase() === 'NIL') return null;
    return { bytes: Buffer.from(word, 'latin1'), form: 'atom', literal: null };
  }

  /** Reads a list-mailbox: list-chars, or a string. */
  listMailbox(what: string): StringToken {
    if (this.atString()) return this.string(what);
    const text = this.readWhile(isListChar);
    if (text.length === 0) throw syntaxError(`${what} is missing or malformed`);
    return { bytes: Buffer.from(text, 'latin1'), form: 'atom', literal: null };
  }

  /** Reads a quoted string (cursor on the opening DQUOTE); returns its bytes unescaped. */
  private quoted(what: string): Buffer {
    const line = this.line;
    this.pos++;
    let runStart = this.pos;
    const chunks: Buffer[] = [];
    for (;;) {
      if (this.pos >= line.length) throw syntaxError(`${what}: a quoted string is not closed`);
      const c = line[this.pos]!;
      if (c === DQUOTE) break;
      if (c === 0x0d || c === 0x0a) throw syntaxError(`${what}: a quoted string may not contain CR or LF`);
      if (c === BACKSLASH) {
        const next = this.pos + 1 < line.length ? line[this.pos + 1]! : -1;
        if (next !== DQUOTE && next !== BACKSLASH) throw syntaxError(`${what}: "\\" in a quoted string may only escape "\\" or a double quote`);
        chunks.push(line.subarray(runStart, this.pos));
        runStart = this.pos + 1;
        this.pos += 2;
        continue;
      }
      this.pos++;
    }
    chunks.push(line.subarray(runStart, this.pos));
    this.pos++;
    return chunks.length === 1 ? Buffer.from(chunks[0]!) : Buffer.concat(chunks);
  }

  /** Reads a literal (cursor on "{" or "~{"), which must end the current line. */
  literal(what: string): FramedLiteral {
    const marker = literalMarkerAtEnd(this.line);
    const markerStart = marker ? this.line.length - marker.markerLength : -1;
    if (!marker || markerStart !== this.pos || this.seg >= this.command.literals.length) {
      throw syntaxError(`${what}: a literal must be "{" number "}" at the end of a line`);
    }
    const literal = this.command.literals[this.seg]!;
    this.seg++;
    this.pos = 0;
    return literal;
  }

  /** Reads `number` (RFC 3501: 0 .. 4294967295). */
  number(what: string, max = 4294967295): number {
    const digits = this.readWhile((b) => b >= 0x30 && b <= 0x39);
    if (digits.length === 0) throw syntaxError(`${what} must be a number`);
    const value = digits.length > 16 ? Infinity : Number(digits);
    if (value > max) throw syntaxError(`${what} is too large (at most ${max})`);
    return value;
  }

  /** Reads `nz-number` (1 .. 4294967295). */
  nzNumber(what: string): number {
    const n = this.number(what);
    if (n === 0) throw syntaxError(`${what} must be greater than 0`);
    return n;
  }

  /**
   * Reads a mod-sequence value (RFC 7162: 0 .. 2^63-1). Rookery's modseqs are
   * JavaScript numbers that never reach 2^53, so a larger value is clamped to
   * Number.MAX_SAFE_INTEGER: every comparison with a real modseq comes out the
   * same, and RFC 7162's own examples (20050715194045000) still parse.
   */
  modSeq(what: string): number {
    return this.wideNumber(what, 9223372036854775807n);
  }

  /** Reads `number64` (RFC 9051: 0 .. 2^63-1), clamped like {@link modSeq}. */
  number64(what: string): number {
    return this.wideNumber(what, 9223372036854775807n);
  }

  private wideNumber(what: string, max: bigint): number {
    const digits = this.readWhile((b) => b >= 0x30 && b <= 0x39);
    if (digits.length === 0) throw syntaxError(`${what} must be a number`);
    if (digits.length > 25 || BigInt(digits) > max) throw syntaxError(`${what} is too large (at most ${max})`);
    const value = Number(digits);
    return value > Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : value;
  }

  /** Enters a nested construct (a parenthesis, NOT, OR); call leave() after. */
  enter(): void {
    this.depth++;
    if (this.depth > this.maxNestingDepth) throw new WireSyntaxError('nesting-too-deep', `the command nests deeper than ${this.maxNestingDepth} levels`);
  }

  /** Leaves a nested construct. */
  leave(): void {
    this.depth--;
  }

  /**
   * Reads "(" item *(SP item) ")" calling `item` for each; `allowEmpty`
   * accepts "()". Counts one nesting level.
   */
  list<T>(what: string, item: () => T, options: { allowEmpty?: boolean } = {}): T[] {
    this.expect('(', `to open ${what}`);
    this.enter();
    const items: T[] = [];
    if (this.tryByte(')')) {
      if (!options.allowEmpty) throw syntaxError(`${what} may not be empty`);
      this.leave();
      return items;
    }
    for (;;) {
      items.push(item());
      if (this.tryByte(')')) break;
      if (this.peek() !== SP) throw syntaxError(this.atEnd() || this.peek() === -1 ? `${what} is not closed with ")"` : `expected a space or ")" in ${what}`);
      this.pos++;
    }
    this.leave();
    return items;
  }
}
