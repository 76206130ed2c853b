/**
 * DATA (RFC 5321 4.1.1.4): stream the message into a blob behind the trace
 * headers, check it, make it durable, file it into every recipient's INBOX,
 * and only then answer 250.
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
 * Durability: 250 only after BlobWriter.commit (file and directory fsynced)
 * and the store transaction committed. Any failure before answers 4xx with
 * nothing filed. If the delivery committed but the client is gone, the reply
 * can no longer be 250, and the sender will retry: the delivery is rolled
 * back (RFC 5321 4.2.5) so the retry does not make a duplicate.
 */
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { ServiceContext } from '../../net/service.js';
import type { BlobWriter, MessageRecord } from '../../store/types.js';
import { isStoreError } from '../../store/errors.js';
import { MessageScanner } from '../../mail/message-scan.js';
import { protocolName, receivedHeader, returnPathHeader } from '../../mail/trace.js';
import { deliverLocal, distinctUserIds, usersOverQuota } from '../../mail/deliver.js';
import { loadMessageIndex } from '../../mail/message-index.js';
import { usersOfRecipient } from './rcpt.js';
import { replies, replyForError, SmtpReply } from './replies.js';
import { isClientConnected } from './server.js';

/** Thrown when the client went away mid-message; there is nobody to answer. */
class ClientGone extends Error {}

/** The onData hook; `track` is told of every delivery still running (for a clean shutdown). */
export function dataHandler(ctx: ServiceContext, track: (work: Promise<unknown>) => void) {
  return (stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void): void => {
    const work = receive(ctx, stream, session).then(
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

async function receive(ctx: ServiceContext, stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
  const { limits } = ctx;
  const id = `${session.id}.${session.transaction}`;
  const rcpts = session.envelope.rcptTo;
  const userIds = distinctUserIds(rcpts.map(usersOfRecipient));
  const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
  const cipher = session.tlsOptions || null;
  const trace =
    returnPathHeader(sender) +
    receivedHeader({
      heloName: session.hostNameAppearsAs || null,
      clientAddress: session.remoteAddress,
      clientHostname: session.clientHostname || null,
      byHost: ctx.hostname,
      protocol: protocolName({ ehlo: session.openingCommand === 'EHLO', tls: session.secure, utf8: !!session.envelope.smtpUtf8 }),
      id,
      recipient: rcpts.length === 1 ? rcpts[0]!.address : null,
      tls: cipher ? { version: cipher.version, cipher: cipher.name } : null,
      date: new Date(),
    });

  const scanner = new MessageScanner();
  let writer: BlobWriter | null = null;
  let writeError: unknown = null;
  let tooBig = false;
  // Awaiting each write gives backpressure: a slow disk slows the client
  // down instead of buffering the message in memory.
  const write = async (buf: Buffer): Promise<void> => {
    if (!writer || writeError !== null || tooBig || buf.length === 0) return;
    try {
      await writer.write(buf);
    } catch (err) {
      writeError = err;
    }
  };
  try {
    writer = ctx.store.blobs.createWriter();
  } catch (err) {
    writeError = err;
  }
  await write(Buffer.from(trace, 'utf8'));

  // Read to the end whatever happens, so the client's reply comes after its
  // last byte; storing stops at the first reason to refuse.
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const out = scanner.push(chunk);
      if (scanner.stats.inputBytes > limits.maxMessageBytes) tooBig = true;
      await write(out);
    }
  } catch {
    await abort(writer);
    throw new ClientGone('the client closed the connection during DATA');
  }
  if (!stream.readableEnded) {
    await abort(writer);
    throw new ClientGone('the client closed the connection during DATA');
  }
  await write(scanner.end());

  const refusal = refusalFor(ctx, stream, scanner, tooBig);
  if (refusal || writeError !== null || !writer || userIds.length === 0) {
    await abort(writer);
    if (refusal) throw refusal;
    if (writeError !== null) throw writeError;
    throw replies.localError();
  }

  const blob = await writer.commit().catch(async (err: unknown) => {
    await abort(writer);
    throw err;
  });

  // The MIME index is made once per blob, now, so FETCH and SEARCH never parse.
  await loadMessageIndex(ctx.store, blob.id);

  let stored: MessageRecord[];
  try {
    stored = await deliverLocal(ctx.store, { blob, userIds, internalDate: new Date() });
  } catch (err) {
    // The blob stays behind unreferenced (it is content-addressed and may be
    // shared); nothing points at it, so no mailbox shows anything.
    if (isStoreError(err, 'over-quota')) throw await quotaReply(ctx, userIds, blob.size);
    throw err;
  }

  if (!isClientConnected(session)) {
    try {
      await ctx.store.mail.undeliver(stored);
      ctx.logger.warn({ session: session.id, id }, 'client left before the 250; delivery rolled back');
    } catch (err) {
      // The sender will retry and the recipients get it twice: the lesser evil.
      ctx.logger.error({ err, session: session.id, id }, 'client left before the 250 and the delivery could not be rolled back');
    }
    throw new ClientGone('the client closed the connection before the reply');
  }
  ctx.logger.info({ session: session.id, id, size: blob.size, recipients: userIds.length }, 'message delivered');
  return replies.accepted(id);
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
