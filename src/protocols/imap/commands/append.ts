/**
 * APPEND (RFC 3501 section 6.3.11, RFC 9051 section 6.3.12; APPENDUID
 * RFC 4315 section 3, LITERAL+ RFC 7888, APPENDLIMIT RFC 7889)
 *
 *     append = "APPEND" SP mailbox [SP flag-list] [SP date-time] SP literal
 *
 * The session has already refused, before the "+", a synchronising literal
 * that is too big (NO [TOOBIG]), aimed at a missing mailbox (NO [TRYCREATE])
 * or over quota (NO [OVERQUOTA]). Here the message is made durable (blob
 * fsynced, MIME index computed, index row committed) before the OK, which
 * carries [APPENDUID uidvalidity uid].
 */
import { storeMessageIndex } from '../../../mail/message-index.js';
import type { Uid } from '../../../store/types.js';
import { no } from '../errors.js';
import { requireMailbox } from '../session-helpers.js';
import { AUTHENTICATED_STATES, NO_FLAGS, type ImapCommand } from '../session-context.js';
import { sequenceSetValue } from '../wire/index.js';

export const append: ImapCommand<'APPEND'> = {
  name: 'APPEND',
  states: AUTHENTICATED_STATES,
  flags: NO_FLAGS,
  async run(ctx, request) {
    const mailbox = await requireMailbox(ctx, request.mailbox, { tryCreate: true });
    const user = ctx.user();
    const uids: Uid[] = [];
    let uidValidity = mailbox.uidValidity;
    for (const message of request.messages) {
      if (message.data.length > ctx.limits.maxImapLiteralBytes) throw no(`the message is larger than ${ctx.limits.maxImapLiteralBytes} bytes`, 'TOOBIG');
      if (message.data.length === 0) throw no('an empty message cannot be stored', 'CANNOT');
      const blob = await ctx.store.blobs.put(message.data);
      await storeMessageIndex(ctx.store, blob.id, message.data);
      const result = await ctx.store.mail.deliver({
        blobId: blob.id,
        size: blob.size,
        internalDate: message.internalDate?.date ?? new Date(),
        targets: [{ userId: user.id, mailboxName: mailbox.name, flags: [...message.flags] }],
        onOverQuota: 'fail',
      });
      const stored = result.stored[0];
      if (stored) uids.push(stored.uid);
    }
    ctx.announceChange(mailbox.id);
    const current = await ctx.store.mail.getMailboxById(mailbox.id);
    if (current) uidValidity = current.uidValidity;
    return { code: { name: 'APPENDUID', args: [uidValidity, sequenceSetValue(uids)] }, text: 'APPEND completed' };
  },
};
