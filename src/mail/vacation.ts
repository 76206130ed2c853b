/**
 * The vacation auto-reply (RFC 3834), decided after a local delivery has
 * committed: deliverLocal starts it and never waits for it, so a reply can
 * neither delay nor fail the delivery's 250.
 *
 * No reply (RFC 3834 section 2) when:
 * - the envelope sender (the Return-Path the delivery wrote first) is null,
 *   or a robot's: MAILER-DAEMON, LISTSERV, majordomo, owner-*, *-request;
 * - Auto-Submitted is anything but "no", or Microsoft's
 *   X-Auto-Response-Suppress asks for none (OOF or All);
 * - the message comes from a list or a bulk sender: any List-* field
 *   (RFC 2369, RFC 2919 List-Id), Precedence bulk, list or junk;
 * - no address in To, Cc, Resent-To or Resent-Cc reaches the user (its
 *   own, or one that resolves to it: an alias, the domain's catch-all): a
 *   Bcc or a list copy gets nothing;
 * - the user already answered this sender within its period (the store's
 *   claim is atomic, so this holds across nodes).
 *
 * The reply (section 3): From the user, To the envelope sender, Subject
 * the configured one or "Auto: " and the original, In-Reply-To and
 * References, Auto-Submitted: auto-replied, sent with the null envelope
 * sender (MAIL FROM:<>) so nothing answers it back: queued for a remote
 * sender, filed at once for a local one.
 *
 * A message withdrawn after its commit (RFC 5321 4.2.5, the client left
 * before the 250) may still have been answered; the sender's retry then
 * finds the reply already claimed, so it still gets one reply.
 */
import { hostname as osHostname } from 'node:os';
import { createLogger, type Logger } from '../log.js';
import type { BlobId, Store, User, UserId, VacationSettings } from '../store/types.js';
import { maxVacationPeriodDays } from '../store/vacation-rules.js';
import { classifyRecipient, deliverLocal } from './deliver.js';
import { domainOf, normaliseAddress } from './address.js';
import { loadMessageIndex } from './message-index.js';
import { parseAddressList } from './mime/address-list.js';
import { headerFieldValues } from './mime/header.js';
import { newMessageId } from './submission-headers.js';
import { formatDate } from './trace.js';
import { encodedHeaderText } from './header-encoding.js';

/** The most header bytes read to decide; a header section longer than this is judged on what was read. */
const maxHeaderBytes = 256 * 1024;
/** Addresses read from To, Cc and the Resent fields together. */
const maxAddressedAddresses = 100;
const dayMs = 86_400_000;

export interface AutoReplyOptions {
  /** The node's name, recorded as the queued reply's origin. */
  nodeName: string;
  logger: Logger;
}

let options: AutoReplyOptions | null = null;
const pending = new Set<Promise<void>>();

/** Names the node and logger auto-replies use (the host name and a "vacation" logger otherwise). */
export function configureAutoReplies(opts: AutoReplyOptions): void {
  options = opts;
}

function current(): AutoReplyOptions {
  options ??= { nodeName: osHostname(), logger: createLogger('vacation') };
  return options;
}

/** Resolves when every auto-reply started so far has finished (tests, clean shutdown). */
export async function settleAutoReplies(): Promise<void> {
  while (pending.size > 0) await Promise.allSettled([...pending]);
}

/**
 * Starts the auto-replies for a delivery that has just committed, in the
 * background; never throws, and failures are logged.
 */
export function startAutoReplies(store: Store, delivery: { blobId: BlobId; userIds: readonly UserId[] }): void {
  if (delivery.userIds.length === 0) return;
  const work = new Promise<void>((resolve) => setImmediate(resolve))
    .then(() => autoReply(store, delivery.blobId, delivery.userIds))
    .catch((err: unknown) => current().logger.warn({ err, blobId: delivery.blobId }, 'vacation auto-reply failed'))
    .finally(() => pending.delete(work));
  pending.add(work);
}

/** The parts of a delivered message that decide a reply. */
export interface IncomingFacts {
  /** The envelope sender from Return-Path; '' for the null sender or when there is none. */
  sender: string;
  subject: string;
  messageId: string | null;
  references: string | null;
  /** Addresses in To, Cc, Resent-To and Resent-Cc, lower-cased. */
  addressed: string[];
  /** Why no reply may go to this message at all, or null. */
  refusal: string | null;
}

