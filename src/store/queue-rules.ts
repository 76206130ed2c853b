/**
 * Rules of the outbound queue both backends apply alike: checking what is
 * enqueued, queue ids, and turning rows into QueuedMessage values.
 */
import { randomBytes } from 'node:crypto';
import { StoreError } from './errors.js';
import type { BlobId, NewQueuedMessage, QueuedMessage, QueuedRecipient, QueueRecipientState, RecipientOutcome } from './types.js';

let lastIdMs = 0;
let idCounter = 0;

/**
 * A fresh queue id, 20 upper-case hex digits: the time in milliseconds (12),
 * a per-process counter within that millisecond (2), and randomness (6) so
 * ids from different nodes do not collide. Ids sort in the order a node
 * made them, which keeps "oldest first" exact when timestamps tie.
 */
export function newQueueId(): string {
  const now = Date.now();
  idCounter = now === lastIdMs ? idCounter + 1 : 0;
  lastIdMs = now;
  if (idCounter > 0xff) {
    // More than 256 ids in one millisecond: borrow the next millisecond.
    lastIdMs = now + 1;
    idCounter = 0;
  }
  return lastIdMs.toString(16).padStart(12, '0').toUpperCase() + idCounter.toString(16).padStart(2, '0').toUpperCase() + randomBytes(3).toString('hex').toUpperCase();
}

/** The lower-cased domain of a recipient address (after its last "@"). */
export function recipientDomain(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase().replace(/\.$/, '');
}

/** Checks a message to enqueue; returns its recipients de-duplicated, in order. */
export function checkNewQueuedMessage(m: NewQueuedMessage): string[] {
  if (typeof m.sender !== 'string' || /[\s<>]/.test(m.sender) || (m.sender !== '' && !m.sender.includes('@'))) {
    throw new StoreError('bad-parameters', `"${m.sender}" is not an envelope sender`);
  }
  if (typeof m.blobId !== 'string' || m.blobId === '') throw new StoreError('bad-parameters', 'a queued message needs its blob');
  if (!Number.isSafeInteger(m.size) || m.size < 0) throw new StoreError('bad-parameters', 'a queued message needs its size in bytes');
  if (typeof m.origin !== 'string' || m.origin === '') throw new StoreError('bad-parameters', 'a queued message needs the name of the node that queued it');
  const recipients = [...new Set(m.recipients)];
  if (recipients.length === 0) throw new StoreError('bad-parameters', 'a queued message needs at least one recipient');
  for (const r of recipients) {
    const at = r.lastIndexOf('@');
    if (at <= 0 || at === r.length - 1 || /[\s<>]/.test(r)) throw new StoreError('bad-parameters', `"${r}" is not a recipient address`);
  }
  return recipients;
}

/** Checks outcomes before they are written. */
export function checkOutcomes(outcomes: RecipientOutcome[]): void {
  for (const o of outcomes) {
    if (o.outcome === 'deferred' && (!Number.isFinite(o.retryInMs) || o.retryInMs < 0)) {
      throw new StoreError('bad-parameters', 'a deferred recipient needs a retry delay of zero or more milliseconds');
    }
    if (!['delivered', 'bounced', 'deferred'].includes(o.outcome)) throw new StoreError('bad-parameters', `unknown outcome "${(o as { outcome: string }).outcome}"`);
  }
}

export interface QueueMessageRow {
  id: string;
  sender: string;
  blob_id: string;
  size: number;
  created_at: number;
  origin: string;
}

export interface QueueRecipientRow {
  queue_id: string;
  recipient: string;
  domain: string;
  state: string;
  attempts: number;
  next_attempt_at: number;
  last_error: string;
  lease_owner: string | null;
  lease_expires_at: number | null;
  delay_warned: number | boolean;
}

export function toQueuedRecipient(r: QueueRecipientRow): QueuedRecipient {
  return {
    address: r.recipient,
    domain: r.domain,
    state: r.state as QueueRecipientState,
    attempts: r.attempts,
    nextAttemptAt: new Date(r.next_attempt_at),
    lastError: r.last_error,
    leaseOwner: r.lease_owner,
    leaseExpiresAt: r.lease_expires_at === null ? null : new Date(r.lease_expires_at),
    delayWarned: r.delay_warned === true || r.delay_warned === 1,
  };
}

/** Messages with their recipients, in the order of `messages`; recipients in address order. */
export function toQueuedMessages(messages: QueueMessageRow[], recipients: QueueRecipientRow[]): QueuedMessage[] {
  const byId = new Map<string, QueuedRecipient[]>();
  for (const r of recipients) {
    let list = byId.get(r.queue_id);
    if (!list) byId.set(r.queue_id, (list = []));
    list.push(toQueuedRecipient(r));
  }
  return messages.map((m) => ({
    id: m.id,
    sender: m.sender,
    blobId: m.blob_id as BlobId,
    size: m.size,
    createdAt: new Date(m.created_at),
    origin: m.origin,
    recipients: (byId.get(m.id) ?? []).sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0)),
  }));
}

/** Escapes LIKE wildcards in a domain so "@example.org" matches subdomains only. */
export function likeSuffix(domain: string): string {
  return `%.${domain.replace(/[\\%_]/g, (c) => `\\${c}`)}`;
}
