/**
 * DELETE (RFC 3501 section 6.3.4, RFC 9051 section 6.3.5)
 *
 *     delete = "DELETE" SP mailbox
 *
 * INBOX cannot be deleted (NO [CANNOT]). A mailbox with children is refused
 * with NO [HASCHILDREN] (RFC 9051 7.1) rather than turned into a \Noselect
 * name, which the store does not keep. Deleting the selected mailbox
 * deselects it.
 */
import { no } from '../errors.js';
import { SEPARATOR } from '../mailbox-names.js';
import { requireMailbox } from '../session-helpers.js';
import { AUTHENTICATED_STATES, NO_FLAGS, type ImapCommand } from '../session-context.js';

export const del: ImapCommand<'DELETE'> = {
  name: 'DELETE',
  states: AUTHENTICATED_STATES,
  flags: { ...NO_FLAGS, breaksMailbox: true },
  async run(ctx, request) {
    const mailbox = await requireMailbox(ctx, request.mailbox);
    if (mailbox.name === 'INBOX') throw no('INBOX cannot be deleted', 'CANNOT');
    const all = await ctx.store.mail.listMailboxes(ctx.user().id);
    if (all.some((m) => m.name.startsWith(mailbox.name + SEPARATOR))) throw no('the mailbox has child mailboxes; delete them first', 'HASCHILDREN');
    if (ctx.state === 'selected' && ctx.selected().id === mailbox.id) {
      ctx.setSelected(null);
      await ctx.untaggedStatus('OK', 'the deleted mailbox is no longer selected', { name: 'CLOSED' });
    }
    await ctx.store.mail.deleteMailbox(ctx.user().id, mailbox.name);
    ctx.announceChange(mailbox.id);
  },
};
