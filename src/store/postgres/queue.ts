/**
 * The outbound queue on PostgreSQL. Workers on many nodes claim at once:
 * FOR UPDATE SKIP LOCKED lets each take rows the others are not taking
 * right now instead of queueing behind them. Leases and due times run on
 * the database's clock, the one every node shares.
 */
import { StoreError } from '../errors.js';
import { checkNewQueuedMessage, checkOutcomes, likeSuffix, newQueueId, recipientDomain, toQueuedMessages,
  type QueueMessageRow, type QueueRecipientRow } from '../queue-rules.js';
import type { NewQueuedMessage, OutboundQueue, QueuedMessage, RecipientOutcome } from '../types.js';
import { nowMs, q, type Pg } from './database.js';

export class PgQueue implements OutboundQueue {
  constructor(private readonly db: Pg) {}

  async enqueue(message: NewQueuedMessage): Promise<string> {
    const recipients = checkNewQueuedMessage(message);
    const id = newQueueId();
    await this.db.transaction('queueing a message', async (c) => {
      const [row] = await q<{ now: number }>(c, `INSERT INTO queue_messages (id, sender, blob_id, size, created_at, origin)
        VALUES ($1, $2, $3, $4, ${nowMs}, $5) RETURNING created_at AS now`, [id, message.sender, message.blobId, message.size, message.origin]);
      await q(c, `INSERT INTO queue_recipients (queue_id, recipient, domain, next_attempt_at)
        SELECT $1, r, d, $2 FROM unnest($3::text[], $4::text[]) AS v(r, d)`,
      [id, row!.now, recipients, recipients.map(recipientDomain)]);
    });
    return id;
  }

  async claim(opts: { owner: string; leaseMs: number; limit: number }): Promise<QueuedMessage[]> {
    if (opts.limit <= 0) return [];
    return this.db.transaction('claiming queued mail', async (c) => {
      const claimed = await q<QueueRecipientRow>(c, `WITH due AS (
          SELECT queue_id, recipient FROM queue_recipients
          WHERE state = 'queued' AND next_attempt_at <= ${nowMs} AND (lease_expires_at IS NULL OR lease_expires_at <= ${nowMs})
          ORDER BY next_attempt_at, queue_id LIMIT $3
          FOR UPDATE SKIP LOCKED)
        UPDATE queue_recipients r SET lease_owner = $1, lease_expires_at = ${nowMs} + $2
        FROM due WHERE r.queue_id = due.queue_id AND r.recipient = due.recipient
        RETURNING r.*`, [opts.owner, Math.ceil(opts.leaseMs), opts.limit]);
      if (claimed.length === 0) return [];
      const messages = await q<QueueMessageRow>(c, 'SELECT * FROM queue_messages WHERE id = ANY($1::text[]) ORDER BY created_at, id',
        [[...new Set(claimed.map((r) => r.queue_id))]]);
      return toQueuedMessages(messages, claimed);
    });
  }

  async renewLeases(owner: string, leaseMs: number): Promise<number> {
    const rows = await this.db.query('renewing queue leases', `UPDATE queue_recipients SET lease_expires_at = ${nowMs} + $2
      WHERE lease_owner = $1 AND state = 'queued' AND lease_expires_at > ${nowMs} RETURNING 1`, [owner, Math.ceil(leaseMs)]);
    return rows.length;
  }

