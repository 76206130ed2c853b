/**
 * EXPUNGE and UID EXPUNGE (RFC 3501 section 6.4.3, RFC 9051 section 6.4.3;
 * UID EXPUNGE RFC 4315 section 2.1)
 *
 *     expunge     = "EXPUNGE"
 *     uid-expunge = "UID" SP "EXPUNGE" SP sequence-set
 *
 * Removes the messages marked \Deleted (with UID EXPUNGE, only those in
 * the set) and reports each as EXPUNGE, or VANISHED under QRESYNC.
 */
import type { Uid } from '../../../store/types.js';
import { writableSelected } from '../session-helpers.js';
import { type ImapCommand } from '../session-context.js';

export const expunge: ImapCommand<'EXPUNGE'> = {
  name: 'EXPUNGE',
  states: ['selected'],
  flags: { usesSequenceNumbers: false, breaksSequenceNumbers: true, breaksMailbox: false },
  async run(ctx, request) {
    const selected = writableSelected(ctx);
    // Catch up first: \Deleted set by other sessions counts, and their expunges go out first.
    await ctx.sendUpdates(await selected.sync(ctx.store.mail, true));
    const candidates = request.uids ? selected.select(request.uids, true) : selected.all();
    const deleted = candidates.filter((m) => m.record.flags.includes('\\Deleted')).map((m) => m.record.uid as Uid);
    if (deleted.length === 0) return;
    const removed = await ctx.store.mail.expunge(selected.id, deleted);
    ctx.announceChange(selected.id);
    await ctx.sendUpdates(selected.removeOwn(removed));
  },
};
