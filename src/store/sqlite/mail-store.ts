/** Mailboxes, messages, quota accounting and maildrop locks on the embedded store. */
import { StoreError, asStoreError } from '../errors.js';
import type {
  BlobId, Delivery, DeliveryResult, Mailbox, MailboxId, MaildropLock, MailStore, MessageRecord, ModSeq, SpecialUse, Uid, UserId,
} from '../types.js';
import { writeTransaction, type Db } from './database.js';

interface MailboxRow {
  id: number;
  user_id: number;
  name: string;
  special_use: string | null;
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
  subscribed: number;
}

interface MessageRow {
  mailbox_id: number;
  uid: number;
  blob_id: string;
  size: number;
  internal_date: number;
  flags: string;
  modseq: number;
}

function toMailbox(row: MailboxRow): Mailbox {
  return {
    id: row.id as MailboxId,
    userId: row.user_id as UserId,
    name: row.name,
    specialUse: row.special_use as SpecialUse | null,
    uidValidity: row.uid_validity,
    uidNext: row.uid_next as Uid,
    highestModSeq: row.highest_modseq as ModSeq,
    subscribed: row.subscribed === 1,
  };
}

function toMessage(row: MessageRow): MessageRecord {
  return {
    mailboxId: row.mailbox_id as MailboxId,
    uid: row.uid as Uid,
    blobId: row.blob_id as BlobId,
    size: row.size,
    internalDate: new Date(row.internal_date),
    flags: row.flags === '' ? [] : row.flags.split(' '),
    modSeq: row.modseq as ModSeq,
  };
}

/** INBOX is case-insensitive (RFC 3501 5.1); every other name is kept as given. */
export function canonicalMailboxName(name: string): string {
  return name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
}

export class SqliteMailStore implements MailStore {
  constructor(private readonly db: Db) {}

