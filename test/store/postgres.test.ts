/**
 * The PostgreSQL store: the conformance suite, unchanged, and several node
 * processes hammering one mailbox. Every run works in its own fresh
 * database (rookery_test_<random>), dropped afterwards, so parallel runs
 * never meet.
 *
 * PostgreSQL is expected at 127.0.0.1:5432 (trust auth, user postgres,
 * database test), or wherever ROOKERY_TEST_POSTGRES points. Without it the
 * whole file is one skipped line, except under CI=true, where a missing
 * PostgreSQL is a failure.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openStore } from '../../src/store/open.js';
import { isStoreError } from '../../src/store/errors.js';
import { migrations } from '../../src/store/postgres/migrations.js';
import type { MailboxId, Store, Uid } from '../../src/store/types.js';
import { run } from '../helpers/clients.js';
import { admin, adminUrl, freshDatabase, postgresUnavailable, type TestDatabase } from '../helpers/postgres.js';
import { storeConformance } from './conformance.js';
import { isMailbox, record, untilListening } from './change-feed-conformance.js';

const reason = await postgresUnavailable();

/**
 * A store on a fresh database with one local domain, for the tests of a
 * describe block: opened before them, closed and its database dropped after.
 */
function storeOnFreshDatabase(domain: string, opts: { pool?: number } = {}): { db: TestDatabase; store: Store } {
  const fresh = {} as { db: TestDatabase; store: Store };
  before(async () => {
    fresh.db = await freshDatabase(opts);
    fresh.store = await openStore(fresh.db.location);
    await fresh.store.directory.addDomain(domain);
  });
  after(async () => {
    await fresh.store?.close();
    await fresh.db?.drop();
  });
  return fresh;
}

