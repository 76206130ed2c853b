/**
 * Outbound delivery through the cluster-wide queue, with a real SMTP peer
 * on loopback (the sink) standing in for the remote, reached through the
 * transport map: delivered once (over STARTTLS), remote down then up,
 * a permanent 550 bounced with the remote's words in an RFC 3464 DSN,
 * the loop guard, ETRN at a node other than the one that queued.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { openStore } from '../../src/store/open.js';
import { startNode, type RunningNode } from '../../src/node.js';
import { addTransport } from '../../src/outbound/transport-map.js';
import type { DnsResolver } from '../../src/outbound/route.js';
import type { Store, UserId } from '../../src/store/types.js';
import type { Limits } from '../../src/config/limits.js';
import { tempDir } from '../helpers/temp.js';
import { python } from '../helpers/clients.js';
import { Sink, randomLoopback } from './sink.js';

/** Tests never touch the network: every name is unknown. */
const noDns: DnsResolver = {
  resolveMx: () => Promise.reject(Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' })),
  resolve4: () => Promise.reject(Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' })),
  resolve6: () => Promise.reject(Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' })),
};

interface Cluster {
  dir: string;
  store: Store;
  nodes: { name: string; address: string; node: RunningNode; store: Store }[];
  alice: UserId;
  close(): Promise<void>;
}

async function startCluster(count: number, limits: Partial<Limits>): Promise<Cluster> {
  const dir = await tempDir('rookery-outbound-');
  const store = await openStore(dir);
  await store.directory.addDomain('example.test');
  const alice = (await store.directory.addUser({ address: 'alice@example.test', password: 'x' })).id;
  for (const [name, value] of Object.entries(limits)) await store.settings.set(`limits.${name}`, String(value));
  const nodes: Cluster['nodes'] = [];
  for (let i = 1; i <= count; i++) {
    const nodeStore = await openStore(dir);
    const address = randomLoopback();
    const node = await startNode({ store: nodeStore, name: `node${i}`, address, hostname: `node${i}.example.test`, ports: { smtp: 0 }, resolver: noDns });
    nodes.push({ name: `node${i}`, address, node, store: nodeStore });
  }
  return {
    dir, store, nodes, alice,
    async close() {
      for (const n of nodes) {
        await n.node.stop();
        await n.store.close();
      }
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function enqueue(store: Store, opts: { sender?: string; to: string[]; subject: string; extraHeaders?: string }): Promise<string> {
  const text = `Received: from client.example.test by node1.example.test; Thu, 01 Jan 2026 10:00:00 +0000\r\n${opts.extraHeaders ?? ''}` +
    `From: Alice <alice@example.test>\r\nTo: ${opts.to.join(', ')}\r\nSubject: ${opts.subject}\r\nMessage-ID: <${opts.subject.replace(/\W/g, '')}@example.test>\r\n\r\nHello from ${opts.subject}.\r\n`;
  const blob = await store.blobs.put(Buffer.from(text));
  return store.queue.enqueue({ sender: opts.sender ?? 'alice@example.test', blobId: blob.id, size: blob.size, recipients: opts.to, origin: 'node1' });
}

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 15000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function inbox(store: Store, user: UserId): Promise<Buffer[]> {
  const box = (await store.mail.getMailbox(user, 'INBOX'))!;
  const out: Buffer[] = [];
  for (const m of await store.mail.listMessages(box.id)) out.push(await store.blobs.get(m.blobId));
  return out;
}

/** Splits a multipart/report DSN into its header and parts (enough MIME for a check). */
function parseDsn(raw: Buffer): { header: string; parts: { type: string; body: string }[] } {
  const text = raw.toString('utf8');
  const split = text.indexOf('\r\n\r\n');
  const header = text.slice(0, split);
  const m = /Content-Type: multipart\/report; report-type=delivery-status; boundary="([^"]+)"/i.exec(header);
  assert.ok(m, `not a multipart/report DSN:\n${header}`);
  const parts = text.slice(split).split(`--${m[1]}`).slice(1, -1).map((p) => {
    const body = p.replace(/^\r\n/, '');
    const end = body.indexOf('\r\n\r\n');
    return { type: /Content-Type: ([^;\r\n]+)/i.exec(body.slice(0, end))![1]!.toLowerCase(), body: body.slice(end + 4) };
  });
  return { header, parts };
}

describe('outbound delivery through the queue', () => {
  let sink: Sink;
  let cluster: Cluster;

  before(async () => {
    sink = new Sink(randomLoopback());
    await sink.start();
    cluster = await startCluster(2, { queuePollMs: 100, queueFirstRetryMs: 400, queueMaxRetryMs: 800, queueLeaseMs: 5000 });
    await addTransport(cluster.store.settings, 'far.test', `${sink.host}:${sink.port}`);
  });
  after(async () => {
    await cluster?.close();
    await sink?.stop();
  });

  test('remote up: delivered once, over opportunistic STARTTLS, without Return-Path; the queue empties', async () => {
    const before = sink.received.length;
    const id = await enqueue(cluster.store, { to: ['bob@far.test', 'carol@far.test'], subject: 'up' });
    await until('the queue to empty', async () => (await cluster.store.queue.get(id)) === null);
    await sleep(300);
    const got = sink.received.slice(before);
    assert.equal(got.length, 1, 'one transaction for both recipients, delivered once');
    assert.equal(got[0]!.from, 'alice@example.test');
    assert.deepEqual(got[0]!.to.sort(), ['bob@far.test', 'carol@far.test']);
    assert.equal(got[0]!.secure, true, 'STARTTLS was used though the certificate is self-signed');
    assert.match(got[0]!.data.toString(), /Subject: up\r\n/);
    assert.doesNotMatch(got[0]!.data.toString(), /^Return-Path:/im);
  });

  test('several messages to one destination share a connection', async () => {
    const connections = sink.connections;
    const before = sink.received.length;
    const ids = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => enqueue(cluster.store, { to: [`m${i}@far.test`], subject: `reuse ${i}` })));
    await until('the queue to empty', async () => (await Promise.all(ids.map((id) => cluster.store.queue.get(id)))).every((m) => m === null));
    assert.equal(sink.received.length - before, 6);
    assert.ok(sink.connections - connections < 6, `6 messages took ${sink.connections - connections} connections`);
  });

  test('remote down, then up: queued, retried with backoff, delivered', async () => {
    await sink.stop();
    const before = sink.received.length;
    const id = await enqueue(cluster.store, { to: ['later@far.test'], subject: 'down then up' });
    const deferred = await until('a failed attempt', async () => {
      const m = await cluster.store.queue.get(id);
      return m && m.recipients[0]!.attempts >= 1 ? m : null;
    });
    assert.equal(deferred.recipients[0]!.state, 'queued');
    assert.notEqual(deferred.recipients[0]!.lastError, '');
    await sink.start();
    await until('the queue to empty', async () => (await cluster.store.queue.get(id)) === null);
    assert.equal(sink.received.length - before, 1);
    assert.deepEqual(sink.received.at(-1)!.to, ['later@far.test']);
  });

  test('a permanent 550 is bounced to the sender with the remote\'s words in an RFC 3464 DSN', async () => {
    sink.mode = { kind: 'reply', code: 550, text: '<nobody@far.test>: Recipient address rejected: no such mailbox here', at: 'rcpt' };
    try {
      const before = (await inbox(cluster.store, cluster.alice)).length;
      const id = await enqueue(cluster.store, { to: ['nobody@far.test'], subject: 'bounce me' });
      await until('the queue to empty', async () => (await cluster.store.queue.get(id)) === null);
      const mails = await until('the DSN in alice\'s INBOX', async () => {
        const all = await inbox(cluster.store, cluster.alice);
        return all.length > before ? all : null;
      });
      const dsn = parseDsn(mails.at(-1)!);
      assert.match(dsn.header, /^Return-Path: <>/m, 'a bounce has the null sender');
      assert.match(dsn.header, /^To: <alice@example\.test>/m);
      assert.match(dsn.header, /^Auto-Submitted: auto-replied/m);
      assert.deepEqual(dsn.parts.map((p) => p.type), ['text/plain', 'message/delivery-status', 'text/rfc822-headers']);
      const status = dsn.parts[1]!.body;
      assert.match(status, /^Reporting-MTA: dns; node\d\.example\.test$/m);
      assert.match(status, /^Final-Recipient: rfc822; nobody@far\.test$/m);
      assert.match(status, /^Action: failed$/m);
      assert.match(status, /^Status: 5\.1\.1$/m);
      assert.match(status, /^Diagnostic-Code: smtp; 550 5\.1\.1 <nobody@far\.test>: Recipient address rejected: no such mailbox here$/m);
      assert.match(status, new RegExp(`^Remote-MTA: dns; ${sink.host.replace(/\./g, '\\.')}$`, 'm'));
      assert.match(dsn.parts[2]!.body, /^Subject: bounce me$/m, 'the original headers come back');
      assert.match(dsn.parts[0]!.body, /no such mailbox here/);
    } finally {
      sink.mode = { kind: 'accept' };
    }
  });

  test('no bounce for a message from the null sender', async () => {
    sink.mode = { kind: 'reply', code: 550, text: 'refused', at: 'data' };
    try {
      const before = (await inbox(cluster.store, cluster.alice)).length;
      const id = await enqueue(cluster.store, { sender: '', to: ['x@far.test'], subject: 'from null' });
      await until('the queue to empty', async () => (await cluster.store.queue.get(id)) === null);
      await sleep(500);
      assert.equal((await inbox(cluster.store, cluster.alice)).length, before);
      assert.deepEqual(await cluster.store.queue.list(), []);
    } finally {
      sink.mode = { kind: 'accept' };
    }
  });

  test('loop guard: a transport to the cluster\'s own virtual address is bounced as a loop; the sink sees nothing', async () => {
    const vip = randomLoopback();
    await cluster.store.cluster.register({ name: 'lb-loop', role: 'balancer', address: vip, sourceAddress: randomLoopback(), host: 'h', pid: 1, version: 't', services: {} });
    await addTransport(cluster.store.settings, 'loop.test', `${vip}:${sink.port}`);
    const before = sink.received.length;
    const inboxBefore = (await inbox(cluster.store, cluster.alice)).length;
    const id = await enqueue(cluster.store, { to: ['someone@loop.test'], subject: 'loop' });
    await until('the queue to empty', async () => (await cluster.store.queue.get(id)) === null);
    const mails = await until('the DSN', async () => {
      const all = await inbox(cluster.store, cluster.alice);
      return all.length > inboxBefore ? all : null;
    });
    assert.match(mails.at(-1)!.toString(), /mail for loop\.test loops back to myself/);
    assert.equal(sink.received.length, before);
  });

  test('loop guard: more than maxReceivedHeaders Received headers is bounced', async () => {
    const inboxBefore = (await inbox(cluster.store, cluster.alice)).length;
    const before = sink.received.length;
    const extra = Array.from({ length: 50 }, (_, i) => `Received: from hop${i}.test by hop${i + 1}.test; Thu, 01 Jan 2026 10:00:00 +0000\r\n`).join('');
    const id = await enqueue(cluster.store, { to: ['far@far.test'], subject: 'many hops', extraHeaders: extra });
    await until('the queue to empty', async () => (await cluster.store.queue.get(id)) === null);
    const mails = await until('the DSN', async () => {
      const all = await inbox(cluster.store, cluster.alice);
      return all.length > inboxBefore ? all : null;
    });
    assert.match(mails.at(-1)!.toString(), /Status: 5\.4\.6/);
    assert.match(mails.at(-1)!.toString(), /51 Received headers/);
    assert.equal(sink.received.length, before);
  });
});

describe('ETRN across the cluster', () => {
  let sink: Sink;
  let cluster: Cluster;

  before(async () => {
    sink = new Sink(randomLoopback());
    await sink.start();
    await sink.stop();
    cluster = await startCluster(2, { queuePollMs: 200, queueFirstRetryMs: 3_600_000, queueLeaseMs: 5000 });
    await addTransport(cluster.store.settings, 'etrn.test', `${sink.host}:${sink.port}`);
  });
  after(async () => {
    await cluster?.close();
    await sink?.stop();
  });

  test('ETRN at a node other than the one that queued delivers at once; EHLO announces ETRN', async () => {
    const id = await enqueue(cluster.store, { to: ['held@etrn.test'], subject: 'etrn' });
    await until('a failed attempt', async () => {
      const m = await cluster.store.queue.get(id);
      return m && m.recipients[0]!.attempts >= 1 ? m : null;
    });
    await sink.start();
    await sleep(500);
    assert.equal(sink.received.length, 0, 'the next retry is an hour away');
    const node2 = cluster.nodes[1]!;
    const out = await python(`
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=20)
s.ehlo('client.test')
print('etrn' in s.esmtp_features)
print(s.docmd('ETRN', 'etrn.test'))
print(s.docmd('ETRN', 'nothing-queued.test'))
print(s.docmd('ETRN', ''))
s.quit()
`, [node2.address, String(node2.node.ports.smtp)]);
    const lines = out.trim().split('\n');
    assert.equal(lines[0], 'True');
    assert.match(lines[1]!, /^\(253, b'2\.0\.0 OK, 1 pending messages for node etrn\.test started'\)$/);
    assert.match(lines[2]!, /^\(251, /);
    assert.match(lines[3]!, /^\(501, /);
    await sink.waitFor(1, 5000);
    assert.deepEqual(sink.received[0]!.to, ['held@etrn.test']);
    await until('the queue to empty', async () => (await cluster.store.queue.get(id)) === null);
  });

  test('ETRN from an address outside the ETRN networks is refused', async () => {
    await cluster.store.settings.set('smtp.etrnNetworks', '192.0.2.0/24');
    try {
      const node1 = cluster.nodes[0]!;
      const out = await python(`
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=20)
s.ehlo('client.test')
print(s.docmd('ETRN', 'etrn.test'))
s.quit()
`, [node1.address, String(node1.node.ports.smtp)]);
      assert.match(out, /^\(459, /);
    } finally {
      await cluster.store.settings.set('smtp.etrnNetworks', '127.0.0.0/8');
    }
  });
});