  private run<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw asStoreError(err, what);
    }
  }

  async listMailboxes(userId: UserId): Promise<Mailbox[]> {
    return this.run('listing mailboxes', () =>
      (this.db.prepare('SELECT * FROM mailboxes WHERE user_id = ? ORDER BY name').all(userId) as MailboxRow[]).map(toMailbox));
  }

  async getMailbox(userId: UserId, name: string): Promise<Mailbox | null> {
    const row = this.run('opening a mailbox', () =>
      this.db.prepare('SELECT * FROM mailboxes WHERE user_id = ? AND name = ?').get(userId, canonicalMailboxName(name)) as MailboxRow | undefined);
    return row ? toMailbox(row) : null;
  }

  async createMailbox(userId: UserId, name: string, specialUse: SpecialUse | null = null): Promise<Mailbox> {
    const canonical = canonicalMailboxName(name);
    return this.run('creating a mailbox', () => writeTransaction(this.db, () => {
      if (!this.db.prepare('SELECT 1 FROM users WHERE id = ?').get(userId)) throw new StoreError('not-found', `no user with id ${userId}`);
      if (this.db.prepare('SELECT 1 FROM mailboxes WHERE user_id = ? AND name = ?').get(userId, canonical)) {
        throw new StoreError('exists', `mailbox ${canonical} exists already`);
      }
      // UIDVALIDITY must differ from any earlier mailbox of the same name: seconds now, or one more than the largest seen.
      const maxSeen = (this.db.prepare('SELECT max(uid_validity) AS v FROM mailboxes WHERE user_id = ?').get(userId) as { v: number | null }).v ?? 0;
      const uidValidity = Math.max(Math.floor(Date.now() / 1000), maxSeen + 1);
      const id = Number(this.db.prepare('INSERT INTO mailboxes (user_id, name, special_use, uid_validity) VALUES (?, ?, ?, ?)')
        .run(userId, canonical, specialUse, uidValidity).lastInsertRowid);
      return toMailbox(this.db.prepare('SELECT * FROM mailboxes WHERE id = ?').get(id) as MailboxRow);
    }));
  }

  async listMessages(mailboxId: MailboxId): Promise<MessageRecord[]> {
    return this.run('listing messages', () =>
      (this.db.prepare('SELECT * FROM messages WHERE mailbox_id = ? ORDER BY uid').all(mailboxId) as MessageRow[]).map(toMessage));
  }

  async deliver(delivery: Delivery): Promise<DeliveryResult> {
    if (!Number.isSafeInteger(delivery.size) || delivery.size < 0) throw new StoreError('bad-parameters', 'message size must be a whole number of bytes');
    return this.run('storing a message', () => writeTransaction(this.db, () => {
      const stored: MessageRecord[] = [];
      const overQuota: UserId[] = [];
      const getMailbox = this.db.prepare('SELECT * FROM mailboxes WHERE user_id = ? AND name = ?');
      const getUsage = this.db.prepare('SELECT quota_bytes, used_bytes FROM users WHERE id = ?');
      const insert = this.db.prepare('INSERT INTO messages (mailbox_id, uid, blob_id, size, internal_date, flags, modseq) VALUES (?, ?, ?, ?, ?, ?, ?)');
      const bumpMailbox = this.db.prepare('UPDATE mailboxes SET uid_next = ?, highest_modseq = ? WHERE id = ?');
      const addUsage = this.db.prepare('UPDATE users SET used_bytes = used_bytes + ? WHERE id = ?');
      for (const target of delivery.targets) {
        const mailboxName = canonicalMailboxName(target.mailboxName ?? 'INBOX');
        const mb = getMailbox.get(target.userId, mailboxName) as MailboxRow | undefined;
        if (!mb) throw new StoreError('not-found', `user ${target.userId} has no mailbox ${mailboxName}`);
        const usage = getUsage.get(target.userId) as { quota_bytes: number; used_bytes: number };
        if (usage.quota_bytes > 0 && usage.used_bytes + delivery.size > usage.quota_bytes) {
          if (delivery.onOverQuota === 'fail') throw new StoreError('over-quota', `user ${target.userId} is over quota`);
          overQuota.push(target.userId);
          continue;
        }
        const modseq = mb.highest_modseq + 1;
        const flags = [...new Set(target.flags ?? [])].join(' ');
        insert.run(mb.id, mb.uid_next, delivery.blobId, delivery.size, delivery.internalDate.getTime(), flags, modseq);
        bumpMailbox.run(mb.uid_next + 1, modseq, mb.id);
        addUsage.run(delivery.size, target.userId);
        stored.push(toMessage({
          mailbox_id: mb.id, uid: mb.uid_next, blob_id: delivery.blobId, size: delivery.size,
          internal_date: delivery.internalDate.getTime(), flags, modseq,
        }));
      }
      return { stored, overQuota };
    }));
  }

  async undeliver(records: MessageRecord[]): Promise<void> {
    this.run('withdrawing a message', () => writeTransaction(this.db, () => {
      for (const r of records) this.removeMessages(r.mailboxId, [r.uid]);
    }));
  }

  async expunge(mailboxId: MailboxId, uids: Uid[]): Promise<void> {
    if (uids.length === 0) return;
    this.run('deleting messages', () => writeTransaction(this.db, () => this.removeMessages(mailboxId, uids)));
  }

  /** Deletes rows, gives their bytes back to the quota and bumps the mailbox's modseq; inside a transaction. */
  private removeMessages(mailboxId: MailboxId, uids: Uid[]): void {
    const mb = this.db.prepare('SELECT * FROM mailboxes WHERE id = ?').get(mailboxId) as MailboxRow | undefined;
    if (!mb) throw new StoreError('not-found', `no mailbox with id ${mailboxId}`);
    const del = this.db.prepare('DELETE FROM messages WHERE mailbox_id = ? AND uid = ? RETURNING size');
    let freed = 0;
    let removed = 0;
    for (const uid of uids) {
      const row = del.get(mailboxId, uid) as { size: number } | undefined;
      if (row) {
        freed += row.size;
        removed++;
      }
    }
    if (removed === 0) return;
    this.db.prepare('UPDATE users SET used_bytes = max(0, used_bytes - ?) WHERE id = ?').run(freed, mb.user_id);
    this.db.prepare('UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ?').run(mailboxId);
  }

  async lockMaildrop(userId: UserId, owner: string, leaseMs: number): Promise<MaildropLock> {
    const take = () => writeTransaction(this.db, () => {
      const now = Date.now();
      const row = this.db.prepare('SELECT owner, expires_at FROM maildrop_locks WHERE user_id = ?').get(userId) as { owner: string; expires_at: number } | undefined;
      if (row && row.owner !== owner && row.expires_at > now) {
        throw new StoreError('in-use', 'the maildrop is locked by another session');
      }
      this.db.prepare(`INSERT INTO maildrop_locks (user_id, owner, expires_at) VALUES (?, ?, ?)
        ON CONFLICT (user_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at`).run(userId, owner, now + leaseMs);
    });
    this.run('locking the maildrop', take);
    const db = this.db;
    let released = false;
    return {
      userId,
      renew: async () => {
        if (released) throw new StoreError('in-use', 'the maildrop lock was released');
        const result = this.run('renewing the maildrop lock', () =>
          db.prepare('UPDATE maildrop_locks SET expires_at = ? WHERE user_id = ? AND owner = ?').run(Date.now() + leaseMs, userId, owner));
        if (result.changes === 0) throw new StoreError('in-use', 'the maildrop lock was lost to another session');
      },
      release: async () => {
        if (released) return;
        released = true;
        this.run('releasing the maildrop lock', () => db.prepare('DELETE FROM maildrop_locks WHERE user_id = ? AND owner = ?').run(userId, owner));
      },
    };
  }
}
