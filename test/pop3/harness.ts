/**
 * A POP3 service alone over a fresh embedded store, for protocol tests:
 * plain (STLS) and implicit-TLS listeners on ephemeral loopback ports, with
 * limits and store wrappers chosen per test. Messages go into mailboxes
 * through the store directly, so these tests do not depend on SMTP.
 */
import { rm } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { defaultLimits, type Limits } from '../../src/config/limits.js';
import type { NetService, ServiceContext, TlsMaterial } from '../../src/net/service.js';
import { selfSigned } from '../../src/net/tls.js';
import { createPop3Service } from '../../src/protocols/pop3/index.js';
import { openStore } from '../../src/store/open.js';
import type { MessageRecord, Store } from '../../src/store/types.js';
import { tempDir } from '../helpers/test-node.js';

let material: Promise<TlsMaterial> | null = null;
/** One self-signed certificate per test process (generating one takes a while). */
export function testCertificate(): Promise<TlsMaterial> {
  material ??= selfSigned('pop3.example.test');
  return material;
}

export interface Pop3Harness {
  store: Store;
  ctx: ServiceContext;
  /** The plain port (STLS available). */
  port: number;
  /** The implicit-TLS port. */
  tlsPort: number;
  /** Puts a message into the user's INBOX through the store. */
  deliver(address: string, message: Buffer | string): Promise<MessageRecord>;
  /** Closes the POP3 services only (graceful shutdown); the store stays open. */
  stop(): Promise<void>;
  /** Stops the services, closes the store and removes its directory. */
  close(): Promise<void>;
}

export interface HarnessOptions {
  users?: Record<string, string>;
  limits?: Partial<Limits>;
  /** Replaces the store the service sees (to inject failures); the harness keeps the real one. */
  wrapStore?(store: Store): Store;
}

export async function startPop3(opts: HarnessOptions = {}): Promise<Pop3Harness> {
  const dir = await tempDir('rookery-pop3-');
  const store = await openStore(dir);
  await store.directory.addDomain('example.test');
  for (const [address, password] of Object.entries(opts.users ?? {})) await store.directory.addUser({ address, password });
  const tls = await testCertificate();
  const ctx: ServiceContext = {
    store: opts.wrapStore ? opts.wrapStore(store) : store,
    limits: { ...defaultLimits(), ...opts.limits },
    hostname: 'pop3.example.test',
    tls: () => tls,
    logger: pino({ level: process.env.ROOKERY_LOG_LEVEL ?? 'silent' }),
  };
  const plain: NetService = createPop3Service(ctx, { implicitTls: false });
  const secure: NetService = createPop3Service(ctx, { implicitTls: true });
  const port = await plain.listen(0, '127.0.0.1');
  const tlsPort = await secure.listen(0, '127.0.0.1');
  let stopped: Promise<unknown> | null = null;
  const stop = () => (stopped ??= Promise.all([plain.close(), secure.close()])).then(() => undefined);
  return {
    store,
    ctx,
    port,
    tlsPort,
    async deliver(address, message) {
      const user = await store.directory.getUser(address);
      if (!user) throw new Error(`no user ${address}`);
      const data = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
      const blob = await store.blobs.put(data);
      const result = await store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), targets: [{ userId: user.id }], onOverQuota: 'fail' });
      return result.stored[0]!;
    },
    stop,
    async close() {
      await stop();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A raw POP3 client over a socket, for malformed input and exact replies:
 * reads lines as the server sent them (CRLF removed), nothing hidden.
 */
export class RawClient {
  /** Received, unread bytes, kept as chunks so a large reply is not copied once per packet. */
  private chunks: Buffer[] = [];
  private waiters: (() => void)[] = [];
  private ended = false;

  private constructor(public socket: Socket | TLSSocket) {
    this.listen(socket);
  }

  static async connect(port: number, opts: { tls?: boolean } = {}): Promise<RawClient> {
    const socket = opts.tls
      ? tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false })
      : netConnect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  /** Connects and reads the greeting. */
  static async open(port: number, opts: { tls?: boolean } = {}): Promise<{ client: RawClient; greeting: string }> {
    const client = await RawClient.connect(port, opts);
    return { client, greeting: await client.line() };
  }

  private listen(socket: Socket | TLSSocket): void {
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  private get buffer(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  private set buffer(value: Buffer) {
    this.chunks = value.length > 0 ? [value] : [];
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private async waitForData(timeoutMs: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no data from the server within ${timeoutMs} ms; buffered: ${JSON.stringify(this.buffer.toString('latin1'))}`)), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Sends bytes as they are. */
  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Reads one line without its CRLF; throws if the connection closes first. */
  async line(timeoutMs = 5000): Promise<string> {
    for (;;) {
      const i = this.buffer.indexOf('\r\n');
      if (i !== -1) {
        const line = this.buffer.subarray(0, i).toString('utf8');
        this.buffer = this.buffer.subarray(i + 2);
        return line;
      }
      if (this.ended) throw new Error(`connection closed; unread: ${JSON.stringify(this.buffer.toString('latin1'))}`);
      await this.waitForData(timeoutMs);
    }
  }

  /** Sends a command line and reads the first line of the reply. */
  async command(line: string, timeoutMs?: number): Promise<string> {
    this.send(line + '\r\n');
    return this.line(timeoutMs);
  }

  /** Reads the lines of a multi-line body up to the "." line, un-stuffed. */
  async body(timeoutMs?: number): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.line(timeoutMs);
      if (line === '.') return lines;
      lines.push(line.startsWith('.') ? line.slice(1) : line);
    }
  }

  /** Reads raw bytes up to and including `marker`, scanning each packet once. */
  async until(marker: string, timeoutMs = 5000): Promise<Buffer> {
    const m = Buffer.from(marker, 'latin1');
    let carry = Buffer.alloc(0);
    let before = 0;
    let index = 0;
    for (;;) {
      while (index < this.chunks.length) {
        const window = Buffer.concat([carry, this.chunks[index]!]);
        const at = window.indexOf(m);
        if (at !== -1) {
          const end = before - carry.length + at + m.length;
          const all = this.buffer;
          this.buffer = all.subarray(end);
          return all.subarray(0, end);
        }
        before += this.chunks[index]!.length;
        carry = window.subarray(Math.max(0, window.length - (m.length - 1)));
        index++;
      }
      if (this.ended) throw new Error('connection closed');
      await this.waitForData(timeoutMs);
    }
  }

  /** Bytes received and not yet read. */
  get pending(): string {
    return this.buffer.toString('latin1');
  }

  /** Resolves when the server has closed the connection (and all data is read or left in `pending`). */
  async closed(timeoutMs = 5000): Promise<void> {
    while (!this.ended) await this.waitForData(timeoutMs);
  }

  /** Logs in with USER/PASS; throws unless both succeed. */
  async login(user: string, pass: string): Promise<string> {
    const u = await this.command(`USER ${user}`);
    if (!u.startsWith('+OK')) throw new Error(`USER: ${u}`);
    const p = await this.command(`PASS ${pass}`);
    if (!p.startsWith('+OK')) throw new Error(`PASS: ${p}`);
    return p;
  }

  /** Swaps the plain socket for TLS after STLS (the client side of RFC 2595). */
  async startTls(): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const secure = tlsConnect({ socket: plain, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.listen(secure);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** The user every test logs in as, and another one. */
export const ALICE = 'alice@example.test';
export const BOB = 'bob@example.test';
export const PASSWORD = 'correct horse';
