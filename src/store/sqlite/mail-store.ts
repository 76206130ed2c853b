/** Mailboxes, messages, quota accounting and maildrop locks on the embedded store. */
import { applyFlagOperation, canonicalMailboxName, sameFlags } from '../rules.js';
import { StoreError, asStoreError } from '../errors.js';
import type {
  BlobId, CopyResult, Delivery, DeliveryResult, FlagUpdate, FlagUpdateResult, Mailbox, MailboxChanges, MailboxId, MailboxStatus,
  MaildropLock, MailStore, MessageRecord, ModSeq, SpecialUse, StoreChange, Uid, UserId,
} from '../types.js';
import { mailboxChanges } from '../change-feed.js';
import { prepared, writeTransaction, type Db } from './database.js';
import type { SqliteChangeFeed } from './changes.js';
import { toMailbox, toMailboxStatus, toMessage, type MailboxRow, type MessageRow } from '../rows.js';

/** Mailbox columns with the subscription flag joined in. */
const mailboxColumns = `m.*, EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = m.user_id AND s.name = m.name) AS subscribed`;


/** Reports mailboxes changed by a transaction (published when it commits). */
function touched(changed: (change: StoreChange) => void, ids: Iterable<number>): void {
  for (const change of mailboxChanges(ids)) changed(change);
}

export class SqliteMailStore implements MailStore {
  constructor(private readonly db: Db, private readonly feed: SqliteChangeFeed) {}

