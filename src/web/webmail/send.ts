/**
 * Sending from the webmail: what submission does (RFC 6409) for a message
 * the server writes itself. The From is always the signed-in user, so the
 * sender check of submission holds by construction; local recipients get
 * their copy delivered now (with Return-Path and Received, as over SMTP),
 * remote ones one copy queued with store.queue.enqueue; a copy is filed in
 * the user's Sent mailbox, seen.
 */
import { randomBytes } from 'node:crypto';
import { deliverLocal, classifyRecipient, distinctUserIds } from '../../mail/deliver.js';
import { loadMessageIndex } from '../../mail/message-index.js';
import { parseAddressList } from '../../mail/mime/address-list.js';
import { newMessageId } from '../../mail/submission-headers.js';
import { formatDate, receivedHeader, returnPathHeader } from '../../mail/trace.js';
import type { Store, User } from '../../store/types.js';
import { encodedHeaderText } from '../../mail/header-encoding.js';

/** A file sent with a message. */
export interface DraftAttachment {
  fileName: string;
  mediaType: string;
  data: Buffer;
}

export interface Draft {
  to: string;
  cc: string;
  subject: string;
  body: string;
  /** Files to attach (uploaded, or carried over from a forwarded message). */
  attachments?: DraftAttachment[];
  /** The Message-ID answered (a reply), angle brackets included. */
  inReplyTo?: string | null;
  /** The thread's Message-IDs, oldest first, the answered one last. */
  references?: string[];
}

export class SendError extends Error {}

const maxRecipients = 100;

/** Addresses of a To or Cc field as typed (commas between them). */
export function recipientsOf(field: string): string[] {
  const out: string[] = [];
  for (const item of parseAddressList(field, maxRecipients + 1).items) {
    if (item.kind !== 'mailbox') continue;
    if (!item.mailbox || !item.host) throw new SendError(`"${field.trim()}" is not a list of addresses.`);
    out.push(`${item.mailbox}@${item.host}`);
  }
  return out;
}

/** A msg-id as RFC 5322 3.6.4 writes it: <left@right>, no spaces or line breaks. */
const msgIdPattern = /^<[^<>\s@]+@[^<>\s@]+>$/;

