/**
 * A streaming pass over a message as it arrives, before it is stored:
 * rewrites bare CR and bare LF to CRLF (RFC 5322 2.3 allows CR and LF only
 * together; passing bare ones on is what SMTP smuggling exploits), and notes
 * what policy needs to know without buffering the message: its size, whether
 * it held bare line endings or NUL bytes, and how many Received header fields
 * it already carries (the loop check of RFC 5321 6.3).
 *
 * Memory stays bounded whatever the input: a CR at the end of a chunk and the
 * first nine bytes of the current header line are all that is carried over.
 */

const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from('\r\n');
const RECEIVED = 'received:';

/** What the scan saw; read it after end(). */
export interface MessageScanResult {
  /** Bytes given to push(), before any rewriting. */
  inputBytes: number;
  /** Bytes returned by push() and end(), i.e. the size as stored. */
  outputBytes: number;
  /** Bare CR or LF sequences found (each one rewritten to CRLF). */
  bareLineEndings: number;
  /** Whether a NUL byte occurred anywhere. */
  hasNul: boolean;
  /** Received header fields in the header section. */
  receivedHeaders: number;
}

export class MessageScanner {
  private pendingCr = false;
  private inHeaders = true;
  private lineHead = '';
  private lineDecided = false;
  private readonly result: MessageScanResult = {
    inputBytes: 0,
    outputBytes: 0,
    bareLineEndings: 0,
    hasNul: false,
    receivedHeaders: 0,
  };

  /** Scans one chunk and returns it with line endings normalised. */
  push(chunk: Buffer): Buffer {
    this.result.inputBytes += chunk.length;
    if (!this.result.hasNul && chunk.indexOf(0) !== -1) this.result.hasNul = true;
    const out = this.normalise(chunk);
    this.account(out);
    return out;
  }

  /** Flushes a CR held back from the last chunk; call once at the end. */
  end(): Buffer {
    if (!this.pendingCr) return Buffer.alloc(0);
    this.pendingCr = false;
    this.result.bareLineEndings++;
    const out = Buffer.from(CRLF);
    this.account(out);
    return out;
  }

  /** The totals so far. */
  get stats(): Readonly<MessageScanResult> {
    return this.result;
  }

  private account(out: Buffer): void {
    this.result.outputBytes += out.length;
    if (this.inHeaders && out.length) this.scanHeaders(out);
  }

  private normalise(chunk: Buffer): Buffer {
    const parts: Buffer[] = [];
    let start = 0;
    let pos = 0;
    if (this.pendingCr) {
      // The CR that ended the previous chunk was held back until we know what follows it.
      this.pendingCr = false;
      parts.push(CRLF);
      if (chunk.length && chunk[0] === LF) {
        start = pos = 1;
      } else {
        this.result.bareLineEndings++;
      }
    }
    const len = chunk.length;
    // Cached positions keep this linear even for a chunk full of bare CRs.
    let nextCr = chunk.indexOf(CR, pos);
    let nextLf = chunk.indexOf(LF, pos);
    while (nextCr !== -1 || nextLf !== -1) {
      if (nextLf !== -1 && (nextCr === -1 || nextLf < nextCr)) {
        // An LF not consumed as part of CRLF is bare.
        parts.push(chunk.subarray(start, nextLf), CRLF);
        this.result.bareLineEndings++;
        start = pos = nextLf + 1;
      } else if (nextCr === len - 1) {
        parts.push(chunk.subarray(start, nextCr));
        this.pendingCr = true;
        start = pos = len;
      } else if (chunk[nextCr + 1] === LF) {
        pos = nextCr + 2;
      } else {
        parts.push(chunk.subarray(start, nextCr), CRLF);
        this.result.bareLineEndings++;
        start = pos = nextCr + 1;
      }
      if (nextCr !== -1 && nextCr < pos) nextCr = chunk.indexOf(CR, pos);
      if (nextLf !== -1 && nextLf < pos) nextLf = chunk.indexOf(LF, pos);
    }
    if (parts.length === 0) return chunk;
    parts.push(chunk.subarray(start));
    return Buffer.concat(parts);
  }

  /** Counts "Received:" lines until the empty line that ends the header section. */
  private scanHeaders(buf: Buffer): void {
    let i = 0;
    const len = buf.length;
    while (i < len && this.inHeaders) {
      if (!this.lineDecided) {
        while (i < len && this.lineHead.length < RECEIVED.length && buf[i] !== LF) {
          this.lineHead += String.fromCharCode(buf[i]!).toLowerCase();
          i++;
        }
        if (i < len && buf[i] === LF) {
          if (this.lineHead === '\r' || this.lineHead === '') this.inHeaders = false;
          this.lineHead = '';
          i++;
          continue;
        }
        if (this.lineHead.length < RECEIVED.length) return; // need the next chunk
        if (this.lineHead === RECEIVED) this.result.receivedHeaders++;
        this.lineDecided = true;
      }
      const lf = buf.indexOf(LF, i);
      if (lf === -1) return;
      i = lf + 1;
      this.lineHead = '';
      this.lineDecided = false;
    }
  }
}
