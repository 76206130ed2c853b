/**
 * Issue 4's failure behaviour, with real processes and real clients: three
 * nodes behind `rookery lb` on one store.
 *
 * 1. Ten nodemailer clients send 400 messages through the virtual address
 *    while one node is killed with SIGKILL. Five clients keep one SMTP
 *    session open (a pool of one connection), five open one per message;
 *    the node killed is one that a long session is on, so sessions are cut.
 *    Long sessions stream each body slowly, so the kill finds them inside
 *    DATA. Every message is acknowledged in the end (cut clients retry), every
 *    message acknowledged is in the store, and none twice unless its
 *    session was cut after the data went out; the traffic manager stops
 *    trying the dead node within 3 seconds, and `rookery status --json`
 *    calls it down.
 * 2. IMAP: imapflow through the virtual address sets flags; the node its
 *    session is on is killed; it reconnects through the virtual address and
 *    sees the same UIDs, UIDVALIDITY and flags.
 */
import { test } from 'node:test';
import { Readable } from 'node:stream';
import assert from 'node:assert/strict';
import nodemailer, { type Transporter } from 'nodemailer';
import { ImapFlow } from 'imapflow';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';
import { logLines, sleep, startCluster, statusJson, virtualAddress, waitFor, type Cluster } from './harness.js';

const messages = 400;
const clients = 10;
const longSessionClients = 5;

/** A message body that arrives in four parts, 50 ms apart. */
function slowly(text: string): Readable {
  const quarter = Math.ceil(text.length / 4);
  return Readable.from((async function* () {
    for (let at = 0; at < text.length; at += quarter) {
      yield Buffer.from(text.slice(at, at + quarter));
      await sleep(50);
    }
  })());
}

/** Subject and Received "by" of every message in me@example.org's INBOX. */
async function storedMessages(store: Store): Promise<Array<{ subject: string; by: string }>> {
  const user = (await store.directory.getUser('me@example.org'))!;
  const inbox = (await store.mail.getMailbox(user.id, 'INBOX'))!;
  const out: Array<{ subject: string; by: string }> = [];
  for (const m of await store.mail.listMessages(inbox.id)) {
    const text = (await store.blobs.get(m.blobId)).subarray(0, 2048).toString('latin1');
    out.push({ subject: /^Subject: (\S+)/m.exec(text)?.[1] ?? '?', by: /^Received: [\s\S]*?\bby (\S+)/m.exec(text)?.[1] ?? '?' });
  }
  return out;
}

