/**
 * Turning a stored message into the body of a RETR or TOP reply (RFC 1939
 * section 3): byte-stuffing and the terminating CRLF.CRLF, chunk by chunk so
 * a large message streams. Pure byte transforms, no I/O.
 *
 * Un-stuffing what we send gives back exactly the stored bytes. A "." is
 * doubled after every LF, bare ones included: clients that split lines on LF
 * alone (Python's poplib does) would otherwise take a stored "LF . CRLF" for
 * the end of the message.
 */

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const DOT_BUF = Buffer.from('.');
const TERMINATOR = Buffer.from('.\r\n');
const CRLF_TERMINATOR = Buffer.from('\r\n.\r\n');

/** Byte-stuffs a message fed in chunks and writes the terminator at the end. */
export class DotStuffer {
  private atLineStart = true;
  /** The last two bytes seen, to know whether the message ended with CRLF. */
  private last = -1;
  private beforeLast = -1;

  /** Returns the chunk with every line-initial "." doubled. */
  push(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    const parts: Buffer[] = [];
    let from = 0;
    if (this.atLineStart && chunk[0] === DOT) parts.push(DOT_BUF);
    let lf = chunk.indexOf(LF);
    while (lf !== -1 && lf + 1 < chunk.length) {
      if (chunk[lf + 1] === DOT) {
        parts.push(chunk.subarray(from, lf + 1), DOT_BUF);
        from = lf + 1;
      }
      lf = chunk.indexOf(LF, lf + 1);
    }
    this.atLineStart = chunk[chunk.length - 1] === LF;
    this.beforeLast = chunk.length >= 2 ? chunk[chunk.length - 2]! : this.last;
    this.last = chunk[chunk.length - 1]!;
    if (parts.length === 0) return chunk;
    parts.push(chunk.subarray(from));
    return Buffer.concat(parts);
  }

  /**
   * The end of the reply: ".CRLF", preceded by a CRLF when the message did
   * not end with one (an empty message needs none).
   */
  finish(): Buffer {
    const endsWithCrlf = this.beforeLast === CR && this.last === LF;
    return endsWithCrlf || this.last === -1 ? TERMINATOR : CRLF_TERMINATOR;
  }
}

/**
 * Cuts a message down to what TOP msg n returns: the header, the blank line
 * after it, and the first n lines of the body (RFC 1939 section 7). Lines
 * end at LF. A message without a blank line is all header and is sent
 * whole.
 */
export class TopCutter {
  private readonly bodyLines: number;
  private inBody = false;
  private bodyLinesSeen = 0;
  /** Bytes of the current line so far, and whether they are just one CR. */
  private lineBytes = 0;
  private lineIsCr = false;
  private done = false;

  constructor(bodyLines: number) {
    this.bodyLines = bodyLines;
  }

  /** True once everything TOP needs has been passed; the caller can stop reading. */
  get finished(): boolean {
    return this.done;
  }

  /** Returns the part of the chunk that belongs in the reply. */
  push(chunk: Buffer): Buffer {
    if (this.done) return chunk.subarray(0, 0);
    let pos = 0;
    while (pos < chunk.length) {
      const lf = chunk.indexOf(LF, pos);
      const end = lf === -1 ? chunk.length : lf;
      if (end > pos) {
        this.lineIsCr = this.lineBytes === 0 && end - pos === 1 && chunk[pos] === CR;
        this.lineBytes += end - pos;
      }
      if (lf === -1) return chunk;
      const empty = this.lineBytes === 0 || (this.lineBytes === 1 && this.lineIsCr);
      this.lineBytes = 0;
      this.lineIsCr = false;
      pos = lf + 1;
      if (!this.inBody) {
        if (empty) {
          this.inBody = true;
          if (this.bodyLines === 0) return this.stop(chunk, pos);
        }
      } else if (++this.bodyLinesSeen >= this.bodyLines) {
        return this.stop(chunk, pos);
      }
    }
    return chunk;
  }

  private stop(chunk: Buffer, upTo: number): Buffer {
    this.done = true;
    return chunk.subarray(0, upTo);
  }
}
