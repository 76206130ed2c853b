/**
 * DATA (RFC 5321 4.1.1.4): stream the message into blobs behind the trace
 * headers, check it, make it durable, file it into every local recipient's
 * INBOX, queue one copy for the recipients outside the cluster, and only
 * then answer 250.
 *
 * Two copies at most: the local one starts with Return-Path (added on final
 * delivery only, RFC 5321 4.4) and Received; the queued one with Received
 * alone, since the next hop adds its own Return-Path. Both are written in
 * the same pass over the stream.
 *
 * End of data: smtp-server ends DATA only at CRLF.CRLF (LF.LF, CR.CR,
 * LF.CRLF and CRLF.LF are content to it) and removes dot-stuffing. What it
 * passes through unchanged are bare CR and LF in the body; those are
 * rewritten to CRLF here (or the message is refused, limits.bareLineEndings),
 * so a "\n.\n" that a later hop might read as the end of data is never
 * stored or passed on as is (SMTP smuggling, CVE-2023-51764).
 *
 * Refused outright (554 5.6.0): NUL bytes, which RFC 5322 does not allow and
 * IMAP cannot transfer without the BINARY extension.
 *
 * Size: smtp-server only flags an oversized message, so the bytes are counted
 * here; past the limit they are drained without being stored and the reply
 * is 552 5.3.4.
 *
 * Submission (RFC 6409 8): the header section is collected first (up to
 * MAX_SUBMITTED_HEADER_BYTES), From and Sender must be addresses the user
 * owns (553 5.7.1, as the contract says for the envelope sender
 * too), and Date and Message-ID are added when missing. The Received field
 * names the authenticated user, "with ESMTPSA" (RFC 3848).
 *
 * Forwarding (MX): the queued copy's envelope sender is rewritten with SRS
 * (mail/srs.ts) in the domain the mail was forwarded from; the null sender
 * stays null. Submission never rewrites: its senders are ours.
 *
 * Durability: 250 only after BlobWriter.commit (file and directory fsynced),
 * the local delivery committed and the queue record committed. If the local
 * delivery fails nothing is queued; if queueing fails the local delivery is
 * rolled back; either way the reply is 4xx (or the quota reply). If both
 * committed but the client is gone, the reply can no longer be 250 and the
 * sender will retry: both are rolled back (RFC 5321 4.2.5) so the retry
 * does not make a duplicate.
 */
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { ServiceContext } from '../../net/service.js';
import type { BlobId, BlobWriter, MessageRecord } from '../../store/types.js';
import { isStoreError } from '../../store/errors.js';
import { MessageScanner } from '../../mail/message-scan.js';
import { protocolName, receivedHeader, returnPathHeader } from '../../mail/trace.js';
import { deliverLocal, distinctUserIds, usersOverQuota } from '../../mail/deliver.js';
import { indexMessage, MIME_INDEX_VERSION } from '../../mail/mime/index.js';
import { clusterSrs } from '../../mail/srs.js';
import { maySendAs } from '../../mail/sender-identity.js';
import { HeaderCollector, MAX_SUBMITTED_HEADER_BYTES, inspectHeader, msaAdditions } from '../../mail/submission-headers.js';
import { planOfRecipient } from './rcpt.js';
import { authenticatedUser } from './mail.js';
import { replies, replyForError, SmtpReply } from './replies.js';
import { isClientConnected } from './server.js';
import type { SmtpMode } from './index.js';

/** Thrown when the client went away mid-message; there is nobody to answer. */
class ClientGone extends Error {}

/** The onData hook; `track` is told of every delivery still running (for a clean shutdown). */
export function dataHandler(ctx: ServiceContext, mode: SmtpMode, track: (work: Promise<unknown>) => void) {
  return (stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void): void => {
    const work = receive(ctx, mode, stream, session).then(
      (message) => callback(null, message),
      (err: unknown) => {
        if (err instanceof ClientGone) {
          ctx.logger.info({ session: session.id }, 'client left in the middle of DATA; nothing stored');
          callback(err);
          return;
        }
        const reply = replyForError(err, ctx.limits);
        if (reply !== err) ctx.logger.error({ err, session: session.id }, 'delivery failed');
        callback(reply);
      },
    );
    track(work);
  };
}

