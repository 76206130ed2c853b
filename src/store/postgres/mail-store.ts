/**
 * Mailboxes, messages, quota accounting and maildrop locks on PostgreSQL,
 * safe with any number of node processes on any number of machines.
 *
 * Every change that needs a counter takes row locks first, always in this
 * order (see database.ts): the user row (quota, mailbox names,
 * UIDVALIDITY), then mailbox rows by ascending id (uid_next,
 * highest_modseq), then the messages. A second writer on the same mailbox
 * waits for the first to commit and then reads the counters it left
 * (READ COMMITTED re-reads a row it waited for), so UIDs are handed out
 * once, modseqs ascend, and no read-modify-write of flags or quota is lost.
 * Flag changes lock the mailbox row only: they touch no quota.
 *
 * FOR NO KEY UPDATE rather than FOR UPDATE: it still excludes every other
 * writer of the row, but lets foreign-key checks of unrelated inserts (a
 * maildrop lock, a subscription) through.
 */
import { randomUUID } from 'node:crypto';
import { StoreError } from '../errors.js';
import { applyFlagOperation, canonicalMailboxName, sameFlags } from '../rules.js';
import type {
  BlobId, CopyResult, Delivery, DeliveryResult, FlagUpdate, FlagUpdateResult, Mailbox, MailboxChanges, MailboxId, MailboxStatus,
  MaildropLock, MailStore, MessageRecord, ModSeq, SpecialUse, StoreChange, Uid, UserId,
} from '../types.js';
import { mailboxChanges } from '../change-feed.js';
import { nowMs, q, type Client, type Pg } from './database.js';
import { isForeignKeyViolation, isUniqueViolation, pgStoreError } from './errors.js';
import { toMailbox, toMailboxStatus, toMessage, type MailboxRow, type MessageRow } from '../rows.js';

interface UsageRow {
  id: number;
  quota_bytes: number;
  used_bytes: number;
}

/** Reports mailboxes changed by a transaction (published when it commits). */
function touched(changed: (change: StoreChange) => void, ids: Iterable<number>): void {
  for (const change of mailboxChanges(ids)) changed(change);
}

function sortedUnique(ids: readonly number[]): number[] {
  return [...new Set(ids)].sort((a, b) => a - b);
}

/** Ids arrive from callers; a non-integer would only produce a confusing SQL error. */
function isId(id: number): boolean {
  return Number.isSafeInteger(id);
}

/** Mailbox columns with the subscription flag joined in. */
const mailboxColumns = `m.id, m.user_id, m.name, m.special_use, m.uid_validity, m.uid_next, m.highest_modseq,
  EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = m.user_id AND s.name = m.name) AS subscribed`;

const messageColumns = 'mailbox_id, uid, blob_id, size, internal_date, flags, modseq';

// ------------------------------------------------------------ locking helpers (inside a transaction)

/** Locks user rows in ascending id order; returns their quota and usage. */
async function lockUsers(c: Client, ids: readonly number[]): Promise<Map<number, UsageRow>> {
  const rows = await q<UsageRow>(c, 'SELECT id, quota_bytes, used_bytes FROM users WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE',
    [sortedUnique(ids)]);
  return new Map(rows.map((r) => [r.id, r]));
}

/** Locks mailbox rows in ascending id order (after their users'); returns them by id. */
async function lockMailboxes(c: Client, ids: readonly number[]): Promise<Map<number, MailboxRow>> {
  const rows = await q<MailboxRow>(c, `SELECT ${mailboxColumns} FROM mailboxes m WHERE m.id = ANY($1::bigint[]) ORDER BY m.id FOR NO KEY UPDATE OF m`,
    [sortedUnique(ids)]);
  return new Map(rows.map((r) => [r.id, r]));
}

/** The owners of mailboxes (a mailbox never changes owner, so no lock is needed to read it). */
async function ownersOf(c: Client, ids: readonly number[]): Promise<Map<number, number>> {
  const rows = await q<{ id: number; user_id: number }>(c, 'SELECT id, user_id FROM mailboxes WHERE id = ANY($1::bigint[])', [sortedUnique(ids)]);
  return new Map(rows.map((r) => [r.id, r.user_id]));
}

/**
 * Locks the owner and then the mailboxes given (which must share one owner
 * if `sameOwner`); throws 'not-found' naming the first missing mailbox.
 */
