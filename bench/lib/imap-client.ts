/**
 * A minimal IMAP client for the benchmark, the same for both servers: it
 * writes one command, reads responses until the tagged one (skipping
 * literals by their announced length, so a FETCH of headers is read
 * correctly) and returns how long that took, how many untagged responses
 * came and the ones the caller asked to keep. It parses nothing else, so
 * the client costs little next to the server it measures.
 */
import { connect, type Socket } from 'node:net';

export interface CommandResult {
  /** Milliseconds from writing the command to reading its tagged response. */
  ms: number;
  /** The tagged response line. */
  tagged: string;
  /** Untagged responses ("* ..." lines, literals not counted). */
  untagged: number;
  /** Untagged lines (without literal contents) accepted by `keep`. */
  kept: string[];
}

export class ImapConnection {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes of a literal still to skip. */
  private skip = 0;
  /** The start of the response line being read (text before a literal), kept for `keep`. */
  private partial = '';
  private onLine: ((line: string) => void) | null = null;
  private closedError: Error | null = null;
  private tagNo = 0;
  private lineWaiters: Array<(line: string) => void> = [];
  private readonly queuedLines: string[] = [];

  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.feed(d));
    socket.on('error', (err) => { this.closedError = err; this.fail(); });
    socket.on('close', () => { this.closedError ??= new Error('connection closed by the server'); this.fail(); });
  }

  static open(port: number, host = '127.0.0.1'): Promise<ImapConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host });
      const c = new ImapConnection(socket);
      socket.once('error', reject);
      c.nextLine(30_000).then((greeting) => {
        socket.off('error', reject);
        if (!greeting.startsWith('* OK')) reject(new Error(`unexpected greeting: ${greeting}`));
        else resolve(c);
      }, reject);
    });
  }

  private fail(): void {
    const waiters = this.lineWaiters;
    this.lineWaiters = [];
    for (const w of waiters) w('');
    if (this.onLine) this.onLine('');
  }

  private emit(line: string): void {
    if (this.onLine) this.onLine(line);
    else if (this.lineWaiters.length > 0) this.lineWaiters.shift()!(line);
    else this.queuedLines.push(line);
  }

  private feed(d: Buffer): void {
    let data = d;
    if (this.chunks.length > 0) {
      this.chunks.push(d);
      data = Buffer.concat(this.chunks, this.buffered + d.length);
      this.chunks = [];
      this.buffered = 0;
    }
    let pos = 0;
    while (pos < data.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, data.length - pos);
        this.skip -= n;
        pos += n;
        continue;
      }
      const eol = data.indexOf(10, pos);
      if (eol === -1) break;
      const start = pos;
      const end = eol > start && data[eol - 1] === 13 ? eol - 1 : eol;
      pos = eol + 1;
      // Only the start of a line is decoded: enough for tags, counts and short answers.
      const text = data.toString('latin1', start, Math.min(end, start + 4096));
      const tail = end - start > 4096 ? data.toString('latin1', end - 24, end) : text;
      const literal = /\{(\d+)\+?\}$/.exec(tail);
      if (literal) {
        this.partial += text;
        this.skip = Number(literal[1]);
        continue;
      }
      const line = this.partial + text;
      this.partial = '';
      this.emit(line);
    }
    if (pos < data.length) {
      const rest = data.subarray(pos);
      this.chunks.push(rest);
      this.buffered = rest.length;
    }
  }

  /** The next response line (for the greeting and continuation requests). */
  nextLine(timeoutMs = 60_000): Promise<string> {
    const queued = this.queuedLines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer in time')), timeoutMs);
      this.lineWaiters.push((line) => {
        clearTimeout(timer);
        if (line === '' && this.closedError) reject(this.closedError);
        else resolve(line);
      });
    });
  }

  /** Sends one command and reads until its tagged response; rejects unless it is OK. */
  command(text: string, opts: { keep?: (line: string) => boolean; timeoutMs?: number; allowNo?: boolean } = {}): Promise<CommandResult> {
    const tag = `b${++this.tagNo}`;
    const prefix = `${tag} `;
    return new Promise((resolve, reject) => {
      let untagged = 0;
      const kept: string[] = [];
      const timer = setTimeout(() => {
        this.onLine = null;
        reject(new Error(`no answer to "${text.slice(0, 60)}" within ${(opts.timeoutMs ?? 300_000) / 1000} s`));
      }, opts.timeoutMs ?? 300_000);
      const started = process.hrtime.bigint();
      this.onLine = (line) => {
        if (line === '' && this.closedError) {
          clearTimeout(timer);
          this.onLine = null;
          reject(new Error(`"${text.slice(0, 60)}": ${this.closedError.message}`));
          return;
        }
        if (line.startsWith(prefix)) {
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          clearTimeout(timer);
          this.onLine = null;
          if (!line.startsWith(`${prefix}OK`) && !opts.allowNo) reject(new Error(`"${text.slice(0, 60)}" answered: ${line}`));
          else resolve({ ms, tagged: line, untagged, kept });
          return;
        }
        if (line.startsWith('* ')) {
          untagged++;
          if (opts.keep?.(line)) kept.push(line);
        }
      };
      this.socket.write(`${tag} ${text}\r\n`);
    });
  }

  /** Starts IDLE and resolves at the server's continuation request. */
  async idle(): Promise<void> {
    const tag = `b${++this.tagNo}`;
    this.socket.write(`${tag} IDLE\r\n`);
    for (;;) {
      const line = await this.nextLine(60_000);
      if (line.startsWith('+')) return;
      if (line.startsWith(`${tag} `)) throw new Error(`IDLE answered: ${line}`);
    }
  }

  /** Drops the connection without LOGOUT. */
  destroy(): void {
    this.socket.destroy();
  }

  async logout(): Promise<void> {
    try {
      await this.command('LOGOUT', { timeoutMs: 10_000 });
    } catch { /* the server may close first */ }
    this.socket.destroy();
  }
}

/** A quoted IMAP string. */
export function quoted(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
