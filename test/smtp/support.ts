/**
 * Helpers for the SMTP tests: a raw SMTP client over net/tls sockets (for
 * input no real client would send), a node whose store can be wrapped to
 * inject failures, and readers for what got stored.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/open.js';
import { createSmtpService } from '../../src/protocols/smtp/index.js';
import { defaultLimits, type Limits } from '../../src/config/limits.js';
import { selfSigned } from '../../src/net/tls.js';
import { createLogger } from '../../src/log.js';
import type { NetService, TlsMaterial } from '../../src/net/service.js';
import type { Store, MessageRecord } from '../../src/store/types.js';

/** One SMTP reply: its code and its lines' text (after "NNN-" / "NNN "). */
export interface Reply {
  code: number;
  lines: string[];
  /** The whole reply as received, for assertions on the exact wording. */
  raw: string;
}

/** A line-oriented SMTP client that sends exactly the bytes it is given. */
export class Wire {
  private buffer = '';
  private waiters: (() => void)[] = [];
  private closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffer += d.toString('latin1');
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {
      this.closed = true;
      this.wake();
    });
  }

  /** A client over a socket that is already connected (after a PROXY header, or a TLS upgrade). */
  static over(socket: Socket): Wire {
    return new Wire(socket);
  }

  static async open(port: number, opts: { tls?: boolean } = {}): Promise<Wire> {
    const socket: Socket = opts.tls
      ? tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false })
      : netConnect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return new Wire(socket);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Whether the server has closed the connection. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Reads one complete reply; rejects after timeoutMs or if the connection closes first. */
  async reply(timeoutMs = 5000): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = this.take();
      if (parsed) return parsed;
      if (this.closed) throw new Error(`connection closed; unread: ${JSON.stringify(this.buffer)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms; unread: ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private take(): Reply | null {
    let pos = 0;
    const lines: string[] = [];
    for (;;) {
      const eol = this.buffer.indexOf('\r\n', pos);
      if (eol === -1) return null;
      const line = this.buffer.slice(pos, eol);
      pos = eol + 2;
      lines.push(line.slice(4));
      if (line[3] !== '-') {
        const raw = this.buffer.slice(0, pos);
        this.buffer = this.buffer.slice(pos);
        return { code: Number(line.slice(0, 3)), lines, raw };
      }
    }
  }

  /** Writes raw bytes. */
  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Sends a command line (CRLF added) and reads its reply. */
  async cmd(line: string): Promise<Reply> {
    this.write(line + '\r\n');
    return this.reply();
  }

  /** Resolves when the server closes the connection (or after timeoutMs, rejecting). */
  async closedByServer(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('the server did not close the connection');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Greeting + EHLO; returns the EHLO reply. */
  async hello(name = 'client.test'): Promise<Reply> {
    const greeting = await this.reply();
    if (greeting.code !== 220) throw new Error(`greeting was ${greeting.raw}`);
    return this.cmd(`EHLO ${name}`);
  }

  /** Starts a transaction up to the 354, asserting each step is accepted. */
  async begin(from: string, to: string[]): Promise<void> {
    await expectCode(this.cmd(`MAIL FROM:<${from}>`), 250);
    for (const r of to) await expectCode(this.cmd(`RCPT TO:<${r}>`), 250);
    await expectCode(this.cmd('DATA'), 354);
  }

  end(): void {
    this.socket.destroy();
  }
}

/** Awaits a reply and checks its code, with the reply text in the failure. */
export async function expectCode(reply: Promise<Reply>, code: number): Promise<Reply> {
  const r = await reply;
  if (r.code !== code) throw new Error(`expected ${code}, got ${r.raw.trim()}`);
  return r;
}

let cachedTls: Promise<TlsMaterial> | null = null;
/** One self-signed certificate per test process (key generation is slow). */
export function testTls(): Promise<TlsMaterial> {
  cachedTls ??= selfSigned('mx.example.test');
  return cachedTls;
}

export interface SmtpNode {
  store: Store;
  /** The store as the service sees it (wrapped, when a wrapper was given). */
  served: Store;
  /** The MX (STARTTLS offered). */
  port: number;
  /** Submission over implicit TLS (what base+465 is). */
  tlsPort: number;
  limits: Limits;
  close(): Promise<void>;
}

/**
 * An SMTP-only node over a fresh embedded store, with limits given directly
 * and an optional wrapper around the store to inject failures.
 */
export async function startSmtpNode(opts: {
  limits?: Partial<Limits>;
  users?: Record<string, string>;
  domains?: string[];
  wrap?: (store: Store) => Store;
  /** The certificate source; the shared test certificate by default. */
  tls?: () => TlsMaterial;
} = {}): Promise<SmtpNode> {
  const dir = await mkdtemp(join(tmpdir(), 'rookery-smtp-'));
  const store = await openStore(dir);
  await store.directory.addDomain('example.test');
  for (const d of opts.domains ?? []) await store.directory.addDomain(d);
  for (const [address, password] of Object.entries(opts.users ?? {})) await store.directory.addUser({ address, password });
  const limits = { ...defaultLimits(), ...opts.limits } as Limits;
  const served = opts.wrap ? opts.wrap(store) : store;
  const material = await testTls();
  const ctx = { store: served, limits, hostname: 'mx.example.test', tls: opts.tls ?? (() => material), logger: createLogger('smtp-test') };
  const services: NetService[] = [createSmtpService(ctx, { mode: 'mx', implicitTls: false }), createSmtpService(ctx, { mode: 'submission', implicitTls: true })];
  const port = await services[0]!.listen(0, '127.0.0.1');
  const tlsPort = await services[1]!.listen(0, '127.0.0.1');
  return {
    store,
    served,
    port,
    tlsPort,
    limits,
    async close() {
      await Promise.all(services.map((s) => s.close()));
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The INBOX messages of a user, with their bytes. */
export async function inbox(store: Store, address: string): Promise<{ record: MessageRecord; data: Buffer }[]> {
  const user = await store.directory.getUser(address);
  if (!user) throw new Error(`no user ${address}`);
  const box = await store.mail.getMailbox(user.id, 'INBOX');
  if (!box) throw new Error(`no INBOX for ${address}`);
  const out = [];
  for (const record of await store.mail.listMessages(box.id)) out.push({ record, data: await store.blobs.get(record.blobId) });
  return out;
}

/** Splits a stored message into our two trace header fields and the rest. */
export function splitTrace(data: Buffer): { returnPath: string; received: string; rest: Buffer } {
  const text = data.toString('latin1');
  const rp = text.indexOf('\r\n');
  const returnPath = text.slice(0, rp + 2);
  // Received is folded over continuation lines that start with a tab.
  let end = rp + 2;
  do {
    end = text.indexOf('\r\n', end) + 2;
  } while (text[end] === '\t');
  return { returnPath, received: text.slice(rp + 2, end), rest: data.subarray(end) };
}

/** Waits until fn() is true (polling), for effects that land just after a reply. */
export async function eventually(fn: () => Promise<boolean> | boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A view of `target` where the named members are replaced; every other
 * method is called on the real object (so private fields keep working).
 */
export function override<T extends object>(target: T, members: Partial<T>): T {
  return new Proxy(target, {
    get(t, prop) {
      if (Object.prototype.hasOwnProperty.call(members, prop)) return (members as Record<PropertyKey, unknown>)[prop];
      const value = Reflect.get(t, prop, t) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(t) : value;
    },
  });
}