async function lockForChange(c: Client, mailboxIds: readonly number[], opts: { sameOwner?: boolean } = {}): Promise<{ usage: Map<number, UsageRow>; boxes: Map<number, MailboxRow> }> {
  const owners = await ownersOf(c, mailboxIds);
  for (const id of mailboxIds) if (!owners.has(id)) throw new StoreError('not-found', `no mailbox with id ${id}`);
  if (opts.sameOwner && new Set(owners.values()).size > 1) {
    throw new StoreError('permission', 'messages can only be copied between mailboxes of one user');
  }
  const usage = await lockUsers(c, [...owners.values()]);
  const boxes = await lockMailboxes(c, mailboxIds);
  // Deleted between the two reads (its owner's lock was not yet ours).
  for (const id of mailboxIds) if (!boxes.has(id)) throw new StoreError('not-found', `no mailbox with id ${id}`);
  return { usage, boxes };
}

/**
 * Deletes messages, gives their bytes back to the quota, records
 * tombstones for QRESYNC and bumps the mailbox's modseq. The owner and the
 * mailbox must be locked; `mb` is updated. Returns the UIDs removed, ascending.
 */
async function removeMessages(c: Client, mb: MailboxRow, uids: readonly number[]): Promise<Uid[]> {
  const wanted = sortedUnique(uids);
  if (wanted.length === 0) return [];
  const modseq = mb.highest_modseq + 1;
  const deleted = await q<{ uid: number; size: number }>(c,
    'DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[]) RETURNING uid, size', [mb.id, wanted]);
  if (deleted.length === 0) return [];
  const removed = deleted.map((r) => r.uid).sort((a, b) => a - b);
  const freed = deleted.reduce((n, r) => n + r.size, 0);
  await q(c, `INSERT INTO expunged (mailbox_id, uid, modseq) SELECT $1, u, $3 FROM unnest($2::bigint[]) AS u
    ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq`, [mb.id, removed, modseq]);
  await q(c, 'UPDATE users SET used_bytes = greatest(0, used_bytes - $1) WHERE id = $2', [freed, mb.user_id]);
  await q(c, 'UPDATE mailboxes SET highest_modseq = $1 WHERE id = $2', [modseq, mb.id]);
  mb.highest_modseq = modseq;
  return removed as Uid[];
}

/**
 * Copies rows into another mailbox with new UIDs and one new modseq. The
 * owner and both mailboxes must be locked; `target` and `usage` are updated.
 */
async function copyRows(c: Client, source: MailboxRow, target: MailboxRow, uids: readonly number[], usage: UsageRow, checkQuota: boolean): Promise<CopyResult> {
  const rows = await q<MessageRow>(c, `SELECT ${messageColumns} FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[]) ORDER BY uid`,
    [source.id, sortedUnique(uids)]);
  const bytes = rows.reduce((n, r) => n + r.size, 0);
  if (checkQuota && source.id !== target.id) {
    if (usage.quota_bytes > 0 && usage.used_bytes + bytes > usage.quota_bytes) throw new StoreError('over-quota', 'the copy would exceed the quota');
  }
  const modseq = target.highest_modseq + 1;
  const mapping: CopyResult['mapping'] = rows.map((r, i) => ({ sourceUid: r.uid as Uid, destinationUid: (target.uid_next + i) as Uid }));
  if (rows.length > 0) {
    await q(c, `INSERT INTO messages (mailbox_id, uid, blob_id, size, internal_date, flags, modseq)
      SELECT $1, uid, blob_id, size, internal_date, flags, $2
      FROM unnest($3::bigint[], $4::text[], $5::bigint[], $6::bigint[], $7::text[]) AS v(uid, blob_id, size, internal_date, flags)`,
    [target.id, modseq, mapping.map((m) => m.destinationUid), rows.map((r) => r.blob_id), rows.map((r) => r.size),
      rows.map((r) => r.internal_date), rows.map((r) => r.flags)]);
    target.uid_next += rows.length;
    target.highest_modseq = modseq;
    await q(c, 'UPDATE mailboxes SET uid_next = $1, highest_modseq = $2 WHERE id = $3', [target.uid_next, modseq, target.id]);
    await q(c, 'UPDATE users SET used_bytes = used_bytes + $1 WHERE id = $2', [bytes, target.user_id]);
    usage.used_bytes += bytes;
  }
  return { destinationUidValidity: target.uid_validity, mapping };
}

/**
 * Inserts a mailbox row, subscribed, with a fresh UIDVALIDITY: seconds now,
 * or one more than the last this user was given, so a name deleted and
 * created again never reuses one. The owner must be locked.
 */
