/**
 * A node whose store becomes unreachable stops taking what it cannot keep:
 * new clients are greeted with "try again later" (SMTP 421 4.3.0, POP3
 * -ERR [SYS/TEMP], IMAP * BYE [UNAVAILABLE]), sessions opened before get
 * 4xx / -ERR [SYS/TEMP] / NO [UNAVAILABLE] for what needs the store, its
 * heartbeat fails so the registry calls it down, and the traffic manager
 * withdraws it while the other nodes carry the traffic. When the store
 * answers again the node greets again.
 *
 * 1. The embedded store, in-process: the node runs over a wrapper whose
 *    every call fails with StoreError 'unavailable' once switched (root
 *    ignores permission bits, so a read-only directory would not do).
 * 2. PostgreSQL, real processes: one node connects as its own role; the
 *    test revokes the role's login and terminates its connections, so that
 *    node alone loses the store while the other node and the traffic
 *    manager keep theirs. Skipped (one line) without PostgreSQL, except
 *    under CI=true.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { startNode } from '../../src/node.js';
import { openStore } from '../../src/store/open.js';
import { StoreError } from '../../src/store/errors.js';
import type { Store } from '../../src/store/types.js';
import { admin, adminUrl, postgresUnavailable } from '../helpers/postgres.js';
import { tempDir } from '../helpers/temp.js';
import { logLines, sleep, startCluster, statusJson, virtualAddress, waitFor, type Cluster } from './harness.js';

// ------------------------------------------------------------ a line client for exact replies

class LineClient {
  private buffered = '';
  private lines: string[] = [];
  private waiting: (() => void) | null = null;
  private ended = false;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => {
      this.buffered += c;
      let i: number;
      while ((i = this.buffered.indexOf('\r\n')) >= 0) {
        this.lines.push(this.buffered.slice(0, i));
        this.buffered = this.buffered.slice(i + 2);
      }
      this.waiting?.();
    });
    const end = () => { this.ended = true; this.waiting?.(); };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  static open(host: string, port: number): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      socket.once('connect', () => resolve(new LineClient(socket)));
      socket.once('error', reject);
    });
  }

  /** The next line; null once the server has closed and every line was read. */
  async next(timeoutMs = 5000): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0 && !this.ended) {
      if (Date.now() > deadline) throw new Error('no reply line in time');
      await new Promise<void>((r) => { this.waiting = r; setTimeout(r, 100); });
      this.waiting = null;
    }
    return this.lines.shift() ?? null;
  }

  /** An SMTP reply (its last line), multi-line replies included. */
  async smtp(): Promise<string> {
    for (;;) {
      const line = await this.next();
      if (line === null) return '(closed)';
      if (!/^\d{3}-/.test(line)) return line;
    }
  }

  /** Lines up to the tagged reply of an IMAP command; returns the tagged line. */
  async tagged(tag: string): Promise<string> {
    for (;;) {
      const line = await this.next();
      if (line === null) return '(closed)';
      if (line.startsWith(`${tag} `)) return line;
    }
  }

  send(line: string): void {
    this.socket.write(line + '\r\n');
  }

  /** True once the server closed the connection (waits up to timeoutMs). */
  async closedByServer(timeoutMs = 3000): Promise<boolean> {
    await waitFor(() => this.ended, timeoutMs, 'the server kept the connection open').catch(() => undefined);
    return this.ended;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The first line a new connection is greeted with, and whether the server then closed it. */
async function greeting(host: string, port: number): Promise<{ line: string; closed: boolean }> {
  const c = await LineClient.open(host, port);
  try {
    const line = (await c.next()) ?? '(closed)';
    const refused = /^(421|-ERR|\* BYE)/.test(line);
    return { line, closed: refused ? await c.closedByServer() : false };
  } finally {
    c.close();
  }
}

// ------------------------------------------------------------ 1. the embedded store

/** The store, with a switch that makes every call of every part of it fail as an unreachable store would. */
function breakable(real: Store): { store: Store; setBroken(broken: boolean): void } {
  let broken = false;
  const parts = new Map<PropertyKey, object>();
  const wrap = (part: object): object => new Proxy(part, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      // Async methods reject, as a real store's do; synchronous ones throw.
      const async = value.constructor.name === 'AsyncFunction';
      return (...args: unknown[]) => {
        if (broken) {
          const err = new StoreError('unavailable', 'the store is unreachable (switched off by the test)');
          if (async) return Promise.reject(err);
          throw err;
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const store = new Proxy(real, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (key === 'close' || typeof value !== 'object' || value === null) return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      if (!parts.has(key)) parts.set(key, wrap(value));
      return parts.get(key);
    },
  });
  return { store, setBroken: (b) => { broken = b; } };
}

test('embedded store unreachable: new sessions get 421 / -ERR [SYS/TEMP] / BYE [UNAVAILABLE], open ones 4xx / NO, and it recovers', async (t) => {
  const dir = await tempDir('rookery-store-gone-');
  const real = await openStore(dir);
  const { store, setBroken } = breakable(real);
  await real.directory.addDomain('example.org');
  await real.directory.addUser({ address: 'me@example.org', password: 'secret' });
  const node = await startNode({ store, name: 'fragile', address: '127.0.0.1', hostname: 'fragile.example.test', ports: { smtp: 0, pop3: 0, imap: 0 } });
  const open: LineClient[] = [];
  try {
    const { smtp, pop3, imap } = node.ports;
    assert.match((await greeting('127.0.0.1', smtp)).line, /^220 /);
    assert.match((await greeting('127.0.0.1', pop3)).line, /^\+OK /);
    assert.match((await greeting('127.0.0.1', imap)).line, /^\* OK /);

    // Sessions opened while the store answers.
    const s = await LineClient.open('127.0.0.1', smtp); open.push(s);
    await s.smtp();
    s.send('EHLO client.example.net');
    assert.match(await s.smtp(), /^250 /);
    const p = await LineClient.open('127.0.0.1', pop3); open.push(p);
    await p.next();
    p.send('USER me@example.org');
    assert.match((await p.next())!, /^\+OK/);
    const i = await LineClient.open('127.0.0.1', imap); open.push(i);
    await i.next();
    i.send('a1 LOGIN me@example.org secret');
    assert.match(await i.tagged('a1'), /^a1 OK/);

    setBroken(true);
    const noticed = await waitFor(async () => /^421 /.test((await greeting('127.0.0.1', smtp)).line), 4000, 'the node still greets SMTP clients', 50);

    const g = { smtp: await greeting('127.0.0.1', smtp), pop3: await greeting('127.0.0.1', pop3), imap: await greeting('127.0.0.1', imap) };
    assert.match(g.smtp.line, /^421 4\.3\.0 fragile\.example\.test .*try again later/);
    assert.match(g.pop3.line, /^-ERR \[SYS\/TEMP\] /);
    assert.match(g.imap.line, /^\* BYE \[UNAVAILABLE\] /);
    assert.ok(g.smtp.closed && g.pop3.closed && g.imap.closed, 'each refusal closes the connection');

    // The sessions already open: what needs the store is refused with a temporary error.
    s.send('MAIL FROM:<friend@example.net>');
    const mail = await s.smtp();
    const rcpt = /^250 /.test(mail) ? (s.send('RCPT TO:<me@example.org>'), await s.smtp()) : mail;
    assert.match(rcpt, /^4\d\d /, `SMTP in session: ${mail} / ${rcpt}`);
    p.send('PASS secret');
    assert.match((await p.next())!, /^-ERR \[SYS\/TEMP\] /);
    i.send('a2 SELECT INBOX');
    assert.match(await i.tagged('a2'), /^a2 NO \[UNAVAILABLE\] /);

    // The store answers again: so does the node.
    setBroken(false);
    const recovered = await waitFor(async () => /^220 /.test((await greeting('127.0.0.1', smtp)).line), 4000, 'the node did not greet again', 50);
    assert.match((await greeting('127.0.0.1', pop3)).line, /^\+OK /);
    assert.match((await greeting('127.0.0.1', imap)).line, /^\* OK /);
    t.diagnostic(`embedded store switched off: the node greeted 421 after ${noticed} ms; greeted again ${recovered} ms after it came back`);
  } finally {
    for (const c of open) c.close();
    setBroken(false);
    await node.stop();
    await real.close();
    await rm(dir, { recursive: true, force: true });
  }
});

// ------------------------------------------------------------ 2. PostgreSQL

const missing = await postgresUnavailable();
const ciNeedsIt = missing !== null && process.env.CI === 'true';

test('PostgreSQL store unreachable for one node: it refuses with 4xx, goes down in the registry, leaves the pools; the cluster carries on', { skip: ciNeedsIt ? false : missing ?? false }, async (t) => {
  if (ciNeedsIt) assert.fail(`${missing}; CI=true requires PostgreSQL for this test`);
  const id = randomBytes(5).toString('hex');
  const database = `rookery_test_${id}`;
  const role = `rookery_node_${id}`;
  const blobs = await tempDir('rookery-pg-blobs-');
  await admin(`CREATE DATABASE ${database}`);
  // Its own role, so that this node alone can be cut off from the store.
  await admin(`CREATE ROLE ${role} LOGIN SUPERUSER`);
  const url = (user: string) => {
    const u = new URL(adminUrl);
    u.username = user;
    u.pathname = `/${database}`;
    u.searchParams.set('blobs', join(blobs, 'blobs'));
    return u.toString();
  };
  const location = url(new URL(adminUrl).username || 'postgres');
  const services = ['smtp', 'pop3', 'imap'] as const;
  let cluster: Cluster | null = null;
  try {
    const cl = cluster = await startCluster({ nodes: 2, services: [...services], store: location, nodeStore: (i) => (i === 2 ? url(role) : location) });
    const victim = cl.nodes[1]!;
    const port = (s: typeof services[number]) => cl.base + { smtp: 25, pop3: 110, imap: 143 }[s];
    assert.match((await greeting(victim.address, port('smtp'))).line, /^220 n2 /);

    await admin(`ALTER ROLE ${role} NOLOGIN`);
    await admin('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role]);
    const cutAt = Date.now();

    const refusing = await waitFor(async () => /^421 /.test((await greeting(victim.address, port('smtp'))).line), 4000, 'n2 still greets SMTP clients', 50);
    assert.match((await greeting(victim.address, port('smtp'))).line, /^421 4\.3\.0 n2 /);
    assert.match((await greeting(victim.address, port('pop3'))).line, /^-ERR \[SYS\/TEMP\] /);
    assert.match((await greeting(victim.address, port('imap'))).line, /^\* BYE \[UNAVAILABLE\] /);

    const downAfter = await waitFor(async () => (await statusJson(cl.store)).nodes.find((n) => n.name === 'n2')?.state === 'down', 6000, 'rookery status never showed n2 down', 200);
    // The traffic manager takes n2 out of every pool (failed checks or the registry, whichever first).
    const withdrawnAt = (service: string) => logLines(cl.lb!.stderr())
      .find((l) => l.backend === 'n2' && l.service === service && (l.msg === 'backend down' || l.msg === 'backend left the pool') && l.time >= cutAt)?.time;
    await waitFor(() => services.every((s) => withdrawnAt(s) !== undefined), 6000, 'the traffic manager kept n2 in a pool');
    const withdrawn = Math.max(...services.map((s) => withdrawnAt(s)! - cutAt));

    // Clients through the virtual address never meet n2 now.
    const transport = nodemailer.createTransport({ host: virtualAddress, port: port('smtp'), secure: false, ignoreTLS: true });
    try {
      for (let k = 0; k < 10; k++) {
        const info = await transport.sendMail({ envelope: { from: 'friend@example.net', to: ['me@example.org'] }, raw: `Subject: during-${k}\r\n\r\nbody\r\n` }) as { response: string };
        assert.match(info.response, /^250 /);
      }
    } finally {
      transport.close();
    }
    for (let k = 0; k < 6; k++) assert.match((await greeting(virtualAddress, port('imap'))).line, /^\* OK .* n1 Rookery /, 'IMAP through the virtual address lands on n1');

    // The store comes back for n2: it greets again and rejoins.
    await admin(`ALTER ROLE ${role} LOGIN`);
    const backAfter = await waitFor(async () => /^220 n2 /.test((await greeting(victim.address, port('smtp'))).line), 6000, 'n2 did not greet again', 100);
    await waitFor(async () => (await statusJson(cl.store)).nodes.find((n) => n.name === 'n2')?.state === 'up', 6000, 'n2 did not come back up', 200);
    t.diagnostic(`PostgreSQL cut off for n2: it greeted 421 after ${refusing} ms, status down after ${downAfter} ms, out of every pool after ${withdrawn} ms; back ${backAfter} ms after the store returned`);
  } finally {
    await cluster?.stop();
    await sleep(100);
    await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
      .then(() => admin(`DROP ROLE IF EXISTS ${role}`)).catch(() => undefined);
    await rm(blobs, { recursive: true, force: true });
  }
});
