/**
 * Local delivery, shared by every way mail enters a mailbox (SMTP now;
 * submission, webmail and the queue later): deciding what a recipient
 * address means here, checking quota, and storing one blob for every
 * recipient's INBOX copy in one store transaction.
 */
import { metrics } from '../metrics/index.js';
import { isStoreError } from '../store/errors.js';
import type { BlobId, Directory, MessageRecord, Store, User, UserId } from '../store/types.js';
import { domainOf, normaliseAddress } from './address.js';
import { startAutoReplies } from './vacation.js';

/** What a recipient address means to this cluster. */
export type RecipientVerdict =
  /** Not an address of ours at all: accepting it would make us a relay. */
  | { kind: 'not-local'; address: string }
  /** A local domain, but nothing answers to the address (or the user is disabled). */
  | { kind: 'unknown'; address: string }
  /**
   * The address resolves (through aliases or forwards) to addresses outside
   * the cluster, which only the outbound queue could deliver; `users` are
   * the local copies it would also get.
   */
  | { kind: 'remote'; address: string; users: User[]; remoteTargets: string[] }
  /** Local users only, de-duplicated, each getting one INBOX copy. */
  | { kind: 'local'; address: string; users: User[] };

/**
 * Classifies a recipient: not ours, unknown, reaching outside the cluster,
 * or local users. Store failures propagate as StoreError.
 */
export async function classifyRecipient(directory: Directory, rawAddress: string): Promise<RecipientVerdict> {
  const address = normaliseAddress(rawAddress);
  const domain = address ? domainOf(address) : null;
  if (!address || !domain) return { kind: 'not-local', address: rawAddress };
  if (!(await directory.isLocalDomain(domain))) return { kind: 'not-local', address };
  const resolution = await directory.resolveRecipient(address);
  if (!resolution) return { kind: 'unknown', address };
  const users = resolution.localUsers.filter((u) => u.enabled);
  if (resolution.remoteTargets.length > 0) {
    return { kind: 'remote', address, users, remoteTargets: resolution.remoteTargets };
  }
  if (users.length === 0) return { kind: 'unknown', address };
  return { kind: 'local', address, users };
}

/**
 * Whether a user can take `sizeBytes` more without going over quota. With
 * the size unknown (0), only a mailbox that is already full is refused.
 */
export function hasRoomFor(user: User, sizeBytes: number): boolean {
  if (user.quotaBytes <= 0) return true;
  if (sizeBytes <= 0) return user.usedBytes < user.quotaBytes;
  return user.usedBytes + sizeBytes <= user.quotaBytes;
}

/** Every distinct user id among several recipients' users, in first-seen order. */
export function distinctUserIds(groups: Iterable<readonly User[]>): UserId[] {
  const seen = new Set<UserId>();
  for (const users of groups) for (const u of users) seen.add(u.id);
  return [...seen];
}

/** A stored message about to be filed into mailboxes. */
export interface LocalDelivery {
  /** The durable blob (BlobWriter.commit already resolved). */
  blob: { id: BlobId; size: number };
  /** Users who get a copy in their INBOX. */
  userIds: readonly UserId[];
  /** Internal date of every copy; now by default. */
  internalDate?: Date;
  /** The blob's MIME index, stored with the delivery (see Delivery.index). */
  index?: { version: number; json: string };
}

/**
 * Files the message into every user's INBOX in one store transaction. Either
 * every copy is stored or none: a user over quota makes the whole call throw
 * StoreError('over-quota') with nothing stored, because a caller that has
 * already promised delivery to everybody (250 after DATA) could not honestly
 * leave one copy out.
 */
export async function deliverLocal(store: Store, delivery: LocalDelivery): Promise<MessageRecord[]> {
  let result;
  try {
    result = await store.mail.deliver({
      blobId: delivery.blob.id,
      size: delivery.blob.size,
      internalDate: delivery.internalDate ?? new Date(),
      targets: delivery.userIds.map((userId) => ({ userId })),
      onOverQuota: 'fail',
      ...(delivery.index ? { index: delivery.index } : {}),
    });
  } catch (err) {
    metrics.deliveries.inc({ path: 'local', result: isStoreError(err, 'over-quota') ? 'over-quota' : 'failed' }, delivery.userIds.length);
    throw err;
  }
  metrics.deliveries.inc({ path: 'local', result: 'delivered' }, result.stored.length);
  // Vacation auto-replies (RFC 3834) run after the commit and are not awaited: they never delay or fail a delivery.
  startAutoReplies(store, { blobId: delivery.blob.id, userIds: delivery.userIds });
  return result.stored;
}

/**
 * Which of the given users could not take `sizeBytes` more, by the
 * directory's current numbers (used to word a reply after the store refused
 * a delivery for quota; the store's transaction stays the authority).
 */
export async function usersOverQuota(directory: Directory, userIds: readonly UserId[], sizeBytes: number): Promise<UserId[]> {
  const over: UserId[] = [];
  for (const id of userIds) {
    const user = await directory.getUserById(id);
    if (user && !hasRoomFor(user, sizeBytes)) over.push(id);
  }
  return over;
}
