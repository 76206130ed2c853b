/**
 * A remote SMTP server for the outbound tests, on a loopback address and a
 * random free port: it records what it receives, and can be told to answer
 * 4xx or 5xx, to be slow, or to be down (and up again on the same port).
 */
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import type { AddressInfo } from 'node:net';

export interface Received {
  from: string;
  to: string[];
  data: Buffer;
  secure: boolean;
}

export type SinkMode =
  | { kind: 'accept' }
  | { kind: 'reply'; code: number; text: string; at: 'rcpt' | 'data' };

export class Sink {
  readonly received: Received[] = [];
  mode: SinkMode = { kind: 'accept' };
  /** Wait this long before answering the end of DATA. */
  dataDelayMs = 0;
  /** Connections seen (to check connection reuse). */
  connections = 0;
  port = 0;
  private server: SMTPServer | null = null;

  constructor(readonly host: string) {}

  private create(): SMTPServer {
    const reply = (at: 'rcpt' | 'data') => {
      if (this.mode.kind !== 'reply' || this.mode.at !== at) return null;
      const err = new Error(this.mode.text) as Error & { responseCode: number };
      err.responseCode = this.mode.code;
      return err;
    };
    return new SMTPServer({
      name: 'sink.far.test',
      authOptional: true,
      disabledCommands: ['AUTH'],
      hideENHANCEDSTATUSCODES: false,
      logger: false,
      onConnect: (_s: SMTPServerSession, cb: (err?: Error | null) => void) => {
        this.connections++;
        cb();
      },
      onRcptTo: (_a, _s, cb) => cb(reply('rcpt')),
      onData: (stream, session, cb) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          setTimeout(() => {
            const err = reply('data');
            if (err) return cb(err);
            this.received.push({
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
              data: Buffer.concat(chunks),
              secure: session.secure,
            });
            cb(null, 'Ok: queued by the sink');
          }, this.dataDelayMs);
        });
      },
    });
  }

  /** Starts listening (on the same port as before after a stop). */
  async start(): Promise<void> {
    const server = this.create();
    await new Promise<void>((resolve, reject) => {
      server.server.once('error', reject);
      server.listen(this.port, this.host, () => resolve());
    });
    this.port = (server.server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Resolves once `n` messages have arrived, or rejects after timeoutMs. */
  async waitFor(n: number, timeoutMs = 15000): Promise<Received[]> {
    const until = Date.now() + timeoutMs;
    while (this.received.length < n) {
      if (Date.now() > until) throw new Error(`the sink got ${this.received.length} message(s), expected ${n}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.received;
  }
}

/** A loopback address of 127/8 unlikely to be used by another test at the same time. */
export function randomLoopback(): string {
  return `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`;
}
