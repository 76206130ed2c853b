/**
 * STORE and UID STORE (RFC 3501 sections 6.4.6 and 6.4.8, RFC 9051 section
 * 6.4.6; UNCHANGEDSINCE RFC 7162 section 3.1.3)
 *
 *     store = ["UID" SP] "STORE" SP sequence-set SP [store-modifiers SP] store-att-flags
 *     store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))
 *     store-modifier  = "UNCHANGEDSINCE" SP mod-sequence-value
 *
 * Answers FETCH (FLAGS) for each message of the set (without .SILENT),
 * with UID for UID STORE and MODSEQ under CONDSTORE. Under CONDSTORE the
 * changed messages are reported with MODSEQ even with .SILENT (RFC 7162
 * 3.1.3). Messages skipped by UNCHANGEDSINCE are listed in OK [MODIFIED].
 */
import type { Uid } from '../../../store/types.js';
import { writableSelected } from '../session-helpers.js';
import { type ImapCommand } from '../session-context.js';
import { encodeFetch, flagListValue, sequenceSetValue, type ImapValue } from '../wire/index.js';

export const store: ImapCommand<'STORE'> = {
  name: 'STORE',
  states: ['selected'],
  flags: { usesSequenceNumbers: true, breaksSequenceNumbers: false, breaksMailbox: false },
  async run(ctx, request) {
    const selected = writableSelected(ctx);
    if (request.unchangedSince !== null) ctx.enable('CONDSTORE');
    const messages = selected.select(request.sequenceSet, request.uid);
    if (messages.length === 0) return;
    const result = await ctx.store.mail.updateFlags(selected.id, messages.map((m) => m.record.uid as Uid), {
      operation: request.action,
      flags: [...request.flags],
      ...(request.unchangedSince !== null ? { unchangedSince: request.unchangedSince as never } : {}),
    });
    const changed = new Set<number>(selected.applyOwnChanges(result.updated).map((m) => m.record.uid));
    if (result.updated.length > 0) ctx.announceChange(selected.id);
    const modified = new Set<number>(result.modified);
    const condstore = ctx.isEnabled('CONDSTORE');
    for (const m of messages) {
      if (modified.has(m.record.uid)) continue;
      if (request.silent && !(condstore && changed.has(m.record.uid))) continue;
      const current = selected.at(m.seq)?.record ?? m.record;
      const items: Array<readonly [string, ImapValue]> = [];
      if (request.uid || condstore) items.push(['UID', current.uid]);
      if (!request.silent) items.push(['FLAGS', flagListValue(current.flags)]);
      if (condstore) items.push(['MODSEQ', [current.modSeq]]);
      await ctx.send(encodeFetch(m.seq, items, ctx.encodeOptions));
    }
    if (modified.size > 0) {
      const numbers = request.uid ? [...modified] : messages.filter((m) => modified.has(m.record.uid)).map((m) => m.seq);
      return { code: { name: 'MODIFIED', args: [sequenceSetValue(numbers, { sort: true })] }, text: 'some messages were changed by someone else and were left alone' };
    }
  },
};