/**
 * The largest message whose bytes are kept in memory while it is written,
 * to be indexed without reading the file back. Bigger ones are read back:
 * a few concurrent 25 MB uploads from slow clients must not all sit in
 * memory for the length of their transfers.
 */
const KEEP_FOR_INDEX_BYTES = 1024 * 1024;

/** One copy being written: a blob writer that remembers its first error instead of throwing. */
class BlobSink {
  private writer: BlobWriter | null = null;
  error: unknown = null;
  /**
   * The chunks written, when asked to keep them and while they add up to
   * at most KEEP_FOR_INDEX_BYTES: the local copy's bytes are indexed after
   * the commit, and reading the file back would cost an open, a read and a
   * close per message. (No chunk is reused after it is written.)
   */
  private kept: Buffer[] | null;
  private keptBytes = 0;

  constructor(ctx: ServiceContext, keep = false) {
    this.kept = keep ? [] : null;
    try {
      this.writer = ctx.store.blobs.createWriter();
    } catch (err) {
      this.error = err;
    }
  }

  // Awaiting each write gives backpressure: a slow disk slows the client
  // down instead of buffering the message in memory.
  async write(buf: Buffer): Promise<void> {
    if (!this.writer || this.error !== null || buf.length === 0) return;
    if (this.kept) {
      this.keptBytes += buf.length;
      if (this.keptBytes <= KEEP_FOR_INDEX_BYTES) this.kept.push(buf);
      else this.kept = null;
    }
    try {
      await this.writer.write(buf);
    } catch (err) {
      this.error = err;
    }
  }

  async commit(): Promise<{ id: BlobId; size: number }> {
    if (!this.writer || this.error !== null) throw this.error ?? replies.localError();
    const writer = this.writer;
    this.writer = null;
    try {
      return await writer.commit();
    } catch (err) {
      await abort(writer);
      throw err;
    }
  }

  /** The bytes written, if kept (otherwise read them back after a successful commit). */
  bytes(): Buffer | null {
    return this.kept ? Buffer.concat(this.kept) : null;
  }

  async abort(): Promise<void> {
    const writer = this.writer;
    this.writer = null;
    await abort(writer);
  }
}

/** Distinct addresses, compared without regard to case, first spelling kept. */
function distinctAddresses(addresses: Iterable<string>): string[] {
  const seen = new Map<string, string>();
  for (const a of addresses) if (!seen.has(a.toLowerCase())) seen.set(a.toLowerCase(), a);
  return [...seen.values()];
}