/** The header section of a message, up to maxHeaderBytes. */
async function headerOf(store: Store, blobId: BlobId): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of store.blobs.createReadStream(blobId) as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.length;
    const joined = chunks.length === 1 ? chunk : Buffer.concat(chunks);
    const end = joined.indexOf('\r\n\r\n');
    if (end >= 0) return joined.subarray(0, end + 2);
    if (size >= maxHeaderBytes) return joined.subarray(0, maxHeaderBytes);
  }
  return Buffer.concat(chunks);
}

/** Field names of a header section, lower-cased. */
function fieldNames(header: Buffer): string[] {
  const names: string[] = [];
  for (const line of header.toString('latin1').split('\r\n')) {
    if (line === '' || line[0] === ' ' || line[0] === '\t') continue;
    const colon = line.indexOf(':');
    if (colon > 0) names.push(line.slice(0, colon).trim().toLowerCase());
  }
  return names;
}

/** The local parts RFC 3834 2 names as robots, and the list conventions of RFC 2142 and majordomo. */
function robotSender(address: string): boolean {
  const local = address.slice(0, address.lastIndexOf('@')).toLowerCase();
  return ['mailer-daemon', 'listserv', 'majordomo'].includes(local) || local.startsWith('owner-') || local.endsWith('-request') || local.endsWith('-owner');
}