/** Base64 in lines of 76 (RFC 2045 6.8). */
function base64Lines(data: Buffer): string {
  return (data.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

/** A parameter value: quoted ASCII, or RFC 2231 UTF-8 when it is not plain ASCII. */
function parameter(name: string, value: string): string {
  const clean = value.replace(/[\r\n\0]+/g, ' ');
  if (/^[\x20-\x7e]*$/.test(clean)) return `${name}="${clean.replace(/["\\]/g, '\\$&')}"`;
  const ascii = clean.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `${name}="${ascii}"; ${name}*=UTF-8''${encodeURIComponent(clean).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}

/** A media type we write as given, or application/octet-stream. */
function mediaTypeOf(value: string): string {
  const t = value.trim().toLowerCase();
  return /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(t) ? t : 'application/octet-stream';
}

/** One attachment as a MIME body part (headers and body). */
function attachmentPart(a: DraftAttachment): string {
  let type = mediaTypeOf(a.mediaType);
  // message/* may not be base64-encoded (RFC 2046 5.2.1): 8bit when its lines allow, else sent as plain bytes.
  if (type.startsWith('message/') || type.startsWith('multipart/')) {
    const text = a.data.toString('latin1');
    if (type === 'message/rfc822' && !text.includes('\0') && text.split('\r\n').every((l) => l.length <= 998 && !/[\r\n]/.test(l))) {
      return `Content-Type: message/rfc822\r\nContent-Disposition: attachment; ${parameter('filename', a.fileName)}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${text}${text.endsWith('\r\n') ? '' : '\r\n'}`;
    }
    type = 'application/octet-stream';
  }
  return `Content-Type: ${type}; ${parameter('name', a.fileName)}\r\nContent-Disposition: attachment; ${parameter('filename', a.fileName)}\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64Lines(a.data)}\r\n`;
}

/** The message bytes (CRLF, 7bit when it can be, base64 otherwise; multipart/mixed with attachments). */
export function buildMessage(from: string, to: string[], cc: string[], draft: Draft, hostname: string, now = new Date()): Buffer {
  const body = draft.body.replace(/\r\n?/g, '\n');
  const plain = /^[\x20-\x7e\t\n]*$/.test(body) && body.split('\n').every((l) => l.length <= 998);
  const inReplyTo = draft.inReplyTo && msgIdPattern.test(draft.inReplyTo) ? draft.inReplyTo : null;
  const references = (draft.references ?? []).filter((id) => msgIdPattern.test(id));
  const lines = [
    `From: ${from}`,
    ...(to.length ? [`To: ${to.join(', ')}`] : []),
    ...(cc.length ? [`Cc: ${cc.join(', ')}`] : []),
    `Subject: ${encodedHeaderText(draft.subject)}`,
    `Date: ${formatDate(now)}`,
    `Message-ID: ${newMessageId(hostname, now)}`,
    ...(inReplyTo ? [`In-Reply-To: ${inReplyTo}`] : []),
    ...(references.length ? [`References: ${references.join('\r\n ')}`] : []),
    'MIME-Version: 1.0',
    'User-Agent: Rookery webmail',
  ];
  const textHeaders = `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: ${plain ? '7bit' : 'base64'}`;
  let text = plain ? body.split('\n').join('\r\n') : base64Lines(Buffer.from(body, 'utf8'));
  if (!text.endsWith('\r\n')) text += '\r\n';
  const attachments = draft.attachments ?? [];
  if (attachments.length === 0) return Buffer.from(`${lines.join('\r\n')}\r\n${textHeaders}\r\n\r\n${text}`, 'utf8');
  const boundary = `=_rookery_${randomBytes(12).toString('hex')}`;
  const parts = [`${textHeaders}\r\n\r\n${text}`, ...attachments.map(attachmentPart)];
  const head = `${lines.join('\r\n')}\r\nContent-Type: multipart/mixed; boundary="${boundary}"\r\n\r\nThis is a message in MIME format.\r\n`;
  // Headers and text are UTF-8; a forwarded message/rfc822 part keeps its bytes (latin1 round-trips them).
  return Buffer.concat([
    Buffer.from(head, 'utf8'),
    ...parts.map((p, i) => Buffer.from(`--${boundary}\r\n${p}`, i === 0 ? 'utf8' : 'latin1')),
    Buffer.from(`--${boundary}--\r\n`, 'utf8'),
  ]);
}

/** Sends a draft as the user; returns how many recipients were delivered locally and queued. */
export async function sendDraft(store: Store, user: User, draft: Draft, opts: { hostname: string; nodeName: string; clientAddress: string; maxMessageBytes: number }): Promise<{ local: number; queued: number }> {
  const to = recipientsOf(draft.to);
  const cc = recipientsOf(draft.cc);
  const all = [...to, ...cc];
  if (all.length === 0) throw new SendError('Give at least one recipient.');
  if (all.length > maxRecipients) throw new SendError(`At most ${maxRecipients} recipients.`);
  const users: User[][] = [];
  const remote = new Map<string, string>();
  for (const address of all) {
    const verdict = await classifyRecipient(store.directory, address);
    switch (verdict.kind) {
      case 'unknown':
        throw new SendError(`There is no mailbox ${address} here.`);
      case 'not-local':
        remote.set(verdict.address.toLowerCase(), verdict.address);
        break;
      case 'remote':
        users.push(verdict.users);
        for (const t of verdict.remoteTargets) remote.set(t.toLowerCase(), t);
        break;
      case 'local':
        users.push(verdict.users);
        break;
    }
  }
  const userIds = distinctUserIds(users);
  const message = buildMessage(user.address, to, cc, draft, opts.hostname);
  // The limit submission applies (its SIZE), so what the webmail sends could have been sent over SMTP too.
  if (message.length > opts.maxMessageBytes) {
    throw new SendError(`The message with its attachments is ${message.length} bytes; at most ${opts.maxMessageBytes} can be sent.`);
  }
  const received = receivedHeader({
    heloName: null,
    clientAddress: opts.clientAddress,
    clientHostname: null,
    byHost: opts.hostname,
    protocol: 'HTTP',
    id: opts.nodeName,
    recipient: all.length === 1 ? all[0]! : null,
    tls: null,
    authenticatedAs: user.address,
    date: new Date(),
  });
  let stored: Awaited<ReturnType<typeof deliverLocal>> = [];
  if (userIds.length > 0) {
    const blob = await store.blobs.put(Buffer.concat([Buffer.from(returnPathHeader(user.address) + received, 'utf8'), message]));
    await loadMessageIndex(store, blob.id);
    stored = await deliverLocal(store, { blob, userIds });
  }
  if (remote.size > 0) {
    const blob = await store.blobs.put(Buffer.concat([Buffer.from(received, 'utf8'), message]));
    try {
      await store.queue.enqueue({ sender: user.address, blobId: blob.id, size: blob.size, recipients: [...remote.values()], origin: opts.hostname });
    } catch (err) {
      if (stored.length > 0) await store.mail.undeliver(stored).catch(() => undefined);
      throw err;
    }
  }
  // The Sent copy: the message as the recipients got it, without the trace fields.
  const boxes = await store.mail.listMailboxes(user.id);
  const sent = boxes.find((b) => b.specialUse === '\\Sent') ?? boxes.find((b) => b.name === 'Sent');
  if (sent) {
    const blob = await store.blobs.put(message);
    await loadMessageIndex(store, blob.id, message);
    await store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), targets: [{ userId: user.id, mailboxName: sent.name, flags: ['\\Seen'] }], onOverQuota: 'skip' });
  }
  return { local: userIds.length, queued: remote.size };
}