  async settle(id: string, owner: string, outcomes: RecipientOutcome[]): Promise<{ removed: boolean }> {
    checkOutcomes(outcomes);
    return this.db.transaction('recording delivery attempts', async (c) => {
      // The message row first: settlers of one message queue here instead of
      // racing to decide whether it is finished.
      const [m] = await q(c, 'SELECT 1 FROM queue_messages WHERE id = $1 FOR UPDATE', [id]);
      if (!m) return { removed: false };
      // Ours, or nobody's live lease: an outcome never overrides another worker's claim.
      const mine = `queue_id = $1 AND recipient = $2 AND state = 'queued'
        AND (lease_owner = $3 OR lease_owner IS NULL OR lease_expires_at <= ${nowMs})`;
      for (const o of outcomes) {
        if (o.outcome === 'deferred') {
          await q(c, `UPDATE queue_recipients SET last_error = $4, attempts = attempts + 1, next_attempt_at = ${nowMs} + $5,
              delay_warned = delay_warned OR $6, lease_owner = NULL, lease_expires_at = NULL WHERE ${mine}`,
          [id, o.address, owner, o.error, Math.ceil(o.retryInMs), o.delayWarned === true]);
        } else {
          await q(c, `UPDATE queue_recipients SET state = $4, last_error = $5, attempts = attempts + 1,
              lease_owner = NULL, lease_expires_at = NULL WHERE ${mine}`,
          [id, o.address, owner, o.outcome, o.outcome === 'bounced' ? o.error : '']);
        }
      }
      const open = await q(c, "SELECT 1 FROM queue_recipients WHERE queue_id = $1 AND state = 'queued' LIMIT 1", [id]);
      if (open.length > 0) return { removed: false };
      await q(c, 'DELETE FROM queue_messages WHERE id = $1', [id]);
      return { removed: true };
    });
  }

  async flush(domain?: string, opts: { subdomains?: boolean } = {}): Promise<number> {
    // Every queued recipient that matches counts, due already or not: the answer is "pending now".
    if (domain === undefined) {
      return (await this.db.query('flushing the queue', `UPDATE queue_recipients SET next_attempt_at = LEAST(next_attempt_at, ${nowMs})
        WHERE state = 'queued' RETURNING 1`)).length;
    }
    const d = recipientDomain(`@${domain}`);
    const rows = opts.subdomains
      ? await this.db.query('flushing the queue', `UPDATE queue_recipients SET next_attempt_at = LEAST(next_attempt_at, ${nowMs})
          WHERE state = 'queued' AND (domain = $1 OR domain LIKE $2) RETURNING 1`, [d, likeSuffix(d)])
      : await this.db.query('flushing the queue', `UPDATE queue_recipients SET next_attempt_at = LEAST(next_attempt_at, ${nowMs})
          WHERE state = 'queued' AND domain = $1 RETURNING 1`, [d]);
    return rows.length;
  }

  async list(opts: { domain?: string } = {}): Promise<QueuedMessage[]> {
    return this.db.transaction('listing the queue', async (c) => {
      const recipients = opts.domain === undefined
        ? await q<QueueRecipientRow>(c, "SELECT * FROM queue_recipients WHERE state = 'queued'")
        : await q<QueueRecipientRow>(c, "SELECT * FROM queue_recipients WHERE state = 'queued' AND domain = $1", [recipientDomain(`@${opts.domain}`)]);
      const messages = await q<QueueMessageRow>(c, 'SELECT * FROM queue_messages WHERE id = ANY($1::text[]) ORDER BY created_at, id',
        [[...new Set(recipients.map((r) => r.queue_id))]]);
      return toQueuedMessages(messages, recipients);
    }, { readOnly: true });
  }

  async get(id: string): Promise<QueuedMessage | null> {
    return this.db.transaction('reading a queued message', async (c) => {
      const [m] = await q<QueueMessageRow>(c, 'SELECT * FROM queue_messages WHERE id = $1', [id]);
      if (!m) return null;
      const recipients = await q<QueueRecipientRow>(c, 'SELECT * FROM queue_recipients WHERE queue_id = $1', [id]);
      return toQueuedMessages([m], recipients)[0]!;
    }, { readOnly: true });
  }

  async delete(id: string): Promise<void> {
    const rows = await this.db.query('deleting a queued message', 'DELETE FROM queue_messages WHERE id = $1 RETURNING id', [id]);
    if (rows.length === 0) throw new StoreError('not-found', `no queued message ${id}`);
  }
}
