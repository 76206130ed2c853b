/**
 * MAIL FROM (RFC 5321 4.1.1.2). smtp-server has parsed the path and checked
 * SIZE against the announced limit; here: only the parameters we announce
 * are allowed (RFC 5321 4.1.1.11, 555 otherwise), SIZE is checked again
 * (552 5.3.4, RFC 1870), and a nearly full disk is refused early with
 * 452 4.3.1 when free space is below 1.5 times the largest message, as
 * Postfix does, instead of failing after the client sent the message.
 *
 * On the submission service, also: no MAIL before AUTH (530 5.7.0), and the
 * envelope sender must be the user's own address or an alias of it
 * (553 5.7.1; see mail/sender-identity.ts). The null sender is allowed, as
 * Postfix's reject_sender_login_mismatch allows it (clients send receipts
 * and auto-replies with it); the From header is checked after DATA all the
 * same.
 */
import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import type { ServiceContext } from '../../net/service.js';
import type { User } from '../../store/types.js';
import { maySendAs } from '../../mail/sender-identity.js';
import { replies, replyForError } from './replies.js';
import type { SmtpMode } from './index.js';

/** MAIL FROM parameters we announce: SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531). */
const ALLOWED_PARAMS = new Set(['SIZE', 'BODY', 'SMTPUTF8']);

/** The size the client declared with MAIL FROM SIZE=, or 0. */
export function declaredSize(session: SMTPServerSession): number {
  const args = session.envelope.mailFrom ? session.envelope.mailFrom.args : false;
  const size = args ? args.SIZE : undefined;
  return typeof size === 'string' ? Number(size) : 0;
}

/** The user a submission session authenticated as; null on the MX or before AUTH. */
export function authenticatedUser(session: SMTPServerSession): User | null {
  return (session.user as User | undefined) ?? null;
}

/** The onMailFrom hook. */
export function mailFromHandler(ctx: ServiceContext, mode: SmtpMode) {
  const check = async (address: SMTPServerAddress, session: SMTPServerSession): Promise<void> => {
    const args = address.args || {};
    for (const name of Object.keys(args)) {
      if (!ALLOWED_PARAMS.has(name)) throw replies.badParameter(name);
    }
    if (mode === 'submission') {
      const user = authenticatedUser(session);
      if (!user) throw replies.authRequired();
      if (address.address !== '' && !(await maySendAs(ctx.store.directory, user, address.address))) {
        ctx.logger.info({ session: session.id, user: user.address, sender: address.address }, 'refused a sender the user does not own');
        throw replies.senderNotOwned(address.address);
      }
    }
    const size = typeof args.SIZE === 'string' ? Number(args.SIZE) : 0;
    if (size > ctx.limits.maxMessageBytes) throw replies.messageTooBig(ctx.limits.maxMessageBytes);
    const free = await ctx.store.blobs.freeBytes();
    if (free < 1.5 * ctx.limits.maxMessageBytes) {
      ctx.logger.warn({ session: session.id, freeBytes: free }, 'refusing mail: the blob volume is nearly full');
      throw replies.diskNearlyFull();
    }
  };
  return (address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void): void => {
    check(address, session).then(
      () => callback(),
      (err: unknown) => {
        const reply = replyForError(err, ctx.limits);
        if (reply !== err) ctx.logger.error({ err, session: session.id }, 'sender check failed (directory, or free space of the blob volume)');
        callback(reply);
      },
    );
  };
}
