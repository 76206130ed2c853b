/**
 * MOVE and UID MOVE (RFC 6851, RFC 9051 section 6.4.8)
 *
 *     move = ["UID" SP] "MOVE" SP sequence-set SP mailbox
 *
 * Copy and expunge in one store transaction. The COPYUID code goes in an
 * untagged OK before the EXPUNGE (or VANISHED) responses (RFC 6851 4.3).
 */
import type { Uid } from '../../../store/types.js';
import { requireMailbox, writableSelected } from '../session-helpers.js';
import { type ImapCommand } from '../session-context.js';
import { copyUidCode } from './copy.js';

export const move: ImapCommand<'MOVE'> = {
  name: 'MOVE',
  states: ['selected'],
  flags: { usesSequenceNumbers: true, breaksSequenceNumbers: true, breaksMailbox: false },
  async run(ctx, request) {
    const selected = writableSelected(ctx);
    const messages = selected.select(request.sequenceSet, request.uid);
    const target = await requireMailbox(ctx, request.mailbox, { tryCreate: true });
    if (messages.length === 0) return { text: 'no messages to move' };
    const result = await ctx.store.mail.moveMessages(selected.id, messages.map((m) => m.record.uid as Uid), target.id);
    ctx.announceChange(target.id);
    ctx.announceChange(selected.id);
    const code = copyUidCode(result);
    if (code) await ctx.untaggedStatus('OK', 'moved', code);
    await ctx.sendUpdates(selected.removeOwn(result.mapping.map((m) => m.sourceUid)));
    return { text: 'MOVE completed' };
  },
};