/** Reads what decides a reply from a header section (pure, so it is tested alone). */
export function incomingFacts(header: Buffer): IncomingFacts {
  const first = (name: string): string | null => headerFieldValues(header, name)[0] ?? null;
  const returnPath = first('return-path');
  const sender = returnPath === null ? '' : (/^<?\s*([^<>\s]*)\s*>?$/.exec(returnPath)?.[1] ?? '');
  const addressed: string[] = [];
  for (const name of ['to', 'cc', 'resent-to', 'resent-cc']) {
    for (const value of headerFieldValues(header, name)) {
      for (const item of parseAddressList(value, maxAddressedAddresses).items) {
        if (item.kind === 'mailbox' && item.mailbox && item.host && addressed.length < maxAddressedAddresses) {
          addressed.push(`${item.mailbox}@${item.host}`.toLowerCase());
        }
      }
    }
  }
  const names = fieldNames(header);
  const autoSubmitted = headerFieldValues(header, 'auto-submitted').map((v) => v.split(/[;(]/)[0]!.trim().toLowerCase());
  const precedence = headerFieldValues(header, 'precedence').map((v) => v.trim().toLowerCase());
  const suppress = headerFieldValues(header, 'x-auto-response-suppress').flatMap((v) => v.split(',').map((s) => s.trim().toLowerCase()));
  let refusal: string | null = null;
  if (sender === '') refusal = 'the envelope sender is null';
  else if (!normaliseAddress(sender)) refusal = 'the envelope sender is not an address';
  else if (robotSender(sender)) refusal = 'the sender is a mailer daemon or a list address';
  else if (autoSubmitted.some((v) => v !== 'no')) refusal = 'the message was sent automatically (Auto-Submitted)';
  else if (suppress.includes('oof') || suppress.includes('all')) refusal = 'the sender asked for no auto-replies (X-Auto-Response-Suppress)';
  else if (names.some((n) => n.startsWith('list-'))) refusal = 'the message came from a mailing list (List-*)';
  else if (precedence.some((p) => p === 'bulk' || p === 'list' || p === 'junk')) refusal = `the message is ${precedence.join(', ')} mail (Precedence)`;
  return { sender, subject: first('subject') ?? '', messageId: first('message-id'), references: first('references'), addressed, refusal };
}

async function autoReply(store: Store, blobId: BlobId, userIds: readonly UserId[]): Promise<void> {
  const now = new Date();
  const away = await store.vacation.activeAmong(userIds, now);
  if (away.size === 0) return;
  const facts = incomingFacts(await headerOf(store, blobId));
  const { logger } = current();
  if (facts.refusal) {
    logger.debug({ blobId, reason: facts.refusal }, 'no vacation auto-reply');
    return;
  }
  // Now and then, replies older than the longest period are forgotten (they can no longer hold a reply back).
  if (Math.random() < 0.01) await store.vacation.pruneReplies(new Date(now.getTime() - maxVacationPeriodDays * dayMs));
  const reached = await usersAddressed(store, facts.addressed);
  for (const [userId, settings] of away) {
    const user = await store.directory.getUserById(userId);
    if (!user || !user.enabled) continue;
    if (!reached.has(userId)) continue;
    if (user.address.toLowerCase() === facts.sender.toLowerCase()) continue;
    if (!(await store.vacation.claimReply(userId, facts.sender, settings.periodDays * dayMs, now))) continue;
    // One user's failed reply (a full mailbox, the store away) does not cost the others theirs.
    try {
      const sent = await sendReply(store, user, settings, facts, now);
      logger.info({ user: user.address, to: facts.sender, how: sent }, 'vacation auto-reply sent');
    } catch (err) {
      logger.warn({ err, user: user.address, to: facts.sender }, 'vacation auto-reply could not be sent; the sender gets none this period');
    }
  }
}

/** The users the message names explicitly: an address of To/Cc that resolves to them. */
async function usersAddressed(store: Store, addresses: readonly string[]): Promise<Set<UserId>> {
  const out = new Set<UserId>();
  const localDomains = new Map<string, boolean>();
  for (const address of new Set(addresses)) {
    const normalised = normaliseAddress(address);
    const domain = normalised ? domainOf(normalised) : null;
    if (!normalised || !domain) continue;
    if (!localDomains.has(domain)) localDomains.set(domain, await store.directory.isLocalDomain(domain));
    if (!localDomains.get(domain)) continue;
    const resolution = await store.directory.resolveRecipient(normalised);
    for (const u of resolution?.localUsers ?? []) out.add(u.id);
  }
  return out;
}

/** A header field value taken from the original, kept on one physical line per 998 octets at most. */
function carried(value: string): string {
  return value.replace(/[\r\n]+/g, ' ').slice(0, 900);
}

/** The reply's bytes (RFC 3834 3.1). */
export function buildReply(user: User, settings: VacationSettings, facts: IncomingFacts, now: Date): Buffer {
  const domain = user.address.slice(user.address.lastIndexOf('@') + 1);
  // The original subject is carried as written (encoded words stay valid after "Auto: ").
  const subject = settings.subject ? encodedHeaderText(settings.subject) : `Auto: ${carried(facts.subject)}`.trimEnd();
  const references = [facts.references, facts.messageId].filter((v): v is string => !!v).map(carried).join(' ');
  const body = settings.body.replace(/\r\n?/g, '\n');
  const plain = /^[\x20-\x7e\t\n]*$/.test(body) && body.split('\n').every((l) => l.length <= 998);
  const lines = [
    `From: ${user.address}`,
    `To: ${facts.sender}`,
    `Subject: ${subject}`,
    `Date: ${formatDate(now)}`,
    `Message-ID: ${newMessageId(domain, now)}`,
    ...(facts.messageId ? [`In-Reply-To: ${carried(facts.messageId)}`] : []),
    ...(references ? [`References: ${references}`] : []),
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Transfer-Encoding: ${plain ? '7bit' : 'base64'}`,
  ];
  // Text is encoded in its canonical form, CRLF line ends (RFC 2045 6.8).
  const text = plain ? body.split('\n').join('\r\n') : (Buffer.from(body.replace(/\n/g, '\r\n'), 'utf8').toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${text}${text.endsWith('\r\n') ? '' : '\r\n'}`, 'utf8');
}

/** Sends the reply with the null envelope sender; says where it went. */
async function sendReply(store: Store, user: User, settings: VacationSettings, facts: IncomingFacts, now: Date): Promise<string> {
  const message = buildReply(user, settings, facts, now);
  const verdict = await classifyRecipient(store.directory, facts.sender);
  let how = 'dropped: the sender is unknown here';
  if (verdict.kind === 'local' || verdict.kind === 'remote') {
    if (verdict.users.length > 0) {
      const blob = await store.blobs.put(Buffer.concat([Buffer.from('Return-Path: <>\r\n', 'utf8'), message]));
      await loadMessageIndex(store, blob.id);
      await deliverLocal(store, { blob, userIds: verdict.users.map((u) => u.id) });
      how = 'delivered';
    }
  }
  const remote = verdict.kind === 'not-local' ? [verdict.address] : verdict.kind === 'remote' ? verdict.remoteTargets : [];
  if (remote.length > 0) {
    const blob = await store.blobs.put(message);
    await store.queue.enqueue({ sender: '', blobId: blob.id, size: blob.size, recipients: remote, origin: current().nodeName });
    how = how === 'delivered' ? 'delivered and queued' : 'queued';
  }
  return how;
}
