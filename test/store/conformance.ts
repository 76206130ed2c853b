/**
 * The store conformance suite: every backend must pass it unchanged.
 * A backend's test file calls storeConformance() with a way to open a
 * fresh, empty store.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { isStoreError } from '../../src/store/errors.js';
import { collectBlobs } from '../../src/store/blob-gc.js';
import type { BlobId, Store, Uid } from '../../src/store/types.js';
import { queueConformance } from './queue-conformance.js';
import { vacationConformance } from './vacation-conformance.js';
import { changeFeedConformance } from './change-feed-conformance.js';
import { loginFailuresConformance } from './login-failures-conformance.js';

export interface OpenedStore {
  store: Store;
  cleanup(): Promise<void>;
  /** Opens the same store once more, as another process would (for the change feed); the caller closes it. */
  reopen?(): Promise<Store>;
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

    test('flags: set, add, remove, case-insensitive keywords, one new modseq, UNCHANGEDSINCE', async () => {
      const u = await store.directory.addUser({ address: 'flags@example.test', password: 'x' });
      const inbox = (await store.mail.getMailbox(u.id, 'INBOX'))!;
      const blob = await store.blobs.put(Buffer.from('Subject: f\r\n\r\nf\r\n'));
      for (let i = 0; i < 3; i++) await store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), targets: [{ userId: u.id }], onOverQuota: 'fail' });
      const before = (await store.mail.getMailbox(u.id, 'INBOX'))!.highestModSeq;
      const r1 = await store.mail.updateFlags(inbox.id, [1, 2, 99] as Uid[], { operation: 'add', flags: ['\\Seen', '$Label1'] });
      assert.deepEqual(r1.updated.map((m) => m.uid), [1, 2]);
      assert.ok(r1.updated.every((m) => m.modSeq === r1.updated[0]!.modSeq && m.modSeq > before));
      const r2 = await store.mail.updateFlags(inbox.id, [1] as Uid[], { operation: 'add', flags: ['$label1'] });
      assert.deepEqual(r2.updated, [], 'adding a keyword it has (in another case) changes nothing');
      await store.mail.updateFlags(inbox.id, [1] as Uid[], { operation: 'remove', flags: ['$LABEL1'] });
      await store.mail.updateFlags(inbox.id, [3] as Uid[], { operation: 'set', flags: ['\\Flagged', '\\Deleted'] });
      const msgs = await store.mail.listMessages(inbox.id);
      assert.deepEqual(msgs.map((m) => m.flags), [['\\Seen'], ['\\Seen', '$Label1'], ['\\Flagged', '\\Deleted']]);
      const status = await store.mail.mailboxStatus(inbox.id);
      assert.deepEqual([status.messages, status.unseen, status.deleted, status.sizeBytes], [3, 1, 1, 3 * blob.size]);
      // CONDSTORE: message 1 is unchanged since its own last modseq; message 2 changes after it.
      const since = msgs[0]!.modSeq;
      await store.mail.updateFlags(inbox.id, [2] as Uid[], { operation: 'add', flags: ['$New'] });
      const r3 = await store.mail.updateFlags(inbox.id, [1, 2] as Uid[], { operation: 'add', flags: ['\\Answered'], unchangedSince: since });
      assert.deepEqual(r3.modified, [2]);
      assert.deepEqual(r3.updated.map((m) => m.uid), [1]);
    });

    test('copy and move: new UIDs in order, shared blobs, flags kept, quota checked, source expunged on move', async () => {
      const u = await store.directory.addUser({ address: 'mover@example.test', password: 'x', quotaBytes: 600 });
      const inbox = (await store.mail.getMailbox(u.id, 'INBOX'))!;
      const archive = await store.mail.createMailbox(u.id, 'Archive');
      const blob = await store.blobs.put(Buffer.alloc(100, 'm'));
      for (let i = 0; i < 3; i++) await store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), targets: [{ userId: u.id, flags: i === 0 ? ['\\Seen'] : [] }], onOverQuota: 'fail' });
      const copied = await store.mail.copyMessages(inbox.id, [3, 1] as Uid[], archive.id);
      assert.equal(copied.destinationUidValidity, archive.uidValidity);
      assert.deepEqual(copied.mapping, [{ sourceUid: 1, destinationUid: 1 }, { sourceUid: 3, destinationUid: 2 }]);
      const inArchive = await store.mail.listMessages(archive.id);
      assert.deepEqual(inArchive.map((m) => [m.uid, m.blobId, m.flags]), [[1, blob.id, ['\\Seen']], [2, blob.id, []]]);
      assert.equal((await store.directory.getUser('mover@example.test'))!.usedBytes, 500);
      const moved = await store.mail.moveMessages(inbox.id, [2] as Uid[], archive.id);
      assert.deepEqual(moved.mapping, [{ sourceUid: 2, destinationUid: 3 }]);
      assert.deepEqual((await store.mail.listMessages(inbox.id)).map((m) => m.uid), [1, 3]);
      assert.equal((await store.directory.getUser('mover@example.test'))!.usedBytes, 500, 'a move costs no quota');
      await rejectsWith(store.mail.copyMessages(inbox.id, [1, 3] as Uid[], archive.id), 'over-quota');
      assert.equal((await store.mail.listMessages(archive.id)).length, 3, 'a refused copy leaves nothing behind');
    });

    test('changesSince: additions, flag changes and expunges after a modseq', async () => {
      const u = await store.directory.addUser({ address: 'sync@example.test', password: 'x' });
      const inbox = (await store.mail.getMailbox(u.id, 'INBOX'))!;
      const blob = await store.blobs.put(Buffer.from('x'));
      for (let i = 0; i < 4; i++) await store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), targets: [{ userId: u.id }], onOverQuota: 'fail' });
      const mark = (await store.mail.getMailbox(u.id, 'INBOX'))!.highestModSeq;
      await store.mail.updateFlags(inbox.id, [2] as Uid[], { operation: 'add', flags: ['\\Seen'] });
      assert.deepEqual(await store.mail.expunge(inbox.id, [3, 4, 42] as Uid[]), [3, 4]);
      await store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), targets: [{ userId: u.id }], onOverQuota: 'fail' });
      const changes = await store.mail.changesSince(inbox.id, mark);
      assert.deepEqual(changes.changed.map((m) => m.uid), [2, 5]);
      assert.deepEqual(changes.expunged, [3, 4]);
      assert.equal(changes.uidNext, 6);
      assert.equal(changes.highestModSeq, (await store.mail.getMailbox(u.id, 'INBOX'))!.highestModSeq);
      const none = await store.mail.changesSince(inbox.id, changes.highestModSeq);
      assert.deepEqual([none.changed, none.expunged], [[], []]);
    });

    test('mailboxes: delete, rename with children, rename INBOX, subscriptions, fresh UIDVALIDITY', async () => {
      const u = await store.directory.addUser({ address: 'tree@example.test', password: 'x' });
      const blob = await store.blobs.put(Buffer.alloc(10, 't'));
      const work = await store.mail.createMailbox(u.id, 'Work');
      await store.mail.createMailbox(u.id, 'Work/2026');
      await store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), targets: [{ userId: u.id, mailboxName: 'Work/2026' }], onOverQuota: 'fail' });
      await rejectsWith(store.mail.deleteMailbox(u.id, 'Work'), 'exists');
      await rejectsWith(store.mail.deleteMailbox(u.id, 'INBOX'), 'permission');
      await rejectsWith(store.mail.deleteMailbox(u.id, 'Nope'), 'not-found');
      await store.mail.renameMailbox(u.id, 'Work', 'Jobs/Old');
      const names = (await store.mail.listMailboxes(u.id)).map((m) => m.name);
      assert.ok(names.includes('Jobs/Old') && names.includes('Jobs/Old/2026') && !names.includes('Work'));
      const renamed = (await store.mail.getMailbox(u.id, 'Jobs/Old'))!;
      assert.equal(renamed.id, work.id);
      assert.equal(renamed.uidValidity, work.uidValidity);
      assert.ok((await store.mail.listSubscriptions(u.id)).includes('Jobs/Old/2026'), 'subscriptions follow a rename');
      await rejectsWith(store.mail.renameMailbox(u.id, 'Jobs/Old', 'Sent'), 'exists');
      await rejectsWith(store.mail.renameMailbox(u.id, 'Jobs/Old', 'Jobs/Old/2026/x'), 'bad-parameters');

      await store.mail.deleteMailbox(u.id, 'Jobs/Old/2026');
      assert.equal((await store.directory.getUser('tree@example.test'))!.usedBytes, 0, 'deleting a mailbox releases its quota');
      const again = await store.mail.createMailbox(u.id, 'Jobs/Old/2026');
      const before = await store.mail.createMailbox(u.id, 'Gone');
      await store.mail.deleteMailbox(u.id, 'Gone');
      const recreated = await store.mail.createMailbox(u.id, 'Gone');
      assert.ok(recreated.uidValidity > before.uidValidity && again.uidValidity > work.uidValidity, 'a recreated name gets a new UIDVALIDITY');

      await store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), targets: [{ userId: u.id }], onOverQuota: 'fail' });
      await store.mail.renameMailbox(u.id, 'INBOX', 'Old Inbox');
      const oldInbox = (await store.mail.getMailbox(u.id, 'Old Inbox'))!;
      assert.equal((await store.mail.listMessages(oldInbox.id)).length, 1);
      assert.equal((await store.mail.listMessages((await store.mail.getMailbox(u.id, 'INBOX'))!.id)).length, 0);
      assert.equal((await store.directory.getUser('tree@example.test'))!.usedBytes, 10);

      await store.mail.setSubscribed(u.id, 'Does/Not/Exist', true);
      await store.mail.setSubscribed(u.id, 'Junk', false);
      const subs = await store.mail.listSubscriptions(u.id);
      assert.ok(subs.includes('Does/Not/Exist') && !subs.includes('Junk'));
      assert.equal((await store.mail.getMailbox(u.id, 'Junk'))!.subscribed, false);
      assert.equal((await store.mail.getMailbox(u.id, 'Sent'))!.subscribed, true);
    });

    test('edge cases both backends answer alike: rename onto a subscribed name, unknown users, a move at full quota', async () => {
      const u = await store.directory.addUser({ address: 'edges@example.test', password: 'x', quotaBytes: 100 });
      await store.mail.createMailbox(u.id, 'Old');
      await store.mail.setSubscribed(u.id, 'New', true);
      await store.mail.renameMailbox(u.id, 'Old', 'New');
      assert.ok((await store.mail.listSubscriptions(u.id)).includes('New'));
      assert.ok(!(await store.mail.listSubscriptions(u.id)).includes('Old'));

      const ghost = 987654 as typeof u.id;
      await rejectsWith(store.mail.lockMaildrop(ghost, 'x', 1000), 'not-found');
      await rejectsWith(store.mail.setSubscribed(ghost, 'Any', true), 'not-found');

      const blob = await store.blobs.put(Buffer.alloc(60, 'q'));
      await store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), targets: [{ userId: u.id }], onOverQuota: 'fail' });
      const inbox = (await store.mail.getMailbox(u.id, 'INBOX'))!;
      const dest = (await store.mail.getMailbox(u.id, 'New'))!;
      const moved = await store.mail.moveMessages(inbox.id, [1 as Uid], dest.id);
      assert.equal(moved.mapping.length, 1, 'a move at 60 of 100 bytes takes no more space, so it is not refused');
      assert.equal((await store.directory.getUser('edges@example.test'))!.usedBytes, 60);
    });

    test('message index: stored once per blob, replaced by a newer version', async () => {
      const blob = await store.blobs.put(Buffer.from('Subject: idx\r\n\r\n'));
      assert.equal(await store.mail.getMessageIndex(blob.id), null);
      await store.mail.putMessageIndex(blob.id, 1, '{"a":1}');
      await store.mail.putMessageIndex(blob.id, 2, '{"a":2}');
      assert.deepEqual(await store.mail.getMessageIndex(blob.id), { version: 2, json: '{"a":2}' });
      // The same version again keeps the stored row (writers put without reading first).
      await store.mail.putMessageIndex(blob.id, 2, '{"a":"other"}');
      assert.deepEqual(await store.mail.getMessageIndex(blob.id), { version: 2, json: '{"a":2}' });
      // Several at once (a backend may write them in one statement), one blob twice among them.
      const more = await Promise.all(['idx 2', 'idx 3'].map((subject) => store.blobs.put(Buffer.from(`Subject: ${subject}\r\n\r\n`))));
      await Promise.all([
        store.mail.putMessageIndex(more[1]!.id, 2, '{"b":1}'),
        store.mail.putMessageIndex(more[0]!.id, 2, '{"b":0}'),
        store.mail.putMessageIndex(more[0]!.id, 2, '{"b":0}'),
        store.mail.putMessageIndex(blob.id, 3, '{"a":3}'),
      ]);
      assert.deepEqual(await store.mail.getMessageIndex(more[0]!.id), { version: 2, json: '{"b":0}' });
      assert.deepEqual(await store.mail.getMessageIndex(more[1]!.id), { version: 2, json: '{"b":1}' });
      assert.deepEqual(await store.mail.getMessageIndex(blob.id), { version: 3, json: '{"a":3}' });
    });

    test('deliveries made at once: a refused one costs the others nothing, and each answer is its own', async () => {
      const roomy = await store.directory.addUser({ address: 'roomy@example.test', password: 'x' });
      const tight = await store.directory.addUser({ address: 'tight@example.test', password: 'x', quotaBytes: 10 });
      const blob = await store.blobs.put(Buffer.alloc(40, 'g'));
      const d = { blobId: blob.id, size: blob.size, internalDate: new Date(), onOverQuota: 'fail' as const };
      const outcomes = await Promise.allSettled(Array.from({ length: 12 }, (_, i) =>
        store.mail.deliver({ ...d, targets: [{ userId: i % 3 === 1 ? tight.id : roomy.id }] })));
      outcomes.forEach((o, i) => {
        if (i % 3 === 1) assert.ok(o.status === 'rejected' && isStoreError(o.reason, 'over-quota'), `delivery ${i} to the full mailbox is refused`);
        else assert.ok(o.status === 'fulfilled' && o.value.stored.length === 1, `delivery ${i} is stored`);
      });
      const inbox = (await store.mail.getMailbox(roomy.id, 'INBOX'))!;
      assert.deepEqual((await store.mail.listMessages(inbox.id)).map((m) => m.uid), [1, 2, 3, 4, 5, 6, 7, 8]);
      assert.equal((await store.directory.getUser('roomy@example.test'))!.usedBytes, 8 * 40);
      assert.equal((await store.directory.getUser('tight@example.test'))!.usedBytes, 0);
    });

    test('message index given with a delivery: stored with it, kept if stored already, not stored when the delivery is refused', async () => {
      const u = await store.directory.addUser({ address: 'indexed@example.test', password: 'x', quotaBytes: 100 });
      const blob = await store.blobs.put(Buffer.from('Subject: with index\r\n\r\nbody\r\n'));
      const delivery = { blobId: blob.id, size: blob.size, internalDate: new Date(), targets: [{ userId: u.id }], onOverQuota: 'fail' as const };
      await store.mail.deliver({ ...delivery, index: { version: 2, json: '{"d":1}' } });
      assert.deepEqual(await store.mail.getMessageIndex(blob.id), { version: 2, json: '{"d":1}' });
      // A second copy of the same blob with the same version keeps the row; a newer version replaces it.
      await store.mail.deliver({ ...delivery, index: { version: 2, json: '{"d":"other"}' } });
      assert.deepEqual(await store.mail.getMessageIndex(blob.id), { version: 2, json: '{"d":1}' });
      // Refused (over quota): neither the copy nor the index.
      const big = await store.blobs.put(Buffer.alloc(200, 'b'));
      await rejectsWith(store.mail.deliver({ ...delivery, blobId: big.id, size: big.size, index: { version: 2, json: '{"big":1}' } }), 'over-quota');
      assert.equal(await store.mail.getMessageIndex(big.id), null);
      const inbox = (await store.mail.getMailbox(u.id, 'INBOX'))!;
      assert.equal((await store.mail.listMessages(inbox.id)).length, 2);
    });

    test('blob collection: old unreferenced blobs and their indexes go; kept, queued and young ones stay; a reused one is put back', async () => {
      const u = await store.directory.addUser({ address: 'gc@example.test', password: 'x' });
      const inbox = (await store.mail.getMailbox(u.id, 'INBOX'))!;
      const deliver = async (text: string) => {
        const blob = await store.blobs.put(Buffer.from(text));
        const { stored } = await store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), targets: [{ userId: u.id }], onOverQuota: 'fail' });
        return { blob, uid: stored[0]!.uid };
      };
      const kept = await deliver('Subject: kept\r\n\r\nkept\r\n');
      const expunged = await deliver('Subject: expunged\r\n\r\ngone soon\r\n');
      await store.mail.putMessageIndex(expunged.blob.id, 2, '{"e":1}');
      await store.mail.expunge(inbox.id, [expunged.uid]);
      const queued = await store.blobs.put(Buffer.from('Subject: queued\r\n\r\nfor far away\r\n'));
      const queueId = await store.queue.enqueue({ sender: 'gc@example.test', blobId: queued.id, size: queued.size, recipients: ['x@far.test'], origin: 'node1' });
      const stray = await store.blobs.put(Buffer.from('Subject: never filed\r\n\r\nstray\r\n'));
      const present = async (id: BlobId) => store.blobs.get(id).then(() => true, (e: unknown) => (isStoreError(e, 'not-found') ? false : Promise.reject(e)));

      // Written within the last hour: too young, whatever refers to them.
      const young = await collectBlobs(store, { minAgeMs: 3_600_000, settleMs: 0 });
      assert.equal(young.removed, 0);
      const dry = await collectBlobs(store, { minAgeMs: 0, settleMs: 0, dryRun: true });
      assert.ok(dry.unreferenced >= 2 && dry.removed === 0 && await present(stray.id), 'a dry run deletes nothing');

      const run = await collectBlobs(store, { minAgeMs: 0, settleMs: 10 });
      assert.ok(run.removed >= 2 && run.removedBytes >= expunged.blob.size + stray.size);
      assert.deepEqual([await present(kept.blob.id), await present(queued.id)], [true, true], 'a filed and a queued blob stay');
      assert.deepEqual([await present(expunged.blob.id), await present(stray.id)], [false, false], 'the expunged and the stray one are gone');
      assert.equal(await store.mail.getMessageIndex(expunged.blob.id), null, 'with its MIME index');
      assert.deepEqual(await store.mail.blobsInUse([kept.blob.id, queued.id, stray.id]), new Set([kept.blob.id, queued.id]));

      // Written again after the cutoff (a delivery of the same content): put back at once.
      const reused = await store.blobs.put(Buffer.from('Subject: reused\r\n\r\n'));
      assert.equal(await store.blobs.setAside(reused.id, new Date(Date.now() - 60_000)), 'reused');
      assert.ok(await present(reused.id));
      // Set aside, then the same content written: the writer's copy serves, and putting back keeps it.
      assert.equal(await store.blobs.setAside(reused.id, new Date(Date.now() + 60_000)), 'set-aside');
      assert.equal(await present(reused.id), false);
      assert.equal((await store.blobs.put(Buffer.from('Subject: reused\r\n\r\n'))).id, reused.id);
      await store.blobs.restore(reused.id);
      assert.ok(await present(reused.id));
      // Left set aside by a collection that stopped midway: the next one puts it back first.
      assert.equal(await store.blobs.setAside(kept.blob.id, new Date(Date.now() + 60_000)), 'set-aside');
      const next = await collectBlobs(store, { minAgeMs: 3_600_000, settleMs: 0 });
      assert.equal(next.restoredFromEarlierRun, 1);
      assert.ok(await present(kept.blob.id));
      assert.equal(await store.blobs.setAside('0'.repeat(64) as BlobId, new Date()), 'gone');
      await store.queue.delete(queueId); // the queue tests that follow start from an empty queue
    });

    test('cluster registry: register, heartbeat, drain, stale members are down, remove', async () => {
      const reg = (name: string, role: 'node' | 'balancer' = 'node') => store.cluster.register({
        name, role, address: '127.0.0.11', host: 'box', pid: 1234, version: '0.1.0',
        services: { smtp: { port: 10025, healthy: true }, pop3: { port: 10110, healthy: true } },
      });
      await reg('node1');
      await reg('lb1', 'balancer');
      let members = await store.cluster.list();
      assert.deepEqual(members.map((m) => [m.name, m.role, m.state]), [['node1', 'node', 'up'], ['lb1', 'balancer', 'up']]);
      assert.deepEqual(members[0]!.services.smtp, { port: 10025, healthy: true });
      await store.cluster.heartbeat('node1', { smtp: { port: 10025, healthy: false }, pop3: { port: 10110, healthy: true } });
      assert.equal((await store.cluster.get('node1'))!.services.smtp!.healthy, false);
      await store.cluster.setState('node1', 'draining');
      await store.cluster.heartbeat('node1', { smtp: { port: 10025, healthy: true } });
      assert.equal((await store.cluster.get('node1'))!.state, 'draining', 'a heartbeat does not undo a drain');
      await reg('node1');
      assert.equal((await store.cluster.get('node1'))!.state, 'up', 'a restart registers afresh');
      await new Promise((r) => setTimeout(r, 30));
      assert.equal((await store.cluster.get('node1', { staleAfterMs: 10 }))!.state, 'down', 'a silent member is down');
      await store.cluster.setState('node1', 'down');
      assert.equal((await store.cluster.get('node1'))!.state, 'down');
      await rejectsWith(store.cluster.heartbeat('ghost', {}), 'not-found');
      await rejectsWith(store.cluster.setState('node1', 'sleepy' as 'up'), 'bad-parameters');
      await rejectsWith(reg('bad name!'), 'bad-parameters');
      await store.cluster.remove('lb1');
      assert.equal(await store.cluster.get('lb1'), null);
      await store.cluster.remove('node1');
    });

    test("cluster registry: a traffic manager's source address is kept, and left out when not given", async () => {
      const base = { role: 'balancer' as const, address: '127.0.0.1', host: 'box', pid: 1, version: '0.1.0', services: {} };
      await store.cluster.register({ ...base, name: 'lb-src', sourceAddress: '127.0.0.2' });
      await store.cluster.register({ ...base, name: 'lb-plain' });
      assert.equal((await store.cluster.get('lb-src'))!.sourceAddress, '127.0.0.2');
      assert.equal('sourceAddress' in (await store.cluster.get('lb-plain'))!, false);
      await store.cluster.register({ ...base, name: 'lb-src' });
      assert.equal((await store.cluster.get('lb-src'))!.sourceAddress, undefined, 'a new registration replaces what was known');
      await store.cluster.remove('lb-src');
      await store.cluster.remove('lb-plain');
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

    // Calls made at once (a networked backend runs them on several connections):
    // nothing may be lost, duplicated or counted twice.
    test('concurrency: parallel deliveries get unique UIDs and respect the quota exactly', async () => {
      const u = await store.directory.addUser({ address: 'busy@example.test', password: 'x', quotaBytes: 500 });
      const inbox = (await store.mail.getMailbox(u.id, 'INBOX'))!;
      const blob = await store.blobs.put(Buffer.alloc(50, 'b'));
      const d = { blobId: blob.id, size: blob.size, internalDate: new Date() };
      const results = await Promise.all(Array.from({ length: 16 }, () =>
        store.mail.deliver({ ...d, targets: [{ userId: u.id }], onOverQuota: 'skip' })));
      assert.equal(results.reduce((n, r) => n + r.stored.length, 0), 10, 'exactly the quota is filled');
      assert.equal(results.reduce((n, r) => n + r.overQuota.length, 0), 6);
      const msgs = await store.mail.listMessages(inbox.id);
      assert.deepEqual(msgs.map((m) => m.uid), Array.from({ length: 10 }, (_, i) => i + 1));
      assert.equal(new Set(msgs.map((m) => m.modSeq)).size, 10, 'every delivery has its own modseq');
      assert.equal((await store.directory.getUser('busy@example.test'))!.usedBytes, 500);
      const over = await Promise.allSettled([1, 2, 3].map(() => store.mail.deliver({ ...d, targets: [{ userId: u.id }], onOverQuota: 'fail' })));
      assert.ok(over.every((r) => r.status === 'rejected' && isStoreError(r.reason, 'over-quota')));

      // Two sessions expunging overlapping sets: each message is removed, tombstoned and refunded once.
      const mark = (await store.mail.getMailbox(u.id, 'INBOX'))!.highestModSeq;
      const [a, b] = await Promise.all([
        store.mail.expunge(inbox.id, [1, 2, 3, 4, 5, 6] as Uid[]),
        store.mail.expunge(inbox.id, [4, 5, 6, 7, 8] as Uid[]),
      ]);
      assert.deepEqual([...a!, ...b!].sort((x, y) => x - y), [1, 2, 3, 4, 5, 6, 7, 8]);
      assert.equal((await store.directory.getUser('busy@example.test'))!.usedBytes, 100);
      assert.deepEqual((await store.mail.changesSince(inbox.id, mark)).expunged, [1, 2, 3, 4, 5, 6, 7, 8]);
    });

    test('concurrency: parallel flag changes, moves, maildrop lockers and creators', async () => {
      const u = await store.directory.addUser({ address: 'racer@example.test', password: 'x' });
      const inbox = (await store.mail.getMailbox(u.id, 'INBOX'))!;
      const blob = await store.blobs.put(Buffer.from('Subject: race\r\n\r\n'));
      for (let i = 0; i < 12; i++) await store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), targets: [{ userId: u.id }], onOverQuota: 'fail' });
      const uids = Array.from({ length: 12 }, (_, i) => (i + 1) as Uid);

      // Three sessions each add their own keyword, one message at a time: no update is lost.
      await Promise.all(['$A', '$B', '$C'].map((k, i) =>
        Promise.all(uids.map((uid) => store.mail.updateFlags(inbox.id, [uids[(uid + 4 * i) % 12]!], { operation: 'add', flags: [k] })))));
      const flagged = await store.mail.listMessages(inbox.id);
      for (const m of flagged) assert.deepEqual([...m.flags].sort(), ['$A', '$B', '$C'], `UID ${m.uid}`);
      assert.equal(new Set(flagged.map((m) => m.modSeq)).size, 12);

      // Moves of disjoint messages at once land on distinct destination UIDs.
      const dest = await store.mail.createMailbox(u.id, 'Raced');
      const moves = await Promise.all(uids.map((uid) => store.mail.moveMessages(inbox.id, [uid], dest.id)));
      assert.deepEqual(moves.flatMap((r) => r.mapping.map((m) => m.destinationUid)).sort((x, y) => x - y), uids);
      assert.deepEqual(await store.mail.listMessages(inbox.id), []);
      assert.equal((await store.directory.getUser('racer@example.test'))!.usedBytes, 12 * blob.size);

      // Exactly one of several sessions gets the maildrop.
      const takers = await Promise.allSettled([1, 2, 3, 4, 5].map((n) => store.mail.lockMaildrop(u.id, `node${n}:1`, 60_000)));
      assert.equal(takers.filter((t) => t.status === 'fulfilled').length, 1);
      assert.ok(takers.every((t) => t.status === 'fulfilled' || isStoreError(t.reason, 'in-use')));
      for (const t of takers) if (t.status === 'fulfilled') await t.value.release();

      // Creating one name at once: one wins, the others hear 'exists'.
      const creators = await Promise.allSettled([1, 2, 3].map(() => store.mail.createMailbox(u.id, 'Once')));
      assert.equal(creators.filter((c) => c.status === 'fulfilled').length, 1);
      assert.ok(creators.every((c) => c.status === 'fulfilled' || isStoreError(c.reason, 'exists')));
      const adders = await Promise.allSettled([1, 2, 3].map(() => store.directory.addUser({ address: 'twin@example.test', password: 'x' })));
      assert.equal(adders.filter((c) => c.status === 'fulfilled').length, 1);
      assert.ok(adders.every((c) => c.status === 'fulfilled' || isStoreError(c.reason, 'exists')));
    });

    queueConformance(() => store);

    vacationConformance(() => store);

    loginFailuresConformance(() => store);

    changeFeedConformance(() => store, () => opened.reopen?.() ?? Promise.reject(new Error('this backend test gives no reopen(), which the change feed tests need')));

    test('access tokens: create, find, list, touch, expire, remove', async () => {
      const hash = 'a'.repeat(64);
      const admin = await store.tokens.create({ id: '0123456789abcdef', kind: 'api', secretHash: hash, role: 'admin', label: 'backups' });
      assert.equal(admin.role, 'admin');
      assert.equal(admin.domain, null);
      assert.equal(admin.subject, null);
      assert.equal(admin.label, 'backups');
      assert.equal(admin.lastUsedAt, null);
      await rejectsWith(store.tokens.create({ id: '0123456789abcdef', kind: 'api', secretHash: hash, role: 'admin' }), 'exists');
      await rejectsWith(store.tokens.create({ id: 'NOT-HEX', kind: 'api', secretHash: hash, role: 'admin' }), 'bad-parameters');
      await rejectsWith(store.tokens.create({ id: 'aaaaaaaaaaaaaaa1', kind: 'api', secretHash: hash, role: 'root' as never }), 'bad-parameters');
      await rejectsWith(store.tokens.create({ id: 'aaaaaaaaaaaaaaa2', kind: 'api', secretHash: hash, role: 'domain-admin' }), 'bad-parameters');
      await rejectsWith(store.tokens.create({ id: 'aaaaaaaaaaaaaaa3', kind: 'api', secretHash: hash, role: 'user' }), 'bad-parameters');
      const da = await store.tokens.create({ id: 'bbbbbbbbbbbbbbbb', kind: 'api', secretHash: 'b'.repeat(64), role: 'domain-admin', domain: 'Example.TEST' });
      assert.equal(da.domain, 'example.test');
      const session = await store.tokens.create({ id: 'cccccccccccccccc', kind: 'session', secretHash: 'c'.repeat(64), role: 'user', subject: 'Tok@Example.test', expiresAt: new Date(Date.now() + 60_000) });
      assert.equal(session.subject, 'tok@example.test');
      await store.tokens.create({ id: 'dddddddddddddddd', kind: 'session', secretHash: 'd'.repeat(64), role: 'user', subject: 'tok@example.test', expiresAt: new Date(Date.now() - 1000) });

      const found = await store.tokens.find('bbbbbbbbbbbbbbbb');
      assert.equal(found?.secretHash, 'b'.repeat(64));
      assert.equal(found?.token.role, 'domain-admin');
      assert.equal(await store.tokens.find('dddddddddddddddd'), null, 'an expired token is not found');
      assert.equal(await store.tokens.find('eeeeeeeeeeeeeeee'), null);
      assert.deepEqual((await store.tokens.list()).map((t) => t.id).sort(), ['0123456789abcdef', 'bbbbbbbbbbbbbbbb', 'cccccccccccccccc']);
      assert.deepEqual((await store.tokens.list({ kind: 'session' })).map((t) => t.id), ['cccccccccccccccc']);

      const used = new Date(Date.now() - 5000);
      await store.tokens.touch('0123456789abcdef', used);
      assert.equal((await store.tokens.find('0123456789abcdef'))?.token.lastUsedAt?.getTime(), used.getTime());

      assert.equal(await store.tokens.removeExpired(), 1);
      assert.equal(await store.tokens.removeForSubject('TOK@example.test'), 1);
      await store.tokens.remove('0123456789abcdef');
      await rejectsWith(store.tokens.remove('0123456789abcdef'), 'not-found');
      await store.tokens.remove('bbbbbbbbbbbbbbbb');
      assert.deepEqual(await store.tokens.list(), []);
    });

    test('settings: set, overwrite, read all', async () => {
      await store.settings.set('limits.maxRecipients', '10');
      await store.settings.set('limits.maxRecipients', '20');
      assert.equal(await store.settings.get('limits.maxRecipients'), '20');
      assert.equal(await store.settings.get('nothing'), null);
      assert.equal((await store.settings.all())['limits.maxRecipients'], '20');
      assert.equal(await store.settings.setIfAbsent('first', 'a'), 'a');
      assert.equal(await store.settings.setIfAbsent('first', 'b'), 'a', 'the first writer wins');
    });

    test('settings: compare-and-set takes a value only from the one who saw the current one; of many at once, one wins', async () => {
      assert.equal(await store.settings.compareAndSet('turn', 'x', 'a'), false, 'no value yet, so not "x"');
      assert.equal(await store.settings.compareAndSet('turn', null, 'a'), true);
      assert.equal(await store.settings.compareAndSet('turn', null, 'b'), false, 'it has a value now');
      assert.equal(await store.settings.compareAndSet('turn', 'b', 'c'), false);
      assert.equal(await store.settings.get('turn'), 'a');
      const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => store.settings.compareAndSet('turn', 'a', `node${i}`)));
      assert.equal(outcomes.filter(Boolean).length, 1, 'one of ten at once wins');
      assert.equal(await store.settings.get('turn'), `node${outcomes.indexOf(true)}`);
      const fresh = await Promise.all(Array.from({ length: 10 }, (_, i) => store.settings.compareAndSet('fresh-turn', null, `node${i}`)));
      assert.equal(fresh.filter(Boolean).length, 1, 'one of ten first writers wins');
    });
  });
}
