/**
 * A node's shared copy of the message lists of its big mailboxes, so SELECT
 * of a 100,000-message mailbox does not read and build 100,000 rows every
 * time (Dovecot answers it from its mmapped index; issue 3's benchmark).
 *
 * An entry is a mailbox's messages as of a modseq. At SELECT it is brought
 * up to the mailbox's current modseq with `changesSince`, the same read a
 * session's catch-up makes, so deliveries, expunges and flag changes made by
 * any session on any node are seen exactly as a fresh listing would see
 * them (the store bumps a mailbox's modseq on every change, and both
 * backends assign a mailbox's modseqs in commit order). The session then
 * gets its own copy of the array: its sequence numbers move only when it
 * reports EXPUNGE or EXISTS (RFC 3501 7.4.1), whatever the entry does next.
 * Records are shared, never changed in place (a change replaces the
 * record), so a copy costs one pointer per message.
 *
 * Bounded: only mailboxes of at least `minMessages` are kept (smaller ones
 * are cheap to list), at most `maxMessages` records in all, least recently
 * selected dropped first, and an entry nobody selected for `idleMs` is
 * dropped. One cache per store per process (imap and imaps share it).
 */
import type { Mailbox, MailboxId, MailStore, MessageRecord, ModSeq } from '../../store/types.js';
import { firstUnseenSeqOf, keywordsOf, searchUid, type MailboxSummary } from './selected-mailbox.js';

/** A session's starting view of a mailbox: its messages in UID order as of `highestModSeq`. */
export interface MailboxSnapshot {
  /** The caller's own array (it may change it); the records in it must not be changed. */
  readonly records: MessageRecord[];
  /**
   * The modseq the records are at least as new as: a catch-up from here
   * sees everything after it (and may see again what the records hold).
   */
  readonly highestModSeq: ModSeq;
  /** The first UID not in the records: anything at or above it is new. */
  readonly uidNext: number;
  /** SELECT's keywords and first unseen message for these records, when the cache computed them. */
  readonly summary: MailboxSummary | null;
}

export interface MailboxCacheOptions {
  /** Mailboxes with fewer messages are listed at each SELECT, not kept. */
  readonly minMessages: number;
  /** Records kept in all entries together (about 350 bytes each). */
  readonly maxMessages: number;
  /** An entry not selected for this long is dropped. */
  readonly idleMs: number;
}

/** Big enough that listing takes milliseconds; up to roughly 100 MB of records; ten minutes. */
export const DEFAULT_MAILBOX_CACHE_OPTIONS: MailboxCacheOptions = { minMessages: 2000, maxMessages: 300_000, idleMs: 10 * 60_000 };

interface Entry {
  readonly mailboxId: MailboxId;
  /** SQLite may give a deleted mailbox's id to a new one; its UIDVALIDITY differs (RFC 3501 2.3.1.1). */
  readonly uidValidity: number;
  /** In UID order; changed in place by refreshes, copied for sessions. */
  records: MessageRecord[];
  modSeq: ModSeq;
  uidNext: number;
  lastUsed: number;
  /** The catch-up in progress, which concurrent SELECTs wait for instead of making their own. */
  refreshing: Promise<void> | null;
  /** The summary of the records at `modSeq` (null: not computed since the last change). */
  summary: MailboxSummary | null;
}