test('SMTP through the traffic manager while a node is killed: nothing lost, nothing doubled, the dead node withdrawn within 3 s', async (t) => {
  const cluster = await startCluster({ nodes: 3, services: ['smtp'] });
  const store = await openStore(cluster.store);
  const transports: Transporter[] = [];
  try {
    const port = cluster.base + 25;
    let next = 0;
    let acknowledged = 0;
    let cut = 0;
    /** Messages with a failed attempt: their retry may legitimately duplicate one committed before the cut. */
    const retried = new Set<string>();
    const failures: string[] = [];

    const client = async (c: number): Promise<void> => {
      const long = c < longSessionClients;
      const transport = nodemailer.createTransport({
        host: virtualAddress, port, secure: false, ignoreTLS: true, name: `client${c}.example.net`,
        connectionTimeout: 5000, greetingTimeout: 5000, socketTimeout: 10000,
        ...(long ? { pool: true, maxConnections: 1, maxMessages: Infinity } : {}),
      }) as Transporter;
      transports.push(transport);
      for (;;) {
        const i = next++;
        if (i >= messages) return;
        const subject = `m${i}-c${c}`;
        for (let attempt = 1; ; attempt++) {
          try {
            const text = `From: friend@example.net\r\nTo: me@example.org\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@failover.test>\r\n\r\n${`message ${i}\r\n`.repeat(40)}`;
            const info = await transport.sendMail({
              envelope: { from: 'friend@example.net', to: ['me@example.org'] },
              // A long session spends most of its time inside DATA, so the kill cuts it there.
              raw: long ? slowly(text) : text,
            }) as { response: string };
            assert.match(info.response, /^250 /);
            acknowledged++;
            break;
          } catch (err) {
            cut++;
            retried.add(subject);
            failures.push(`${subject} attempt ${attempt}: ${(err as Error).message}`);
            if (attempt >= 20) throw new Error(`${subject} never acknowledged: ${failures.slice(-3).join('; ')}`);
            await sleep(100);
          }
        }
        // Paced, so traffic flows for several seconds after the kill.
        if (!long) await sleep(120);
      }
    };

    const started = Date.now();
    const running = Promise.all(Array.from({ length: clients }, (_, c) => client(c)));

    // Once a hundred are in, kill a node that a long session is on (read from
    // the Received headers of the long-session clients' messages).
    await waitFor(() => acknowledged >= 100, 20000, 'the first hundred messages were not acknowledged');
    const onNode = new Map<string, number>();
    for (const m of await storedMessages(store)) {
      const c = Number(/-c(\d+)$/.exec(m.subject)?.[1]);
      if (c < longSessionClients) onNode.set(m.by, (onNode.get(m.by) ?? 0) + 1);
    }
    const victimName = [...onNode].sort((a, b) => b[1] - a[1])[0]![0];
    const victim = cluster.nodes.find((n) => n.name === victimName)!;
    assert.ok(victim, `a long session is on a node (${[...onNode].join(', ')})`);
    victim.proc!.child.kill('SIGKILL');
    await victim.proc!.exited;
    const killedAt = Date.now();
    victim.proc = null;

    // rookery status calls it down once its heartbeat is stale (3 s).
    const downAfter = await waitFor(async () => (await statusJson(cluster.store)).nodes.find((n) => n.name === victimName)?.state === 'down', 8000, 'status never showed the killed node down', 250);

    await running;
    const elapsed = Date.now() - started;
    assert.equal(acknowledged, messages, 'every message was acknowledged in the end');
    assert.ok(Date.now() - killedAt > 3000, 'traffic went on for more than 3 s after the kill');

    // The store: every message there; twice only if a retried one.
    const stored = await storedMessages(store);
    const counts = new Map<string, number>();
    for (const m of stored) counts.set(m.subject, (counts.get(m.subject) ?? 0) + 1);
    const missing: string[] = [];
    const doubled: string[] = [];
    for (let i = 0; i < messages; i++) {
      const subject = [...counts.keys()].find((s) => s.startsWith(`m${i}-`));
      const n = subject ? counts.get(subject)! : 0;
      if (n === 0) missing.push(`m${i}`);
      else if (n > 1 && !retried.has(subject!)) doubled.push(`${subject} x${n}`);
      else if (n > 2) doubled.push(`${subject} x${n}`);
    }
    assert.deepEqual(missing, [], 'no acknowledged message is missing');
    assert.deepEqual(doubled, [], 'no message stored twice (only a retry after a cut may be)');
    const duplicatesAfterCut = stored.length - counts.size;
    assert.ok(cut > 0, 'at least one session was cut by the kill');
    const byNode = new Map<string, number>();
    for (const m of stored) byNode.set(m.by, (byNode.get(m.by) ?? 0) + 1);
    assert.equal(byNode.size, 3, 'all three nodes took mail');

    // The traffic manager: the dead node marked down, and no connection tried
    // on it, more than 3 s after the kill.
    const log = logLines(cluster.lb!.stderr()).filter((l) => l.backend === victimName);
    const tries = log.filter((l) => l.msg === 'backend refused; trying the next').map((l) => l.time - killedAt);
    const down = log.find((l) => (l.msg === 'backend down' || l.msg === 'backend left the pool') && l.time >= killedAt - 50);
    assert.ok(down, `the traffic manager marked ${victimName} down`);
    const downAt = down.time - killedAt;
    assert.ok(downAt <= 3000, `marked down ${downAt} ms after the kill`);
    const lastTry = tries.length > 0 ? Math.max(...tries) : 0;
    assert.ok(lastTry <= 3000, `last connection tried on the dead node ${lastTry} ms after the kill`);

    t.diagnostic(`smtp failover: ${messages} messages in ${elapsed} ms; ${cut} failed attempts retried (${retried.size} messages); ${duplicatesAfterCut} duplicates; ` +
      `per node ${JSON.stringify(Object.fromEntries(byNode))}; ${victimName} down in the lb after ${downAt} ms (${tries.length} refused connects, last at ${lastTry} ms); status down after ${downAfter} ms`);
  } finally {
    for (const t of transports) t.close();
    await store.close();
    await cluster.stop();
  }
});

