/**
 * How sessions in IDLE learn that their mailbox changed (RFC 2177, issue 3
 * "sessions on different nodes see each other"). One watcher per service:
 * sessions on this node announce their own changes, which wakes the other
 * local sessions at once; changes made by other nodes are found by polling
 * each watched mailbox's highest modseq every `imapChangePollMs` (the store
 * bumps it on every change). One poll per mailbox, however many sessions
 * watch it.
 *
 * With the store's change feed (Store.changes) there is no polling: the
 * watcher subscribes while anyone watches, and a notice for a watched
 * mailbox, or a 'resync' after the feed lost its connection, wakes its
 * sessions, which catch up from their modseq.
 */
import type { Logger } from '../../log.js';
import type { ChangeFeed, MailboxId, MailStore, StoreChange } from '../../store/types.js';

/**
 * Called with the mailbox's current highest modseq after each poll, or with
 * null when a local session announced a change; the session compares it
 * with what it knows and catches up itself. -1 means the mailbox is gone.
 */
export type ChangeListener = (highestModSeq: number | null) => void;

export class MailboxWatcher {
  private readonly listeners = new Map<MailboxId, Set<ChangeListener>>();
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly store: MailStore,
    private readonly pollMs: number,
    private readonly log: Logger,
    /** The store's change feed; without it, the watcher polls. */
    private readonly feed?: ChangeFeed,
  ) {}

  /** Starts watching a mailbox for a listener; returns the function that stops it. */
  watch(mailboxId: MailboxId, listener: ChangeListener): () => void {
    let set = this.listeners.get(mailboxId);
    if (!set) {
      set = new Set();
      this.listeners.set(mailboxId, set);
    }
    set.add(listener);
    this.ensureTimer();
    return () => {
      const s = this.listeners.get(mailboxId);
      if (!s) return;
      s.delete(listener);
      if (s.size === 0) {
        this.listeners.delete(mailboxId);
      }
      if (this.listeners.size === 0) this.stopTimer();
    };
  }

  /** A session on this node changed a mailbox: wake its local watchers now. */
  announce(mailboxId: MailboxId): void {
    const set = this.listeners.get(mailboxId);
    if (set) for (const listener of [...set]) listener(null);
  }

  /** Stops polling (service shutdown). */
  close(): void {
    this.listeners.clear();
    this.stopTimer();
  }

  private ensureTimer(): void {
    if (this.feed) {
      this.unsubscribe ??= this.feed.subscribe(['mailbox'], (change) => this.onChange(change));
      return;
    }
    if (this.timer) return;
    this.timer = setInterval(() => void this.poll(), this.pollMs);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** A notice from the feed: wake the sessions it concerns (all of them for a resync). */
  private onChange(change: StoreChange): void {
    if (change.kind === 'mailbox') this.announce(change.mailboxId);
    else if (change.kind === 'resync') for (const id of [...this.listeners.keys()]) this.announce(id);
  }

  private async poll(): Promise<void> {
    // A slow store must not pile polls on top of each other.
    if (this.polling) return;
    this.polling = true;
    try {
      for (const [id, set] of [...this.listeners]) {
        let modSeq: number;
        try {
          const mailbox = await this.store.getMailboxById(id);
          modSeq = mailbox ? mailbox.highestModSeq : -1;
        } catch (err) {
          this.log.warn({ err, mailboxId: id }, 'polling a mailbox for changes failed');
          continue;
        }
        for (const listener of [...set]) listener(modSeq);
      }
    } finally {
      this.polling = false;
    }
  }
}