  private run<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw asStoreError(err, what);
    }
  }

  async listMailboxes(userId: UserId): Promise<Mailbox[]> {
    return this.run('listing mailboxes', () =>
      (prepared(this.db, `SELECT ${mailboxColumns} FROM mailboxes m WHERE m.user_id = ? ORDER BY m.name`).all(userId) as MailboxRow[]).map(toMailbox));
  }

  async getMailbox(userId: UserId, name: string): Promise<Mailbox | null> {
    const row = this.run('opening a mailbox', () =>
      prepared(this.db, `SELECT ${mailboxColumns} FROM mailboxes m WHERE m.user_id = ? AND m.name = ?`).get(userId, canonicalMailboxName(name)) as MailboxRow | undefined);
    return row ? toMailbox(row) : null;
  }

  async getMailboxById(id: MailboxId): Promise<Mailbox | null> {
    const row = this.run('opening a mailbox', () => this.mailboxRow(id));
    return row ? toMailbox(row) : null;
  }

  private mailboxRow(id: MailboxId): MailboxRow | undefined {
    return prepared(this.db, `SELECT ${mailboxColumns} FROM mailboxes m WHERE m.id = ?`).get(id) as MailboxRow | undefined;
  }

  private requireMailbox(id: MailboxId): MailboxRow {
    const row = this.mailboxRow(id);
    if (!row) throw new StoreError('not-found', `no mailbox with id ${id}`);
    return row;
  }

  async createMailbox(userId: UserId, name: string, specialUse: SpecialUse | null = null): Promise<Mailbox> {
    const canonical = canonicalMailboxName(name);
    return this.run('creating a mailbox', () => this.feed.transaction((changed) => {
      if (!prepared(this.db, 'SELECT 1 FROM users WHERE id = ?').get(userId)) throw new StoreError('not-found', `no user with id ${userId}`);
      if (prepared(this.db, 'SELECT 1 FROM mailboxes WHERE user_id = ? AND name = ?').get(userId, canonical)) {
        throw new StoreError('exists', `mailbox ${canonical} exists already`);
      }
      const id = this.insertMailbox(userId, canonical, specialUse);
      touched(changed, [id]);
      return toMailbox(this.requireMailbox(id));
    }));
  }

  async deleteMailbox(userId: UserId, name: string): Promise<void> {
    const canonical = canonicalMailboxName(name);
    this.run('deleting a mailbox', () => this.feed.transaction((changed) => {
      if (canonical === 'INBOX') throw new StoreError('permission', 'INBOX cannot be deleted');
      const mb = prepared(this.db, 'SELECT id FROM mailboxes WHERE user_id = ? AND name = ?').get(userId, canonical) as { id: number } | undefined;
      if (!mb) throw new StoreError('not-found', `no mailbox ${canonical}`);
      const child = prepared(this.db, "SELECT 1 FROM mailboxes WHERE user_id = ? AND substr(name, 1, ?) = ?").get(userId, canonical.length + 1, `${canonical}/`);
      if (child) throw new StoreError('exists', `mailbox ${canonical} has child mailboxes; delete them first`);
      const freed = (prepared(this.db, 'SELECT coalesce(sum(size), 0) AS n FROM messages WHERE mailbox_id = ?').get(mb.id) as { n: number }).n;
      prepared(this.db, 'DELETE FROM mailboxes WHERE id = ?').run(mb.id);
      prepared(this.db, 'UPDATE users SET used_bytes = max(0, used_bytes - ?) WHERE id = ?').run(freed, userId);
      touched(changed, [mb.id]);
    }));
  }

  async renameMailbox(userId: UserId, from: string, to: string): Promise<void> {
    const source = canonicalMailboxName(from);
    const target = canonicalMailboxName(to);
    this.run('renaming a mailbox', () => this.feed.transaction((changed) => {
      if (target === 'INBOX') throw new StoreError('exists', 'INBOX exists already');
      const mb = prepared(this.db, 'SELECT * FROM mailboxes WHERE user_id = ? AND name = ?').get(userId, source) as MailboxRow | undefined;
      if (!mb) throw new StoreError('not-found', `no mailbox ${source}`);
      if (target === source || target.startsWith(`${source}/`)) throw new StoreError('bad-parameters', 'a mailbox cannot be renamed into itself');
      const taken = prepared(this.db, 'SELECT 1 FROM mailboxes WHERE user_id = ? AND (name = ? OR substr(name, 1, ?) = ?)').get(userId, target, target.length + 1, `${target}/`);
      if (taken) throw new StoreError('exists', `mailbox ${target} exists already`);
      if (source === 'INBOX') {
        // RFC 3501 6.3.5: renaming INBOX moves its messages to a new mailbox; INBOX stays, empty.
        const created = this.insertMailbox(userId, target, null);
        const uids = (prepared(this.db, 'SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid').all(mb.id) as { uid: Uid }[]).map((r) => r.uid);
        this.copyRows(mb.id as MailboxId, uids, created, false);
        this.removeMessages(mb.id as MailboxId, uids);
        touched(changed, [mb.id, created]);
        return;
      }
      const rename = prepared(this.db, 'UPDATE mailboxes SET name = ? WHERE id = ?');
      const children = prepared(this.db, 'SELECT id, name FROM mailboxes WHERE user_id = ? AND substr(name, 1, ?) = ?').all(userId, source.length + 1, `${source}/`) as { id: number; name: string }[];
      rename.run(target, mb.id);
      for (const c of children) rename.run(target + c.name.slice(source.length), c.id);
      touched(changed, [mb.id, ...children.map((c) => c.id)]);
      // Subscriptions follow the mailboxes they name.
      // OR REPLACE: the new name may be subscribed already (subscriptions may name absent mailboxes).
      const subs = prepared(this.db, 'UPDATE OR REPLACE subscriptions SET name = ? WHERE user_id = ? AND name = ?');
      subs.run(target, userId, source);
      for (const c of children) subs.run(target + c.name.slice(source.length), userId, c.name);
    }));
  }

  /**
   * Inserts a mailbox row, subscribed, with a fresh UIDVALIDITY: seconds now,
   * or one more than the last this user was given, so a name deleted and
   * created again never reuses one. Inside a transaction.
   */
  private insertMailbox(userId: UserId, name: string, specialUse: SpecialUse | null): MailboxId {
    const last = (prepared(this.db, 'SELECT last_uid_validity AS v FROM users WHERE id = ?').get(userId) as { v: number }).v;
    const uidValidity = Math.max(Math.floor(Date.now() / 1000), last + 1);
    prepared(this.db, 'UPDATE users SET last_uid_validity = ? WHERE id = ?').run(uidValidity, userId);
    const id = Number(prepared(this.db, 'INSERT INTO mailboxes (user_id, name, special_use, uid_validity) VALUES (?, ?, ?, ?)')
      .run(userId, name, specialUse, uidValidity).lastInsertRowid) as MailboxId;
    prepared(this.db, 'INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (?, ?)').run(userId, name);
    return id;
  }

  async setSubscribed(userId: UserId, name: string, subscribed: boolean): Promise<void> {
    const canonical = canonicalMailboxName(name);
    this.run('changing a subscription', () => {
      if (subscribed) prepared(this.db, 'INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (?, ?)').run(userId, canonical);
      else prepared(this.db, 'DELETE FROM subscriptions WHERE user_id = ? AND name = ?').run(userId, canonical);
    });
  }

  async listSubscriptions(userId: UserId): Promise<string[]> {
    return this.run('listing subscriptions', () =>
      (prepared(this.db, 'SELECT name FROM subscriptions WHERE user_id = ? ORDER BY name').all(userId) as { name: string }[]).map((r) => r.name));
  }

  async mailboxStatus(mailboxId: MailboxId): Promise<MailboxStatus> {
    return this.run('counting messages', () => {
      const mb = this.requireMailbox(mailboxId);
      const counts = prepared(this.db, `SELECT count(*) AS messages, coalesce(sum(size), 0) AS size,
          coalesce(sum(instr(' ' || flags || ' ', ' \\Seen ') = 0), 0) AS unseen,
          coalesce(sum(instr(' ' || flags || ' ', ' \\Deleted ') > 0), 0) AS deleted
        FROM messages WHERE mailbox_id = ?`).get(mailboxId) as { messages: number; size: number; unseen: number; deleted: number };
      return toMailboxStatus(mb, counts);
    });
  }

  async listMessages(mailboxId: MailboxId): Promise<MessageRecord[]> {
    return this.run('listing messages', () => {
      // Rows as arrays (no per-row object with column names), the columns named
      // once; the mailbox id is the argument. This runs at every SELECT.
      const statement = prepared(this.db, 'SELECT uid, blob_id, size, internal_date, flags, modseq FROM messages WHERE mailbox_id = ? ORDER BY uid').raw(true);
      const rows = statement.all(mailboxId) as [number, string, number, number, string, number][];
      const out: MessageRecord[] = new Array(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i]!;
        const flags = row[4];
        out[i] = {
          mailboxId,
          uid: row[0] as Uid,
          blobId: row[1] as BlobId,
          size: row[2],
          internalDate: new Date(row[3]),
          flags: flags === '' ? [] : flags.indexOf(' ') < 0 ? [flags] : flags.split(' '),
          modSeq: row[5] as ModSeq,
        };
      }
      return out;
    });
  }

  /** Deliveries waiting for the next group commit (see deliver()). */
  private deliveryBatch: { delivery: Delivery; resolve: (r: DeliveryResult) => void; reject: (err: unknown) => void }[] | null = null;

  /**
   * Deliveries that arrive within one turn of the event loop are committed
   * together: one transaction, each delivery in its own savepoint (a refused
   * one costs the others nothing), one COMMIT for all. The commit is most of
   * a delivery's cost here, and every promise settles only after it.
   */
  async deliver(delivery: Delivery): Promise<DeliveryResult> {
    if (!Number.isSafeInteger(delivery.size) || delivery.size < 0) throw new StoreError('bad-parameters', 'message size must be a whole number of bytes');
    return new Promise((resolve, reject) => {
      if (!this.deliveryBatch) {
        this.deliveryBatch = [];
        setImmediate(() => this.commitDeliveries());
      }
      this.deliveryBatch.push({ delivery, resolve, reject });
    });
  }

  private commitDeliveries(): void {
    const batch = this.deliveryBatch ?? [];
    this.deliveryBatch = null;
    const outcomes: ({ ok: true; result: DeliveryResult } | { ok: false; err: unknown })[] = [];
    try {
      this.run('storing a message', () => this.feed.transaction((changed) => {
        outcomes.length = 0; // a retried transaction starts over
        // Called inside the outer transaction, better-sqlite3 runs it as a savepoint.
        const inSavepoint = this.db.transaction((d: Delivery) => this.deliverOne(d, changed));
        for (const { delivery } of batch) {
          try {
            outcomes.push({ ok: true, result: inSavepoint(delivery) });
          } catch (err) {
            outcomes.push({ ok: false, err: asStoreError(err, 'storing a message') });
          }
        }
      }));
    } catch (err) {
      // Not committed: none of them is stored.
      for (const item of batch) item.reject(err);
      return;
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) item.resolve(outcome.result);
      else item.reject(outcome.err);
    });
  }

  /** One delivery's writes, inside the group's transaction. */
  private deliverOne(delivery: Delivery, changed: (change: StoreChange) => void): DeliveryResult {
    const stored: MessageRecord[] = [];
    const overQuota: UserId[] = [];
    const getMailbox = prepared(this.db, `SELECT ${mailboxColumns} FROM mailboxes m WHERE m.user_id = ? AND m.name = ?`);
    const getUsage = prepared(this.db, 'SELECT quota_bytes, used_bytes FROM users WHERE id = ?');
    const insert = prepared(this.db, 'INSERT INTO messages (mailbox_id, uid, blob_id, size, internal_date, flags, modseq) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const bumpMailbox = prepared(this.db, 'UPDATE mailboxes SET uid_next = ?, highest_modseq = ? WHERE id = ?');
    const addUsage = prepared(this.db, 'UPDATE users SET used_bytes = used_bytes + ? WHERE id = ?');
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
    if (delivery.index) this.writeIndex(delivery.blobId, delivery.index.version, delivery.index.json);
    touched(changed, stored.map((r) => r.mailboxId));
    return { stored, overQuota };
  }

  async undeliver(records: MessageRecord[]): Promise<void> {
    this.run('withdrawing a message', () => this.feed.transaction((changed) => {
      for (const r of records) this.removeMessages(r.mailboxId, [r.uid]);
      touched(changed, records.map((r) => r.mailboxId));
    }));
  }

  async expunge(mailboxId: MailboxId, uids: Uid[]): Promise<Uid[]> {
    if (uids.length === 0) return [];
    return this.run('deleting messages', () => this.feed.transaction((changed) => {
      const removed = this.removeMessages(mailboxId, uids);
      if (removed.length > 0) touched(changed, [mailboxId]);
      return removed;
    }));
  }

  /**
   * Deletes rows, gives their bytes back to the quota, records tombstones
   * for QRESYNC and bumps the mailbox's modseq; inside a transaction.
   * Returns the UIDs actually removed, ascending.
   */
  private removeMessages(mailboxId: MailboxId, uids: Uid[]): Uid[] {
    const mb = this.requireMailbox(mailboxId);
    const del = prepared(this.db, 'DELETE FROM messages WHERE mailbox_id = ? AND uid = ? RETURNING size');
    const modseq = mb.highest_modseq + 1;
    const tombstone = prepared(this.db, 'INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)');
    let freed = 0;
    const removed: Uid[] = [];
    for (const uid of [...new Set(uids)].sort((a, b) => a - b)) {
      const row = del.get(mailboxId, uid) as { size: number } | undefined;
      if (row) {
        freed += row.size;
        removed.push(uid);
        tombstone.run(mailboxId, uid, modseq);
      }
    }
    if (removed.length === 0) return removed;
    prepared(this.db, 'UPDATE users SET used_bytes = max(0, used_bytes - ?) WHERE id = ?').run(freed, mb.user_id);
    prepared(this.db, 'UPDATE mailboxes SET highest_modseq = ? WHERE id = ?').run(modseq, mailboxId);
    return removed;
  }

  async updateFlags(mailboxId: MailboxId, uids: Uid[], update: FlagUpdate): Promise<FlagUpdateResult> {
    return this.run('changing flags', () => this.feed.transaction((changed) => {
      const mb = this.requireMailbox(mailboxId);
      const get = prepared(this.db, 'SELECT * FROM messages WHERE mailbox_id = ? AND uid = ?');
      const set = prepared(this.db, 'UPDATE messages SET flags = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?');
      const modseq = mb.highest_modseq + 1;
      const updated: MessageRecord[] = [];
      const modified: Uid[] = [];
      for (const uid of [...new Set(uids)].sort((a, b) => a - b)) {
        const row = get.get(mailboxId, uid) as MessageRow | undefined;
        if (!row) continue;
        if (update.unchangedSince !== undefined && row.modseq > update.unchangedSince) {
          modified.push(uid);
          continue;
        }
        const current = row.flags === '' ? [] : row.flags.split(' ');
        const next = applyFlagOperation(current, update);
        if (sameFlags(current, next)) continue;
        const flags = next.join(' ');
        set.run(flags, modseq, mailboxId, uid);
        updated.push(toMessage({ ...row, flags, modseq }));
      }
      if (updated.length > 0) {
        prepared(this.db, 'UPDATE mailboxes SET highest_modseq = ? WHERE id = ?').run(modseq, mailboxId);
        touched(changed, [mailboxId]);
      }
      return { updated, modified };
    }));
  }

  async copyMessages(from: MailboxId, uids: Uid[], to: MailboxId): Promise<CopyResult> {
    return this.run('copying messages', () => this.feed.transaction((changed) => {
      const result = this.copyRows(from, uids, to, true);
      if (result.mapping.length > 0) touched(changed, [to]);
      return result;
    }));
  }

  async moveMessages(from: MailboxId, uids: Uid[], to: MailboxId): Promise<CopyResult> {
    return this.run('moving messages', () => this.feed.transaction((changed) => {
      // A move takes no more space, so it is not refused for quota.
      const result = this.copyRows(from, uids, to, false);
      this.removeMessages(from, result.mapping.map((m) => m.sourceUid));
      if (result.mapping.length > 0) touched(changed, [from, to]);
      return result;
    }));
  }

  /** Copies rows into another mailbox with new UIDs and one new modseq; inside a transaction. */
  private copyRows(from: MailboxId, uids: Uid[], to: MailboxId, checkQuota: boolean): CopyResult {
    const source = this.requireMailbox(from);
    const target = this.requireMailbox(to);
    if (source.user_id !== target.user_id) throw new StoreError('permission', 'messages can only be copied between mailboxes of one user');
    const get = prepared(this.db, 'SELECT * FROM messages WHERE mailbox_id = ? AND uid = ?');
    const rows = [...new Set(uids)].sort((a, b) => a - b).map((uid) => get.get(from, uid) as MessageRow | undefined).filter((r): r is MessageRow => r !== undefined);
    const bytes = rows.reduce((n, r) => n + r.size, 0);
    if (checkQuota && from !== to) {
      const usage = prepared(this.db, 'SELECT quota_bytes, used_bytes FROM users WHERE id = ?').get(target.user_id) as { quota_bytes: number; used_bytes: number };
      if (usage.quota_bytes > 0 && usage.used_bytes + bytes > usage.quota_bytes) throw new StoreError('over-quota', 'the copy would exceed the quota');
    }
    const insert = prepared(this.db, 'INSERT INTO messages (mailbox_id, uid, blob_id, size, internal_date, flags, modseq) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const modseq = target.highest_modseq + 1;
    let uid = target.uid_next;
    const mapping: CopyResult['mapping'] = [];
    for (const r of rows) {
      insert.run(to, uid, r.blob_id, r.size, r.internal_date, r.flags, modseq);
      mapping.push({ sourceUid: r.uid as Uid, destinationUid: uid as Uid });
      uid++;
    }
    if (rows.length > 0) {
      prepared(this.db, 'UPDATE mailboxes SET uid_next = ?, highest_modseq = ? WHERE id = ?').run(uid, modseq, to);
      prepared(this.db, 'UPDATE users SET used_bytes = used_bytes + ? WHERE id = ?').run(bytes, target.user_id);
    }
    return { destinationUidValidity: target.uid_validity, mapping };
  }

  async changesSince(mailboxId: MailboxId, since: ModSeq): Promise<MailboxChanges> {
    return this.run('reading changes', () => {
      // One read transaction so the three reads agree with each other.
      return this.db.transaction(() => {
        const mb = this.requireMailbox(mailboxId);
        const changed = (prepared(this.db, 'SELECT * FROM messages WHERE mailbox_id = ? AND modseq > ? ORDER BY uid').all(mailboxId, since) as MessageRow[]).map(toMessage);
        const expunged = (prepared(this.db, 'SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid').all(mailboxId, since) as { uid: Uid }[]).map((r) => r.uid);
        return { changed, expunged, highestModSeq: mb.highest_modseq as ModSeq, uidNext: mb.uid_next as Uid };
      }).deferred();
    });
  }

  async getMessageIndex(blobId: BlobId): Promise<{ version: number; json: string } | null> {
    const row = this.run('reading a message index', () =>
      prepared(this.db, 'SELECT version, data FROM message_index WHERE blob_id = ?').get(blobId) as { version: number; data: string } | undefined);
    return row ? { version: row.version, json: row.data } : null;
  }

  async putMessageIndex(blobId: BlobId, version: number, json: string): Promise<void> {
    this.run('storing a message index', () => this.writeIndex(blobId, version, json));
  }

  async blobsInUse(ids: BlobId[]): Promise<Set<BlobId>> {
    if (ids.length === 0) return new Set();
    // The ids as one JSON array: no limit on how many one statement takes.
    const rows = this.run('looking for blob references', () => prepared(this.db, `SELECT blob_id FROM messages WHERE blob_id IN (SELECT value FROM json_each(@ids))
      UNION SELECT blob_id FROM queue_messages WHERE blob_id IN (SELECT value FROM json_each(@ids))`).all({ ids: JSON.stringify(ids) }) as { blob_id: BlobId }[]);
    return new Set(rows.map((r) => r.blob_id));
  }

  async forgetMessageIndexes(ids: BlobId[]): Promise<void> {
    if (ids.length === 0) return;
    this.run('dropping message indexes', () => prepared(this.db, 'DELETE FROM message_index WHERE blob_id IN (SELECT value FROM json_each(?))').run(JSON.stringify(ids)));
  }

  /** Stores a MIME index (inside a transaction or alone). */
  private writeIndex(blobId: BlobId, version: number, json: string): void {
    // A row of the same version stays as it is: a content-addressed blob's index of one version never changes.
    prepared(this.db, `INSERT INTO message_index (blob_id, version, data) VALUES (?, ?, ?)
      ON CONFLICT (blob_id) DO UPDATE SET version = excluded.version, data = excluded.data WHERE message_index.version <> excluded.version`).run(blobId, version, json);
  }

  async lockMaildrop(userId: UserId, owner: string, leaseMs: number): Promise<MaildropLock> {
    const take = () => writeTransaction(this.db, () => {
      const now = Date.now();
      const row = prepared(this.db, 'SELECT owner, expires_at FROM maildrop_locks WHERE user_id = ?').get(userId) as { owner: string; expires_at: number } | undefined;
      if (row && row.owner !== owner && row.expires_at > now) {
        throw new StoreError('in-use', 'the maildrop is locked by another session');
      }
      prepared(this.db, `INSERT INTO maildrop_locks (user_id, owner, expires_at) VALUES (?, ?, ?)
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
          prepared(db, 'UPDATE maildrop_locks SET expires_at = ? WHERE user_id = ? AND owner = ?').run(Date.now() + leaseMs, userId, owner));
        if (result.changes === 0) throw new StoreError('in-use', 'the maildrop lock was lost to another session');
      },
      release: async () => {
        if (released) return;
        released = true;
        this.run('releasing the maildrop lock', () => prepared(db, 'DELETE FROM maildrop_locks WHERE user_id = ? AND owner = ?').run(userId, owner));
      },
    };
  }
}
