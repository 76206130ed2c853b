/**
 * The node's cache of big mailboxes' message lists (mailbox-cache.ts), on
 * SQLite and on PostgreSQL. The cache belongs to one store handle (one
 * node); changes are made through a second handle on the same store, as
 * another node (or process) makes them, and after each the cache's
 * snapshot must equal a fresh listing of the mailbox, record for record.
 * A snapshot a session already holds must not move. The bounds (total
 * messages, idle time) are checked too, and over IMAP a session on each of
 * two nodes (each with its own cache) must see the other's changes.
 */
import { strict as assert } from 'node:assert';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { defaultLimits } from '../../src/config/limits.js';
import type { NetService, ServiceContext } from '../../src/net/service.js';
import { createImapService } from '../../src/protocols/imap/index.js';
import { MailboxListCache, mailboxListCache, merged } from '../../src/protocols/imap/mailbox-cache.js';
import { firstUnseenSeqOf, keywordsOf } from '../../src/protocols/imap/selected-mailbox.js';
import { openStore } from '../../src/store/open.js';
import type { Mailbox, MailboxId, MessageRecord, Store, Uid, UserId } from '../../src/store/types.js';
import { tempDir } from '../helpers/temp.js';
import { freshDatabase, postgresUnavailable, type TestDatabase } from '../helpers/postgres.js';
import { message, RawClient, testCertificate } from './support.js';

/** What a session sees of a record: its UID, flags and modseq (and the blob, which never changes). */
function shape(records: readonly MessageRecord[]): string[] {
  return records.map((r) => `${r.uid} ${r.modSeq} ${[...r.flags].sort().join(',')} ${r.blobId.slice(0, 8)}`);
}

interface Backend {
  /** Opens another handle on the same store (another node). */
  open(): Promise<Store>;
  cleanup(): Promise<void>;
}

async function sqliteBackend(): Promise<Backend> {
  const dir = await tempDir('rookery-imap-cache-');
  return { open: () => openStore(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

async function postgresBackend(): Promise<Backend> {
  const db: TestDatabase = await freshDatabase();
  return { open: () => openStore(db.location), cleanup: () => db.drop() };
}

async function deliver(store: Store, userId: UserId, mailboxName: string, text: string, flags: string[] = []): Promise<MessageRecord> {
  const blob = await store.blobs.put(Buffer.from(text));
  const result = await store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), targets: [{ userId, mailboxName, flags }], onOverQuota: 'fail' });
  return result.stored[0]!;
}

