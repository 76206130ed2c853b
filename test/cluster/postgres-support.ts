/**
 * For the cluster tests on PostgreSQL (postgres-*.test.ts): a small IMAP
 * line client for IDLE. The database helpers are test/helpers/postgres.ts.
 */
import { connect, type Socket } from 'node:net';

/** A bare IMAP client: tagged commands, and untagged lines collected as they come (IDLE). */
export class ImapLines {
  readonly lines: string[] = [];
  private buffer = '';
  private waiters = new Set<() => void>();
  private tag = 0;
  closed = false;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let nl: number;
      while ((nl = this.buffer.indexOf('\r\n')) >= 0) {
        this.lines.push(this.buffer.slice(0, nl));
        this.buffer = this.buffer.slice(nl + 2);
      }
      for (const w of [...this.waiters]) w();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of [...this.waiters]) w();
    });
    socket.on('error', () => undefined);
  }

  static async open(port: number, host = '127.0.0.1'): Promise<ImapLines> {
    const socket = connect(port, host);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new ImapLines(socket);
    await c.until((l) => l.startsWith('* OK'), 5000, 'the greeting');
    return c;
  }

  /** Resolves with the first line from index `from` on that matches; rejects after ms. */
  until(pred: (line: string) => boolean, ms: number, what: string, from = 0): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.lines.slice(from).find(pred);
        if (found !== undefined) {
          done();
          resolve(found);
        } else if (this.closed) {
          done();
          reject(new Error(`${what}: the connection closed; lines: ${this.lines.slice(-10).join(' | ')}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${what}: not seen within ${ms} ms; last lines: ${this.lines.slice(-10).join(' | ')}`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Sends a command and waits for its tagged reply; returns that line. */
  async command(text: string, ms = 10000): Promise<string> {
    const tag = `t${++this.tag}`;
    const from = this.lines.length;
    this.socket.write(`${tag} ${text}\r\n`);
    return this.until((l) => l.startsWith(`${tag} `), ms, text, from);
  }

  async idle(): Promise<void> {
    const from = this.lines.length;
    this.socket.write(`t${++this.tag} IDLE\r\n`);
    await this.until((l) => l.startsWith('+'), 5000, 'IDLE', from);
  }

  /** The highest message count an EXISTS line reported so far. */
  exists(): number {
    let n = -1;
    for (const l of this.lines) {
      const m = /^\* (\d+) EXISTS$/.exec(l);
      if (m) n = Number(m[1]);
    }
    return n;
  }

  end(): void {
    this.socket.destroy();
  }
}
