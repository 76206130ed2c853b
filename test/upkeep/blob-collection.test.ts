/**
 * The nodes' own blob collection (src/upkeep/blob-collection.ts): of two
 * nodes on one store, one takes each turn; the turn's outcome is kept in
 * the `blobs.collection` setting; the next turn comes after the node's
 * limits.blobCollectionHours and never with 0; a node that stops during its
 * turn stops the collection at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { Writable } from 'node:stream';
import pino from 'pino';
import { tempDir } from '../helpers/temp.js';
import { openStore } from '../../src/store/open.js';
import type { BlobId, Store } from '../../src/store/types.js';
import { collectionTurnSetting, startBlobCollectionSchedule, takeCollectionTurn, type BlobCollectionSchedule, type CollectionTurn } from '../../src/upkeep/blob-collection.js';

/** A logger whose lines are kept, to count what each node said. */
function capturingLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(...chunk.toString().split('\n').filter(Boolean)); done(); } });
  return { logger: pino(sink), lines };
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A store with one filed message and one body nothing refers to. */
async function storeWithStray(dir: string): Promise<{ store: Store; filed: BlobId; stray: BlobId }> {
  const store = await openStore(dir);
  await store.directory.addDomain('example.org');
  const user = await store.directory.addUser({ address: 'me@example.org', password: 'secret' });
  const filed = await store.blobs.put(Buffer.from('Subject: filed\r\n\r\nkeep me\r\n'));
  await store.mail.deliver({ blobId: filed.id, size: filed.size, internalDate: new Date(), targets: [{ userId: user.id }], onOverQuota: 'fail' });
  const stray = await store.blobs.put(Buffer.from('Subject: stray\r\n\r\nnobody files me\r\n'));
  return { store, filed: filed.id, stray: stray.id };
}

const present = (store: Store, id: BlobId) => store.blobs.get(id).then(() => true, () => false);
const turnOf = async (store: Store): Promise<CollectionTurn | null> => {
  const value = await store.settings.get(collectionTurnSetting);
  return value === null ? null : (JSON.parse(value) as CollectionTurn);
};

test('two nodes on one store: one collects, the turn is recorded, and the next comes only after the interval', async () => {
  const dir = await tempDir('rookery-upkeep-');
  const { store, filed, stray } = await storeWithStray(dir);
  const other = await openStore(dir);
  const schedules: BlobCollectionSchedule[] = [];
  try {
    const logs = [capturingLogger(), capturingLogger()];
    for (const [i, s] of [store, other].entries()) {
      schedules.push(startBlobCollectionSchedule({ store: s, nodeName: `n${i + 1}`, limits: { blobCollectionHours: 24 }, logger: logs[i]!.logger, checkEveryMs: 40, minAgeMs: 0, settleMs: 10 }));
    }
    const first = await until('a finished turn', async () => ((await turnOf(store))?.finishedAt ? turnOf(store) : null));
    assert.ok(first.node === 'n1' || first.node === 'n2');
    assert.equal(first.result?.removed, 1, JSON.stringify(first));
    assert.equal(first.error, undefined);
    assert.deepEqual([await present(store, filed), await present(store, stray)], [true, false]);

    // Many more looks by both, within the day: no other turn.
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal((await turnOf(store))?.startedAt, first.startedAt);
    const turnsTaken = logs.flatMap((l) => l.lines).filter((line) => line.includes('this node\'s turn')).length;
    assert.equal(turnsTaken, 1, 'one node collected, once');

    // The last turn a day and more ago: the next look takes a new one.
    await store.settings.set(collectionTurnSetting, JSON.stringify({ ...first, startedAt: new Date(Date.now() - 25 * 3_600_000).toISOString() }));
    const second = await until('a second turn', async () => {
      const t = await turnOf(store);
      return t?.finishedAt && Date.parse(t.startedAt) > Date.parse(first.startedAt) ? t : null;
    });
    assert.equal(second.result?.removed, 0, 'nothing left to remove');
  } finally {
    await Promise.all(schedules.map((s) => s.stop()));
    await other.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('limits.blobCollectionHours 0: no node collects', async () => {
  const dir = await tempDir('rookery-upkeep-');
  const { store, stray } = await storeWithStray(dir);
  // As a node's limits hold it after `rookery config set limits.blobCollectionHours 0`.
  const schedule = startBlobCollectionSchedule({ store, nodeName: 'n1', limits: { blobCollectionHours: 0 }, logger: capturingLogger().logger, checkEveryMs: 20, minAgeMs: 0, settleMs: 0 });
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await turnOf(store), null, 'no turn was taken');
    assert.ok(await present(store, stray));
  } finally {
    await schedule.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a node stopping during its turn stops the collection at once and says so in the turn', async () => {
  const dir = await tempDir('rookery-upkeep-');
  const { store, stray } = await storeWithStray(dir);
  const schedule = startBlobCollectionSchedule({ store, nodeName: 'n1', limits: { blobCollectionHours: 24 }, logger: capturingLogger().logger, checkEveryMs: 20, minAgeMs: 0, settleMs: 60_000 });
  try {
    await until('a turn taken', () => turnOf(store));
    const started = Date.now();
    await schedule.stop();
    assert.ok(Date.now() - started < 5_000, 'stop did not wait out the settle time');
    const turn = (await turnOf(store))!;
    assert.equal(turn.error, 'stopped with the node');
    assert.ok(turn.finishedAt);
    assert.ok(await present(store, stray), 'stopped before anything was deleted');
  } finally {
    await schedule.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a turn is not taken while the last one is younger than the interval, nor by two nodes looking at once', async () => {
  const dir = await tempDir('rookery-upkeep-');
  const store = await openStore(dir);
  try {
    const now = new Date();
    const taken = await Promise.all(['a', 'b', 'c'].map((n) => takeCollectionTurn(store.settings, n, 3_600_000, now)));
    assert.equal(taken.filter((t) => t !== null).length, 1);
    assert.equal(await takeCollectionTurn(store.settings, 'd', 3_600_000, new Date(now.getTime() + 60_000)), null, 'a minute later: not due');
    assert.notEqual(await takeCollectionTurn(store.settings, 'd', 3_600_000, new Date(now.getTime() + 3_600_000)), null, 'an hour later: due');
    assert.equal((await turnOf(store))?.node, 'd');
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
