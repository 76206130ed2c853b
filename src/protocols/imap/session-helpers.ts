/**
 * Small lookups several commands share: finding a user's mailbox by a
 * client-supplied name, and the write checks of the selected mailbox.
 */
import type { Mailbox } from '../../store/types.js';
import { no } from './errors.js';
import { validateExistingMailboxName } from './mailbox-names.js';
import type { SelectedMailbox } from './selected-mailbox.js';
import type { CommandContext } from './session-context.js';

/**
 * The user's mailbox with this name.
 * @throws ImapError NO [NONEXISTENT], or NO [TRYCREATE] when `tryCreate` (APPEND, COPY, MOVE: RFC 3501 6.3.11).
 */
export async function requireMailbox(ctx: CommandContext, name: string, options: { tryCreate?: boolean } = {}): Promise<Mailbox> {
  const canonical = validateExistingMailboxName(name);
  const mailbox = await ctx.store.mail.getMailbox(ctx.user().id, canonical);
  if (!mailbox) throw options.tryCreate ? no('no such mailbox; create it first', 'TRYCREATE') : no('no such mailbox', 'NONEXISTENT');
  return mailbox;
}

/** The selected mailbox, when it may be changed (not opened with EXAMINE). */
export function writableSelected(ctx: CommandContext): SelectedMailbox {
  const selected = ctx.selected();
  if (selected.readOnly) throw no('the mailbox was opened with EXAMINE and is read-only', 'READ-ONLY');
  return selected;
}