async function receive(ctx: ServiceContext, mode: SmtpMode, stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
  const { limits } = ctx;
  const id = `${session.id}.${session.transaction}`;
  const rcpts = session.envelope.rcptTo;
  const plans = rcpts.map(planOfRecipient);
  const userIds = distinctUserIds(plans.map((p) => p.users));
  const remote = distinctAddresses(plans.flatMap((p) => p.remote));
  const forwardedFrom = plans.find((p) => p.forwardedFrom)?.forwardedFrom ?? null;
  const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
  const user = authenticatedUser(session);
  const cipher = session.tlsOptions || null;
  const received = receivedHeader({
    heloName: session.hostNameAppearsAs || null,
    clientAddress: session.remoteAddress,
    clientHostname: session.clientHostname || null,
    byHost: ctx.hostname,
    protocol: protocolName({ ehlo: session.openingCommand === 'EHLO', tls: session.secure, auth: !!user, utf8: !!session.envelope.smtpUtf8 }),
    id,
    recipient: rcpts.length === 1 ? rcpts[0]!.address : null,
    tls: cipher ? { version: cipher.version, cipher: cipher.name } : null,
    authenticatedAs: user ? user.address : null,
    date: new Date(),
  });

  const local = userIds.length > 0 ? new BlobSink(ctx, true) : null;
  const queued = remote.length > 0 ? new BlobSink(ctx) : null;
  const sinks = [local, queued].filter((s): s is BlobSink => s !== null);
  await local?.write(Buffer.from(returnPathHeader(sender) + received, 'utf8'));
  await queued?.write(Buffer.from(received, 'utf8'));

  const scanner = new MessageScanner();
  let tooBig = false;
  /** A reason found in the header section (submission) to refuse the message. */
  let headerRefusal: SmtpReply | null = null;
  const emit = async (buf: Buffer): Promise<void> => {
    if (tooBig || headerRefusal) return;
    await Promise.all(sinks.map((s) => s.write(buf)));
  };
  const headers = mode === 'submission' ? new HeaderCollector() : null;
  const emitHeader = async (h: HeaderCollector): Promise<void> => {
    headerRefusal = await submittedHeaderRefusal(ctx, session, h);
    if (headerRefusal) return;
    const additions = msaAdditions(inspectHeader(h.header), ctx.hostname);
    await emit(Buffer.concat([h.header, Buffer.from(additions, 'latin1'), h.rest]));
  };
  const feed = async (buf: Buffer): Promise<void> => {
    if (headers && !headers.done) {
      if (buf.length > 0 && headers.push(buf)) await emitHeader(headers);
      return;
    }
    await emit(buf);
  };

  // Read to the end whatever happens, so the client's reply comes after its
  // last byte; storing stops at the first reason to refuse.
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const out = scanner.push(chunk);
      if (scanner.stats.inputBytes > limits.maxMessageBytes) tooBig = true;
      await feed(out);
    }
  } catch {
    await Promise.all(sinks.map((s) => s.abort()));
    throw new ClientGone('the client closed the connection during DATA');
  }
  if (!stream.readableEnded) {
    await Promise.all(sinks.map((s) => s.abort()));
    throw new ClientGone('the client closed the connection during DATA');
  }
  await feed(scanner.end());
  if (headers && !headers.done) {
    headers.end();
    await emitHeader(headers);
  }

  const refusal = refusalFor(ctx, stream, scanner, tooBig) ?? headerRefusal;
  const writeError = sinks.find((s) => s.error !== null)?.error ?? null;
  if (refusal || writeError !== null || sinks.length === 0) {
    await Promise.all(sinks.map((s) => s.abort()));
    if (refusal) throw refusal;
    if (writeError !== null) throw writeError;
    throw replies.localError();
  }

  const committed = await Promise.allSettled(sinks.map((s) => s.commit()));
  const failed = committed.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  // A blob committed beside a failed one stays unreferenced (content-addressed, possibly shared).
  if (failed) throw failed.reason;
  const localBlob = local ? (committed[0] as PromiseFulfilledResult<{ id: BlobId; size: number }>).value : null;
  const queuedBlob = queued ? (committed[sinks.length - 1] as PromiseFulfilledResult<{ id: BlobId; size: number }>).value : null;

  let stored: MessageRecord[] = [];
  if (localBlob) {
    // The MIME index is made once per blob, now, so FETCH and SEARCH never
    // parse; the store writes it with the delivery (keeping an index already
    // stored), so no read comes first and no statement of its own is needed.
    const index = indexMessage(local!.bytes() ?? (await ctx.store.blobs.get(localBlob.id)));
    try {
      stored = await deliverLocal(ctx.store, { blob: localBlob, userIds, internalDate: new Date(), index: { version: MIME_INDEX_VERSION, json: JSON.stringify(index) } });
    } catch (err) {
      // The blob stays behind unreferenced; nothing points at it, so no mailbox shows anything.
      if (isStoreError(err, 'over-quota')) throw await quotaReply(ctx, userIds, localBlob.size);
      throw err;
    }
  }

  let queueId: string | null = null;
  if (queuedBlob) {
    try {
      const envelopeSender = mode === 'mx' && forwardedFrom ? (await clusterSrs(ctx.store.settings)).forward(sender, forwardedFrom) : sender;
      queueId = await ctx.store.queue.enqueue({ sender: envelopeSender, blobId: queuedBlob.id, size: queuedBlob.size, recipients: remote, origin: ctx.hostname });
      ctx.logger.info({ session: session.id, id, queueId, sender: envelopeSender, recipients: remote }, 'queued for delivery outside the cluster');
    } catch (err) {
      await rollBack(ctx, session, id, stored, null);
      throw err;
    }
  }

  if (!isClientConnected(session)) {
    await rollBack(ctx, session, id, stored, queueId);
    throw new ClientGone('the client closed the connection before the reply');
  }
  ctx.logger.info({ session: session.id, id, size: localBlob?.size ?? queuedBlob?.size, recipients: userIds.length, remote: remote.length }, 'message accepted');
  return replies.accepted(id);
}

