/**
 * STATUS (RFC 3501 section 6.3.10, RFC 9051 section 6.3.11; HIGHESTMODSEQ
 * RFC 7162, SIZE and DELETED RFC 9051, APPENDLIMIT RFC 7889)
 *
 *     status     = "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")"
 *     status-att = "MESSAGES" / "RECENT" / "UIDNEXT" / "UIDVALIDITY" / "UNSEEN" /
 *                  "HIGHESTMODSEQ" / "SIZE" / "DELETED" / "APPENDLIMIT"
 */
import { encodeStatus, statusValues } from '../responses.js';
import { requireMailbox } from '../session-helpers.js';
import { AUTHENTICATED_STATES, NO_FLAGS, type ImapCommand } from '../session-context.js';

export const status: ImapCommand<'STATUS'> = {
  name: 'STATUS',
  states: AUTHENTICATED_STATES,
  flags: NO_FLAGS,
  async run(ctx, request) {
    const mailbox = await requireMailbox(ctx, request.mailbox);
    if (request.items.includes('HIGHESTMODSEQ')) ctx.enable('CONDSTORE');
    const counts = await ctx.store.mail.mailboxStatus(mailbox.id);
    await ctx.send(encodeStatus(mailbox.name, statusValues(request.items, counts, ctx.limits.maxImapLiteralBytes), ctx.encodeOptions.utf8 ?? false));
  },
};
