/**
 * IMAP command framing (RFC 3501 sections 2.2 and 4.3, RFC 9051 sections 2.2
 * and 4.3, LITERAL+ / LITERAL- from RFC 7888, literal8 from RFC 3516): an
 * incremental reader that turns the client's byte stream into complete
 * commands, each a list of text lines with the literals between them:
 *
 *     command  = line *(literal line)       ; a line ends in CRLF
 *     literal  = ["~"] "{" number ["+"] "}" CRLF *OCTET   ; the marker ends a line
 *
 * A synchronising literal (`{n}`) needs the server's "+" continuation before
 * its bytes may come; the framer stops at the marker with a `literal-request`
 * event and the caller calls {@link CommandFramer.acceptLiteral} (and sends
 * "+ ...") or {@link CommandFramer.refuseLiteral} (and answers the tag with
 * NO/BAD; the client then abandons the command and sends no bytes). A
 * non-synchronising literal (`{n+}`) arrives unasked; if it is too big it is
 * skipped byte by byte, never buffered, and the rest of that command drained.
 *
 * Line ends: RFC 3501 requires CRLF. A bare LF is accepted as a line end too,
 * as Dovecot, Cyrus and Rookery's POP3 do, because some scripted clients send
 * it and refusing gains nothing; a CR anywhere else stays in the text, where
 * the parser refuses it. Limits are given at construction and are all in
 * bytes: the text of a command without its literals, one literal, and a whole
 * command with its literals. Input beyond a limit is reported once as an
 * error event (with the tag when it can be read) and thrown away.
 */

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;

/** RFC 7888 section 5: with LITERAL-, a non-synchronising literal holds at most 4096 bytes. */
export const LITERAL_MINUS_MAX_BYTES = 4096;

/** Bytes kept from the start of a command, to recover its tag and name after an overflow. */
const HEAD_BYTES = 128;
/** Bytes kept from the end of a drained line: enough for `~{` 20 digits `+}`. */
const TAIL_BYTES = 32;

/** Limits and options of one framer; every size is in bytes. */
export interface FramerOptions {
  /** Longest command text, counting every line of the command but not its literals nor line ends. */
  readonly maxLineBytes: number;
  /** Largest single literal accepted (synchronising, non-synchronising or literal8). */
  readonly maxLiteralBytes: number;
  /** Largest whole command: its lines, their line ends and its literals. */
  readonly maxCommandBytes: number;
  /**
   * Which non-synchronising literals the server announced: 'plus' (LITERAL+,
   * any size up to maxLiteralBytes) or 'minus' (LITERAL-, at most 4096 bytes).
   * Default 'plus'.
   */
  readonly nonSynchronisingLiterals?: 'plus' | 'minus';
}

/** One literal of a framed command. */
export interface FramedLiteral {
  /** The literal's bytes, exactly as sent. */
  readonly data: Buffer;
  /** Sent as literal8 (`~{n}`, RFC 3516): may contain NUL. */
  readonly binary: boolean;
  /** Sent as `{n}` (after a continuation) rather than `{n+}`. */
  readonly synchronising: boolean;
}

/**
 * A complete command. `lines[i]` is the text before `literals[i]` and ends
 * with that literal's marker (`{5}`, `{5+}`, `~{5}`); the last line follows
 * the last literal. Line ends are removed. `lines.length === literals.length + 1`.
 */
export interface FramedCommand {
  /** Text of the command, split at its literals. */
  readonly lines: readonly Buffer[];
  /** The literals, in order. */
  readonly literals: readonly FramedLiteral[];
}

/** Why the framer threw part of the input away. */
export type FramingErrorCode =
  /** The command text passed maxLineBytes. */
  | 'line-too-long'
  /** A literal was announced larger than maxLiteralBytes. */
  | 'literal-too-big'
  /** A non-synchronising literal over 4096 bytes under LITERAL- (RFC 7888 section 5). */
  | 'literal-minus-too-big'
  /** The command with its literals would pass maxCommandBytes. */
  | 'command-too-big'
  /** The client sent bytes while the server had not yet answered a synchronising literal. */
  | 'data-before-continuation';

