/**
 * A POP3 session's view of the user's INBOX (RFC 1939 sections 4-6): a
 * snapshot taken at login under the cluster-wide maildrop lock, message
 * numbers fixed for the session, deletion marks kept in memory and applied
 * in one expunge at QUIT. A session that ends any other way deletes nothing.
 */
import type { Logger } from '../../log.js';
import { StoreError, isStoreError } from '../../store/errors.js';
import type { BlobId, MaildropLock, Mailbox, Store, Uid, User } from '../../store/types.js';
import { Pop3Error } from './errors.js';
import type { MsgNumber } from './wire.js';

/** One message as the session sees it. */
export interface MaildropEntry {
  /** The message number, 1-based, fixed for the session. */
  msg: MsgNumber;
  uid: Uid;
  blobId: BlobId;
  /** Size in octets of the stored message. */
  size: number;
  /** The unique-id listing (RFC 1939 section 7): stable for the message's life. */
  uidl: string;
}

/**
 * The unique id of a message: UIDVALIDITY and UID together never name two
 * different messages and never change while the message exists. Only digits
 * and a dot, so well inside RFC 1939's 0x21-0x7E, 70 characters.
 */
export function uidlFor(uidValidity: number, uid: Uid): string {
  return `${uidValidity}.${uid}`;
}

export class Maildrop {
  private readonly entries: MaildropEntry[];
  private readonly deleted = new Set<MsgNumber>();
  /** Messages sent whole with RETR: marked \Seen at QUIT, so IMAP shows them read (as Dovecot does). */
  private readonly retrieved = new Set<MsgNumber>();
  private readonly renewTimer: NodeJS.Timeout;
  private released = false;
  private lost = false;

  private constructor(
    private readonly store: Store,
    private readonly mailbox: Mailbox,
    private readonly lock: MaildropLock,
    entries: MaildropEntry[],
    leaseMs: number,
    private readonly logger: Logger,
  ) {
    this.entries = entries;
    // Renew well inside the lease so one slow store call does not lose it.
    this.renewTimer = setInterval(() => void this.renew(), Math.max(10, Math.floor(leaseMs / 3)));
    this.renewTimer.unref();
  }

  /**
   * Locks the user's maildrop and takes the snapshot. Throws StoreError
   * ('in-use') when another session anywhere in the cluster holds it.
   */
  static async open(store: Store, user: User, owner: string, leaseMs: number, logger: Logger): Promise<Maildrop> {
    const lock = await store.mail.lockMaildrop(user.id, owner, leaseMs);
    try {
      const mailbox = await store.mail.getMailbox(user.id, 'INBOX');
      if (!mailbox) throw new StoreError('not-found', `user ${user.address} has no INBOX`);
      const records = await store.mail.listMessages(mailbox.id);
      const entries = records.map((r, i): MaildropEntry => ({
        msg: (i + 1) as MsgNumber,
        uid: r.uid,
        blobId: r.blobId,
        size: r.size,
        uidl: uidlFor(mailbox.uidValidity, r.uid),
      }));
      return new Maildrop(store, mailbox, lock, entries, leaseMs, logger);
    } catch (e) {
      await lock.release().catch((releaseErr: unknown) => logger.warn({ err: releaseErr }, 'could not release the maildrop lock'));
      throw e;
    }
  }

  /** True when the lease was lost (another session may now hold the maildrop). */
  get lockLost(): boolean {
    return this.lost;
  }

  /** Messages not marked deleted, in message-number order. */
  visible(): MaildropEntry[] {
    return this.entries.filter((e) => !this.deleted.has(e.msg));
  }

  /** Count and total octets of the messages not marked deleted (STAT). */
  totals(): { count: number; octets: number } {
    let count = 0;
    let octets = 0;
    for (const e of this.visible()) {
      count++;
      octets += e.size;
    }
    return { count, octets };
  }

  /** The message with this number; Pop3Error if there is none or it is marked deleted. */
  get(msg: MsgNumber): MaildropEntry {
    const entry = this.entries[msg - 1];
    if (!entry || this.deleted.has(msg)) throw new Pop3Error('no such message');
    return entry;
  }

  /** Marks a message deleted; it disappears from listings until RSET. */
  markDeleted(msg: MsgNumber): void {
    this.get(msg);
    this.deleted.add(msg);
  }

  /** Notes that a message was sent whole (RETR; TOP reads only part and leaves it unseen). */
  markRetrieved(msg: MsgNumber): void {
    this.retrieved.add(msg);
  }

  /** Unmarks every message (RSET), and forgets what was retrieved, as Dovecot does. */
  reset(): void {
    this.deleted.clear();
    this.retrieved.clear();
  }

  /**
   * The UPDATE state: removes the marked messages in one atomic expunge.
   * Throws (and removes nothing) if the store fails or the lock was lost.
   */
  async commit(): Promise<void> {
    if (this.lost) throw new Pop3Error('the maildrop lock was lost; no messages deleted', 'IN-USE');
    const uidsOf = (msgs: Iterable<MsgNumber>) => [...msgs].sort((a, b) => a - b).map((msg) => this.entries[msg - 1]!.uid);
    if (this.deleted.size > 0) await this.store.mail.expunge(this.mailbox.id, uidsOf(this.deleted));
    const seen = uidsOf([...this.retrieved].filter((msg) => !this.deleted.has(msg)));
    if (seen.length === 0) return;
    // After the deletions, and never failing QUIT: a flag is a courtesy to
    // IMAP clients of the same mailbox, the deletions are what POP3 promised.
    await this.store.mail.updateFlags(this.mailbox.id, seen, { operation: 'add', flags: ['\\Seen'] })
      .catch((e: unknown) => this.logger.warn({ err: e }, 'could not mark retrieved messages \\Seen'));
  }

  /** Gives the lock back. Safe to call more than once; never throws. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.renewTimer);
    if (this.lost) return;
    try {
      await this.lock.release();
    } catch (e) {
      // The lease runs out on its own; nothing else to do.
      this.logger.warn({ err: e }, 'could not release the maildrop lock');
    }
  }

  private async renew(): Promise<void> {
    if (this.released || this.lost) return;
    try {
      await this.lock.renew();
    } catch (e) {
      if (isStoreError(e, 'in-use')) {
        this.lost = true;
        clearInterval(this.renewTimer);
        this.logger.warn('maildrop lock lost to another session');
      } else {
        // A transient failure: the next tick tries again, well within the lease.
        this.logger.warn({ err: e }, 'could not renew the maildrop lock');
      }
    }
  }
}
