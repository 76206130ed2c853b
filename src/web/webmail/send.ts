/**
 * Sending from the webmail: what submission does (RFC 6409) for a message
 * the server writes itself. The From is always the signed-in user, so the
 * sender check of submission holds by construction; local recipients get
 * their copy delivered now (with Return-Path and Received, as over SMTP),
 * remote ones one copy queued with store.queue.enqueue; a copy is filed in
 * the user's Sent mailbox, seen.
 */
import { deliverLocal, classifyRecipient, distinctUserIds } from '../../mail/deliver.js';
import { loadMessageIndex } from '../../mail/message-index.js';
import { parseAddressList } from '../../mail/mime/address-list.js';
import { newMessageId } from '../../mail/submission-headers.js';
import { formatDate, receivedHeader, returnPathHeader } from '../../mail/trace.js';
import type { Store, User } from '../../store/types.js';

export interface Draft {
  to: string;
  cc: string;
  subject: string;
  body: string;
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

/** An unstructured header value, RFC 2047-encoded when it is not plain ASCII. */
function headerText(value: string): string {
  const clean = value.replace(/[\r\n]+/g, ' ').trim();
  if (/^[\x20-\x7e]*$/.test(clean)) return clean;
  // One encoded word per chunk of whole characters, each under 75 octets.
  const words: string[] = [];
  let chunk = '';
  for (const ch of clean) {
    if (Buffer.byteLength(chunk + ch) > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`).join('\r\n ');
}

/** The message bytes (CRLF, 7bit when it can be, base64 otherwise). */
export function buildMessage(from: string, to: string[], cc: string[], draft: Draft, hostname: string, now = new Date()): Buffer {
  const body = draft.body.replace(/\r\n?/g, '\n');
  const plain = /^[\x20-\x7e\t\n]*$/.test(body) && body.split('\n').every((l) => l.length <= 998);
  const lines = [
    `From: ${from}`,
    ...(to.length ? [`To: ${to.join(', ')}`] : []),
    ...(cc.length ? [`Cc: ${cc.join(', ')}`] : []),
    `Subject: ${headerText(draft.subject)}`,
    `Date: ${formatDate(now)}`,
    `Message-ID: ${newMessageId(hostname, now)}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Transfer-Encoding: ${plain ? '7bit' : 'base64'}`,
    'User-Agent: Rookery webmail',
  ];
  const text = plain
    ? body.split('\n').join('\r\n')
    : (Buffer.from(body, 'utf8').toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${text}${text.endsWith('\r\n') ? '' : '\r\n'}`, 'utf8');
}

/** Sends a draft as the user; returns how many recipients were delivered locally and queued. */
export async function sendDraft(store: Store, user: User, draft: Draft, opts: { hostname: string; nodeName: string; clientAddress: string }): Promise<{ local: number; queued: number }> {
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
