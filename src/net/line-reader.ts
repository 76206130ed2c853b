/**
 * Line framing for text protocols (POP3 now, IMAP later): splits a byte
 * stream into lines with a byte limit. Protocol-neutral: it knows nothing of
 * commands, only of line ends.
 *
 * - A line ends at LF; a CR right before it is dropped too. Clients that end
 *   commands with a bare LF are accepted (as Dovecot and Postfix accept them).
 *   A CR anywhere else stays in the line for the parser to refuse.
 * - A line longer than the limit is never buffered whole: the splitter
 *   reports it once, as soon as the limit is passed, then throws bytes away
 *   up to the next LF, so the protocol can answer an error and carry on.
 */

const LF = 0x0a;
const CR = 0x0d;

/** What the splitter found in the bytes pushed to it. */
export type LineEvent =
  /** A complete line, without its CRLF or LF. */
  | { kind: 'line'; line: Buffer }
  /**
   * A line passed the limit. Reported once per line, when the limit is
   * crossed; the rest of that line up to its LF is discarded silently.
   */
  | { kind: 'overlong' };

/**
 * Incremental line splitter. `push` returns the events the new bytes
 * complete; partial lines are kept (at most `maxLineBytes` + 1 bytes).
 */
export class LineSplitter {
  /** Longest line accepted, counting its bytes without the CRLF or LF. */
  readonly maxLineBytes: number;
  private parts: Buffer[] = [];
  private partBytes = 0;
  /** True while throwing away the remainder of an overlong line. */
  private discarding = false;

  constructor(maxLineBytes: number) {
    if (!Number.isSafeInteger(maxLineBytes) || maxLineBytes < 1) throw new RangeError('maxLineBytes must be a positive integer');
    this.maxLineBytes = maxLineBytes;
  }

  /** Bytes of an unfinished line currently held. */
  get bufferedBytes(): number {
    return this.partBytes;
  }

  /** Feeds bytes; returns the lines (and overlong reports) they complete, in order. */
  push(chunk: Buffer): LineEvent[] {
    const events: LineEvent[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      const lf = chunk.indexOf(LF, pos);
      const end = lf === -1 ? chunk.length : lf;
      if (this.discarding) {
        if (lf === -1) return events;
        this.discarding = false;
        pos = lf + 1;
        continue;
      }
      // A CR may precede the LF, so one byte beyond the limit is allowed to sit
      // in the buffer until we know whether the next byte is LF.
      const lineBytes = this.partBytes + (end - pos);
      const limitWithCr = this.maxLineBytes + 1;
      if (lineBytes > limitWithCr || (lf !== -1 && lineBytes > this.maxLineBytes && !this.endsWithCr(chunk, pos, end))) {
        this.parts = [];
        this.partBytes = 0;
        events.push({ kind: 'overlong' });
        if (lf === -1) {
          this.discarding = true;
          return events;
        }
        pos = lf + 1;
        continue;
      }
      if (lf === -1) {
        this.parts.push(chunk.subarray(pos));
        this.partBytes += chunk.length - pos;
        return events;
      }
      let line = this.parts.length === 0 ? chunk.subarray(pos, end) : Buffer.concat([...this.parts, chunk.subarray(pos, end)]);
      this.parts = [];
      this.partBytes = 0;
      if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
      // Copy: the caller may keep the line while the socket reuses its chunk.
      events.push({ kind: 'line', line: Buffer.from(line) });
      pos = lf + 1;
    }
    return events;
  }

  /**
   * Forgets everything buffered, partial line and discard state included.
   * Used when a connection switches to TLS: nothing sent in plain text may
   * survive into the encrypted session (CVE-2011-0411).
   */
  reset(): void {
    this.parts = [];
    this.partBytes = 0;
    this.discarding = false;
  }

  /** Whether the line ending at `end` (exclusive) finishes with CR. */
  private endsWithCr(chunk: Buffer, pos: number, end: number): boolean {
    if (end > pos) return chunk[end - 1] === CR;
    const last = this.parts[this.parts.length - 1];
    return last !== undefined && last.length > 0 && last[last.length - 1] === CR;
  }
}
