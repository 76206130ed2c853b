/**
 * What FETCH and SEARCH read of a message beyond its index row: the stored
 * bytes and the MIME index. Loaded on demand and cached for one command, so
 * `FETCH 1:* (FLAGS UID)` touches no blob and a FETCH of ENVELOPE touches
 * only the index.
 */
import { loadMessageIndex } from '../../mail/message-index.js';
import type { MimeIndex } from '../../mail/mime/index.js';
import type { BlobId, MessageRecord, Store } from '../../store/types.js';

/** One message as a session with a selected mailbox sees it. */
export interface SessionMessage {
  /** Message sequence number in the session's current view (1-based). */
  seq: number;
  record: MessageRecord;
}

export interface MessageContent {
  /** The exact stored bytes (BODY[] is always these). */
  bytes(record: MessageRecord): Promise<Buffer>;
  /** The MIME index (ENVELOPE, BODYSTRUCTURE, part offsets, decoded headers). */
  index(record: MessageRecord): Promise<MimeIndex>;
}

/**
 * A loader over the store with a small cache: one command's worth of
 * messages, bounded in bytes so a FETCH of many large bodies does not keep
 * them all in memory.
 */
export class StoreMessageContent implements MessageContent {
  private readonly byteCache = new Map<BlobId, Buffer>();
  private readonly indexCache = new Map<BlobId, MimeIndex>();
  private cachedBytes = 0;

  constructor(private readonly store: Store, private readonly maxCachedBytes = 16 * 1024 * 1024) {}

  async bytes(record: MessageRecord): Promise<Buffer> {
    const cached = this.byteCache.get(record.blobId);
    if (cached) return cached;
    const data = await this.store.blobs.get(record.blobId);
    if (data.length <= this.maxCachedBytes) {
      while (this.cachedBytes + data.length > this.maxCachedBytes && this.byteCache.size > 0) {
        const [oldest, buf] = this.byteCache.entries().next().value as [BlobId, Buffer];
        this.byteCache.delete(oldest);
        this.cachedBytes -= buf.length;
      }
      this.byteCache.set(record.blobId, data);
      this.cachedBytes += data.length;
    }
    return data;
  }

  async index(record: MessageRecord): Promise<MimeIndex> {
    const cached = this.indexCache.get(record.blobId);
    if (cached) return cached;
    const index = await loadMessageIndex(this.store, record.blobId, this.byteCache.get(record.blobId));
    this.indexCache.set(record.blobId, index);
    return index;
  }
}
