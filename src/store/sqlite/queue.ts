/**
 * The outbound queue on the embedded store. Claims run in one write
 * transaction (BEGIN IMMEDIATE), which every process on the machine takes
 * in turn, so two workers never lease the same recipient.
 */
import { StoreError } from '../errors.js';
import { checkNewQueuedMessage, checkOutcomes, likeSuffix, newQueueId, recipientDomain, toQueuedMessages,
  type QueueMessageRow, type QueueRecipientRow } from '../queue-rules.js';
import type { NewQueuedMessage, OutboundQueue, QueuedMessage, RecipientOutcome } from '../types.js';
import { type Db, prepared, storeCall, writeTransaction } from './database.js';

export class SqliteQueue implements OutboundQueue {
  constructor(private readonly db: Db) {}


  async enqueue(message: NewQueuedMessage): Promise<string> {
    const recipients = checkNewQueuedMessage(message);
    const id = newQueueId();
    const now = Date.now();
    storeCall('queueing a message', () => writeTransaction(this.db, () => {
      prepared(this.db, 'INSERT INTO queue_messages (id, sender, blob_id, size, created_at, origin) VALUES (?, ?, ?, ?, ?, ?)')
        .run(id, message.sender, message.blobId, message.size, now, message.origin);
      const insert = prepared(this.db, 'INSERT INTO queue_recipients (queue_id, recipient, domain, next_attempt_at) VALUES (?, ?, ?, ?)');
      for (const r of recipients) insert.run(id, r, recipientDomain(r), now);
    }));
    return id;
  }

  async claim(opts: { owner: string; leaseMs: number; limit: number }): Promise<QueuedMessage[]> {
    if (opts.limit <= 0) return [];
    return storeCall('claiming queued mail', () => writeTransaction(this.db, () => {
      const now = Date.now();
      const due = prepared(this.db, `SELECT * FROM queue_recipients
          WHERE state = 'queued' AND next_attempt_at <= ? AND (lease_expires_at IS NULL OR lease_expires_at <= ?)
          ORDER BY next_attempt_at, queue_id LIMIT ?`).all(now, now, opts.limit) as QueueRecipientRow[];
      if (due.length === 0) return [];
      const lease = prepared(this.db, 'UPDATE queue_recipients SET lease_owner = ?, lease_expires_at = ? WHERE queue_id = ? AND recipient = ?');
      const expires = now + opts.leaseMs;
      for (const r of due) {
        lease.run(opts.owner, expires, r.queue_id, r.recipient);
        r.lease_owner = opts.owner;
        r.lease_expires_at = expires;
      }
      const ids = [...new Set(due.map((r) => r.queue_id))];
      const get = prepared(this.db, 'SELECT * FROM queue_messages WHERE id = ?');
      const messages = ids.map((id) => get.get(id) as QueueMessageRow);
      return toQueuedMessages(messages, due);
    }));
  }

  async renewLeases(owner: string, leaseMs: number): Promise<number> {
    return storeCall('renewing queue leases', () => {
      const now = Date.now();
      return prepared(this.db, `UPDATE queue_recipients SET lease_expires_at = ?
          WHERE lease_owner = ? AND state = 'queued' AND lease_expires_at > ?`).run(now + leaseMs, owner, now).changes;
    });
  }

  async settle(id: string, owner: string, outcomes: RecipientOutcome[]): Promise<{ removed: boolean }> {
    checkOutcomes(outcomes);
    return storeCall('recording delivery attempts', () => writeTransaction(this.db, () => {
      const now = Date.now();
      // Ours, or nobody's live lease: an outcome never overrides another worker's claim.
      const mine = `queue_id = ? AND recipient = ? AND state = 'queued'
        AND (lease_owner = ? OR lease_owner IS NULL OR lease_expires_at <= ?)`;
      const final = prepared(this.db, `UPDATE queue_recipients SET state = ?, last_error = ?, attempts = attempts + 1,
          lease_owner = NULL, lease_expires_at = NULL WHERE ${mine}`);
      const defer = prepared(this.db, `UPDATE queue_recipients SET last_error = ?, attempts = attempts + 1, next_attempt_at = ?,
          delay_warned = max(delay_warned, ?), lease_owner = NULL, lease_expires_at = NULL WHERE ${mine}`);
      for (const o of outcomes) {
        if (o.outcome === 'deferred') defer.run(o.error, now + Math.ceil(o.retryInMs), o.delayWarned ? 1 : 0, id, o.address, owner, now);
        else final.run(o.outcome, o.outcome === 'bounced' ? o.error : '', id, o.address, owner, now);
      }
      const open = prepared(this.db, "SELECT 1 FROM queue_recipients WHERE queue_id = ? AND state = 'queued' LIMIT 1").get(id);
      if (open) return { removed: false };
      const removed = prepared(this.db, 'DELETE FROM queue_messages WHERE id = ?').run(id).changes > 0;
      return { removed };
    }));
  }

  async flush(domain?: string, opts: { subdomains?: boolean } = {}): Promise<number> {
    return storeCall('flushing the queue', () => {
      const now = Date.now();
      // Every queued recipient that matches counts, due already or not: the answer is "pending now".
      if (domain === undefined) {
        return prepared(this.db, "UPDATE queue_recipients SET next_attempt_at = min(next_attempt_at, ?) WHERE state = 'queued'").run(now).changes;
      }
      const d = recipientDomain(`@${domain}`);
      const sql = opts.subdomains
        ? "UPDATE queue_recipients SET next_attempt_at = min(next_attempt_at, ?) WHERE state = 'queued' AND (domain = ? OR domain LIKE ? ESCAPE '\\')"
        : "UPDATE queue_recipients SET next_attempt_at = min(next_attempt_at, ?) WHERE state = 'queued' AND domain = ?";
      const args = opts.subdomains ? [now, d, likeSuffix(d)] : [now, d];
      return prepared(this.db, sql).run(...args).changes;
    });
  }

  async list(opts: { domain?: string } = {}): Promise<QueuedMessage[]> {
    return storeCall('listing the queue', () => this.db.transaction(() => {
      const recipients = (opts.domain === undefined
        ? prepared(this.db, "SELECT * FROM queue_recipients WHERE state = 'queued'").all()
        : prepared(this.db, "SELECT * FROM queue_recipients WHERE state = 'queued' AND domain = ?").all(recipientDomain(`@${opts.domain}`))) as QueueRecipientRow[];
      const ids = [...new Set(recipients.map((r) => r.queue_id))];
      const get = prepared(this.db, 'SELECT * FROM queue_messages WHERE id = ?');
      const messages = ids.map((id) => get.get(id) as QueueMessageRow | undefined).filter((m): m is QueueMessageRow => m !== undefined)
        .sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : 1));
      return toQueuedMessages(messages, recipients);
    }).deferred());
  }

  async get(id: string): Promise<QueuedMessage | null> {
    return storeCall('reading a queued message', () => this.db.transaction(() => {
      const m = prepared(this.db, 'SELECT * FROM queue_messages WHERE id = ?').get(id) as QueueMessageRow | undefined;
      if (!m) return null;
      const recipients = prepared(this.db, 'SELECT * FROM queue_recipients WHERE queue_id = ?').all(id) as QueueRecipientRow[];
      return toQueuedMessages([m], recipients)[0]!;
    }).deferred());
  }

  async delete(id: string): Promise<void> {
    const changes = storeCall('deleting a queued message', () => prepared(this.db, 'DELETE FROM queue_messages WHERE id = ?').run(id).changes);
    if (changes === 0) throw new StoreError('not-found', `no queued message ${id}`);
  }
}
