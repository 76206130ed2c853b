/**
 * MAIL FROM (RFC 5321 4.1.1.2). smtp-server has parsed the path and checked
 * SIZE against the announced limit; here: only the parameters we announce
 * are allowed (RFC 5321 4.1.1.11, 555 otherwise), SIZE is checked again
 * (552 5.3.4, RFC 1870), and a nearly full disk is refused early with
 * 452 4.3.1 when free space is below 1.5 times the largest message, as
 * Postfix does, instead of failing after the client sent the message.
 */
import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import type { ServiceContext } from '../../net/service.js';
import { replies, replyForError } from './replies.js';

/** MAIL FROM parameters we announce: SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531). */
const ALLOWED_PARAMS = new Set(['SIZE', 'BODY', 'SMTPUTF8']);

/** The size the client declared with MAIL FROM SIZE=, or 0. */
export function declaredSize(session: SMTPServerSession): number {
  const args = session.envelope.mailFrom ? session.envelope.mailFrom.args : false;
  const size = args ? args.SIZE : undefined;
  return typeof size === 'string' ? Number(size) : 0;
}

/** The onMailFrom hook. */
export function mailFromHandler(ctx: ServiceContext) {
  return (address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void): void => {
    const args = address.args || {};
    for (const name of Object.keys(args)) {
      if (!ALLOWED_PARAMS.has(name)) return callback(replies.badParameter(name));
    }
    const size = typeof args.SIZE === 'string' ? Number(args.SIZE) : 0;
    if (size > ctx.limits.maxMessageBytes) return callback(replies.messageTooBig(ctx.limits.maxMessageBytes));
    ctx.store.blobs.freeBytes().then(
      (free) => {
        if (free < 1.5 * ctx.limits.maxMessageBytes) {
          ctx.logger.warn({ session: session.id, freeBytes: free }, 'refusing mail: the blob volume is nearly full');
          return callback(replies.diskNearlyFull());
        }
        callback();
      },
      (err: unknown) => {
        ctx.logger.error({ err, session: session.id }, 'could not read free space of the blob volume');
        callback(replyForError(err, ctx.limits));
      },
    );
  };
}