export class MailboxListCache {
  private readonly entries = new Map<MailboxId, Entry>();
  /** Listings in progress, shared by SELECTs of the same mailbox that arrive meanwhile. */
  private readonly loading = new Map<MailboxId, Promise<Entry | MessageRecord[]>>();
  private cachedMessages = 0;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: MailStore,
    private readonly options: MailboxCacheOptions = DEFAULT_MAILBOX_CACHE_OPTIONS,
  ) {}

  /** Records held in all entries (for tests and metrics). */
  get size(): { mailboxes: number; messages: number } {
    return { mailboxes: this.entries.size, messages: this.cachedMessages };
  }

  /**
   * The mailbox's messages for a new session view, at least as new as the
   * mailbox row given (read by the caller just before).
   */
  async snapshot(mailbox: Mailbox): Promise<MailboxSnapshot> {
    let entry = this.entries.get(mailbox.id);
    if (entry && entry.uidValidity !== mailbox.uidValidity) {
      this.drop(entry);
      entry = undefined;
    }
    if (!entry) {
      const loaded = await this.load(mailbox);
      if (Array.isArray(loaded)) return snapshotOf(loaded, mailbox.highestModSeq, mailbox.uidNext);
      entry = loaded;
    }
    if (!(await this.bringUpTo(entry, mailbox.highestModSeq))) {
      // The store went backwards from what the entry holds, which only a different mailbox can do.
      this.drop(entry);
      return this.snapshot(mailbox);
    }
    entry.lastUsed = Date.now();
    // Touch for least-recently-used order: a Map iterates in insertion order.
    if (this.entries.get(entry.mailboxId) === entry) {
      this.entries.delete(entry.mailboxId);
      this.entries.set(entry.mailboxId, entry);
    }
    // Every SELECT of a 100,000-message mailbox would walk all flags for FLAGS and UNSEEN: once per version.
    entry.summary ??= { keywords: keywordsOf(entry.records), firstUnseenSeq: firstUnseenSeqOf(entry.records) };
    return { records: entry.records.slice(), highestModSeq: entry.modSeq, uidNext: entry.uidNext, summary: entry.summary };
  }

  /** Drops every entry (service shutdown, tests). */
  clear(): void {
    this.entries.clear();
    this.cachedMessages = 0;
    this.stopSweeper();
  }

  /** Lists the mailbox once for all SELECTs waiting for it; keeps the list when it is big enough. */
  private load(mailbox: Mailbox): Promise<Entry | MessageRecord[]> {
    let pending = this.loading.get(mailbox.id);
    if (!pending) {
      pending = this.list(mailbox).finally(() => this.loading.delete(mailbox.id));
      this.loading.set(mailbox.id, pending);
    }
    return pending;
  }

  private async list(mailbox: Mailbox): Promise<Entry | MessageRecord[]> {
    // The modseq was read (with the mailbox row) before the messages, so whatever changes in
    // between is newer than the entry's modseq and is applied again by the next catch-up.
    const records = await this.store.listMessages(mailbox.id);
    if (records.length < this.options.minMessages || records.length > this.options.maxMessages) return records;
    const last = records[records.length - 1];
    const entry: Entry = {
      mailboxId: mailbox.id,
      uidValidity: mailbox.uidValidity,
      records,
      modSeq: mailbox.highestModSeq,
      uidNext: Math.max(mailbox.uidNext, last ? last.uid + 1 : 1),
      lastUsed: Date.now(),
      refreshing: null,
      summary: null,
    };
    const old = this.entries.get(mailbox.id);
    if (old) this.drop(old);
    this.makeRoom(records.length);
    this.entries.set(mailbox.id, entry);
    this.cachedMessages += records.length;
    this.startSweeper();
    return entry;
  }

  /**
   * Catches the entry up to at least `modSeq`, one catch-up at a time for
   * all SELECTs. False when the store's modseq stays below it.
   */
  private async bringUpTo(entry: Entry, modSeq: ModSeq): Promise<boolean> {
    // Twice at most: a catch-up already running may have started before `modSeq` was read.
    for (let attempt = 0; attempt < 2 && entry.modSeq < modSeq; attempt++) {
      entry.refreshing ??= this.refresh(entry).finally(() => {
        entry.refreshing = null;
      });
      await entry.refreshing;
    }
    return entry.modSeq >= modSeq;
  }

  private async refresh(entry: Entry): Promise<void> {
    let changes;
    try {
      changes = await this.store.changesSince(entry.mailboxId, entry.modSeq);
    } catch (err) {
      // The mailbox is gone (or the store failed): nothing kept can be trusted to be current.
      this.drop(entry);
      throw err;
    }
    if (changes.highestModSeq <= entry.modSeq) return;
    const before = entry.records.length;
    entry.records = merged(entry.records, changes.changed, changes.expunged);
    entry.summary = null;
    entry.modSeq = changes.highestModSeq;
    const last = entry.records[entry.records.length - 1];
    entry.uidNext = Math.max(entry.uidNext, changes.uidNext, last ? last.uid + 1 : 1);
    if (this.entries.get(entry.mailboxId) === entry) {
      this.cachedMessages += entry.records.length - before;
      if (this.cachedMessages > this.options.maxMessages) this.makeRoom(0);
    }
  }

  private makeRoom(incoming: number): void {
    for (const entry of this.entries.values()) {
      if (this.cachedMessages + incoming <= this.options.maxMessages) break;
      this.drop(entry);
    }
  }

  private drop(entry: Entry): void {
    if (this.entries.get(entry.mailboxId) !== entry) return;
    this.entries.delete(entry.mailboxId);
    this.cachedMessages -= entry.records.length;
    if (this.entries.size === 0) this.stopSweeper();
  }

  private startSweeper(): void {
    if (this.sweeper) return;
    const every = Math.max(1000, Math.min(60_000, this.options.idleMs / 2));
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
  }

  private stopSweeper(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
  }

  /** Drops entries nobody selected for `idleMs`. */
  sweep(now = Date.now()): void {
    for (const entry of [...this.entries.values()]) if (now - entry.lastUsed >= this.options.idleMs) this.drop(entry);
  }
}

function snapshotOf(records: MessageRecord[], highestModSeq: ModSeq, uidNext: number): MailboxSnapshot {
  const last = records[records.length - 1];
  return { records, highestModSeq, uidNext: Math.max(uidNext, last ? last.uid + 1 : 1), summary: null };
}

/**
 * Applies a catch-up to a UID-ordered list: expunged UIDs out, changed
 * records replace those of the same UID, new ones go in UID order. Applying
 * the same change twice gives the same list (a fresh listing may already
 * hold changes newer than its modseq).
 */
export function merged(records: MessageRecord[], changed: readonly MessageRecord[], expunged: readonly number[]): MessageRecord[] {
  let out = records;
  if (expunged.length > 0) {
    const gone = new Set(expunged);
    out = out.filter((r) => !gone.has(r.uid));
  }
  for (const record of changed) {
    const lastUid = out.length > 0 ? out[out.length - 1]!.uid : 0;
    if (record.uid > lastUid) {
      out.push(record);
      continue;
    }
    const i = searchUid(out, record.uid);
    if (i >= 0) out[i] = record;
    else out.splice(-i - 1, 0, record);
  }
  return out;
}

const shared = new WeakMap<MailStore, MailboxListCache>();

/** This process's cache for a store: every IMAP service on the store shares it. */
export function mailboxListCache(store: MailStore): MailboxListCache {
  let cache = shared.get(store);
  if (!cache) {
    cache = new MailboxListCache(store);
    shared.set(store, cache);
  }
  return cache;
}
