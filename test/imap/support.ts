/**
 * Helpers for the IMAP protocol tests: an IMAP service (plain + implicit
 * TLS) over a fresh embedded store, a second "node" over the same store,
 * a raw line client for input no real client sends, and an imapflow
 * client factory.
 */
import { rm } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { ImapFlow } from 'imapflow';
import { pino } from 'pino';
import { defaultLimits, type Limits } from '../../src/config/limits.js';
import type { NetService, ServiceContext, TlsMaterial } from '../../src/net/service.js';
import { selfSigned } from '../../src/net/tls.js';
import { createImapService } from '../../src/protocols/imap/index.js';
import { openStore } from '../../src/store/open.js';
import type { MessageRecord, Store } from '../../src/store/types.js';
import { tempDir } from '../helpers/temp.js';

let material: Promise<TlsMaterial> | null = null;
/** One self-signed certificate per test process (generating one takes a while). */
export function testCertificate(): Promise<TlsMaterial> {
  material ??= selfSigned('imap.example.test');
  return material;
}

/** One "node": a plain and an implicit-TLS IMAP listener over a store. */
export interface ImapNode {
  ctx: ServiceContext;
  port: number;
  tlsPort: number;
  stop(): Promise<void>;
}

export interface ImapHarness extends ImapNode {
  store: Store;
  /** Starts another node over the same store (another ImapService pair, as another machine would run). */
  startNode(limits?: Partial<Limits>): Promise<ImapNode>;
  /** Puts a message into a user's mailbox through the store. */
  deliver(address: string, message: Buffer | string, opts?: { mailbox?: string; flags?: string[]; internalDate?: Date }): Promise<MessageRecord>;
  /** Stops every node, closes the store and removes its directory. */
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Users to create, address to password; default alice@example.test / bob@example.test with "secret". */
  users?: Record<string, string>;
  limits?: Partial<Limits>;
  /** Quotas in bytes per address. */
  quotas?: Record<string, number>;
}

export const DEFAULT_USERS = { 'alice@example.test': 'secret', 'bob@example.test': 'secret' };

async function startNode(store: Store, limits: Limits): Promise<ImapNode> {
  const tls = await testCertificate();
  const ctx: ServiceContext = {
    store,
    limits,
    hostname: 'imap.example.test',
    tls: () => tls,
    logger: pino({ level: process.env.ROOKERY_LOG_LEVEL ?? 'silent' }),
  };
  const plain: NetService = createImapService(ctx, { implicitTls: false });
  const secure: NetService = createImapService(ctx, { implicitTls: true });
  const port = await plain.listen(0, '127.0.0.1');
  const tlsPort = await secure.listen(0, '127.0.0.1');
  let stopped: Promise<unknown> | null = null;
  return { ctx, port, tlsPort, stop: () => (stopped ??= Promise.all([plain.close(), secure.close()])).then(() => undefined) };
}

