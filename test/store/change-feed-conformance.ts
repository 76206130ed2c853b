/**
 * The change feed's part of the conformance suite (called from
 * conformance.ts): every backend publishes what it committed, to its own
 * subscribers at once and to other Store objects on the same location
 * (other processes) shortly after; nothing for what it rolled back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MailboxId, Store, StoreChange, Uid, WatchedChange } from '../../src/store/types.js';

export const everyKind: readonly WatchedChange[] = ['mailbox', 'directory', 'settings', 'queue'];

/** Records what a feed tells one subscriber (of every kind unless told). */
export function record(store: Store, kinds: readonly WatchedChange[] = everyKind) {
  const seen: StoreChange[] = [];
  const waiters: { pred: (c: StoreChange) => boolean; resolve: (c: StoreChange) => void }[] = [];
  const stop = store.changes.subscribe(kinds, (change) => {
    seen.push(change);
    for (const w of [...waiters]) {
      if (w.pred(change)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(change);
      }
    }
  });
  return {
    seen,
    stop,
    /** What was seen apart from resyncs (which any backend may add at any time). */
    real: () => seen.filter((c) => c.kind !== 'resync'),
    clear: () => void seen.splice(0),
    /** Resolves with the first change (seen already or to come) that matches; rejects after ms. */
    waitFor(pred: (c: StoreChange) => boolean, ms = 3000, what = 'a change'): Promise<StoreChange> {
      const already = seen.find(pred);
      if (already) return Promise.resolve(already);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${what} did not arrive within ${ms} ms; seen: ${JSON.stringify(seen)}`)), ms);
        waiters.push({ pred, resolve: (c) => { clearTimeout(timer); resolve(c); } });
      });
    },
  };
}

export const isMailbox = (id: number) => (c: StoreChange) => c.kind === 'mailbox' && c.mailboxId === id;

/**
 * Waits until a subscriber of `listener` hears what `publisher` publishes:
 * a feed may take a moment to start listening after its first subscriber.
 */
export async function untilListening(publisher: Store, listener: ReturnType<typeof record>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  for (let n = 0; ; n++) {
    const domain = `probe-${n}.test`;
    await publisher.changes.publish({ kind: 'queue', domain });
    try {
      await listener.waitFor((c) => c.kind === 'queue' && c.domain === domain, 150, 'the probe');
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
  }
}

export function changeFeedConformance(store: () => Store, reopen: () => Promise<Store>): void {
  test('change feed: committed mailbox, directory and settings changes reach subscribers; rolled-back ones do not', async () => {
    const s = store();
    const feed = record(s);
    try {
      const u = await s.directory.addUser({ address: 'feed@example.test', password: 'x', quotaBytes: 1000 });
      await feed.waitFor((c) => c.kind === 'directory', 1000, 'the new user');
      const inbox = (await s.mail.getMailbox(u.id, 'INBOX'))!;
      const archive = await s.mail.createMailbox(u.id, 'FeedArchive');
      const blob = await s.blobs.put(Buffer.from('Subject: feed\r\n\r\n'));
      const deliver = () => s.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), targets: [{ userId: u.id }], onOverQuota: 'fail' });

      // Each change is told to this Store object's subscribers by the time the call returns.
      const checks: [string, () => Promise<unknown>, number[]][] = [
        ['deliver', deliver, [inbox.id]],
        ['updateFlags', () => s.mail.updateFlags(inbox.id, [1 as Uid], { operation: 'add', flags: ['\\Seen'] }), [inbox.id]],
        ['copyMessages', () => s.mail.copyMessages(inbox.id, [1 as Uid], archive.id), [archive.id]],
        ['moveMessages', async () => { await deliver(); return s.mail.moveMessages(inbox.id, [2 as Uid], archive.id); }, [inbox.id, archive.id]],
        ['expunge', () => s.mail.expunge(archive.id, [1 as Uid]), [archive.id]],
        ['renameMailbox', () => s.mail.renameMailbox(u.id, 'FeedArchive', 'FeedArchive2'), [archive.id]],
        ['deleteMailbox', () => s.mail.deleteMailbox(u.id, 'FeedArchive2'), [archive.id]],
      ];
      for (const [what, call, ids] of checks) {
        feed.clear();
        await call();
        for (const id of ids) assert.ok(feed.real().some(isMailbox(id)), `${what} told mailbox ${id}: ${JSON.stringify(feed.seen)}`);
      }

      feed.clear();
      await s.directory.updateUser('feed@example.test', { password: 'new password' });
      assert.ok(feed.real().some((c) => c.kind === 'directory'), 'a password change is a directory change');
      feed.clear();
      await s.settings.set('feed.setting', 'one');
      assert.deepEqual(feed.real(), [{ kind: 'settings', key: 'feed.setting' }]);
      feed.clear();
      await s.changes.publish({ kind: 'queue', domain: 'example.test' });
      assert.deepEqual(feed.real(), [{ kind: 'queue', domain: 'example.test' }]);

      // Nothing for what did not happen: a refused delivery, a flag change that changes nothing.
      feed.clear();
      await assert.rejects(s.mail.deliver({ blobId: blob.id, size: 5000, internalDate: new Date(), targets: [{ userId: u.id }], onOverQuota: 'fail' }));
      await s.mail.updateFlags(inbox.id, [1 as Uid], { operation: 'add', flags: ['\\Seen'] });
      await s.mail.expunge(inbox.id, [999 as Uid]);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(feed.real(), [], 'no notice for changes that were not made');

      // A listener that throws does not break the store call or the other listeners.
      const bad = s.changes.subscribe(everyKind, () => { throw new Error('listener bug'); });
      feed.clear();
      await deliver();
      assert.ok(feed.real().some(isMailbox(inbox.id)));
      bad();

      // After unsubscribing, nothing more arrives.
      feed.stop();
      feed.clear();
      await deliver();
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(feed.seen, []);
    } finally {
      feed.stop();
    }
  });

  test('change feed: another Store object on the same location hears of changes shortly after they commit', async () => {
    const s = store();
    const other = await reopen();
    const there = record(other);
    try {
      await untilListening(s, there);
      const u = await s.directory.addUser({ address: 'feed-far@example.test', password: 'x' });
      await there.waitFor((c) => c.kind === 'directory', 2000, 'the directory change');
      const inbox = (await s.mail.getMailbox(u.id, 'INBOX'))!;
      const blob = await s.blobs.put(Buffer.from('Subject: far\r\n\r\n'));
      const started = Date.now();
      await s.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), targets: [{ userId: u.id }], onOverQuota: 'fail' });
      await there.waitFor(isMailbox(inbox.id), 2000, 'the delivery');
      assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
      await s.mail.updateFlags(inbox.id, [1 as Uid], { operation: 'add', flags: ['\\Flagged'] });
      await s.settings.set('feed.test', 'x');
      await s.changes.publish({ kind: 'queue' });
      await there.waitFor((c) => c.kind === 'settings' && c.key === 'feed.test', 2000, 'the setting');
      await there.waitFor((c) => c.kind === 'queue' && c.domain === undefined, 2000, 'the queue notice');
      // Changes the other object makes itself reach it once, directly.
      there.clear();
      await other.mail.expunge(inbox.id as MailboxId, [1 as Uid]);
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(there.real().filter(isMailbox(inbox.id)).length, 1, JSON.stringify(there.seen));
    } finally {
      there.stop();
      await other.close();
    }
  });

  test('change feed: a subscriber hears only the kinds it asked for; one that starts watching mailboxes later hears them from then on', async () => {
    const s = store();
    const other = await reopen();
    const here = record(s, ['queue']);
    const there = record(other, ['directory', 'queue']);
    let thereBoxes: ReturnType<typeof record> | null = null;
    try {
      await untilListening(s, there);
      const u = await s.directory.addUser({ address: 'feed-kinds@example.test', password: 'x' });
      await there.waitFor((c) => c.kind === 'directory', 2000, 'the directory change');
      const inbox = (await s.mail.getMailbox(u.id, 'INBOX'))!;
      const blob = await s.blobs.put(Buffer.from('Subject: kinds\r\n\r\n'));
      const deliver = () => s.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), targets: [{ userId: u.id }], onOverQuota: 'fail' });
      await deliver();
      await s.settings.set('feed.kinds', 'x');
      await s.changes.publish({ kind: 'queue', domain: 'kinds.test' });
      await there.waitFor((c) => c.kind === 'queue' && c.domain === 'kinds.test', 2000, 'the queue notice');
      assert.deepEqual(there.real().filter((c) => c.kind !== 'directory' && c.kind !== 'queue'), [], 'no mailbox or settings change for a subscriber of neither');
      assert.ok(here.real().some((c) => c.kind === 'queue' && c.domain === 'kinds.test'));
      assert.ok(here.real().every((c) => c.kind === 'queue'), `here too, only queue notices: ${JSON.stringify(here.seen)}`);

      // Watching mailboxes from now on: once the feed listens for them (a moment, on
      // PostgreSQL), every delivery is heard, within a second.
      thereBoxes = record(other, ['mailbox']);
      const watcher = thereBoxes;
      const deadline = Date.now() + 5000;
      for (;;) {
        await deliver();
        try {
          await watcher.waitFor(isMailbox(inbox.id), 200, 'a delivery');
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
        }
      }
      for (let i = 0; i < 3; i++) {
        watcher.clear();
        await deliver();
        await watcher.waitFor(isMailbox(inbox.id), 1000, `delivery ${i}`);
      }
      assert.ok(watcher.real().every((c) => c.kind === 'mailbox'), JSON.stringify(watcher.seen));
    } finally {
      here.stop();
      there.stop();
      thereBoxes?.stop();
      await other.close();
    }
  });
}