/** What the framer found in the bytes fed to it. */
export type FramerEvent =
  /** A complete command, ready for the parser. */
  | { readonly kind: 'command'; readonly command: FramedCommand }
  /**
   * A synchronising literal was announced. The framer is paused until the
   * caller calls acceptLiteral() (and sends a "+" continuation) or
   * refuseLiteral() (and sends a tagged NO or BAD).
   */
  | {
      readonly kind: 'literal-request';
      /** Tag of the command, when it is a valid tag. */
      readonly tag: string | null;
      /** Command name in upper case ("APPEND", "UID SEARCH"), when readable. */
      readonly commandName: string | null;
      /** Size the client announced. */
      readonly literalBytes: number;
      /** literal8 (`~{n}`). */
      readonly binary: boolean;
      /** Bytes of this command received so far, literal excluded. */
      readonly commandBytesSoFar: number;
      /**
       * The command's lines so far (the last ends with this literal's marker),
       * so the caller can look at the arguments before deciding, e.g. answer
       * APPEND to a missing mailbox with NO [TRYCREATE] instead of "+".
       */
      readonly linesSoFar: readonly Buffer[];
    }
  /**
   * Input thrown away. The caller answers `TAG BAD [TOOBIG] sentence` (or
   * `* BAD` without a tag) and may close the connection, which it should do
   * when `fatal` is set or when `skippingBytes` is larger than it will wait for.
   */
  | {
      readonly kind: 'error';
      readonly code: FramingErrorCode;
      /** Tag of the command, when it could be recovered. */
      readonly tag: string | null;
      /** A sentence for the client. */
      readonly sentence: string;
      /** IMAP response code to send with it (RFC 4469 / RFC 9051 TOOBIG). */
      readonly responseCode: 'TOOBIG' | null;
      /** Bytes of a non-synchronising literal the framer will now skip. */
      readonly skippingBytes: number;
      /** The stream cannot be trusted any more; close after answering. */
      readonly fatal: boolean;
    };

type Mode =
  /** Reading a line of command text. */
  | { name: 'line' }
  /** Waiting for the caller's decision on a synchronising literal. */
  | { name: 'paused'; literalBytes: number; binary: boolean }
  /** Reading literal bytes. */
  | { name: 'literal'; remaining: number; binary: boolean; synchronising: boolean }
  /** Skipping the bytes of a refused non-synchronising literal, then draining. */
  | { name: 'skip'; remaining: number }
  /** Throwing away the rest of a line of a rejected command. */
  | { name: 'drain' };

/** True for ASTRING-CHAR except "+" (RFC 3501 `tag`). */
export function isTagByte(b: number): boolean {
  if (b <= 0x20 || b >= 0x7f) return false;
  // atom-specials except resp-specials ("]" is allowed in a tag), and "+".
  return b !== 0x28 && b !== 0x29 && b !== 0x7b && b !== 0x25 && b !== 0x2a && b !== 0x22 && b !== 0x5c && b !== 0x2b;
}

/** Reads `tag SP name [SP name2]` from the start of a command, as far as it is valid. */
export function peekTagAndName(head: Buffer): { tag: string | null; commandName: string | null } {
  let i = 0;
  while (i < head.length && isTagByte(head[i]!)) i++;
  if (i === 0 || (i < head.length && head[i] !== SP && head[i] !== CR && head[i] !== LF)) return { tag: null, commandName: null };
  const tag = head.subarray(0, i).toString('latin1');
  if (head[i] !== SP) return { tag, commandName: null };
  const words = head
    .subarray(i + 1, Math.min(head.length, i + 1 + 64))
    .toString('latin1')
    .split(/[ \r\n]/);
  const first = words[0] ?? '';
  if (!/^[A-Za-z][A-Za-z0-9.-]*$/.test(first)) return { tag, commandName: null };
  let name = first.toUpperCase();
  if (name === 'UID' && words[1] && /^[A-Za-z]+$/.test(words[1])) name += ' ' + words[1].toUpperCase();
  return { tag, commandName: name };
}

/** A literal marker at the end of a line: `{n}`, `{n+}`, `~{n}`, `~{n+}`. */
export interface LiteralMarker {
  /** Announced size; Infinity when the number is too long to be real. */
  readonly literalBytes: number;
  /** literal8. */
  readonly binary: boolean;
  /** `{n+}`. */
  readonly nonSynchronising: boolean;
  /** Length of the marker text, so the parser can find where it starts. */
  readonly markerLength: number;
}