async function insertMailbox(c: Client, userId: number, name: string, specialUse: SpecialUse | null): Promise<MailboxRow> {
  const [user] = await q<{ v: number }>(c,
    'UPDATE users SET last_uid_validity = greatest($2::bigint, last_uid_validity + 1) WHERE id = $1 RETURNING last_uid_validity AS v',
    [userId, Math.floor(Date.now() / 1000)]);
  if (!user) throw new StoreError('not-found', `no user with id ${userId}`);
  let row: MailboxRow;
  try {
    [row] = await q<MailboxRow>(c, `INSERT INTO mailboxes (user_id, name, special_use, uid_validity) VALUES ($1, $2, $3, $4)
      RETURNING id, user_id, name, special_use, uid_validity, uid_next, highest_modseq, true AS subscribed`,
    [userId, name, specialUse, user.v]) as [MailboxRow];
  } catch (err) {
    if (isUniqueViolation(err)) throw new StoreError('exists', `mailbox ${name} exists already`);
    throw err;
  }
  await q(c, 'INSERT INTO subscriptions (user_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [userId, name]);
  return row;
}

/** A stored MIME index: its format version and JSON. */
type StoredIndex = { version: number; json: string };

/** What rookery_deliver() returns per target: nulls for a target over quota or refused (then with the reason). */
interface DeliveredRow {
  mailbox_id: number | null;
  uid: number | null;
  modseq: number | null;
  refusal: string | null;
}

/** A delivery waiting for its call. */
interface PendingDelivery {
  delivery: Delivery;
  internalDate: number;
  targets: { userId: number; name: string; flags: string }[];
  resolve(result: DeliveryResult): void;
  reject(err: unknown): void;
}

/** Most deliveries one call carries (each is a savepoint inside it). */
const maxDeliveriesPerCall = 32;

/** A putMessageIndex() waiting for its statement. */
interface PendingIndexWrite {
  blobId: BlobId;
  version: number;
  json: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** At most this many index rows in one statement (each can be large JSON). */
const maxIndexWritesPerStatement = 32;

/**
 * How long a delivery's receipt is kept: far longer than a lost answer is
 * settled for (database.ts, 30 s), short enough that the table stays small.
 */
const receiptKeepMs = 10 * 60_000;

/**
 * Settles a delivery call whose answer was lost (see deliver): its rows if it
 * committed, null if it did not and now never will. The claim waits for a call
 * still running with the same token, then either loses to its receipt or fences it.
 */
async function settleDelivery(db: Pg, token: string): Promise<DeliveredRow[] | null> {
  const claimed = await db.pool.query(`INSERT INTO delivery_receipts (token, created_at, delivered) VALUES ($1, ${nowMs}, false)
    ON CONFLICT (token) DO NOTHING RETURNING token`, [token]);
  if (claimed.rows.length > 0) return null;
  // A new statement, a new snapshot: it sees the receipt the claim waited for.
  // bigint[] arrives as strings (only plain int8 is parsed as a number, database.ts).
  type Cells = (string | null)[] | null;
  const { rows } = await db.pool.query<{ delivered: boolean; mailbox_ids: Cells; uids: Cells; modseqs: Cells; refusals: Cells }>(
    'SELECT delivered, mailbox_ids, uids, modseqs, refusals FROM delivery_receipts WHERE token = $1', [token]);
  const receipt = rows[0];
  if (!receipt?.delivered) return null;
  const at = (cells: Cells, i: number) => (cells?.[i] == null ? null : Number(cells[i]));
  return (receipt.mailbox_ids ?? []).map((_, i) => ({
    mailbox_id: at(receipt.mailbox_ids, i), uid: at(receipt.uids, i), modseq: at(receipt.modseqs, i), refusal: receipt.refusals?.[i] ?? null,
  }));
}

export class PgMailStore implements MailStore {
  constructor(private readonly db: Pg) {}

  async listMailboxes(userId: UserId): Promise<Mailbox[]> {
    if (!isId(userId)) return [];
    const rows = await this.db.query<MailboxRow>('listing mailboxes', `SELECT ${mailboxColumns} FROM mailboxes m WHERE m.user_id = $1 ORDER BY m.name`, [userId]);
    return rows.map(toMailbox);
  }

  async getMailbox(userId: UserId, name: string): Promise<Mailbox | null> {
    if (!isId(userId)) return null;
    const rows = await this.db.query<MailboxRow>('opening a mailbox',
      `SELECT ${mailboxColumns} FROM mailboxes m WHERE m.user_id = $1 AND m.name = $2`, [userId, canonicalMailboxName(name)]);
    return rows[0] ? toMailbox(rows[0]) : null;
  }

  async getMailboxById(id: MailboxId): Promise<Mailbox | null> {
    if (!isId(id)) return null;
    const rows = await this.db.query<MailboxRow>('opening a mailbox', `SELECT ${mailboxColumns} FROM mailboxes m WHERE m.id = $1`, [id]);
    return rows[0] ? toMailbox(rows[0]) : null;
  }

  async createMailbox(userId: UserId, name: string, specialUse: SpecialUse | null = null): Promise<Mailbox> {
    const canonical = canonicalMailboxName(name);
    return this.db.transaction('creating a mailbox', async (c, changed) => {
      if ((await lockUsers(c, [userId])).size === 0) throw new StoreError('not-found', `no user with id ${userId}`);
      if ((await q(c, 'SELECT 1 FROM mailboxes WHERE user_id = $1 AND name = $2', [userId, canonical])).length > 0) {
        throw new StoreError('exists', `mailbox ${canonical} exists already`);
      }
      const row = await insertMailbox(c, userId, canonical, specialUse);
      touched(changed, [row.id]);
      return toMailbox(row);
    });
  }

  async deleteMailbox(userId: UserId, name: string): Promise<void> {
    const canonical = canonicalMailboxName(name);
    if (canonical === 'INBOX') throw new StoreError('permission', 'INBOX cannot be deleted');
    await this.db.transaction('deleting a mailbox', async (c, changed) => {
      await lockUsers(c, [userId]);
      const [mb] = await q<{ id: number }>(c, 'SELECT id FROM mailboxes WHERE user_id = $1 AND name = $2 FOR UPDATE', [userId, canonical]);
      if (!mb) throw new StoreError('not-found', `no mailbox ${canonical}`);
      const child = await q(c, 'SELECT 1 FROM mailboxes WHERE user_id = $1 AND starts_with(name, $2) LIMIT 1', [userId, `${canonical}/`]);
      if (child.length > 0) throw new StoreError('exists', `mailbox ${canonical} has child mailboxes; delete them first`);
      const [freed] = await q<{ n: number }>(c, 'SELECT coalesce(sum(size), 0)::bigint AS n FROM messages WHERE mailbox_id = $1', [mb.id]);
      await q(c, 'DELETE FROM mailboxes WHERE id = $1', [mb.id]);
      await q(c, 'UPDATE users SET used_bytes = greatest(0, used_bytes - $1) WHERE id = $2', [freed!.n, userId]);
      touched(changed, [mb.id]);
    });
  }

  async renameMailbox(userId: UserId, from: string, to: string): Promise<void> {
    const source = canonicalMailboxName(from);
    const target = canonicalMailboxName(to);
    await this.db.transaction('renaming a mailbox', async (c, changed) => {
      if (target === 'INBOX') throw new StoreError('exists', 'INBOX exists already');
      const usage = await lockUsers(c, [userId]);
      const [mb] = await q<MailboxRow>(c, `SELECT ${mailboxColumns} FROM mailboxes m WHERE m.user_id = $1 AND m.name = $2 FOR NO KEY UPDATE OF m`, [userId, source]);
      if (!mb) throw new StoreError('not-found', `no mailbox ${source}`);
      if (target === source || target.startsWith(`${source}/`)) throw new StoreError('bad-parameters', 'a mailbox cannot be renamed into itself');
      const taken = await q(c, 'SELECT 1 FROM mailboxes WHERE user_id = $1 AND (name = $2 OR starts_with(name, $3)) LIMIT 1', [userId, target, `${target}/`]);
      if (taken.length > 0) throw new StoreError('exists', `mailbox ${target} exists already`);
      if (source === 'INBOX') {
        // RFC 3501 6.3.5: renaming INBOX moves its messages to a new mailbox; INBOX stays, empty.
        const created = await insertMailbox(c, userId, target, null);
        const uids = (await q<{ uid: number }>(c, 'SELECT uid FROM messages WHERE mailbox_id = $1 ORDER BY uid', [mb.id])).map((r) => r.uid);
        await copyRows(c, mb, created, uids, usage.get(userId)!, false);
        await removeMessages(c, mb, uids);
        touched(changed, [mb.id, created.id]);
        return;
      }
      const children = await q<{ name: string }>(c, 'SELECT name FROM mailboxes WHERE user_id = $1 AND starts_with(name, $2)', [userId, `${source}/`]);
      const oldNames = [source, ...children.map((ch) => ch.name)];
      const newNames = oldNames.map((n) => target + n.slice(source.length));
      const renamed = await q<{ id: number }>(c, `UPDATE mailboxes m SET name = v.new_name FROM unnest($2::text[], $3::text[]) AS v(old_name, new_name)
        WHERE m.user_id = $1 AND m.name = v.old_name RETURNING m.id`, [userId, oldNames, newNames]);
      touched(changed, renamed.map((r) => r.id));
      // Subscriptions follow the mailboxes they name; one already made to a
      // new name (subscriptions may name mailboxes that do not exist) is kept.
      const moved = await q<{ name: string }>(c, 'DELETE FROM subscriptions WHERE user_id = $1 AND name = ANY($2::text[]) RETURNING name', [userId, oldNames]);
      const movedNames = new Set(moved.map((r) => r.name));
      const resubscribe = newNames.filter((_, i) => movedNames.has(oldNames[i]!));
      if (resubscribe.length > 0) {
        await q(c, 'INSERT INTO subscriptions (user_id, name) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING', [userId, resubscribe]);
      }
    });
  }

  async setSubscribed(userId: UserId, name: string, subscribed: boolean): Promise<void> {
    const canonical = canonicalMailboxName(name);
    if (subscribed) {
      try {
        await this.db.pool.query('INSERT INTO subscriptions (user_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [userId, canonical]);
      } catch (err) {
        if (isForeignKeyViolation(err)) throw new StoreError('not-found', `no user with id ${userId}`);
        throw pgStoreError(err, 'changing a subscription');
      }
    } else {
      await this.db.query('changing a subscription', 'DELETE FROM subscriptions WHERE user_id = $1 AND name = $2', [userId, canonical]);
    }
  }

  async listSubscriptions(userId: UserId): Promise<string[]> {
    const rows = await this.db.query<{ name: string }>('listing subscriptions', 'SELECT name FROM subscriptions WHERE user_id = $1 ORDER BY name', [userId]);
    return rows.map((r) => r.name);
  }

  async mailboxStatus(mailboxId: MailboxId): Promise<MailboxStatus> {
    // One statement, one snapshot: the counts and the counters agree.
    const rows = await this.db.query<{ uid_next: number; uid_validity: number; highest_modseq: number; messages: number; size: number; unseen: number; deleted: number }>(
      'counting messages', `SELECT m.uid_next, m.uid_validity, m.highest_modseq, c.* FROM mailboxes m,
        LATERAL (SELECT count(*) AS messages, coalesce(sum(size), 0)::bigint AS size,
          count(*) FILTER (WHERE strpos(' ' || flags || ' ', $2) = 0) AS unseen,
          count(*) FILTER (WHERE strpos(' ' || flags || ' ', $3) > 0) AS deleted
          FROM messages WHERE mailbox_id = m.id) c
        WHERE m.id = $1`, [mailboxId, ' \\Seen ', ' \\Deleted ']);
    const r = rows[0];
    if (!r) throw new StoreError('not-found', `no mailbox with id ${mailboxId}`);
    return toMailboxStatus(r, r);
  }

  async listMessages(mailboxId: MailboxId): Promise<MessageRecord[]> {
    const rows = await this.db.query<MessageRow>('listing messages', `SELECT ${messageColumns} FROM messages WHERE mailbox_id = $1 ORDER BY uid`, [mailboxId]);
    return rows.map(toMessage);
  }

  /**
   * Deliveries go through rookery_deliver() (migration 7), one autocommitted
   * call: it locks the users and mailboxes, hands out UIDs and modseqs,
   * inserts the rows, counts the quota, NOTIFYs and leaves a receipt, in one
   * round trip, so the locks are held only while PostgreSQL works on it and
   * flushes its commit, never while a node's event loop gets round to the
   * next statement.
   *
   * Deliveries to the same users queue behind the call in flight for them
   * and then go together in the next call: one lock wait and one commit
   * flush for all of them, where each alone would queue on the same row
   * locks anyway (mail to one busy mailbox). Each delivery stays all or
   * nothing by itself; deliveries to other users never wait for these.
   */
  async deliver(delivery: Delivery): Promise<DeliveryResult> {
    if (!Number.isSafeInteger(delivery.size) || delivery.size < 0) throw new StoreError('bad-parameters', 'message size must be a whole number of bytes');
    const targets = delivery.targets.map((t) => ({ userId: t.userId as number, name: canonicalMailboxName(t.mailboxName ?? 'INBOX'), flags: [...new Set(t.flags ?? [])].join(' ') }));
    if (targets.length === 0) return { stored: [], overQuota: [] };
    for (const t of targets) if (!isId(t.userId)) throw new StoreError('not-found', `no user with id ${t.userId}`);
    const key = sortedUnique(targets.map((t) => t.userId)).join(',');
    return new Promise((resolve, reject) => {
      const pending: PendingDelivery = { delivery, internalDate: delivery.internalDate.getTime(), targets, resolve, reject };
      const queue = this.deliveryQueues.get(key);
      if (queue) {
        queue.push(pending);
        return;
      }
      this.deliveryQueues.set(key, []);
      void this.runDeliveries(key, [pending]);
    });
  }

  /** Deliveries waiting for the call in flight to their users (key: the user ids). */
  private readonly deliveryQueues = new Map<string, PendingDelivery[]>();

  private async runDeliveries(key: string, first: PendingDelivery[]): Promise<void> {
    for (let batch = first; ;) {
      let results: (DeliveryResult | StoreError)[];
      try {
        results = await this.deliverTogether(batch);
      } catch (err) {
        results = batch.map(() => pgStoreError(err, 'storing a message'));
      }
      batch.forEach((p, i) => {
        const r = results[i]!;
        if (r instanceof StoreError) p.reject(r);
        else p.resolve(r);
      });
      const queue = this.deliveryQueues.get(key)!;
      if (queue.length === 0) {
        this.deliveryQueues.delete(key);
        return;
      }
      batch = queue.splice(0, maxDeliveriesPerCall);
    }
  }

  /** One call for several deliveries; per delivery its result or why it was refused. */
  private async deliverTogether(batch: PendingDelivery[]): Promise<(DeliveryResult | StoreError)[]> {
    const db = this.db;
    const flat = batch.flatMap((p, d) => p.targets.map((t) => ({ ...t, d })));
    const rows = await db.commitStatement<DeliveredRow>('storing a message', () => {
      const token = randomUUID();
      return {
        // Prepared once per connection (named): PostgreSQL parses and plans the call once, not per message.
        name: 'rookery_deliver_8',
        text: `SELECT mailbox_id, uid, modseq, refusal FROM rookery_deliver($1, $2::text[], $3::bigint[], $4::bigint[], $5::boolean[],
          $6::integer[], $7::bigint[], $8::text[], $9::text[], $10, $11, $12, $13::integer[], $14::text[])`,
        values: [token, batch.map((p) => p.delivery.blobId), batch.map((p) => p.delivery.size), batch.map((p) => p.internalDate),
          batch.map((p) => p.delivery.onOverQuota === 'fail'), flat.map((t) => t.d + 1), flat.map((t) => t.userId), flat.map((t) => t.name),
          flat.map((t) => t.flags), db.feed?.mailboxChannel ?? null, db.feed?.origin ?? '', receiptKeepMs,
          batch.map((p) => p.delivery.index?.version ?? null), batch.map((p) => p.delivery.index?.json ?? null)],
        settle: () => settleDelivery(db, token),
      };
    }, (delivered) => mailboxChanges(delivered.flatMap((r) => (r.mailbox_id === null ? [] : [r.mailbox_id]))));
    if (rows.length !== flat.length) throw new StoreError('unavailable', `storing a message: PostgreSQL answered for ${rows.length} of ${flat.length} mailboxes`);
    let at = 0;
    return batch.map((p) => {
      const mine = rows.slice(at, at + p.targets.length);
      at += p.targets.length;
      const refusal = mine.find((r) => r.refusal !== null)?.refusal;
      if (refusal) {
        const colon = refusal.indexOf(': ');
        const category = refusal.slice(0, colon) === 'over-quota' ? 'over-quota' : 'not-found';
        return new StoreError(category, refusal.slice(colon + 2));
      }
      const stored: MessageRecord[] = [];
      const overQuota: UserId[] = [];
      mine.forEach((r, i) => {
        const target = p.targets[i]!;
        if (r.mailbox_id === null || r.uid === null || r.modseq === null) {
          overQuota.push(target.userId as UserId);
          return;
        }
        stored.push(toMessage({
          mailbox_id: r.mailbox_id, uid: r.uid, blob_id: p.delivery.blobId, size: p.delivery.size, internal_date: p.internalDate, flags: target.flags, modseq: r.modseq,
        }));
      });
      return { stored, overQuota };
    });
  }

  async undeliver(records: MessageRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.db.transaction('withdrawing a message', async (c, changed) => {
      const { boxes } = await lockForChange(c, sortedUnique(records.map((r) => r.mailboxId)));
      for (const r of records) await removeMessages(c, boxes.get(r.mailboxId)!, [r.uid]);
      touched(changed, records.map((r) => r.mailboxId));
    });
  }

  async expunge(mailboxId: MailboxId, uids: Uid[]): Promise<Uid[]> {
    if (uids.length === 0) return [];
    return this.db.transaction('deleting messages', async (c, changed) => {
      const { boxes } = await lockForChange(c, [mailboxId]);
      const removed = await removeMessages(c, boxes.get(mailboxId)!, uids);
      if (removed.length > 0) touched(changed, [mailboxId]);
      return removed;
    });
  }

  async updateFlags(mailboxId: MailboxId, uids: Uid[], update: FlagUpdate): Promise<FlagUpdateResult> {
    return this.db.transaction('changing flags', async (c, changed) => {
      const [mb] = await q<{ highest_modseq: number }>(c, 'SELECT highest_modseq FROM mailboxes WHERE id = $1 FOR NO KEY UPDATE', [mailboxId]);
      if (!mb) throw new StoreError('not-found', `no mailbox with id ${mailboxId}`);
      const wanted = sortedUnique(uids);
      const rows = wanted.length === 0 ? []
        : await q<MessageRow>(c, `SELECT ${messageColumns} FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[]) ORDER BY uid`, [mailboxId, wanted]);
      const modseq = mb.highest_modseq + 1;
      const updated: MessageRecord[] = [];
      const modified: Uid[] = [];
      for (const row of rows) {
        if (update.unchangedSince !== undefined && row.modseq > update.unchangedSince) {
          modified.push(row.uid as Uid);
          continue;
        }
        const current = row.flags === '' ? [] : row.flags.split(' ');
        const next = applyFlagOperation(current, update);
        if (sameFlags(current, next)) continue;
        updated.push(toMessage({ ...row, flags: next.join(' '), modseq }));
      }
      if (updated.length > 0) {
        await q(c, `UPDATE messages m SET flags = v.flags, modseq = $2
          FROM unnest($3::bigint[], $4::text[]) AS v(uid, flags) WHERE m.mailbox_id = $1 AND m.uid = v.uid`,
        [mailboxId, modseq, updated.map((m) => m.uid), updated.map((m) => m.flags.join(' '))]);
        await q(c, 'UPDATE mailboxes SET highest_modseq = $1 WHERE id = $2', [modseq, mailboxId]);
        touched(changed, [mailboxId]);
      }
      return { updated, modified };
    });
  }

  async copyMessages(from: MailboxId, uids: Uid[], to: MailboxId): Promise<CopyResult> {
    return this.db.transaction('copying messages', async (c, changed) => {
      const { usage, boxes } = await lockForChange(c, [from, to], { sameOwner: true });
      const target = boxes.get(to)!;
      const result = await copyRows(c, boxes.get(from)!, target, uids, usage.get(target.user_id)!, true);
      if (result.mapping.length > 0) touched(changed, [to]);
      return result;
    });
  }

  async moveMessages(from: MailboxId, uids: Uid[], to: MailboxId): Promise<CopyResult> {
    return this.db.transaction('moving messages', async (c, changed) => {
      const { usage, boxes } = await lockForChange(c, [from, to], { sameOwner: true });
      const source = boxes.get(from)!;
      const target = boxes.get(to)!;
      // A move takes no more space, so it is not refused for quota.
      const result = await copyRows(c, source, target, uids, usage.get(target.user_id)!, false);
      await removeMessages(c, source, result.mapping.map((m) => m.sourceUid));
      if (result.mapping.length > 0) touched(changed, [from, to]);
      return result;
    });
  }

  async changesSince(mailboxId: MailboxId, since: ModSeq): Promise<MailboxChanges> {
    // A read-only snapshot so the three reads agree with each other.
    return this.db.transaction('reading changes', async (c) => {
      const [mb] = await q<{ uid_next: number; highest_modseq: number }>(c, 'SELECT uid_next, highest_modseq FROM mailboxes WHERE id = $1', [mailboxId]);
      if (!mb) throw new StoreError('not-found', `no mailbox with id ${mailboxId}`);
      const changed = await q<MessageRow>(c, `SELECT ${messageColumns} FROM messages WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid`, [mailboxId, since]);
      const expunged = await q<{ uid: number }>(c, 'SELECT uid FROM expunged WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid', [mailboxId, since]);
      return {
        changed: changed.map(toMessage),
        expunged: expunged.map((r) => r.uid as Uid),
        highestModSeq: mb.highest_modseq as ModSeq,
        uidNext: mb.uid_next as Uid,
      };
    }, { readOnly: true });
  }

  /**
   * Reads asked for in one turn of the event loop (FETCH and SEARCH keep
   * several loads in flight) go to PostgreSQL as one query, not one round
   * trip each.
   */
  private indexReads: Map<BlobId, { resolve: (row: StoredIndex | null) => void; reject: (err: unknown) => void }[]> | null = null;

  getMessageIndex(blobId: BlobId): Promise<StoredIndex | null> {
    return new Promise((resolve, reject) => {
      let batch = this.indexReads;
      if (!batch) {
        const started = new Map<BlobId, { resolve: (row: StoredIndex | null) => void; reject: (err: unknown) => void }[]>();
        batch = started;
        this.indexReads = started;
        setImmediate(() => {
          this.indexReads = null;
          void this.readIndexes(started);
        });
      }
      const waiting = batch.get(blobId);
      if (waiting) waiting.push({ resolve, reject });
      else batch.set(blobId, [{ resolve, reject }]);
    });
  }

  private async readIndexes(batch: Map<BlobId, { resolve: (row: StoredIndex | null) => void; reject: (err: unknown) => void }[]>): Promise<void> {
    let rows: { blob_id: string; version: number; data: string }[];
    try {
      rows = await this.db.query('reading a message index', 'SELECT blob_id, version, data FROM message_index WHERE blob_id = ANY($1::text[])', [[...batch.keys()]]);
    } catch (err) {
      for (const waiting of batch.values()) for (const w of waiting) w.reject(err);
      return;
    }
    const found = new Map(rows.map((r) => [r.blob_id, { version: r.version, json: r.data }]));
    for (const [blobId, waiting] of batch) for (const w of waiting) w.resolve(found.get(blobId) ?? null);
  }

  /** Index writes waiting for the one in flight (null: none in flight). */
  private indexWrites: PendingIndexWrite[] | null = null;

  /**
   * Writes asked for while one is in flight go together in the next
   * statement (deliveries on one node come several at a time): fewer
   * statements per message for PostgreSQL and for the node.
   */
  async blobsInUse(ids: BlobId[]): Promise<Set<BlobId>> {
    if (ids.length === 0) return new Set();
    const rows = await this.db.query<{ blob_id: BlobId }>('looking for blob references',
      'SELECT blob_id FROM messages WHERE blob_id = ANY($1::text[]) UNION SELECT blob_id FROM queue_messages WHERE blob_id = ANY($1::text[])', [ids]);
    return new Set(rows.map((r) => r.blob_id));
  }

  async forgetMessageIndexes(ids: BlobId[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.query('dropping message indexes', 'DELETE FROM message_index WHERE blob_id = ANY($1::text[])', [ids]);
  }

  putMessageIndex(blobId: BlobId, version: number, json: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const write = { blobId, version, json, resolve, reject };
      if (this.indexWrites) {
        this.indexWrites.push(write);
        return;
      }
      this.indexWrites = [];
      void this.runIndexWrites([write]);
    });
  }

  private async runIndexWrites(first: PendingIndexWrite[]): Promise<void> {
    for (let batch = first; ;) {
      try {
        await this.writeIndexes(batch);
        for (const w of batch) w.resolve();
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
      const queue = this.indexWrites!;
      if (queue.length === 0) {
        this.indexWrites = null;
        return;
      }
      batch = queue.splice(0, maxIndexWritesPerStatement);
    }
  }

  private async writeIndexes(batch: readonly PendingIndexWrite[]): Promise<void> {
    // One row per blob: a statement may not upsert the same row twice (the last one asked for wins).
    const rows = new Map(batch.map((w) => [w.blobId, w]));
    // A blob's index of one version never changes (the blob is content-
    // addressed), so a row of the same version is kept as it is and a writer
    // need not read first. The index is derived from the blob (readers
    // compute it again when it is missing), so its commit does not wait for
    // its own WAL flush; the delivery's commit that follows flushes the WAL
    // past it anyway.
    await this.db.query('storing a message index', `WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true))
      INSERT INTO message_index (blob_id, version, data)
      SELECT i.blob_id, i.version, i.data FROM unnest($1::text[], $2::integer[], $3::text[]) AS i(blob_id, version, data), relaxed
      ON CONFLICT (blob_id) DO UPDATE SET version = excluded.version, data = excluded.data WHERE message_index.version <> excluded.version`,
    [[...rows.keys()], [...rows.values()].map((w) => w.version), [...rows.values()].map((w) => w.json)]);
  }

  async lockMaildrop(userId: UserId, owner: string, leaseMs: number): Promise<MaildropLock> {
    if (!Number.isFinite(leaseMs)) throw new StoreError('bad-parameters', 'a maildrop lease must be a number of milliseconds');
    const lease = Math.max(0, Math.ceil(leaseMs));
    // One statement takes a free or expired lock, or renews our own; a live
    // lock of another owner makes the conditional update a no-op (no row back).
    // The lease runs on the database's clock, the one every node shares.
    let taken: unknown[];
    try {
      taken = (await this.db.pool.query(`INSERT INTO maildrop_locks (user_id, owner, expires_at) VALUES ($1, $2, ${nowMs} + $3)
        ON CONFLICT (user_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
        WHERE maildrop_locks.owner = excluded.owner OR maildrop_locks.expires_at <= ${nowMs}
        RETURNING user_id`, [userId, owner, lease])).rows;
    } catch (err) {
      if (isForeignKeyViolation(err)) throw new StoreError('not-found', `no user with id ${userId}`);
      throw pgStoreError(err, 'locking the maildrop');
    }
    if (taken.length === 0) throw new StoreError('in-use', 'the maildrop is locked by another session');
    const db = this.db;
    let released = false;
    return {
      userId,
      renew: async () => {
        if (released) throw new StoreError('in-use', 'the maildrop lock was released');
        const rows = await db.query('renewing the maildrop lock',
          `UPDATE maildrop_locks SET expires_at = ${nowMs} + $3 WHERE user_id = $1 AND owner = $2 RETURNING 1`, [userId, owner, lease]);
        if (rows.length === 0) throw new StoreError('in-use', 'the maildrop lock was lost to another session');
      },
      release: async () => {
        if (released) return;
        released = true;
        await db.query('releasing the maildrop lock', 'DELETE FROM maildrop_locks WHERE user_id = $1 AND owner = $2', [userId, owner]);
      },
    };
  }
}
