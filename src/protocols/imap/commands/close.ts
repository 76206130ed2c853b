/**
 * CLOSE (RFC 3501 section 6.4.2, RFC 9051 section 6.4.1)
 *
 *     close = "CLOSE"
 *
 * Removes the messages marked \Deleted (unless the mailbox was opened with
 * EXAMINE) without sending EXPUNGE responses, and leaves the selected state.
 */
import type { Uid } from '../../../store/types.js';
import { type ImapCommand } from '../session-context.js';

export const close: ImapCommand<'CLOSE'> = {
  name: 'CLOSE',
  states: ['selected'],
  flags: { usesSequenceNumbers: false, breaksSequenceNumbers: true, breaksMailbox: true },
  async run(ctx) {
    const selected = ctx.selected();
    ctx.setSelected(null);
    if (selected.readOnly) return;
    // Catch up silently first, so \Deleted set by other sessions counts too.
    await selected.sync(ctx.store.mail, true);
    const deleted = selected.all().filter((m) => m.record.flags.includes('\\Deleted')).map((m) => m.record.uid as Uid);
    if (deleted.length === 0) return;
    await ctx.store.mail.expunge(selected.id, deleted);
    ctx.announceChange(selected.id);
  },
};
