/**
 * The session's view of its selected mailbox (RFC 3501 sections 2.3.1 and
 * 7.4.1, RFC 7162 sections 3.1 and 3.2): the messages in sequence order with
 * the flags and modseq the client was last told, and the catch-up with the
 * store. Another session (on this node or another) changes the store; this
 * view notices through `changesSince(knownModSeq)` and turns the difference
 * into untagged updates: EXPUNGE (or VANISHED under QRESYNC), EXISTS and
 * FETCH FLAGS.
 *
 * Sequence numbers must not shift under a client during FETCH, STORE or
 * SEARCH (RFC 3501 7.4.1): while such a command runs, expunges found in the
 * store are held back (the messages stay in the view) and reported at the
 * next command that allows it.
 */
import type { Mailbox, MailboxId, MailStore, MessageRecord, ModSeq, Uid } from '../../store/types.js';
import type { MailboxListCache } from './mailbox-cache.js';
import type { SessionMessage } from './message-content.js';
import { bad } from './errors.js';
import { largestExplicitNumber, resolveSequenceSet, type SequenceSet } from './wire/index.js';

/** The untagged updates of one catch-up, in the order they must be sent. */
export interface MailboxUpdates {
  /** Sequence numbers to report as EXPUNGEd, each valid at the moment it is sent (descending). */
  readonly expungedSeqs: readonly number[];
  /** The same messages' UIDs, ascending (for VANISHED). */
  readonly expungedUids: readonly Uid[];
  /** The new message count, when messages were added; null when unchanged by additions. */
  readonly exists: number | null;
  /** Messages whose flags or modseq changed, with their new sequence numbers. */
  readonly changed: readonly SessionMessage[];
  /** The mailbox no longer exists (deleted by another session). */
  readonly mailboxGone: boolean;
}

/** The system flags; every mailbox allows them. */
export const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'] as const;

/** Finds the index of `uid` in records sorted by UID, or -(insertion point) - 1. */
export function searchUid(records: readonly MessageRecord[], uid: number): number {
  let lo = 0;
  let hi = records.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = records[mid]!.uid;
    if (v === uid) return mid;
    if (v < uid) lo = mid + 1;
    else hi = mid - 1;
  }
  return -lo - 1;
}

function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a.map((f) => f.toLowerCase()));
  return b.every((f) => set.has(f.toLowerCase()));
}

/** The keywords (not system flags) that messages carry, each once, sorted: for FLAGS and PERMANENTFLAGS. */
export function keywordsOf(records: readonly MessageRecord[]): string[] {
  const seen = new Map<string, string>();
  for (let i = 0; i < records.length; i++) {
    const flags = records[i]!.flags;
    for (let j = 0; j < flags.length; j++) {
      const f = flags[j]!;
      if (f.charCodeAt(0) === 92 /* backslash: a system flag */) continue;
      const key = f.toLowerCase();
      if (!seen.has(key)) seen.set(key, f);
    }
  }
  return [...seen.values()].sort();
}

/** The sequence number of the first message without \\Seen (1-based), or 0. */
export function firstUnseenSeqOf(records: readonly MessageRecord[]): number {
  for (let i = 0; i < records.length; i++) if (!records[i]!.flags.includes('\\Seen')) return i + 1;
  return 0;
}

/** What SELECT reports about a mailbox's messages, computed once per cached version (mailbox-cache.ts). */
export interface MailboxSummary {
  readonly keywords: readonly string[];
  readonly firstUnseenSeq: number;
}

export class SelectedMailbox {
  /** The summary of the records as opened, when the cache had it; dropped at the view's first change. */
  private openingSummary: MailboxSummary | null = null;
  /** The messages as the client knows them, in UID (= sequence) order. */
  private records: MessageRecord[];
  /** The highest modseq this view has caught up with. */
  private knownModSeq: ModSeq;
  /** The first UID not yet in the view: anything at or above it is new. */
  private viewUidNext: number;
  /** UIDs expunged in the store but still in the view (held back during FETCH/STORE/SEARCH). */
  private readonly pendingExpunges = new Set<number>();
  /** The result saved by SEARCH RETURN (SAVE) (RFC 5182), as UIDs; null when none was saved. */
  private savedUids: Uid[] | null = null;

  private constructor(
    /** The mailbox row as it was at SELECT (name, UIDVALIDITY, special use). */
    readonly mailbox: Mailbox,
    /** Opened with EXAMINE: no flag changes, no expunges (RFC 3501 6.3.2). */
    readonly readOnly: boolean,
    records: MessageRecord[],
  ) {
    this.records = records;
    this.knownModSeq = mailbox.highestModSeq;
    this.viewUidNext = mailbox.uidNext;
  }

