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

/** Loads of content a command keeps in flight at once (FETCH and SEARCH), answers still sent in order. */
export const CONTENT_LOADS_IN_FLIGHT = 8;

/**
 * A loader over the store with a small cache: one command's worth of
 * messages, bounded in bytes so a FETCH of many large bodies does not keep
 * them all in memory, and in entries for MIME indexes. Loads of one blob
 * that overlap (copies of a message share their blob) are made once.
 */
export class StoreMessageContent implements MessageContent {
  private readonly byteCache = new Map<BlobId, Buffer>();
  private readonly indexCache = new Map<BlobId, MimeIndex>();
  private readonly bytesLoading = new Map<BlobId, Promise<Buffer>>();
  private readonly indexLoading = new Map<BlobId, Promise<MimeIndex>>();
  private cachedBytes = 0;

  constructor(
    private readonly store: Store,
    private readonly maxCachedBytes = 16 * 1024 * 1024,
    private readonly maxCachedIndexes = 1024,
  ) {}

  async bytes(record: MessageRecord): Promise<Buffer> {
    const cached = this.byteCache.get(record.blobId);
    if (cached) return cached;
    let loading = this.bytesLoading.get(record.blobId);
    if (!loading) {
      loading = this.loadBytes(record.blobId);
      this.bytesLoading.set(record.blobId, loading);
    }
    return loading;
  }

  private async loadBytes(blobId: BlobId): Promise<Buffer> {
    try {
      const data = await this.store.blobs.get(blobId);
      if (data.length <= this.maxCachedBytes) {
        while (this.cachedBytes + data.length > this.maxCachedBytes && this.byteCache.size > 0) {
          const [oldest, buf] = this.byteCache.entries().next().value as [BlobId, Buffer];
          this.byteCache.delete(oldest);
          this.cachedBytes -= buf.length;
        }
        this.byteCache.set(blobId, data);
        this.cachedBytes += data.length;
      }
      return data;
    } finally {
      this.bytesLoading.delete(blobId);
    }
  }

  async index(record: MessageRecord): Promise<MimeIndex> {
    const cached = this.indexCache.get(record.blobId);
    if (cached) return cached;
    let loading = this.indexLoading.get(record.blobId);
    if (!loading) {
      loading = this.loadIndex(record.blobId);
      this.indexLoading.set(record.blobId, loading);
    }
    return loading;
  }

  private async loadIndex(blobId: BlobId): Promise<MimeIndex> {
    try {
      const index = await loadMessageIndex(this.store, blobId, this.byteCache.get(blobId));
      // Oldest first out: a FETCH or SEARCH walks the mailbox once, so recency is order of loading.
      if (this.indexCache.size >= this.maxCachedIndexes) this.indexCache.delete(this.indexCache.keys().next().value as BlobId);
      this.indexCache.set(blobId, index);
      return index;
    } finally {
      this.indexLoading.delete(blobId);
    }
  }
}