/**
 * Withdraws what committed for a message that is not going to be answered
 * 250 (RFC 5321 4.2.5). If that fails too, the sender will retry and the
 * recipients get it twice: the lesser evil, logged.
 */
async function rollBack(ctx: ServiceContext, session: SMTPServerSession, id: string, stored: MessageRecord[], queueId: string | null): Promise<void> {
  if (stored.length > 0) {
    try {
      await ctx.store.mail.undeliver(stored);
      ctx.logger.warn({ session: session.id, id }, 'no 250 for this message; local delivery rolled back');
    } catch (err) {
      ctx.logger.error({ err, session: session.id, id }, 'no 250 for this message and the local delivery could not be rolled back');
    }
  }
  if (queueId !== null) {
    try {
      await ctx.store.queue.delete(queueId);
      ctx.logger.warn({ session: session.id, id, queueId }, 'no 250 for this message; queued copy withdrawn');
    } catch (err) {
      ctx.logger.error({ err, session: session.id, id, queueId }, 'no 250 for this message and the queued copy could not be withdrawn');
    }
  }
}

/**
 * Submission: the reason to refuse a message for its header section, or
 * null. From must be present once and, like Sender, name only addresses
 * the authenticated user may send as.
 */
async function submittedHeaderRefusal(ctx: ServiceContext, session: SMTPServerSession, h: HeaderCollector): Promise<SmtpReply | null> {
  if (h.overflow) return replies.headerTooBig(MAX_SUBMITTED_HEADER_BYTES);
  const user = authenticatedUser(session);
  if (!user) return replies.authRequired();
  const info = inspectHeader(h.header);
  if (info.fromFields !== 1 || info.from.length === 0) return replies.fromMissing();
  for (const address of [...info.from, ...info.sender]) {
    if (!address || !(await maySendAs(ctx.store.directory, user, address))) {
      ctx.logger.info({ session: session.id, user: user.address, from: address }, 'refused a From or Sender the user does not own');
      return replies.fromNotOwned(address);
    }
  }
  return null;
}

/** The policy reasons to refuse a fully received message, most specific first. */
function refusalFor(ctx: ServiceContext, stream: SMTPServerDataStream, scanner: MessageScanner, tooBig: boolean): SmtpReply | null {
  const { limits } = ctx;
  const stats = scanner.stats;
  if (tooBig || stream.sizeExceeded) return replies.messageTooBig(limits.maxMessageBytes);
  if (stats.hasNul) return replies.nulBytes();
  if (stats.bareLineEndings > 0 && limits.bareLineEndings === 'reject') return replies.bareLineEndings();
  if (stats.receivedHeaders > limits.maxReceivedHeaders) return replies.loop(stats.receivedHeaders);
  return null;
}

/**
 * After DATA there is one reply for all recipients, so a quota failure
 * fails the whole message and nothing is stored (delivering to the others
 * and dropping the full mailbox's copy would lose mail behind a 250). When
 * every recipient is over quota the configured reply applies (452 4.2.2 or
 * 552 5.2.2). When only some are, the reply is always temporary: a 552 would
 * bounce the message for recipients with room; after a 452 the sender
 * retries, and a retry that declares SIZE gets the full mailbox refused at
 * RCPT, one recipient at a time, while the others are delivered.
 */
async function quotaReply(ctx: ServiceContext, userIds: Parameters<typeof usersOverQuota>[1], size: number): Promise<SmtpReply> {
  const over = await usersOverQuota(ctx.store.directory, userIds, size).catch(() => [] as unknown[]);
  if (userIds.length > 1 && over.length < userIds.length) return replies.someOverQuota();
  return replies.overQuota(ctx.limits.quotaExceeded);
}

async function abort(writer: BlobWriter | null): Promise<void> {
  if (!writer) return;
  try {
    await writer.abort();
  } catch {
    // Nothing was committed; a leftover temporary file is the store's to sweep.
  }
}
