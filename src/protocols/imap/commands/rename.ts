/**
 * RENAME (RFC 3501 section 6.3.5, RFC 9051 section 6.3.6)
 *
 *     rename = "RENAME" SP mailbox SP mailbox
 *
 * Children move with their parent. Renaming INBOX moves its messages to a
 * new mailbox and leaves INBOX empty. Missing parents of the new name are
 * created.
 */
import { isStoreError } from '../../../store/errors.js';
import { no } from '../errors.js';
import { ancestorsOf, validateNewMailboxName } from '../mailbox-names.js';
import { requireMailbox } from '../session-helpers.js';
import { AUTHENTICATED_STATES, NO_FLAGS, type ImapCommand } from '../session-context.js';

export const rename: ImapCommand<'RENAME'> = {
  name: 'RENAME',
  states: AUTHENTICATED_STATES,
  flags: NO_FLAGS,
  async run(ctx, request) {
    const source = await requireMailbox(ctx, request.from);
    const target = validateNewMailboxName(request.to, { utf8: ctx.encodeOptions.utf8 ?? false });
    if (target === 'INBOX') throw no('INBOX exists already', 'ALREADYEXISTS');
    const userId = ctx.user().id;
    if (await ctx.store.mail.getMailbox(userId, target)) throw no('a mailbox with the new name exists already', 'ALREADYEXISTS');
    await ctx.store.mail.renameMailbox(userId, source.name, target);
    for (const parent of ancestorsOf(target)) {
      try {
        await ctx.store.mail.createMailbox(userId, parent);
      } catch (err) {
        if (!isStoreError(err, 'exists')) throw err;
      }
    }
    ctx.announceChange(source.id);
  },
};