/** Finds a literal marker at the very end of `line` (line end already removed). */
export function literalMarkerAtEnd(line: Buffer): LiteralMarker | null {
  const n = line.length;
  if (n < 3 || line[n - 1] !== 0x7d) return null;
  let i = n - 2;
  const nonSynchronising = line[i] === 0x2b;
  if (nonSynchronising) i--;
  const digitsEnd = i + 1;
  while (i >= 0 && line[i]! >= 0x30 && line[i]! <= 0x39) i--;
  const digitsStart = i + 1;
  if (digitsStart === digitsEnd || i < 0 || line[i] !== 0x7b) return null;
  const binary = i > 0 && line[i - 1] === 0x7e;
  const digits = line.subarray(digitsStart, digitsEnd).toString('latin1');
  // RFC 3501 `number` is 32-bit and RFC 3516 `number64` 63-bit; anything longer is nonsense.
  const literalBytes = digits.length > 15 ? Infinity : Number(digits);
  return { literalBytes, binary, nonSynchronising, markerLength: n - i + (binary ? 1 : 0) };
}

/**
 * The incremental framer. Feed it with {@link push}; each call returns the
 * events completed by the new bytes, in order. One framer per connection.
 */
export class CommandFramer {
  /** The limits this framer enforces. */
  readonly options: Required<FramerOptions>;

  private mode: Mode = { name: 'line' };
  /** Bytes waiting to be processed (only non-empty while paused or mid-process). */
  private input: Buffer[] = [];
  private inputBytes = 0;

  // The command being read.
  private lines: Buffer[] = [];
  private literals: FramedLiteral[] = [];
  private lineParts: Buffer[] = [];
  private linePartBytes = 0;
  private literalParts: Buffer[] = [];
  /** Text bytes of the command so far (lines without line ends). */
  private textBytes = 0;
  /** All bytes of the command so far. */
  private commandBytes = 0;
  /** First bytes of the command, for the tag after an overflow. */
  private head: Buffer = Buffer.alloc(0);
  /** Last bytes of a drained line, to spot a literal marker at its end. */
  private tail: Buffer = Buffer.alloc(0);

