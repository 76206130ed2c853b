/**
 * `rookery store copy`: an installation goes from the embedded store to
 * PostgreSQL and back, and everything in it comes back as it was: the
 * directory (password hashes included), mailboxes with their counters,
 * messages with UIDs, flags, modseqs and dates, tombstones, the MIME
 * index, settings and every blob. A non-empty target is refused.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { openStore } from '../../src/store/open.js';
import { copyStore } from '../../src/store/copy.js';
import { isStoreError } from '../../src/store/errors.js';
import type { Store, Uid } from '../../src/store/types.js';
import { rookery } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const adminUrl = process.env.ROOKERY_TEST_POSTGRES || 'postgres://postgres@127.0.0.1:5432/test';

async function dump(store: Store): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for await (const batch of store.transfer.exportState()) (out[batch.table] ??= []).push(...(batch.rows as unknown[]));
  return out;
}

async function blobsOf(store: Store, d: Record<string, unknown[]>): Promise<Map<string, Buffer>> {
  const ids = new Set(((d.messages ?? []) as { blobId: string }[]).map((m) => m.blobId));
  const out = new Map<string, Buffer>();
  for (const id of ids) out.set(id, await store.blobs.get(id as never));
  return out;
}

/** An installation with a bit of everything in it. */
async function populate(store: Store): Promise<void> {
  const dir = store.directory;
  await dir.addDomain('one.test');
  await dir.addDomain('two.test');
  const alice = await dir.addUser({ address: 'alice@one.test', password: 'alice pw', quotaBytes: 10_000_000, customerId: 'c-17', role: 'domain-admin' });
  const bob = await dir.addUser({ address: 'Bob@two.test', password: 'bob pw' });
  await dir.addUser({ address: 'off@two.test', password: 'off pw', enabled: false });
  await dir.addAlias('team@one.test', ['alice@one.test', 'bob@two.test', 'far@elsewhere.example']);
  await dir.addAlias('@two.test', ['bob@two.test']);
  await dir.addForward('bob@two.test', 'bob@elsewhere.example', true);
  const mail = store.mail;
  const inbox = (await mail.getMailbox(alice.id, 'INBOX'))!;
  const work = await mail.createMailbox(alice.id, 'Work');
  await mail.createMailbox(alice.id, 'Work/Old');
  await mail.createMailbox(alice.id, 'Gone');
  await mail.deleteMailbox(alice.id, 'Gone');
  await mail.renameMailbox(alice.id, 'Work/Old', 'Work/Older');
  await mail.setSubscribed(alice.id, 'Not/There', true);
  await mail.setSubscribed(alice.id, 'Junk', false);
  for (let i = 0; i < 12; i++) {
    const blob = await store.blobs.put(Buffer.from(`From: x@y.test\r\nSubject: message ${i}\r\n\r\n${'body '.repeat(i * 50)}\r\n`));
    await mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(Date.UTC(2024, 0, 1 + i, 12, 0, i)),
      targets: [{ userId: alice.id, flags: i % 3 === 0 ? ['\\Seen'] : [] }, { userId: bob.id }], onOverQuota: 'fail' });
    if (i % 4 === 0) await mail.putMessageIndex(blob.id, 3, JSON.stringify({ subject: `message ${i}` }));
  }
  await mail.updateFlags(inbox.id, [1, 2, 3] as Uid[], { operation: 'add', flags: ['$Label1', '\\Flagged'] });
  await mail.copyMessages(inbox.id, [4, 5] as Uid[], work.id);
  await mail.moveMessages(inbox.id, [6, 7] as Uid[], work.id);
  await mail.expunge(inbox.id, [8, 9] as Uid[]);
  await store.settings.set('limits.maxRecipients', '42');
  await store.settings.set('tls.certificate', JSON.stringify({ cert: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', key: 'k' }));
}

describe('rookery store copy', () => {
  let root: string;
  before(async () => {
    root = await tempDir('rookery-copy-');
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('embedded to embedded: everything arrives; a non-empty target and the same store are refused', async () => {
    const a = await openStore(join(root, 'a'));
    const b = await openStore(join(root, 'b'));
    try {
      await populate(a);
      const counts = await copyStore(a, b);
      assert.equal(counts.users, 3);
      assert.equal(counts.blobs, 12);
      const da = await dump(a);
      assert.deepEqual(await dump(b), da);
      assert.deepEqual(await blobsOf(b, da), await blobsOf(a, da));
      await assert.rejects(copyStore(a, b), (err: unknown) => isStoreError(err, 'exists'));
      await assert.rejects(copyStore(a, a), (err: unknown) => isStoreError(err, 'bad-parameters'));
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('embedded to PostgreSQL and back with the command: identical, and both stores work afterwards', async (t) => {
    const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
    admin.on('error', () => undefined);
    if (!(await admin.connect().then(() => true, () => false))) {
      if (process.env.CI === 'true') assert.fail(`PostgreSQL is not reachable at ${new URL(adminUrl).host}`);
      t.skip(`PostgreSQL is not reachable at ${new URL(adminUrl).host}`);
      return;
    }
    const name = `rookery_test_${randomBytes(6).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    const pgLocation = url.toString();
    const pgBlobs = join(root, 'pg-blobs');
    try {
      const source = join(root, 'source');
      const back = join(root, 'back');
      const s = await openStore(source);
      await populate(s);
      const original = await dump(s);
      const originalBlobs = await blobsOf(s, original);
      await s.close();

      // The schema can be brought up to date on its own first; that leaves the store empty.
      const migrated = await rookery(['store', 'migrate', '--store', pgLocation, '--blobs', pgBlobs]);
      assert.equal(migrated.code, 0, migrated.stderr);
      assert.match(migrated.stdout, /is at schema version \d+/);

      const there = await rookery(['store', 'copy', '--from', source, '--to', pgLocation, '--blobs', pgBlobs]);
      assert.equal(there.code, 0, there.stderr);
      assert.match(there.stdout, /3 user\(s\)/);
      // Into a non-empty store: refused, and nothing changes.
      const again = await rookery(['store', 'copy', '--from', source, '--to', pgLocation, '--blobs', pgBlobs]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /not empty/);

      const p = await openStore(`${pgLocation}?blobs=${encodeURIComponent(pgBlobs)}`);
      try {
        assert.deepEqual(await dump(p), original, 'PostgreSQL holds exactly what the embedded store held');
        assert.deepEqual(await blobsOf(p, original), originalBlobs);
        assert.ok(await p.directory.authenticate('alice@one.test', 'alice pw'), 'password hashes came along');
        assert.equal(await p.directory.authenticate('off@two.test', 'off pw'), null);
        const res = await p.directory.resolveRecipient('team@one.test');
        assert.deepEqual(res?.localUsers.map((u) => u.address).sort(), ['alice@one.test', 'bob@two.test'], 'bob keeps a copy');
        assert.deepEqual(res?.remoteTargets.sort(), ['bob@elsewhere.example', 'far@elsewhere.example']);
      } finally {
        await p.close();
      }

      const home = await rookery(['store', 'copy', '--from', pgLocation, '--to', back, '--blobs', pgBlobs]);
      assert.equal(home.code, 0, home.stderr);
      const b = await openStore(back);
      try {
        assert.deepEqual(await dump(b), original, 'the round trip changes nothing');
        assert.deepEqual(await blobsOf(b, original), originalBlobs);
      } finally {
        await b.close();
      }

      // The copy keeps working: new users, mailboxes and messages get fresh ids and UIDs.
      const p2 = await openStore(`${pgLocation}?blobs=${encodeURIComponent(pgBlobs)}`);
      try {
        const carol = await p2.directory.addUser({ address: 'carol@one.test', password: 'x' });
        const ids = (original.users as { id: number }[]).map((u) => u.id);
        assert.ok(carol.id > Math.max(...ids));
        const alice = (await p2.directory.getUser('alice@one.test'))!;
        const box = await p2.mail.createMailbox(alice.id, 'After');
        assert.ok(box.id > Math.max(...(original.mailboxes as { id: number }[]).map((m) => m.id)));
        const inbox = (await p2.mail.getMailbox(alice.id, 'INBOX'))!;
        const before = (original.mailboxes as { id: number; uidNext: number }[]).find((m) => m.id === inbox.id)!;
        const blob = await p2.blobs.put(Buffer.from('Subject: after the move\r\n\r\n'));
        const r = await p2.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), targets: [{ userId: alice.id }], onOverQuota: 'fail' });
        assert.equal(r.stored[0]!.uid, before.uidNext, 'UIDs go on from UIDNEXT');
      } finally {
        await p2.close();
      }
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  });

  test('usage mistakes are one line', async () => {
    const none = await rookery(['store', 'copy', '--from', join(root, 'x')]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /give both --from and --to/);
    const blobs = await rookery(['store', 'copy', '--from', join(root, 'x'), '--to', join(root, 'y'), '--blobs', join(root, 'z')]);
    assert.equal(blobs.code, 2);
    assert.match(blobs.stderr, /--blobs is for a postgres/);
    const embedded = await rookery(['domain', 'list', '--store', join(root, 'x'), '--blobs', join(root, 'z')]);
    assert.equal(embedded.code, 2);
    assert.match(embedded.stderr, /--blobs is for a postgres/);
  });
});