/** An imapflow client through the virtual address. */
async function imapClient(cluster: Cluster): Promise<ImapFlow> {
  const client = new ImapFlow({
    host: virtualAddress, port: cluster.base + 143, secure: false, doSTARTTLS: false,
    auth: { user: 'me@example.org', pass: 'secret' }, logger: false, disableAutoIdle: true,
  } as ConstructorParameters<typeof ImapFlow>[0]);
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** UID -> sorted flags of every message in INBOX, and UIDVALIDITY. */
async function snapshot(client: ImapFlow): Promise<{ uidValidity: string; flags: Map<number, string> }> {
  const box = await client.mailboxOpen('INBOX');
  const flags = new Map<number, string>();
  for await (const m of client.fetch('1:*', { uid: true, flags: true })) flags.set(m.uid, [...(m.flags ?? [])].sort().join(' '));
  return { uidValidity: String(box.uidValidity), flags };
}

test('IMAP clients cut by a node\'s death reconnect through the virtual address and see the same UIDs and flags', async (t) => {
  const cluster = await startCluster({ nodes: 3, services: ['smtp', 'imap'] });
  const transport = nodemailer.createTransport({ host: virtualAddress, port: cluster.base + 25, secure: false, ignoreTLS: true });
  const clientsOpen: ImapFlow[] = [];
  try {
    for (let i = 0; i < 12; i++) {
      await transport.sendMail({ envelope: { from: 'friend@example.net', to: ['me@example.org'] }, raw: `Subject: imap-${i}\r\n\r\nbody ${i}\r\n` });
    }
    // Three sessions, so round robin puts them on different nodes.
    for (let i = 0; i < 3; i++) clientsOpen.push(await imapClient(cluster));
    const first = clientsOpen[0]!;
    const nodeOf = (c: ImapFlow) => /^(\S+) Rookery/.exec(c.greeting ?? '')?.[1];
    assert.ok(nodeOf(first), `the greeting names the node: ${first.greeting}`);
    await first.mailboxOpen('INBOX');
    await first.messageFlagsAdd('1:4', ['\\Seen'], { uid: true });
    await first.messageFlagsAdd('3,5,7', ['\\Flagged', '$Important'], { uid: true });
    await first.messageFlagsAdd('11', ['\\Deleted'], { uid: true });
    const before = await snapshot(first);
    assert.equal(before.flags.size, 12);

    // Kill the node the first session is on: every session there is cut.
    const victimName = nodeOf(first)!;
    const victim = cluster.nodes.find((n) => n.name === victimName)!;
    const cutClients = clientsOpen.filter((c) => nodeOf(c) === victimName);
    const closed = cutClients.map((c) => new Promise<void>((resolve) => { if (!c.usable) resolve(); else c.once('close', () => resolve()); }));
    victim.proc!.child.kill('SIGKILL');
    await victim.proc!.exited;
    const killedAt = Date.now();
    victim.proc = null;
    await Promise.all(closed);
    const noticedIn = Date.now() - killedAt;

    // Each cut client reconnects through the virtual address, lands on another node, and sees the same mailbox.
    for (const _ of cutClients) {
      const again = await imapClient(cluster);
      clientsOpen.push(again);
      assert.notEqual(nodeOf(again), victimName, 'the reconnection went to a live node');
      const after = await snapshot(again);
      assert.equal(after.uidValidity, before.uidValidity, 'same UIDVALIDITY');
      assert.deepEqual([...after.flags], [...before.flags], 'same UIDs and flags');
    }
    // The sessions on live nodes carry on.
    for (const c of clientsOpen.slice(0, 3).filter((c) => nodeOf(c) !== victimName)) {
      assert.deepEqual([...(await snapshot(c)).flags], [...before.flags]);
    }
    t.diagnostic(`imap failover: ${cutClients.length} of 3 sessions were on ${victimName}; they saw the close ${noticedIn} ms after the kill and reconnected to ${clientsOpen.slice(3).map(nodeOf).join(', ')} with the same ${before.flags.size} UIDs and flags`);
  } finally {
    for (const c of clientsOpen) await c.logout().catch(() => c.close());
    transport.close();
    await cluster.stop();
  }
});