  constructor(options: FramerOptions) {
    for (const key of ['maxLineBytes', 'maxLiteralBytes', 'maxCommandBytes'] as const) {
      const v = options[key];
      if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${key} must be a positive integer`);
    }
    this.options = { nonSynchronisingLiterals: 'plus', ...options };
  }

  /** True while a synchronising literal waits for acceptLiteral() or refuseLiteral(). */
  get awaitingLiteralDecision(): boolean {
    return this.mode.name === 'paused';
  }

  /** Bytes currently held for the unfinished command (a bound for memory checks). */
  get bufferedBytes(): number {
    return this.linePartBytes + this.literalParts.reduce((s, b) => s + b.length, 0) + this.lines.reduce((s, b) => s + b.length, 0) + this.literals.reduce((s, l) => s + l.data.length, 0) + this.inputBytes;
  }

  /** Feeds bytes from the client; returns the events they complete. */
  push(chunk: Buffer): FramerEvent[] {
    if (chunk.length === 0) return [];
    if (this.mode.name === 'paused') {
      // A well-behaved client sends nothing until it sees "+"; hold a little, then give up.
      this.input.push(chunk);
      this.inputBytes += chunk.length;
      if (this.inputBytes > this.options.maxLineBytes) {
        this.input = [];
        this.inputBytes = 0;
        const { tag } = peekTagAndName(this.head);
        this.resetCommand();
        this.mode = { name: 'line' };
        return [this.error('data-before-continuation', tag, 'the client sent data before the server answered its synchronising literal', 0, true)];
      }
      return [];
    }
    this.input.push(chunk);
    this.inputBytes += chunk.length;
    return this.process();
  }

  /** Accepts the announced synchronising literal; send "+ " to the client, then feed its bytes. */
  acceptLiteral(): FramerEvent[] {
    if (this.mode.name !== 'paused') throw new Error('acceptLiteral() called while no literal is waiting');
    this.mode = { name: 'literal', remaining: this.mode.literalBytes, binary: this.mode.binary, synchronising: true };
    this.commandBytes += this.mode.remaining;
    return this.process();
  }

  /**
   * Refuses the announced synchronising literal: the command is dropped and
   * the framer waits for the next one. The caller answers the tag with NO or
   * BAD; RFC 3501 section 7.5 then has the client send no literal bytes.
   */
  refuseLiteral(): FramerEvent[] {
    if (this.mode.name !== 'paused') throw new Error('refuseLiteral() called while no literal is waiting');
    this.resetCommand();
    this.mode = { name: 'line' };
    return this.process();
  }

  private process(): FramerEvent[] {
    const events: FramerEvent[] = [];
    for (;;) {
      // Empty literals and empty skips finish without waiting for more input.
      if ((this.mode.name === 'literal' || this.mode.name === 'skip') && this.mode.remaining === 0) this.step(Buffer.alloc(0), events);
      if (this.input.length === 0 || this.mode.name === 'paused') break;
      const chunk = this.input[0]!;
      const used = this.step(chunk, events);
      if (used >= chunk.length) this.input.shift();
      else this.input[0] = chunk.subarray(used);
      this.inputBytes -= used;
    }
    return events;
  }

  /** Consumes bytes from the front of `chunk`; returns how many. */
  private step(chunk: Buffer, events: FramerEvent[]): number {
    const mode = this.mode;
    switch (mode.name) {
      case 'literal': {
        const take = Math.min(mode.remaining, chunk.length);
        this.literalParts.push(chunk.subarray(0, take));
        mode.remaining -= take;
        if (mode.remaining === 0) {
          const data = this.literalParts.length === 1 ? Buffer.from(this.literalParts[0]!) : Buffer.concat(this.literalParts);
          this.literalParts = [];
          this.literals.push({ data, binary: mode.binary, synchronising: mode.synchronising });
          this.mode = { name: 'line' };
        }
        return take;
      }
      case 'skip': {
        const take = Math.min(mode.remaining, chunk.length);
        mode.remaining -= take;
        if (mode.remaining === 0) {
          this.tail = Buffer.alloc(0);
          this.mode = { name: 'drain' };
        }
        return take;
      }
      case 'drain': {
        const lf = chunk.indexOf(LF);
        const end = lf === -1 ? chunk.length : lf;
        this.tail = keepTail(this.tail, chunk.subarray(0, end));
        if (lf === -1) return chunk.length;
        this.endDrainedLine();
        return lf + 1;
      }
      case 'line':
        return this.stepLine(chunk, events);
      case 'paused':
        return 0;
    }
  }

  private stepLine(chunk: Buffer, events: FramerEvent[]): number {
    const lf = chunk.indexOf(LF);
    const end = lf === -1 ? chunk.length : lf;
    const piece = chunk.subarray(0, end);
    if (this.head.length < HEAD_BYTES && this.lines.length === 0) {
      this.head = Buffer.concat([this.head, piece.subarray(0, HEAD_BYTES - this.head.length)]);
    }
    // One byte over the limit may be the CR of CRLF; decide when the LF arrives.
    const textSoFar = this.textBytes + this.linePartBytes + piece.length;
    if (lf === -1) {
      if (textSoFar > this.options.maxLineBytes + 1) {
        this.tail = keepTail(Buffer.alloc(0), Buffer.concat([...this.lineParts.slice(-2), piece]));
        events.push(this.overflow('line-too-long', `the command line is longer than ${this.options.maxLineBytes} bytes`, 0));
        this.mode = { name: 'drain' };
        return chunk.length;
      }
      this.lineParts.push(piece);
      this.linePartBytes += piece.length;
      this.commandBytes += piece.length;
      return chunk.length;
    }
    this.lineParts.push(piece);
    this.linePartBytes += piece.length;
    this.commandBytes += piece.length + 1;
    let line = this.lineParts.length === 1 ? Buffer.from(this.lineParts[0]!) : Buffer.concat(this.lineParts);
    this.lineParts = [];
    this.linePartBytes = 0;
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    if (this.textBytes + line.length > this.options.maxLineBytes) {
      this.tail = keepTail(Buffer.alloc(0), line);
      events.push(this.overflow('line-too-long', `the command line is longer than ${this.options.maxLineBytes} bytes`, 0));
      this.endDrainedLine();
      return lf + 1;
    }
    if (this.commandBytes > this.options.maxCommandBytes) {
      this.tail = keepTail(Buffer.alloc(0), line);
      events.push(this.overflow('command-too-big', `the command is larger than ${this.options.maxCommandBytes} bytes`, 0));
      this.endDrainedLine();
      return lf + 1;
    }
    this.textBytes += line.length;
    this.lines.push(line);
    const marker = literalMarkerAtEnd(line);
    if (!marker) {
      events.push({ kind: 'command', command: { lines: this.lines, literals: this.literals } });
      this.resetCommand();
      return lf + 1;
    }
    const refusal = this.literalRefusal(marker);
    if (refusal) {
      const skip = marker.nonSynchronising ? marker.literalBytes : 0;
      events.push(this.overflow(refusal.code, refusal.sentence, skip));
      if (marker.nonSynchronising) this.mode = { name: 'skip', remaining: skip };
      else this.resetCommand();
      return lf + 1;
    }
    if (marker.nonSynchronising) {
      this.commandBytes += marker.literalBytes;
      this.mode = { name: 'literal', remaining: marker.literalBytes, binary: marker.binary, synchronising: false };
      return lf + 1;
    }
    const { tag, commandName } = peekTagAndName(this.head);
    events.push({ kind: 'literal-request', tag, commandName, literalBytes: marker.literalBytes, binary: marker.binary, commandBytesSoFar: this.commandBytes, linesSoFar: [...this.lines] });
    this.mode = { name: 'paused', literalBytes: marker.literalBytes, binary: marker.binary };
    return lf + 1;
  }

  private literalRefusal(marker: LiteralMarker): { code: FramingErrorCode; sentence: string } | null {
    if (marker.nonSynchronising && this.options.nonSynchronisingLiterals === 'minus' && marker.literalBytes > LITERAL_MINUS_MAX_BYTES) {
      return { code: 'literal-minus-too-big', sentence: `a non-synchronising literal may hold at most ${LITERAL_MINUS_MAX_BYTES} bytes (LITERAL-); use a synchronising literal` };
    }
    if (marker.literalBytes > this.options.maxLiteralBytes) {
      return { code: 'literal-too-big', sentence: `a literal may hold at most ${this.options.maxLiteralBytes} bytes` };
    }
    if (this.commandBytes + marker.literalBytes > this.options.maxCommandBytes) {
      return { code: 'command-too-big', sentence: `the command is larger than ${this.options.maxCommandBytes} bytes` };
    }
    return null;
  }

  /** The end of a line of a rejected command: skip a non-synchronising literal it announces, or finish. */
  private endDrainedLine(): void {
    let tail = this.tail;
    if (tail.length > 0 && tail[tail.length - 1] === CR) tail = tail.subarray(0, tail.length - 1);
    this.tail = Buffer.alloc(0);
    const marker = literalMarkerAtEnd(tail);
    if (marker && marker.nonSynchronising) {
      this.mode = { name: 'skip', remaining: marker.literalBytes };
      return;
    }
    // A synchronising literal is never sent: the client waits for a "+" that does not come.
    this.resetCommand();
    this.mode = { name: 'line' };
  }

  /** Reports an overflow and forgets what was kept of the command. */
  private overflow(code: FramingErrorCode, sentence: string, skippingBytes: number): FramerEvent {
    const { tag } = peekTagAndName(this.head);
    const event = this.error(code, tag, sentence, skippingBytes, false);
    this.lines = [];
    this.literals = [];
    this.lineParts = [];
    this.linePartBytes = 0;
    this.literalParts = [];
    return event;
  }

  private error(code: FramingErrorCode, tag: string | null, sentence: string, skippingBytes: number, fatal: boolean): FramerEvent {
    // A literal too long to count can never be skipped to its end: only closing helps.
    const endless = !Number.isFinite(skippingBytes);
    return { kind: 'error', code, tag, sentence, responseCode: code === 'data-before-continuation' ? null : 'TOOBIG', skippingBytes, fatal: fatal || endless };
  }

  private resetCommand(): void {
    this.lines = [];
    this.literals = [];
    this.lineParts = [];
    this.linePartBytes = 0;
    this.literalParts = [];
    this.textBytes = 0;
    this.commandBytes = 0;
    this.head = Buffer.alloc(0);
    this.tail = Buffer.alloc(0);
  }
}

function keepTail(tail: Buffer, more: Buffer): Buffer {
  if (more.length >= TAIL_BYTES) return Buffer.from(more.subarray(more.length - TAIL_BYTES));
  const joined = Buffer.concat([tail, more]);
  return joined.length > TAIL_BYTES ? joined.subarray(joined.length - TAIL_BYTES) : joined;
}