  /**
   * Builds the view. The modseq is read before the messages, so anything
   * that changes in between is seen again by the first catch-up and
   * reconciled (never missed). With the node's cache of big mailboxes
   * (mailbox-cache.ts) the messages come from there, caught up to at least
   * the mailbox row's modseq, and the view starts at the cache's modseq.
   */
  static async open(store: MailStore, mailbox: Mailbox, readOnly: boolean, cache?: MailboxListCache): Promise<SelectedMailbox> {
    if (cache) {
      const snapshot = await cache.snapshot(mailbox);
      const view = new SelectedMailbox(mailbox, readOnly, snapshot.records);
      view.openingSummary = snapshot.summary;
      view.knownModSeq = snapshot.highestModSeq;
      view.viewUidNext = Math.max(view.viewUidNext, snapshot.uidNext);
      return view;
    }
    const records = await store.listMessages(mailbox.id);
    const view = new SelectedMailbox(mailbox, readOnly, records);
    const last = records[records.length - 1];
    if (last && last.uid >= view.viewUidNext) view.viewUidNext = last.uid + 1;
    return view;
  }

  /** The mailbox's id. */
  get id(): MailboxId {
    return this.mailbox.id;
  }

  /** Number of messages in the view (EXISTS). */
  get count(): number {
    return this.records.length;
  }

  /** The highest modseq the client has been told about. */
  get highestModSeq(): ModSeq {
    return this.knownModSeq;
  }

  /** The next UID as far as this view knows. */
  get uidNext(): number {
    return this.viewUidNext;
  }

  /** The message at a sequence number (1-based). */
  at(seq: number): SessionMessage | null {
    const record = this.records[seq - 1];
    return record ? { seq, record } : null;
  }

  /** The sequence number of a UID in the view, or 0. */
  seqOf(uid: number): number {
    const i = searchUid(this.records, uid);
    return i >= 0 ? i + 1 : 0;
  }

  /** Every message, in sequence order. */
  all(): SessionMessage[] {
    return this.records.map((record, i) => ({ seq: i + 1, record }));
  }

  /** The highest UID in the view (0 when empty). */
  get highestUid(): number {
    return this.records[this.records.length - 1]?.uid ?? 0;
  }

  /** The messages of the view with their keywords (not system flags), for FLAGS and PERMANENTFLAGS. */
  keywords(): string[] {
    return this.openingSummary?.keywords.slice() ?? keywordsOf(this.records);
  }

  /** The sequence number of the first message without \\Seen, or 0 when every message is seen. */
  firstUnseenSeq(): number {
    return this.openingSummary?.firstUnseenSeq ?? firstUnseenSeqOf(this.records);
  }

  /** Saves a SEARCH result (RFC 5182) for "$". */
  saveResult(uids: readonly Uid[]): void {
    this.savedUids = [...uids];
  }

  /** The saved SEARCH result as UIDs, or null when none was saved. */
  savedResult(): readonly Uid[] | null {
    return this.savedUids;
  }

  /**
   * The messages a sequence set names, in sequence order. For message
   * numbers, a number above the count is BAD (RFC 9051 6.4.4 / RFC 3501
   * 6.4.8 says such a set is invalid); for UIDs, UIDs that do not exist are
   * simply left out (RFC 3501 6.4.8). "$" is the saved search result.
   */
  select(set: SequenceSet, byUid: boolean): SessionMessage[] {
    if (set.kind === 'saved') {
      const out: SessionMessage[] = [];
      for (const uid of this.savedUids ?? []) {
        const seq = this.seqOf(uid);
        if (seq > 0) out.push({ seq, record: this.records[seq - 1]! });
      }
      return out;
    }
    if (!byUid) {
      if (this.records.length === 0) throw bad('the mailbox is empty; there are no message numbers to refer to');
      if (largestExplicitNumber(set) > this.records.length) throw bad(`there are only ${this.records.length} messages; use UID commands for messages the client has not seen`);
      const out: SessionMessage[] = [];
      for (const range of resolveSequenceSet(set, this.records.length)) {
        for (let seq = Math.max(1, range.low); seq <= Math.min(range.high, this.records.length); seq++) out.push({ seq, record: this.records[seq - 1]! });
      }
      return out;
    }
    const out: SessionMessage[] = [];
    for (const range of resolveSequenceSet(set, this.highestUid)) {
      let i = searchUid(this.records, range.low);
      if (i < 0) i = -i - 1;
      for (; i < this.records.length && this.records[i]!.uid <= range.high; i++) out.push({ seq: i + 1, record: this.records[i]! });
    }
    return out;
  }

