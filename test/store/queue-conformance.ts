/**
 * The outbound queue's part of the store conformance suite (called from
 * conformance.ts, so every backend runs it unchanged).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { isStoreError } from '../../src/store/errors.js';
import type { Store } from '../../src/store/types.js';

async function rejectsWith(p: Promise<unknown>, category: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isStoreError(err), `expected a StoreError, got ${String(err)}`);
    assert.equal(err.category, category);
    return true;
  });
}

export function queueConformance(getStore: () => Store): void {
  const blob = async (text: string) => getStore().blobs.put(Buffer.from(`Subject: ${text}\r\n\r\n${text}\r\n`));

  test('queue: enqueue keeps one record per message and one state per recipient; bad input is refused', async () => {
    const store = getStore();
    const b = await blob('enqueue');
    const id = await store.queue.enqueue({ sender: 'a@example.test', blobId: b.id, size: b.size, recipients: ['x@Far.Test', 'y@far.test', 'x@Far.Test'], origin: 'node1' });
    assert.match(id, /^[0-9A-Z]+$/);
    const m = (await store.queue.get(id))!;
    assert.equal(m.sender, 'a@example.test');
    assert.equal(m.blobId, b.id);
    assert.equal(m.size, b.size);
    assert.equal(m.origin, 'node1');
    assert.ok(Math.abs(m.createdAt.getTime() - Date.now()) < 60_000);
    assert.deepEqual(m.recipients.map((r) => [r.address, r.domain, r.state, r.attempts, r.leaseOwner, r.delayWarned]),
      [['x@Far.Test', 'far.test', 'queued', 0, null, false], ['y@far.test', 'far.test', 'queued', 0, null, false]]);
    const nullSender = await store.queue.enqueue({ sender: '', blobId: b.id, size: b.size, recipients: ['z@far.test'], origin: 'node2' });
    assert.equal((await store.queue.get(nullSender))!.sender, '');
    await rejectsWith(store.queue.enqueue({ sender: 'a@example.test', blobId: b.id, size: b.size, recipients: [], origin: 'n' }), 'bad-parameters');
    await rejectsWith(store.queue.enqueue({ sender: 'a@example.test', blobId: b.id, size: b.size, recipients: ['nodomain'], origin: 'n' }), 'bad-parameters');
    await rejectsWith(store.queue.enqueue({ sender: 'not an address', blobId: b.id, size: b.size, recipients: ['x@far.test'], origin: 'n' }), 'bad-parameters');
    assert.equal(await store.queue.get('NOSUCHID'), null);
    await store.queue.delete(id);
    await store.queue.delete(nullSender);
    await rejectsWith(store.queue.delete(id), 'not-found');
    assert.deepEqual(await store.queue.list(), []);
  });

  test('queue: leases are exclusive, lapse after their time, and a lapsed holder cannot settle over the new one', async () => {
    const store = getStore();
    const b = await blob('leases');
    const id = await store.queue.enqueue({ sender: 's@example.test', blobId: b.id, size: b.size, recipients: ['r1@lease.test', 'r2@lease.test'], origin: 'n1' });
    const a = await store.queue.claim({ owner: 'A', leaseMs: 300, limit: 10 });
    assert.deepEqual(a.map((m) => [m.id, m.recipients.map((r) => r.address)]), [[id, ['r1@lease.test', 'r2@lease.test']]]);
    assert.ok(a[0]!.recipients.every((r) => r.leaseOwner === 'A' && r.leaseExpiresAt !== null));
    assert.deepEqual(await store.queue.claim({ owner: 'B', leaseMs: 300, limit: 10 }), [], 'nothing is claimed twice');
    assert.equal(await store.queue.renewLeases('A', 300), 2);
    await sleep(450);
    assert.equal(await store.queue.renewLeases('A', 300), 0, 'a lapsed lease is not renewed');
    const b2 = await store.queue.claim({ owner: 'B', leaseMs: 60_000, limit: 1 });
    assert.equal(b2.length, 1);
    assert.equal(b2[0]!.recipients.length, 1, 'limit counts recipients');
    const taken = b2[0]!.recipients[0]!.address;
    const other = taken === 'r1@lease.test' ? 'r2@lease.test' : 'r1@lease.test';
    // A died and came back: its outcome for B's recipient is ignored, for the free one it counts.
    await store.queue.settle(id, 'A', [{ address: taken, outcome: 'bounced', error: 'late' }, { address: other, outcome: 'delivered' }]);
    const mid = (await store.queue.get(id))!;
    assert.deepEqual(mid.recipients.map((r) => [r.address, r.state]).sort(), [[taken, 'queued'], [other, 'delivered']].sort());
    assert.equal(mid.recipients.find((r) => r.address === taken)!.leaseOwner, 'B');
    const done = await store.queue.settle(id, 'B', [{ address: taken, outcome: 'delivered' }]);
    assert.deepEqual(done, { removed: true }, 'a message whose recipients are all final disappears');
    assert.equal(await store.queue.get(id), null);
    assert.deepEqual(await store.queue.settle(id, 'B', [{ address: taken, outcome: 'delivered' }]), { removed: false });
  });

  test('queue: deferral counts attempts and keeps the error; flush (ETRN) makes a domain due at once', async () => {
    const store = getStore();
    const b = await blob('defer');
    const id = await store.queue.enqueue({ sender: 's@example.test', blobId: b.id, size: b.size,
      recipients: ['a@slow.test', 'b@mx.slow.test', 'c@other-slow.test'], origin: 'n1' });
    const claimed = await store.queue.claim({ owner: 'W', leaseMs: 60_000, limit: 10 });
    assert.equal(claimed.find((m) => m.id === id)!.recipients.length, 3);
    await store.queue.settle(id, 'W', ['a@slow.test', 'b@mx.slow.test', 'c@other-slow.test'].map((address) =>
      ({ address, outcome: 'deferred' as const, error: '451 4.3.0 try later', retryInMs: 3_600_000, delayWarned: address === 'a@slow.test' })));
    const m = (await store.queue.get(id))!;
    for (const r of m.recipients) {
      assert.equal(r.state, 'queued');
      assert.equal(r.attempts, 1);
      assert.equal(r.lastError, '451 4.3.0 try later');
      assert.equal(r.leaseOwner, null);
      assert.ok(r.nextAttemptAt.getTime() > Date.now() + 3_000_000);
    }
    assert.equal(m.recipients.find((r) => r.address === 'a@slow.test')!.delayWarned, true);
    assert.deepEqual(await store.queue.claim({ owner: 'W', leaseMs: 60_000, limit: 10 }), [], 'nothing is due');
    assert.equal(await store.queue.flush('SLOW.test'), 1);
    let due = await store.queue.claim({ owner: 'W', leaseMs: 60_000, limit: 10 });
    assert.deepEqual(due.flatMap((x) => x.recipients.map((r) => r.address)), ['a@slow.test']);
    await store.queue.settle(id, 'W', [{ address: 'a@slow.test', outcome: 'deferred', error: 'again', retryInMs: 3_600_000 }]);
    assert.equal((await store.queue.get(id))!.recipients.find((r) => r.address === 'a@slow.test')!.delayWarned, true, 'a warning stays recorded');
    assert.equal(await store.queue.flush('slow.test', { subdomains: true }), 2, 'the domain and its subdomains, not other-slow.test');
    due = await store.queue.claim({ owner: 'W', leaseMs: 60_000, limit: 10 });
    assert.deepEqual(due.flatMap((x) => x.recipients.map((r) => r.address)).sort(), ['a@slow.test', 'b@mx.slow.test']);
    await store.queue.settle(id, 'W', [{ address: 'a@slow.test', outcome: 'bounced', error: '550 5.1.1 no such user' }, { address: 'b@mx.slow.test', outcome: 'delivered' }]);
    assert.deepEqual((await store.queue.list({ domain: 'other-slow.test' })).map((x) => x.recipients.map((r) => r.address)), [['c@other-slow.test']]);
    assert.deepEqual((await store.queue.list({ domain: 'slow.test' })), [], 'final recipients are not listed');
    assert.ok(await store.queue.flush() >= 1);
    due = await store.queue.claim({ owner: 'W', leaseMs: 60_000, limit: 10 });
    await store.queue.settle(id, 'W', [{ address: 'c@other-slow.test', outcome: 'bounced', error: 'gave up' }]);
    assert.equal(await store.queue.get(id), null);
  });

  test('queue: list is oldest first with what is still queued; parallel claimers never share a recipient', async () => {
    const store = getStore();
    const b = await blob('parallel');
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      ids.push(await store.queue.enqueue({ sender: 's@example.test', blobId: b.id, size: b.size, recipients: [`a${i}@p.test`, `b${i}@q.test`], origin: 'n1' }));
    }
    const listed = await store.queue.list();
    assert.deepEqual(listed.map((m) => m.id), ids);
    assert.deepEqual(listed[0]!.recipients.map((r) => r.address), ['a0@p.test', 'b0@q.test']);
    const rounds = await Promise.all(['w1', 'w2', 'w3', 'w4'].map(async (owner) => {
      const got: string[] = [];
      for (;;) {
        const claimed = await store.queue.claim({ owner, leaseMs: 60_000, limit: 3 });
        if (claimed.length === 0) break;
        for (const m of claimed) for (const r of m.recipients) got.push(`${m.id}/${r.address}`);
      }
      return got;
    }));
    const all = rounds.flat();
    assert.equal(all.length, 20);
    assert.equal(new Set(all).size, 20, 'every recipient claimed exactly once');
    for (const id of ids) await store.queue.delete(id);
    assert.deepEqual(await store.queue.list(), []);
  });
}