export async function startImap(opts: HarnessOptions = {}): Promise<ImapHarness> {
  const dir = await tempDir('rookery-imap-');
  const store = await openStore(dir);
  await store.directory.addDomain('example.test');
  for (const [address, password] of Object.entries(opts.users ?? DEFAULT_USERS)) {
    await store.directory.addUser({ address, password, quotaBytes: opts.quotas?.[address] ?? 0 });
  }
  const limits = { ...defaultLimits(), ...opts.limits };
  const first = await startNode(store, limits);
  const nodes: ImapNode[] = [first];
  return {
    ...first,
    store,
    async startNode(more) {
      const node = await startNode(store, { ...limits, ...more });
      nodes.push(node);
      return node;
    },
    async deliver(address, message, o = {}) {
      const user = await store.directory.getUser(address);
      if (!user) throw new Error(`no user ${address}`);
      const data = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
      const blob = await store.blobs.put(data);
      const result = await store.mail.deliver({
        blobId: blob.id,
        size: blob.size,
        internalDate: o.internalDate ?? new Date(),
        targets: [{ userId: user.id, mailboxName: o.mailbox ?? 'INBOX', flags: o.flags ?? [] }],
        onOverQuota: 'fail',
      });
      return result.stored[0]!;
    },
    async close() {
      await Promise.all(nodes.map((n) => n.stop()));
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A small RFC 5322 message. */
export function message(subject: string, body = 'Hello there.\r\n', from = 'sender@example.org'): string {
  return `From: Sender <${from}>\r\nTo: alice@example.test\r\nSubject: ${subject}\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.org>\r\n\r\n${body}`;
}

/** An imapflow client, connected and logged in. */
export async function flow(port: number, opts: { user?: string; pass?: string; secure?: boolean; doSTARTTLS?: boolean; qresync?: boolean } = {}): Promise<ImapFlow> {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port,
    secure: opts.secure ?? false,
    doSTARTTLS: opts.doSTARTTLS ?? false,
    auth: { user: opts.user ?? 'alice@example.test', pass: opts.pass ?? 'secret' },
    tls: { rejectUnauthorized: false },
    logger: false,
    qresync: opts.qresync ?? false,
    disableAutoIdle: true,
  } as ConstructorParameters<typeof ImapFlow>[0]);
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** The lines of one tagged command's answer. */
export interface Answer {
  /** Untagged and continuation lines before the tagged one, without CRLF. */
  untagged: string[];
  /** The tagged line, without CRLF. */
  tagged: string;
}

/** A raw IMAP client: writes exactly what it is given, reads lines. */
export class RawClient {
  private buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private closedFlag = false;
  private tagCounter = 0;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      this.wake();
    });
    socket.on('close', () => {
      this.closedFlag = true;
      this.wake();
    });
    socket.on('error', () => {
      this.closedFlag = true;
      this.wake();
    });
  }

  /** Connects and reads the greeting. */
  static async open(port: number, opts: { tls?: boolean; greeting?: boolean } = {}): Promise<RawClient> {
    const socket: Socket = opts.tls ? tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false }) : netConnect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    const client = new RawClient(socket);
    if (opts.greeting !== false) {
      const greeting = await client.line();
      if (!greeting.startsWith('* OK')) throw new Error(`unexpected greeting ${greeting}`);
    }
    return client;
  }

  /** Opens, reads the greeting and logs in. */
  static async login(port: number, user = 'alice@example.test', pass = 'secret'): Promise<RawClient> {
    const client = await RawClient.open(port);
    const answer = await client.command(`LOGIN ${user} ${pass}`);
    if (!/^\S+ OK/.test(answer.tagged)) throw new Error(`login failed: ${answer.tagged}`);
    return client;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async waitData(deadline: number): Promise<void> {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out; unread: ${JSON.stringify(this.buffer.toString('latin1').slice(0, 500))}`);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, left);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Reads one line (without CRLF); literals are returned inline as raw text. */
  async line(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const eol = this.buffer.indexOf('\r\n');
      if (eol !== -1) {
        let line = this.buffer.subarray(0, eol).toString('utf8');
        let rest = this.buffer.subarray(eol + 2);
        // A line ending in {n} continues after n bytes of literal.
        let m = /\{(\d+)\}$/.exec(line);
        while (m) {
          const n = Number(m[1]);
          if (rest.length < n) break;
          const literal = rest.subarray(0, n).toString('utf8');
          const after = rest.subarray(n);
          const eol2 = after.indexOf('\r\n');
          if (eol2 === -1) break;
          line += '\r\n' + literal + after.subarray(0, eol2).toString('utf8');
          rest = after.subarray(eol2 + 2);
          m = /\{(\d+)\}$/.exec(line);
        }
        if (!m) {
          this.buffer = rest;
          return line;
        }
      }
      if (this.closedFlag) throw new Error(`connection closed; unread: ${JSON.stringify(this.buffer.toString('latin1'))}`);
      await this.waitData(deadline);
    }
  }

  /** Writes raw bytes. */
  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  }

  /** Reads lines until the tagged answer for `tag`. */
  async answer(tag: string, timeoutMs = 5000): Promise<Answer> {
    const untagged: string[] = [];
    for (;;) {
      const line = await this.line(timeoutMs);
      if (line.startsWith(tag + ' ')) return { untagged, tagged: line };
      untagged.push(line);
    }
  }

  /** Sends `tag text` and reads until its tagged answer. */
  async command(text: string, timeoutMs = 5000): Promise<Answer> {
    const tag = `t${++this.tagCounter}`;
    this.write(`${tag} ${text}\r\n`);
    return this.answer(tag, timeoutMs);
  }

  /** A fresh tag, for commands sent by hand. */
  nextTag(): string {
    return `t${++this.tagCounter}`;
  }

  /** Resolves when the server closes the connection. */
  async closedByServer(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closedFlag) {
      if (Date.now() > deadline) throw new Error('the server did not close the connection');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** All that is left in the buffer as text (for BYE checks after a close). */
  rest(): string {
    return this.buffer.toString('utf8');
  }

  end(): void {
    this.socket.destroy();
  }
}

/** Waits until fn() is true. */
export async function eventually(fn: () => Promise<boolean> | boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
