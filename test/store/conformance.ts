/**
 * The store conformance suite: every backend must pass it unchanged.
 * A backend's test file calls storeConformance() with a way to open a
 * fresh, empty store.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { isStoreError } from '../../src/store/errors.js';
import type { BlobId, Store, Uid } from '../../src/store/types.js';

export interface OpenedStore {
  store: Store;
  cleanup(): Promise<void>;
}

async function rejectsWith(p: Promise<unknown>, category: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isStoreError(err), `expected a StoreError, got ${String(err)}`);
    assert.equal(err.category, category);
    return true;
  });
}

async function streamToBuffer(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export function storeConformance(backend: string, open: () => Promise<OpenedStore>): void {
  describe(`store conformance: ${backend}`, () => {
    let opened: OpenedStore;
    let store: Store;
    before(async () => {
      opened = await open();
      store = opened.store;
      await store.directory.addDomain('example.test');
      await store.directory.addDomain('other.test');
    });
    after(async () => {
      await opened.cleanup();
    });

    test('domains: add, list, refuse duplicates and bad names, remove only when empty', async () => {
      await store.directory.addDomain('Third.Test.');
      const names = (await store.directory.listDomains()).map((d) => d.name);
      assert.deepEqual(names, ['example.test', 'other.test', 'third.test']);
      await rejectsWith(store.directory.addDomain('third.test'), 'exists');
      await rejectsWith(store.directory.addDomain('bad domain'), 'bad-parameters');
      assert.equal(await store.directory.isLocalDomain('THIRD.test'), true);
      await store.directory.addUser({ address: 'x@third.test', password: 'pw' });
      await rejectsWith(store.directory.removeDomain('third.test'), 'exists');
      await store.directory.removeUser('x@third.test');
      await store.directory.removeDomain('third.test');
      assert.equal(await store.directory.isLocalDomain('third.test'), false);
      await rejectsWith(store.directory.removeDomain('third.test'), 'not-found');
    });

    test('users: created with the five default mailboxes and their special-use flags', async () => {
      const user = await store.directory.addUser({ address: 'Alice@Example.test', password: 'secret', quotaBytes: 1000, customerId: 'c-1' });
      assert.equal(user.address, 'alice@example.test');
      assert.equal(user.quotaBytes, 1000);
      assert.equal(user.customerId, 'c-1');
      assert.equal(user.enabled, true);
      assert.equal(user.role, 'user');
      const boxes = await store.mail.listMailboxes(user.id);
      const byName = Object.fromEntries(boxes.map((b) => [b.name, b.specialUse]));
      assert.deepEqual(byName, { INBOX: null, Sent: '\\Sent', Drafts: '\\Drafts', Trash: '\\Trash', Junk: '\\Junk' });
      const inbox = await store.mail.getMailbox(user.id, 'inbox');
      assert.equal(inbox?.name, 'INBOX');
      assert.equal(inbox?.uidNext, 1);
      assert.ok(inbox!.uidValidity > 0);
      await rejectsWith(store.directory.addUser({ address: 'alice@example.test', password: 'x' }), 'exists');
      await rejectsWith(store.directory.addUser({ address: 'bob@nowhere.test', password: 'x' }), 'not-found');
      await rejectsWith(store.directory.addUser({ address: 'not-an-address', password: 'x' }), 'bad-parameters');
      await rejectsWith(store.directory.addUser({ address: 'q@example.test', password: 'x', quotaBytes: -1 }), 'bad-parameters');
      await rejectsWith(store.directory.addUser({ address: 'q@example.test', password: '' }), 'bad-parameters');
    });

    test('authentication: right password, wrong password, unknown and disabled users', async () => {
      await store.directory.addUser({ address: 'carol@example.test', password: 'pässwörd' });
      assert.equal((await store.directory.authenticate('CAROL@example.test', 'pässwörd'))?.address, 'carol@example.test');
      assert.equal(await store.directory.authenticate('carol@example.test', 'wrong'), null);
      assert.equal(await store.directory.authenticate('nobody@example.test', 'pässwörd'), null);
      assert.equal(await store.directory.authenticate('garbage', 'x'), null);
      await store.directory.updateUser('carol@example.test', { enabled: false });
      assert.equal(await store.directory.authenticate('carol@example.test', 'pässwörd'), null);
      await store.directory.updateUser('carol@example.test', { enabled: true, password: 'new' });
      assert.equal(await store.directory.authenticate('carol@example.test', 'pässwörd'), null);
      assert.ok(await store.directory.authenticate('carol@example.test', 'new'));
    });

    test('aliases, catch-all and forwards resolve to local users and remote targets', async () => {
      const dave = await store.directory.addUser({ address: 'dave@example.test', password: 'x' });
      const erin = await store.directory.addUser({ address: 'erin@other.test', password: 'x' });
      await store.directory.addAlias('team@example.test', ['dave@example.test', 'erin@other.test', 'far@remote.test']);
      await store.directory.addAlias('loop1@example.test', ['loop2@example.test']);
      await store.directory.addAlias('loop2@example.test', ['loop1@example.test', 'dave@example.test']);
      const team = await store.directory.resolveRecipient('Team@example.test');
      assert.deepEqual(team?.localUsers.map((u) => u.id).sort(), [dave.id, erin.id].sort());
      assert.deepEqual(team?.remoteTargets, ['far@remote.test']);
      const loop = await store.directory.resolveRecipient('loop1@example.test');
      assert.deepEqual(loop?.localUsers.map((u) => u.id), [dave.id]);
      assert.equal(await store.directory.resolveRecipient('nobody@example.test'), null);
      assert.equal(await store.directory.resolveRecipient('dave@remote.test'), null);

      await store.directory.addAlias('@other.test', ['erin@other.test']);
      assert.deepEqual((await store.directory.resolveRecipient('anything@other.test'))?.localUsers.map((u) => u.id), [erin.id]);
      assert.deepEqual((await store.directory.listAliases('other.test')).map((a) => a.address), ['@other.test']);
      await store.directory.removeAlias('@other.test');
      assert.equal(await store.directory.resolveRecipient('anything@other.test'), null);

      await store.directory.addForward('dave@example.test', 'dave@remote.test');
      let r = await store.directory.resolveRecipient('dave@example.test');
      assert.deepEqual(r?.localUsers, []);
      assert.deepEqual(r?.remoteTargets, ['dave@remote.test']);
      await store.directory.removeForward('dave@example.test', 'dave@remote.test');
      await store.directory.addForward('dave@example.test', 'dave@remote.test', true);
      r = await store.directory.resolveRecipient('dave@example.test');
      assert.deepEqual(r?.localUsers.map((u) => u.id), [dave.id]);
      await rejectsWith(store.directory.addForward('dave@example.test', 'dave@remote.test'), 'exists');
      await rejectsWith(store.directory.addForward('ghost@example.test', 'x@remote.test'), 'not-found');
      assert.equal((await store.directory.listForwards()).length, 1);

      await store.directory.updateUser('erin@other.test', { enabled: false });
      assert.equal(await store.directory.resolveRecipient('erin@other.test'), null);
      await store.directory.updateUser('erin@other.test', { enabled: true });
    });

    test('delivery: per-mailbox UIDs, modseq, flags and quota usage in one transaction', async () => {
      const frank = await store.directory.addUser({ address: 'frank@example.test', password: 'x' });
      const gina = await store.directory.addUser({ address: 'gina@example.test', password: 'x' });
      const blob = await store.blobs.put(Buffer.from('Subject: hi\r\n\r\nhello\r\n'));
      const when = new Date('2026-01-02T03:04:05Z');
      const res = await store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: when, targets: [{ userId: frank.id }, { userId: gina.id, flags: ['\\Seen'] }], onOverQuota: 'fail' });
      assert.equal(res.stored.length, 2);
      const res2 = await store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: when, targets: [{ userId: frank.id }], onOverQuota: 'fail' });
      const inbox = (await store.mail.getMailbox(frank.id, 'INBOX'))!;
      const msgs = await store.mail.listMessages(inbox.id);
      assert.deepEqual(msgs.map((m) => m.uid), [1, 2]);
      assert.equal(res2.stored[0]!.uid, 2);
      assert.ok(msgs[1]!.modSeq > msgs[0]!.modSeq);
      assert.equal(inbox.uidNext, 3);
      assert.equal(inbox.highestModSeq, msgs[1]!.modSeq);
      assert.equal(msgs[0]!.internalDate.getTime(), when.getTime());
      assert.equal(msgs[0]!.blobId, blob.id);
      const ginaMsgs = await store.mail.listMessages((await store.mail.getMailbox(gina.id, 'INBOX'))!.id);
      assert.deepEqual(ginaMsgs[0]!.flags, ['\\Seen']);
      assert.equal((await store.directory.getUser('frank@example.test'))!.usedBytes, 2 * blob.size);

      await store.mail.expunge(inbox.id, [1 as Uid]);
      assert.deepEqual((await store.mail.listMessages(inbox.id)).map((m) => m.uid), [2]);
      assert.equal((await store.directory.getUser('frank@example.test'))!.usedBytes, blob.size);
      const after = (await store.mail.getMailbox(frank.id, 'INBOX'))!;
      assert.ok(after.highestModSeq > inbox.highestModSeq, 'expunge raises the modseq');
      // UIDs are never reused, even after the highest one is expunged.
      await store.mail.expunge(inbox.id, [2 as Uid]);
      const res3 = await store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: when, targets: [{ userId: frank.id }], onOverQuota: 'fail' });
      assert.equal(res3.stored[0]!.uid, 3);
      await store.mail.undeliver(res3.stored);
      assert.deepEqual(await store.mail.listMessages(inbox.id), []);
      assert.equal((await store.directory.getUser('frank@example.test'))!.usedBytes, 0);
    });

    test('quota: fail stores nothing for anyone, skip leaves out only the full user', async () => {
      const small = await store.directory.addUser({ address: 'small@example.test', password: 'x', quotaBytes: 100 });
      const big = await store.directory.addUser({ address: 'big@example.test', password: 'x' });
      const blob = await store.blobs.put(Buffer.alloc(60, 'a'));
      const d = { blobId: blob.id, size: blob.size, internalDate: new Date() };
      await store.mail.deliver({ ...d, targets: [{ userId: small.id }], onOverQuota: 'fail' });
      await rejectsWith(store.mail.deliver({ ...d, targets: [{ userId: big.id }, { userId: small.id }], onOverQuota: 'fail' }), 'over-quota');
      const bigInbox = (await store.mail.getMailbox(big.id, 'INBOX'))!;
      assert.equal((await store.mail.listMessages(bigInbox.id)).length, 0, 'the failed delivery left nothing behind');
      const res = await store.mail.deliver({ ...d, targets: [{ userId: big.id }, { userId: small.id }], onOverQuota: 'skip' });
      assert.deepEqual(res.overQuota, [small.id]);
      assert.equal(res.stored.length, 1);
      assert.equal((await store.directory.getUser('small@example.test'))!.usedBytes, 60);
    });

    test('mailboxes: create, refuse duplicates, fresh UIDVALIDITY', async () => {
      const hank = await store.directory.addUser({ address: 'hank@example.test', password: 'x' });
      const inbox = (await store.mail.getMailbox(hank.id, 'INBOX'))!;
      const mb = await store.mail.createMailbox(hank.id, 'Projects/Rookery');
      assert.equal(mb.name, 'Projects/Rookery');
      assert.ok(mb.uidValidity > inbox.uidValidity);
      await rejectsWith(store.mail.createMailbox(hank.id, 'Projects/Rookery'), 'exists');
      await rejectsWith(store.mail.createMailbox(hank.id, 'inbox'), 'exists');
    });

    test('maildrop lock: exclusive, renewable, released, and expires with its lease', async () => {
      const ivy = await store.directory.addUser({ address: 'ivy@example.test', password: 'x' });
      const lock = await store.mail.lockMaildrop(ivy.id, 'node1:1', 60_000);
      await rejectsWith(store.mail.lockMaildrop(ivy.id, 'node2:7', 60_000), 'in-use');
      await lock.renew();
      await lock.release();
      const short = await store.mail.lockMaildrop(ivy.id, 'node2:7', 50);
      await new Promise((r) => setTimeout(r, 80));
      const taken = await store.mail.lockMaildrop(ivy.id, 'node3:1', 60_000);
      await rejectsWith(short.renew(), 'in-use');
      await short.release(); // releasing a lost lock must not free the new holder's
      await rejectsWith(store.mail.lockMaildrop(ivy.id, 'node4:1', 60_000), 'in-use');
      await taken.release();
    });

    test('blobs: content-addressed, deduplicated, ranged reads, missing is not-found', async () => {
      const data = Buffer.from('From: a@b\r\n\r\n' + 'x'.repeat(100000));
      const w = store.blobs.createWriter();
      await w.write(data.subarray(0, 10));
      await w.write(data.subarray(10));
      const a = await w.commit();
      assert.equal(a.id, createHash('sha256').update(data).digest('hex'));
      assert.equal(a.size, data.length);
      const b = await store.blobs.put(Buffer.from(data));
      assert.equal(b.id, a.id);
      assert.deepEqual(await store.blobs.get(a.id), data);
      assert.deepEqual(await streamToBuffer(store.blobs.createReadStream(a.id, { start: 5, end: 25 })), data.subarray(5, 25));
      assert.deepEqual(await streamToBuffer(store.blobs.createReadStream(a.id, { start: 5, end: 5 })), Buffer.alloc(0));
      await rejectsWith(store.blobs.get('0'.repeat(64) as BlobId), 'not-found');
      const aborted = store.blobs.createWriter();
      await aborted.write(Buffer.from('never'));
      await aborted.abort();
      assert.ok((await store.blobs.freeBytes()) > 0);
    });

    test('settings: set, overwrite, read all', async () => {
      await store.settings.set('limits.maxRecipients', '10');
      await store.settings.set('limits.maxRecipients', '20');
      assert.equal(await store.settings.get('limits.maxRecipients'), '20');
      assert.equal(await store.settings.get('nothing'), null);
      assert.equal((await store.settings.all())['limits.maxRecipients'], '20');
    });
  });
}
