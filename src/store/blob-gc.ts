/**
 * Collection of message bodies nothing refers to any more: after an
 * expunge, a failed delivery, a bounce that was sent. A blob is deleted only
 * when all of these hold:
 *
 * 1. its file was last written or reused before the cutoff (`minAgeMs`
 *    ago, a day by default): a delivery that wrote it moments ago may not
 *    have committed its message yet;
 * 2. no message and no queued outbound message refers to it, asked twice,
 *    `settleMs` apart, so a copy or move that read the reference before the
 *    first answer has committed by the second;
 * 3. set aside (moved to trash/), it was not reused meanwhile (its time is
 *    still before the cutoff; a writer that found it gone wrote its own
 *    copy), and a third look at the references still finds none.
 *
 * Anything that fails a test is put back where it was. A collection that
 * stops midway leaves blobs in trash/; the next one puts them back first.
 * Nothing here depends on a backend: the store says what is referenced, the
 * blob files say how old they are.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { BlobId, Store } from './types.js';

export interface BlobCollectionOptions {
  /** Blobs written or reused more recently than this are left alone. */
  minAgeMs: number;
  /** Time between the first and the second look at the references. */
  settleMs: number;
  /** Count what would go, delete nothing. */
  dryRun?: boolean;
  /** Blobs asked about in one store call. */
  batchSize?: number;
  /**
   * Stops the collection early (a node stopping): it rejects with the
   * signal's reason, between blobs and during the settle time; blobs set
   * aside in the batch under way are deleted or put back first.
   */
  signal?: AbortSignal;
}

/** What `rookery store gc` and the nodes' own collections use unless told otherwise. */
export const collectionDefaults = { minAgeMs: 24 * 3_600_000, settleMs: 60_000 };

export interface BlobCollectionResult {
  /** Blobs old enough to be looked at. */
  examined: number;
  /** Of those, found without a reference (and, unless a dry run, deleted). */
  unreferenced: number;
  removed: number;
  removedBytes: number;
  /** Found unreferenced, then kept: referenced after all, or reused by a delivery meanwhile. */
  keptAfterAll: number;
  /** Left in trash/ by an earlier collection that stopped midway, and put back. */
  restoredFromEarlierRun: number;
}

const defaultBatchSize = 500;

function* batches<T>(items: T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

export async function collectBlobs(store: Store, opts: BlobCollectionOptions): Promise<BlobCollectionResult> {
  const batchSize = opts.batchSize ?? defaultBatchSize;
  const result: BlobCollectionResult = { examined: 0, unreferenced: 0, removed: 0, removedBytes: 0, keptAfterAll: 0, restoredFromEarlierRun: 0 };
  if (!opts.dryRun) result.restoredFromEarlierRun = await store.blobs.restoreAllSetAside();
  const cutoff = new Date(Date.now() - opts.minAgeMs);

  // First look: old enough and unreferenced.
  let candidates: { id: BlobId; size: number }[] = [];
  let pending: { id: BlobId; size: number }[] = [];
  const firstLook = async () => {
    const inUse = await store.mail.blobsInUse(pending.map((b) => b.id));
    for (const b of pending) if (!inUse.has(b.id)) candidates.push(b);
    pending = [];
  };
  const signal = opts.signal;
  for await (const blob of store.blobs.listIdleSince(cutoff)) {
    signal?.throwIfAborted();
    result.examined++;
    pending.push(blob);
    if (pending.length >= batchSize) await firstLook();
  }
  await firstLook();
  result.unreferenced = candidates.length;
  if (candidates.length === 0 || opts.dryRun) return result;

  // Second look, after the settle time.
  await sleep(opts.settleMs, undefined, signal ? { signal } : {});
  const settled: { id: BlobId; size: number }[] = [];
  for (const batch of batches(candidates, batchSize)) {
    const inUse = await store.mail.blobsInUse(batch.map((b) => b.id));
    for (const b of batch) {
      if (inUse.has(b.id)) result.keptAfterAll++;
      else settled.push(b);
    }
  }
  candidates = [];

  // Set aside, look a third time, then delete or put back.
  for (const batch of batches(settled, batchSize)) {
    signal?.throwIfAborted();
    const asideNow: { id: BlobId; size: number }[] = [];
    for (const b of batch) {
      const outcome = await store.blobs.setAside(b.id, cutoff);
      if (outcome === 'set-aside') asideNow.push(b);
      else if (outcome === 'reused') result.keptAfterAll++;
    }
    const inUse = await store.mail.blobsInUse(asideNow.map((b) => b.id));
    const removed: BlobId[] = [];
    for (const b of asideNow) {
      if (inUse.has(b.id)) {
        await store.blobs.restore(b.id);
        result.keptAfterAll++;
        continue;
      }
      await store.blobs.discard(b.id);
      removed.push(b.id);
      result.removed++;
      result.removedBytes += b.size;
    }
    await store.mail.forgetMessageIndexes(removed);
  }
  return result;
}
