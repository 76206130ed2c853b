/**
 * COPY and UID COPY (RFC 3501 sections 6.4.7 and 6.4.8, RFC 9051 section
 * 6.4.7; COPYUID RFC 4315 section 3)
 *
 *     copy = ["UID" SP] "COPY" SP sequence-set SP mailbox
 *
 * All or nothing, quota checked (NO [OVERQUOTA]); a missing target is
 * NO [TRYCREATE]. The OK carries [COPYUID uidvalidity source-uids dest-uids].
 */
import type { Uid } from '../../../store/types.js';
import { requireMailbox } from '../session-helpers.js';
import { type CommandOutcome, type ImapCommand } from '../session-context.js';
import type { CopyResult } from '../../../store/types.js';
import { sequenceSetValue } from '../wire/index.js';

/** The COPYUID response code of a copy (RFC 4315 section 3), or undefined when nothing was copied. */
export function copyUidCode(result: CopyResult): CommandOutcome['code'] {
  if (result.mapping.length === 0) return undefined;
  return {
    name: 'COPYUID',
    args: [result.destinationUidValidity, sequenceSetValue(result.mapping.map((m) => m.sourceUid)), sequenceSetValue(result.mapping.map((m) => m.destinationUid))],
  };
}

export const copy: ImapCommand<'COPY'> = {
  name: 'COPY',
  states: ['selected'],
  flags: { usesSequenceNumbers: true, breaksSequenceNumbers: false, breaksMailbox: false },
  async run(ctx, request) {
    const selected = ctx.selected();
    const messages = selected.select(request.sequenceSet, request.uid);
    const target = await requireMailbox(ctx, request.mailbox, { tryCreate: true });
    if (messages.length === 0) return { text: 'no messages to copy' };
    const result = await ctx.store.mail.copyMessages(selected.id, messages.map((m) => m.record.uid as Uid), target.id);
    ctx.announceChange(target.id);
    return { code: copyUidCode(result), text: 'COPY completed' };
  },
};