/** A deterministic pseudo-random sequence, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function cacheSuite(name: string, makeBackend: () => Promise<Backend>, skip: () => string | false) {
  describe(`the IMAP mailbox cache on ${name}`, () => {
    let backend: Backend;
    let node: Store;
    let other: Store;
    let userId: UserId;
    before(async () => {
      if (skip()) return;
      backend = await makeBackend();
      node = await backend.open();
      other = await backend.open();
      await node.directory.addDomain('example.test');
      userId = (await node.directory.addUser({ address: 'alice@example.test', password: 'secret' })).id;
    });
    after(async () => {
      if (skip()) return;
      await node?.close();
      await other?.close();
      await backend?.cleanup();
    });

    const mailboxRow = async (store: Store, name: string): Promise<Mailbox> => (await store.mail.getMailbox(userId, name))!;

    it('follows deliveries, flag changes and expunges made by another node, and keeps a held snapshot still', { skip: skip() }, async () => {
      await other.mail.createMailbox(userId, 'Follow');
      for (let i = 0; i < 6; i++) await deliver(other, userId, 'Follow', message(`m${i}`), i % 2 ? ['\\Seen'] : []);
      const cache = new MailboxListCache(node.mail, { minMessages: 3, maxMessages: 1000, idleMs: 60_000 });
      const first = await cache.snapshot(await mailboxRow(node, 'Follow'));
      assert.equal(first.records.length, 6);
      assert.deepEqual(cache.size, { mailboxes: 1, messages: 6 });
      const held = shape(first.records);

      const rnd = random(7);
      for (let step = 0; step < 40; step++) {
        const mb = await mailboxRow(other, 'Follow');
        const present = await other.mail.listMessages(mb.id);
        const pick = () => present[Math.floor(rnd() * present.length)]!.uid as Uid;
        const what = rnd();
        if (what < 0.35 || present.length < 4) await deliver(other, userId, 'Follow', message(`s${step}`));
        else if (what < 0.7) await other.mail.updateFlags(mb.id, [pick(), pick()], { operation: rnd() < 0.5 ? 'add' : 'remove', flags: ['\\Flagged', '$Label1'] });
        else await other.mail.expunge(mb.id, [pick()]);
        // Sometimes two changes land before the next SELECT.
        if (rnd() < 0.3) await deliver(other, userId, 'Follow', message(`t${step}`), ['\\Seen']);
        const row = await mailboxRow(node, 'Follow');
        const snapshot = await cache.snapshot(row);
        const fresh = await node.mail.listMessages(row.id);
        assert.deepEqual(shape(snapshot.records), shape(fresh), `step ${step}`);
        // What SELECT reports from the cached summary: FLAGS' keywords and the first unseen message.
        assert.deepEqual(snapshot.summary, { keywords: keywordsOf(fresh), firstUnseenSeq: firstUnseenSeqOf(fresh) }, `step ${step}`);
        assert.ok(snapshot.highestModSeq >= row.highestModSeq);
        assert.ok(snapshot.uidNext > (fresh[fresh.length - 1]?.uid ?? 0));
        assert.equal(snapshot.uidNext, row.uidNext);
      }
      // The first session's array never moved under it (RFC 3501 7.4.1: its numbers change only when it is told).
      assert.deepEqual(shape(first.records), held);
      assert.equal(cache.size.messages, (await node.mail.listMessages((await mailboxRow(node, 'Follow')).id)).length);
    });

    it('answers SELECTs racing another node\'s deliveries consistently', { skip: skip() }, async () => {
      await other.mail.createMailbox(userId, 'Race');
      for (let i = 0; i < 5; i++) await deliver(other, userId, 'Race', message(`r${i}`));
      const cache = new MailboxListCache(node.mail, { minMessages: 3, maxMessages: 1000, idleMs: 60_000 });
      const writes = (async () => {
        for (let i = 0; i < 10; i++) await deliver(other, userId, 'Race', message(`w${i}`));
      })();
      const snapshots = await Promise.all(Array.from({ length: 12 }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i * 5));
        const row = await mailboxRow(node, 'Race');
        return { row, snapshot: await cache.snapshot(row) };
      }));
      await writes;
      for (const { row, snapshot } of snapshots) {
        // Each holds at least what its mailbox row promised, in UID order, no UID twice.
        assert.ok(snapshot.records.length >= row.uidNext - 1, `${snapshot.records.length} < ${row.uidNext - 1}`);
        const uids = snapshot.records.map((r) => r.uid);
        assert.deepEqual(uids, [...new Set(uids)].sort((a, b) => a - b));
      }
      const row = await mailboxRow(node, 'Race');
      assert.deepEqual(shape((await cache.snapshot(row)).records), shape(await node.mail.listMessages(row.id)));
      assert.equal((await cache.snapshot(row)).records.length, 15);
    });

    it('never serves a deleted mailbox\'s messages for a new one', { skip: skip() }, async () => {
      await other.mail.createMailbox(userId, 'Again');
      for (let i = 0; i < 4; i++) await deliver(other, userId, 'Again', message(`a${i}`));
      const cache = new MailboxListCache(node.mail, { minMessages: 3, maxMessages: 1000, idleMs: 60_000 });
      assert.equal((await cache.snapshot(await mailboxRow(node, 'Again'))).records.length, 4);
      await other.mail.deleteMailbox(userId, 'Again');
      await other.mail.createMailbox(userId, 'Again');
      await deliver(other, userId, 'Again', message('new'));
      const row = await mailboxRow(node, 'Again');
      const snapshot = await cache.snapshot(row);
      assert.deepEqual(shape(snapshot.records), shape(await node.mail.listMessages(row.id)));
      assert.equal(snapshot.records.length, 1);
    });

    it('keeps at most maxMessages records, least recently selected out first, and drops idle entries', { skip: skip() }, async () => {
      const ids: Mailbox[] = [];
      for (const n of ['B1', 'B2', 'B3']) {
        await other.mail.createMailbox(userId, n);
        for (let i = 0; i < 4; i++) await deliver(other, userId, n, message(`${n}-${i}`));
        ids.push(await mailboxRow(node, n));
      }
      const cache = new MailboxListCache(node.mail, { minMessages: 3, maxMessages: 9, idleMs: 60_000 });
      await cache.snapshot(ids[0]!);
      await cache.snapshot(ids[1]!);
      await cache.snapshot(ids[0]!); // B1 is now the most recent
      assert.deepEqual(cache.size, { mailboxes: 2, messages: 8 });
      await cache.snapshot(ids[2]!); // B2 goes
      assert.deepEqual(cache.size, { mailboxes: 2, messages: 8 });
      // A growing entry past the bound pushes the others out, never past maxMessages.
      await deliver(other, userId, 'B3', message('grow1'));
      await deliver(other, userId, 'B3', message('grow2'));
      const grown = await cache.snapshot(await mailboxRow(node, 'B3'));
      assert.equal(grown.records.length, 6);
      assert.deepEqual(cache.size, { mailboxes: 1, messages: 6 });
      // Too small or too big to keep: listed each time, never kept.
      await other.mail.createMailbox(userId, 'Small');
      await deliver(other, userId, 'Small', message('s'));
      assert.equal((await cache.snapshot(await mailboxRow(node, 'Small'))).records.length, 1);
      const tiny = new MailboxListCache(node.mail, { minMessages: 1, maxMessages: 5, idleMs: 60_000 });
      assert.equal((await tiny.snapshot(await mailboxRow(node, 'B3'))).records.length, 6);
      assert.deepEqual(tiny.size, { mailboxes: 0, messages: 0 });
      assert.deepEqual(cache.size, { mailboxes: 1, messages: 6 });
      cache.sweep(Date.now() + 60_000);
      assert.deepEqual(cache.size, { mailboxes: 0, messages: 0 });
    });
  });
}

const pgReason = await postgresUnavailable();

cacheSuite('SQLite', sqliteBackend, () => false);
if (pgReason !== null && process.env.CI === 'true') it('the IMAP mailbox cache on PostgreSQL', () => assert.fail(`${pgReason}; CI=true requires PostgreSQL`));
else cacheSuite('PostgreSQL', postgresBackend, () => pgReason ?? false);

describe('merging a catch-up into a cached list', () => {
  const rec = (uid: number, modSeq: number, flags: string[] = []): MessageRecord => ({ mailboxId: 1 as MailboxId, uid: uid as Uid, blobId: 'b' as never, size: 1, internalDate: new Date(0), flags, modSeq: modSeq as never });
  it('removes, replaces and inserts by UID, and gives the same list when a change comes twice', () => {
    const start = [rec(1, 1), rec(2, 2), rec(4, 4)];
    const changes = [rec(2, 6, ['\\Seen']), rec(3, 5), rec(5, 7)];
    const once = merged(start.slice(), changes, [4]);
    assert.deepEqual(once.map((r) => `${r.uid}:${r.modSeq}`), ['1:1', '2:6', '3:5', '5:7']);
    assert.deepEqual(merged(once.slice(), changes, [4]), once);
  });
});

describe('IMAP sessions on two nodes, each with its own mailbox cache', () => {
  let dir: string;
  let stores: Store[] = [];
  let services: NetService[] = [];
  let ports: number[] = [];
  let userId: UserId;
  const BIG = 2560; // above the default minimum (2,000), so the cache keeps it
  before(async () => {
    dir = await tempDir('rookery-imap-cache-nodes-');
    stores = [await openStore(dir), await openStore(dir)];
    const store = stores[0]!;
    await store.directory.addDomain('example.test');
    userId = (await store.directory.addUser({ address: 'alice@example.test', password: 'secret' })).id;
    for (let i = 1; i <= 10; i++) await deliver(store, userId, 'INBOX', message(`m${i}`), i % 2 ? ['\\Seen'] : []);
    const inbox = (await store.mail.getMailbox(userId, 'INBOX'))!;
    // Doubled into itself (copies share blobs), as the large-mailbox test does.
    for (let have = 10; have < BIG; have *= 2) {
      const uids = (await store.mail.listMessages(inbox.id)).map((r) => r.uid).slice(0, BIG - have);
      await store.mail.copyMessages(inbox.id, uids, inbox.id);
    }
    const tls = await testCertificate();
    for (const s of stores) {
      const ctx: ServiceContext = { store: s, limits: { ...defaultLimits(), imapChangePollMs: 50 }, hostname: 'imap.example.test', tls: () => tls, logger: pino({ level: 'silent' }) };
      const service = createImapService(ctx, { implicitTls: false });
      services.push(service);
      ports.push(await service.listen(0, '127.0.0.1'));
    }
  });
  after(async () => {
    await Promise.all(services.map((s) => s.close()));
    for (const s of stores) await s.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a re-SELECT on one node shows exactly what the other node changed', async () => {
    const a = await RawClient.login(ports[0]!);
    const b = await RawClient.login(ports[1]!);
    const selA = await a.command('SELECT INBOX');
    assert.ok(selA.untagged.includes(`* ${BIG} EXISTS`), selA.untagged.join('\n'));
    assert.equal(mailboxListCache(stores[0]!.mail).size.messages, BIG);
    await b.command('SELECT INBOX');
    // Node B expunges three, flags two and a message arrives.
    await b.command('STORE 1:3 +FLAGS.SILENT (\\Deleted)');
    await b.command('EXPUNGE');
    await b.command('STORE 10,20 +FLAGS.SILENT (\\Flagged)');
    await b.command('STORE 2 +FLAGS.SILENT ($Important)');
    await b.command('STORE 1:* +FLAGS.SILENT (\\Seen)');
    await b.command('STORE 5 -FLAGS.SILENT (\\Seen)');
    await deliver(stores[1]!, userId, 'INBOX', message('late'));
    // A second session on node A selects afresh from A's cache.
    const c = await RawClient.login(ports[0]!);
    const selC = await c.command('SELECT INBOX');
    assert.ok(selC.untagged.includes(`* ${BIG - 3 + 1} EXISTS`), selC.untagged.join('\n'));
    assert.ok(selC.untagged.some((l) => l.startsWith('* FLAGS (') && l.includes('$Important')), selC.untagged.join('\n'));
    assert.ok(selC.untagged.some((l) => l.startsWith('* OK [UNSEEN 5]')), selC.untagged.join('\n'));
    const flagged = await c.command('SEARCH FLAGGED');
    assert.deepEqual(flagged.untagged, ['* SEARCH 10 20']);
    const last = await c.command(`FETCH ${BIG - 2} (UID)`);
    const inbox = (await stores[0]!.mail.getMailbox(userId, 'INBOX'))!;
    assert.deepEqual(last.untagged, [`* ${BIG - 2} FETCH (UID ${inbox.uidNext - 1})`]);
    // The session that selected before the changes is told at its next command, as before.
    const noop = await a.command('NOOP');
    assert.deepEqual(noop.untagged.filter((l) => /EXPUNGE|EXISTS/.test(l)), ['* 3 EXPUNGE', '* 2 EXPUNGE', '* 1 EXPUNGE', `* ${BIG - 2} EXISTS`]);
    for (const client of [a, b, c]) client.end();
  });
});