  /**
   * Records flag changes this session made itself (STORE, FETCH setting
   * \Seen), so the next catch-up does not report them again. Returns the
   * messages with their sequence numbers.
   */
  applyOwnChanges(updated: readonly MessageRecord[]): SessionMessage[] {
    this.openingSummary = null;
    const out: SessionMessage[] = [];
    for (const record of updated) {
      const i = searchUid(this.records, record.uid);
      if (i < 0) continue;
      this.records[i] = record;
      out.push({ seq: i + 1, record });
    }
    return out;
  }

  /**
   * Catches up with the store: reads what changed after the known modseq
   * and returns the updates to send. With `allowExpunge` false (FETCH,
   * STORE, SEARCH by sequence number), expunges are kept for later.
   * Cheap when nothing changed: one mailbox read.
   */
  async sync(store: MailStore, allowExpunge: boolean): Promise<MailboxUpdates> {
    const current = await store.getMailboxById(this.mailbox.id);
    if (!current) return { expungedSeqs: [], expungedUids: [], exists: null, changed: [], mailboxGone: true };
    if (current.highestModSeq !== this.knownModSeq) {
      const changes = await store.changesSince(this.mailbox.id, this.knownModSeq);
      for (const uid of changes.expunged) if (searchUid(this.records, uid) >= 0) this.pendingExpunges.add(uid);
      return this.apply(changes.changed, changes.highestModSeq, changes.uidNext, allowExpunge);
    }
    return this.apply([], this.knownModSeq, this.viewUidNext, allowExpunge);
  }

  private apply(changed: readonly MessageRecord[], highestModSeq: ModSeq, uidNext: number, allowExpunge: boolean): MailboxUpdates {
    this.openingSummary = null;
    // 1. Expunges first, so the numbers of what follows are already the new ones.
    const expungedSeqs: number[] = [];
    const expungedUids: Uid[] = [];
    if (allowExpunge && this.pendingExpunges.size > 0) {
      for (let i = this.records.length - 1; i >= 0; i--) {
        const uid = this.records[i]!.uid;
        if (this.pendingExpunges.has(uid)) {
          expungedSeqs.push(i + 1);
          expungedUids.unshift(uid);
        }
      }
      this.records = this.records.filter((r) => !this.pendingExpunges.has(r.uid));
      this.pendingExpunges.clear();
      if (this.savedUids && this.savedUids.length > 0) {
        const gone = new Set<number>(expungedUids);
        this.savedUids = this.savedUids.filter((u) => !gone.has(u));
      }
    }
    // 2. New messages (UIDs at or above what the view knew), then 3. flag changes of known ones.
    const added: MessageRecord[] = [];
    const flagChanged: MessageRecord[] = [];
    for (const record of changed) {
      if (record.uid >= this.viewUidNext) {
        added.push(record);
        continue;
      }
      const i = searchUid(this.records, record.uid);
      if (i < 0) continue; // expunged by this session already
      const known = this.records[i]!;
      if (known.modSeq === record.modSeq && sameFlags(known.flags, record.flags)) continue;
      this.records[i] = record;
      if (!this.pendingExpunges.has(record.uid)) flagChanged.push(record);
    }
    added.sort((a, b) => a.uid - b.uid);
    for (const record of added) this.records.push(record);
    if (added.length > 0) this.viewUidNext = added[added.length - 1]!.uid + 1;
    if (uidNext > this.viewUidNext) this.viewUidNext = uidNext;
    this.knownModSeq = highestModSeq;
    const changedMessages = flagChanged.map((record) => ({ seq: this.seqOf(record.uid), record })).filter((m) => m.seq > 0);
    return { expungedSeqs, expungedUids, exists: added.length > 0 ? this.records.length : null, changed: changedMessages, mailboxGone: false };
  }

  /**
   * Removes messages this session expunged itself (EXPUNGE, MOVE, CLOSE is
   * silent): returns the updates to send, in the same form as a catch-up.
   */
  removeOwn(uids: readonly Uid[]): MailboxUpdates {
    for (const uid of uids) if (searchUid(this.records, uid) >= 0) this.pendingExpunges.add(uid);
    return this.apply([], this.knownModSeq, this.viewUidNext, true);
  }

  /** The modseq of a message set (SEARCH's MODSEQ, RFC 7162 3.1.5): the highest among them. */
  static highestModSeqOf(messages: readonly SessionMessage[]): number {
    let max = 0;
    for (const m of messages) if (m.record.modSeq > max) max = m.record.modSeq;
    return max;
  }
}
