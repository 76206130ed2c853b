/**
 * What FETCH and SEARCH read of a message beyond its index row: the stored
 * bytes and the MIME index. Loaded on demand and cached for one command, so
 * `FETCH 1:* (FLAGS UID)` touches no blob and a FETCH of ENVELOPE touches
 * only the index.
 */
import { loadMessageIndexSized } from '../../mail/message-index.js';
import { sectionRange, type MimeIndex } from '../../mail/mime/index.js';
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
  /**
   * The message's own header section (BODY[HEADER]), when the loader can
   * give it without the whole message; otherwise FETCH slices it from bytes().
   */
  header?(record: MessageRecord): Promise<Buffer>;
}

/**
 * What never changes for a blob, kept for every session of a node: its
 * parsed MIME index and its header section. Blobs are content-addressed and
 * immutable, so nothing here ever needs invalidating. A mail app opening a
 * folder fetches the same header fields again and again (Dovecot keeps them
 * in its cache file); this answers the repeats without the store or the
 * disk. Bounded by weight (an index's stored JSON length, a header's
 * bytes), least recently used out first. The cached indexes are shared:
 * readers must not change them.
 */
export class BlobFactsCache {
  private readonly entries = new Map<BlobId, { index: MimeIndex | null; indexWeight: number; header: Buffer | null }>();
  private weight = 0;

  constructor(readonly maxWeight: number) {}

  /** Entries and their total weight (for tests). */
  get size(): { blobs: number; weight: number } {
    return { blobs: this.entries.size, weight: this.weight };
  }

  index(blobId: BlobId): MimeIndex | null {
    const entry = this.touch(blobId);
    return entry ? entry.index : null;
  }

  header(blobId: BlobId): Buffer | null {
    const entry = this.touch(blobId);
    return entry ? entry.header : null;
  }

  putIndex(blobId: BlobId, index: MimeIndex, weight: number): void {
    if (weight > this.maxWeight) return;
    const entry = this.entryFor(blobId);
    if (entry.index) return;
    entry.index = index;
    entry.indexWeight = weight;
    this.weight += weight;
    this.trim();
  }

  putHeader(blobId: BlobId, header: Buffer): void {
    if (header.length > this.maxWeight) return;
    const entry = this.entryFor(blobId);
    if (entry.header) return;
    entry.header = header;
    this.weight += header.length;
    this.trim();
  }

  private touch(blobId: BlobId) {
    const entry = this.entries.get(blobId);
    if (entry) {
      this.entries.delete(blobId);
      this.entries.set(blobId, entry);
    }
    return entry;
  }

  private entryFor(blobId: BlobId) {
    let entry = this.touch(blobId);
    if (!entry) {
      entry = { index: null, indexWeight: 0, header: null };
      this.entries.set(blobId, entry);
    }
    return entry;
  }

  private trim(): void {
    for (const [blobId, entry] of this.entries) {
      if (this.weight <= this.maxWeight) break;
      this.entries.delete(blobId);
      this.weight -= entry.indexWeight + (entry.header?.length ?? 0);
    }
  }
}

/**
 * 16 MB of stored JSON and headers: about 10,000 messages' indexes and
 * headers, some 50 MB of heap once parsed.
 */
export const BLOB_FACTS_CACHE_WEIGHT = 16 * 1024 * 1024;

const sharedFacts = new WeakMap<Store, BlobFactsCache>();

/** This process's cache for a store: every IMAP session on the store shares it. */
export function blobFactsCache(store: Store): BlobFactsCache {
  let cache = sharedFacts.get(store);
  if (!cache) {
    cache = new BlobFactsCache(BLOB_FACTS_CACHE_WEIGHT);
    sharedFacts.set(store, cache);
  }
  return cache;
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
    private readonly facts: BlobFactsCache = blobFactsCache(store),
  ) {}

  async header(record: MessageRecord): Promise<Buffer> {
    const cached = this.facts.header(record.blobId);
    if (cached) return cached;
    // The bytes first: an index that has to be computed is then computed from them, not read again.
    const bytes = await this.bytes(record);
    const range = sectionRange(await this.index(record), [], 'HEADER');
    // A copy: the cache must not keep the whole message alive.
    const header = range ? Buffer.from(bytes.subarray(range.start, range.end)) : Buffer.alloc(0);
    this.facts.putHeader(record.blobId, header);
    return header;
  }

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
    const cached = this.indexCache.get(record.blobId) ?? this.facts.index(record.blobId);
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
      const { index, jsonLength } = await loadMessageIndexSized(this.store, blobId, this.byteCache.get(blobId));
      this.facts.putIndex(blobId, index, jsonLength);
      // Oldest first out: a FETCH or SEARCH walks the mailbox once, so recency is order of loading.
      if (this.indexCache.size >= this.maxCachedIndexes) this.indexCache.delete(this.indexCache.keys().next().value as BlobId);
      this.indexCache.set(blobId, index);
      return index;
    } finally {
      this.indexLoading.delete(blobId);
    }
  }
}