if (reason !== null && process.env.CI === 'true') {
  test('PostgreSQL store', () => {
    assert.fail(`${reason}; CI=true requires PostgreSQL (trust auth, user postgres) for the scale-out store's tests`);
  });
} else if (reason !== null) {
  test('PostgreSQL store', { skip: reason }, () => undefined);
} else {
  describe('PostgreSQL store', () => {
    storeConformance('PostgreSQL', async () => {
      const db = await freshDatabase();
      const store = await openStore(db.location);
      return {
        store,
        reopen: () => openStore(db.location),
        async cleanup() {
          await store.close();
          await db.drop();
        },
      };
    });

    describe('opening', () => {
      test('concurrent openers of a fresh database migrate it once; a second open finds it current', async () => {
        const db = await freshDatabase();
        try {
          const stores = await Promise.all([1, 2, 3, 4].map(() => openStore(db.location)));
          const client = new pg.Client({ connectionString: db.connectionString });
          await client.connect();
          const versions = await client.query('SELECT version FROM schema_migrations ORDER BY version')
            .then((r) => r.rows.map((row: { version: number }) => row.version))
            .finally(() => client.end());
          assert.deepEqual(versions, migrations.map((m) => m.version));
          for (const s of stores) await s.close();
        } finally {
          await db.drop();
        }
      });

      test('connections the server closes are replaced without the caller noticing', async () => {
        const db = await freshDatabase({ pool: 3 });
        const store = await openStore(db.location);
        try {
          await store.directory.addDomain('drop.test');
          const u = await store.directory.addUser({ address: 'drop@drop.test', password: 'x' });
          await Promise.all([1, 2, 3].map(() => store.directory.listDomains()));
          const name = new URL(db.location).pathname.slice(1);
          const killed = await admin('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
          assert.ok((killed.rowCount ?? 0) > 0);
          await new Promise((r) => setTimeout(r, 200));
          assert.deepEqual((await store.directory.listDomains()).map((d) => d.name), ['drop.test']);
          const blob = await store.blobs.put(Buffer.from('Subject: after\r\n\r\n'));
          const res = await Promise.all([1, 2, 3].map(() =>
            store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), targets: [{ userId: u.id }], onOverQuota: 'fail' })));
          assert.deepEqual(res.map((r) => r.stored[0]!.uid).sort(), [1, 2, 3]);
        } finally {
          await store.close();
          await db.drop();
        }
      });

      test('an unreachable server, a bad pool size and a foreign blob directory are clear errors', async () => {
        await assert.rejects(openStore('postgres://postgres@127.0.0.1:1/test'), (err: unknown) => {
          assert.ok(isStoreError(err, 'unavailable'), String(err));
          assert.match(err.message, /127\.0\.0\.1:1/);
          return true;
        });
        await assert.rejects(openStore(`${adminUrl}${adminUrl.includes('?') ? '&' : '?'}pool=0`), (err: unknown) => isStoreError(err, 'bad-parameters'));
        const a = await freshDatabase();
        const b = await freshDatabase();
        try {
          const sa = await openStore(a.location);
          await sa.close();
          const url = new URL(b.location);
          url.searchParams.set('blobs', a.blobsDir);
          const crossed = url.toString();
          await assert.rejects(openStore(crossed), (err: unknown) => {
            assert.ok(isStoreError(err, 'unavailable'), String(err));
            assert.match(err.message, /belongs to another store/);
            return true;
          });
        } finally {
          await a.drop();
          await b.drop();
        }
      });
    });

    describe('three node processes on one mailbox', () => {
      const deliverWorker = fileURLToPath(new URL('./fixtures/deliver-worker.js', import.meta.url));
      const storeWorker = fileURLToPath(new URL('./fixtures/store-worker.js', import.meta.url));
      const address = 'shared@example.test';
      const perWorker = 60;
      const fresh = storeOnFreshDatabase('example.test', { pool: 4 });
      before(async () => {
        await fresh.store.directory.addUser({ address, password: 'x' });
      });

      async function inbox() {
        const user = (await fresh.store.directory.getUser(address))!;
        return { user, inbox: (await fresh.store.mail.getMailbox(user.id, 'INBOX'))! };
      }

      test('delivering at once: unique ascending UIDs, one modseq each, quota equal to the sum of sizes', async () => {
        const results = await Promise.all(['a', 'b', 'c'].map((tag) =>
          run(process.execPath, [deliverWorker, fresh.db.location, String(perWorker), address, tag], { timeoutMs: 90000 })));
        for (const r of results) assert.equal(r.code, 0, r.stderr);
        const { user, inbox: box } = await inbox();
        const messages = await fresh.store.mail.listMessages(box.id);
        assert.equal(messages.length, 3 * perWorker);
        assert.deepEqual(messages.map((m) => m.uid), Array.from({ length: 3 * perWorker }, (_, i) => i + 1));
        assert.equal(new Set(messages.map((m) => m.modSeq)).size, messages.length, 'every change has its own modseq');
        assert.equal(box.uidNext, 3 * perWorker + 1);
        assert.equal(box.highestModSeq, Math.max(...messages.map((m) => m.modSeq)));
        assert.equal(user.usedBytes, messages.reduce((n, m) => n + m.size, 0));
      });

      test('flipping flags at once: no flag update is lost', async () => {
        const { inbox: box } = await inbox();
        const before = box.highestModSeq;
        const results = await Promise.all(['a', 'b', 'c'].map((tag) =>
          run(process.execPath, [storeWorker, fresh.db.location, address, 'flags', tag, '3'], { timeoutMs: 120000 })));
        for (const r of results) assert.equal(r.code, 0, r.stderr);
        const messages = await fresh.store.mail.listMessages(box.id);
        for (const m of messages) {
          assert.deepEqual([...m.flags].sort(), ['$a', '$b', '$c', '\\Seen'], `UID ${m.uid} has ${m.flags.join(' ')}`);
        }
        const after = (await fresh.store.mail.getMailbox(box.userId, 'INBOX'))!;
        assert.ok(after.highestModSeq > before);
        assert.equal(after.highestModSeq, Math.max(...messages.map((m) => m.modSeq)), 'the mailbox modseq is the newest change');
        const changes = await fresh.store.mail.changesSince(box.id, before);
        assert.equal(changes.changed.length, messages.length);
      });

      test('moving at once: every message arrives once, tombstones for all, quota unchanged', async () => {
        const { user, inbox: box } = await inbox();
        const archive = await fresh.store.mail.createMailbox(user.id, 'Archive');
        const mark = (await fresh.store.mail.getMailbox(user.id, 'INBOX'))!.highestModSeq;
        const sources = await fresh.store.mail.listMessages(box.id);
        const results = await Promise.all([0, 1, 2].map((rest) =>
          run(process.execPath, [storeWorker, fresh.db.location, address, 'move', `w${rest}`, '3', String(rest)], { timeoutMs: 120000 })));
        for (const r of results) assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(await fresh.store.mail.listMessages(box.id), []);
        const moved = await fresh.store.mail.listMessages(archive.id);
        assert.deepEqual(moved.map((m) => m.uid), Array.from({ length: sources.length }, (_, i) => i + 1), 'destination UIDs are unique and dense');
        assert.deepEqual(moved.map((m) => m.blobId).sort(), sources.map((m) => m.blobId).sort());
        const changes = await fresh.store.mail.changesSince(box.id, mark);
        assert.deepEqual(changes.expunged, sources.map((m) => m.uid));
        assert.equal((await fresh.store.directory.getUser(address))!.usedBytes, user.usedBytes, 'a move costs no quota');
        assert.equal((await fresh.store.mail.mailboxStatus(archive.id)).sizeBytes, user.usedBytes);
      });
    });

    describe('deliveries to one user at once, from one process', () => {
      const fresh = storeOnFreshDatabase('batch.test');

      test('they share calls, yet each is all or nothing: a refused one (over quota, no such mailbox) leaves the others stored', async () => {
        const user = await fresh.store.directory.addUser({ address: 'busy@batch.test', password: 'x', quotaBytes: 64 * 1024 });
        const other = await fresh.store.directory.addUser({ address: 'other@batch.test', password: 'x' });
        const blobs = await Promise.all(Array.from({ length: 40 }, (_, i) => fresh.store.blobs.put(Buffer.from(`Subject: ${i}\r\n\r\n${'x'.repeat(100)}\r\n`))));
        const big = await fresh.store.blobs.put(Buffer.alloc(1 << 20, 'y'));
        const deliver = (blob: { id: typeof big.id; size: number }, userIds: number[], mailboxName?: string, onOverQuota: 'fail' | 'skip' = 'fail') =>
          fresh.store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), targets: userIds.map((id) => ({ userId: id as typeof user.id, mailboxName })), onOverQuota });
        const outcomes = await Promise.allSettled([
          ...blobs.slice(0, 20).map((b) => deliver(b, [user.id])),
          deliver(big, [user.id]),
          deliver(blobs[20]!, [user.id], 'No such mailbox'),
          deliver(big, [user.id, user.id], undefined, 'skip'),
          ...blobs.slice(21).map((b) => deliver(b, [user.id])),
          deliver(blobs[0]!, [user.id, other.id]),
        ]);
        const refused = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [[i, (o.reason as { category?: string }).category]] : []));
        assert.deepEqual(refused, [[20, 'over-quota'], [21, 'not-found']]);
        const skipped = outcomes[22] as PromiseFulfilledResult<{ stored: unknown[]; overQuota: number[] }>;
        assert.deepEqual(skipped.value, { stored: [], overQuota: [user.id, user.id] });
        const inbox = (await fresh.store.mail.getMailbox(user.id, 'INBOX'))!;
        const held = await fresh.store.mail.listMessages(inbox.id);
        assert.equal(held.length, 40, 'every delivery that was not refused, once');
        assert.deepEqual(held.map((m) => m.uid), Array.from({ length: 40 }, (_, i) => i + 1), 'UIDs unique and dense');
        assert.deepEqual(held.map((m) => m.modSeq), [...held.map((m) => m.modSeq)].sort((a, b) => a - b), 'modseqs ascend with UIDs');
        const reported = outcomes.flatMap((o) => (o.status === 'fulfilled' ? (o.value.stored as { mailboxId: number; uid: number }[]) : []))
          .filter((r) => r.mailboxId === inbox.id).map((r) => r.uid).sort((a, b) => a - b);
        assert.deepEqual(reported, held.map((m) => m.uid), 'each delivery was told the UID it got');
        assert.equal((await fresh.store.directory.getUser('busy@batch.test'))!.usedBytes, held.reduce((n, m) => n + m.size, 0));
        const otherInbox = (await fresh.store.mail.getMailbox(other.id, 'INBOX'))!;
        assert.equal((await fresh.store.mail.listMessages(otherInbox.id)).length, 1);
        // Fewer calls than deliveries: the ones that queued went together.
        const client = new pg.Client({ connectionString: fresh.db.connectionString });
        await client.connect();
        const calls = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM delivery_receipts').finally(() => client.end());
        assert.ok(calls.rows[0]!.n < outcomes.length - 1, `${calls.rows[0]!.n} calls for ${outcomes.length} deliveries`);
      });
    });

    describe('mailbox notices only while some process listens for them (migration 9)', () => {
      const fresh = storeOnFreshDatabase('heard.test');

      /** A bare connection LISTENing on both channels without the listeners' locks: it sees what is sent, and tells nobody it listens. */
      async function spy() {
        const client = new pg.Client({ connectionString: fresh.db.connectionString });
        const heard: { channel: string; payload: string }[] = [];
        client.on('notification', (n) => heard.push({ channel: n.channel, payload: n.payload ?? '' }));
        await client.connect();
        await client.query('LISTEN rookery_mailboxes; LISTEN rookery_changes');
        return { heard, end: () => client.end() };
      }
      const mailboxNotices = (heard: { channel: string; payload: string }[]) => heard.filter((n) => n.channel === 'rookery_mailboxes');

      test('with nobody watching mailboxes none is sent; while another Store object watches, deliveries and flag changes are', async () => {
        const user = await fresh.store.directory.addUser({ address: 'quiet@heard.test', password: 'x' });
        const inbox = (await fresh.store.mail.getMailbox(user.id, 'INBOX'))!;
        const blob = await fresh.store.blobs.put(Buffer.from('Subject: heard\r\n\r\n'));
        const deliver = () => fresh.store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), targets: [{ userId: user.id }], onOverQuota: 'fail' });
        const watcher = await openStore(fresh.db.location);
        const wire = await spy();
        try {
          await deliver();
          await fresh.store.mail.updateFlags(inbox.id, [1 as Uid], { operation: 'add', flags: ['\\Flagged'] });
          await fresh.store.settings.set('heard.test', 'x');
          await new Promise((r) => setTimeout(r, 300));
          assert.deepEqual(mailboxNotices(wire.heard), [], 'nobody watches: no mailbox notice');
          assert.ok(wire.heard.some((n) => n.channel === 'rookery_changes'), 'other changes are sent as before');

          const watching = record(watcher, ['mailbox']);
          await watching.waitFor((c) => c.kind === 'resync', 3000, 'the resync once the feed listens for mailboxes');
          await deliver();
          await fresh.store.mail.updateFlags(inbox.id, [2 as Uid], { operation: 'add', flags: ['\\Seen'] });
          await watching.waitFor(isMailbox(inbox.id), 1000, 'the delivery');
          await new Promise((r) => setTimeout(r, 200));
          assert.equal(mailboxNotices(wire.heard).length, 2, 'a notice each for the delivery and the flag change');
          assert.equal(watching.real().filter(isMailbox(inbox.id)).length, 2);

          // The last watcher gone, the sender stops once the UNLISTEN (and the locks' release) took effect.
          watching.stop();
          const deadline = Date.now() + 3000;
          for (;;) {
            const before = mailboxNotices(wire.heard).length;
            await deliver();
            await new Promise((r) => setTimeout(r, 100));
            if (mailboxNotices(wire.heard).length === before) break;
            assert.ok(Date.now() < deadline, 'deliveries still NOTIFY 3 s after the last watcher left');
          }
        } finally {
          await wire.end();
          await watcher.close();
        }
      });

      test('a process that starts watching while deliveries are under way misses none: its resync read or a notice covers each', async () => {
        const boxes = 24;
        const users = await Promise.all(Array.from({ length: boxes }, (_, i) => fresh.store.directory.addUser({ address: `race${i}@heard.test`, password: 'x' })));
        const inboxes = await Promise.all(users.map(async (u) => (await fresh.store.mail.getMailbox(u.id, 'INBOX'))!));
        const blob = await fresh.store.blobs.put(Buffer.from('Subject: race\r\n\r\n'));
        const watcher = await openStore(fresh.db.location);
        // Always subscribed to something, as a node is: the LISTEN connection stays, and the
        // mailbox channel is switched on and off on it.
        const steady = record(watcher, ['queue']);
        try {
          await untilListening(fresh.store, steady);
          for (let cycle = 0; cycle < 8; cycle++) {
            // What the watcher knows: each mailbox's count from the latest read it started.
            const known = new Map<number, { started: number; messages: number }>();
            let reads = 0;
            const readBox = (id: number) => {
              const started = ++reads;
              void watcher.mail.mailboxStatus(id as MailboxId).then((st) => {
                if ((known.get(id)?.started ?? 0) < started) known.set(id, { started, messages: st.messages });
              });
            };
            let resynced = false;
            const deliveries = users.map((user) => new Promise<void>((resolve, reject) => {
              setTimeout(() => {
                fresh.store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), targets: [{ userId: user.id }], onOverQuota: 'fail' })
                  .then(() => resolve(), reject);
              }, Math.random() * 60);
            }));
            await new Promise((r) => setTimeout(r, Math.random() * 40));
            const stop = watcher.changes.subscribe(['mailbox'], (change) => {
              if (change.kind === 'resync') {
                resynced = true;
                for (const box of inboxes) readBox(box.id);
              } else if (change.kind === 'mailbox') readBox(change.mailboxId);
            });
            await Promise.all(deliveries);
            const deadline = Date.now() + 3000;
            while (!resynced && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
            assert.ok(resynced, 'the watcher got its resync');
            await new Promise((r) => setTimeout(r, 400));
            const actual = await Promise.all(inboxes.map((box) => fresh.store.mail.mailboxStatus(box.id)));
            const stale = inboxes.flatMap((box, i) => (known.get(box.id)?.messages === actual[i]!.messages ? [] : [`${box.id}: knows ${known.get(box.id)?.messages}, holds ${actual[i]!.messages}`]));
            assert.deepEqual(stale, [], `cycle ${cycle}: the watcher missed deliveries`);
            stop();
            await new Promise((r) => setTimeout(r, 100));
          }
        } finally {
          steady.stop();
          await watcher.close();
        }
      });
    });
  });
}
