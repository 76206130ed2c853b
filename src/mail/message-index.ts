/**
 * The MIME index of a stored message, computed once per blob and kept in
 * the store (every copy of a message shares its blob, so they share the
 * index too). Delivery computes it while the bytes are at hand; readers
 * (IMAP FETCH and SEARCH, webmail) fall back to computing it when it is
 * missing or from an older format version.
 */
import { indexMessage, MIME_INDEX_VERSION, type MimeIndex } from './mime/index.js';
import type { BlobId, Store } from '../store/types.js';

/** Computes and stores the index of a blob whose bytes the caller has. */
export async function storeMessageIndex(store: Store, blobId: BlobId, bytes: Buffer): Promise<MimeIndex> {
  const index = indexMessage(bytes);
  await store.mail.putMessageIndex(blobId, MIME_INDEX_VERSION, JSON.stringify(index));
  return index;
}

/** The stored index of a blob, computed and stored first if it is missing or outdated. */
export async function loadMessageIndex(store: Store, blobId: BlobId, bytes?: Buffer): Promise<MimeIndex> {
  return (await loadMessageIndexSized(store, blobId, bytes)).index;
}

/** The same, with the length of its stored JSON: what a cache of parsed indexes weighs them by. */
export async function loadMessageIndexSized(store: Store, blobId: BlobId, bytes?: Buffer): Promise<{ index: MimeIndex; jsonLength: number }> {
  const stored = await store.mail.getMessageIndex(blobId);
  if (stored && stored.version === MIME_INDEX_VERSION) return { index: JSON.parse(stored.json) as MimeIndex, jsonLength: stored.json.length };
  const index = indexMessage(bytes ?? (await store.blobs.get(blobId)));
  const json = JSON.stringify(index);
  await store.mail.putMessageIndex(blobId, MIME_INDEX_VERSION, json);
  return { index, jsonLength: json.length };
}
