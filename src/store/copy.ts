/**
 * `rookery store copy`: moves a whole installation from one store to
 * another (the embedded store to PostgreSQL, and back), through the
 * backends' StoreTransfer: every domain, user (password hashes as they
 * are), alias, forward, mailbox (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ),
 * subscription, message (UID, flags, modseq, internal date), expunge
 * tombstone, MIME index, setting and vacation auto-reply (with its log of
 * replies sent), with the same ids; and every blob
 * the messages use.
 *
 * Order of durability: the blobs of each batch of messages are copied (and
 * made durable) before the batch is handed to the target, and the target
 * loads everything in one transaction, so it never shows a message whose
 * blob is missing, and a copy that fails leaves the target as empty as it
 * was (blobs already copied stay, unreferenced).
 *
 * The source should be quiet (nodes stopped): the copy reads one snapshot,
 * and anything written after it is not copied. Not copied, because they
 * belong to running processes: maildrop locks, the cluster registry, the
 * change log; nor the outbound queue (not part of the dump yet).
 */
import { StoreError } from './errors.js';
import type { BlobId, Store, StoreDumpBatch } from './types.js';

export type CopyCounts = Record<StoreDumpBatch['table'] | 'blobs', number>;

export interface CopyOptions {
  /** Called after each batch with the counts so far. */
  onProgress?(counts: CopyCounts): void;
}

/** Blobs copied at once. */
const blobConcurrency = 8;

export async function copyStore(from: Store, to: Store, opts: CopyOptions = {}): Promise<CopyCounts> {
  if (from.location === to.location) throw new StoreError('bad-parameters', 'the source and the target are the same store');
  if (!(await to.transfer.isEmpty())) {
    throw new StoreError('exists', `the store at ${to.location} is not empty; copy into a new, empty store`);
  }
  const counts: CopyCounts = {
    domains: 0, users: 0, aliases: 0, forwards: 0, mailboxes: 0, subscriptions: 0, messages: 0, expunged: 0, messageIndex: 0, settings: 0,
    vacations: 0, vacationReplies: 0, blobs: 0,
  };
  const copied = new Set<string>();

  const copyBlob = async (id: BlobId): Promise<void> => {
    const writer = to.blobs.createWriter();
    try {
      for await (const chunk of from.blobs.createReadStream(id)) await writer.write(chunk as Buffer);
    } catch (err) {
      await writer.abort();
      throw err;
    }
    const made = await writer.commit();
    if (made.id !== id) {
      throw new StoreError('unavailable', `blob ${id} in ${from.location} does not hold the bytes its name says (they hash to ${made.id}); the source is damaged`);
    }
    counts.blobs++;
  };

  async function* withBlobs(): AsyncGenerator<StoreDumpBatch> {
    for await (const batch of from.transfer.exportState()) {
      if (batch.table === 'messages') {
        const fresh = [...new Set(batch.rows.map((r) => r.blobId))].filter((id) => !copied.has(id));
        for (let i = 0; i < fresh.length; i += blobConcurrency) {
          await Promise.all(fresh.slice(i, i + blobConcurrency).map((id) => copyBlob(id as BlobId)));
        }
        for (const id of fresh) copied.add(id);
      }
      counts[batch.table] += batch.rows.length;
      opts.onProgress?.({ ...counts });
      yield batch;
    }
  }

  await to.transfer.importState(withBlobs());
  return counts;
}
