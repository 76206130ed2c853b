/**
 * SELECT (RFC 3501 section 6.3.1, RFC 9051 section 6.3.2; CONDSTORE and
 * QRESYNC parameters RFC 7162 sections 3.1.8 and 3.2.5)
 *
 *     select        = "SELECT" SP mailbox [SP "(" select-param *(SP select-param) ")"]
 *     select-param  = "CONDSTORE" / "QRESYNC" SP "(" uidvalidity SP mod-sequence-value
 *                     [SP known-uids] [SP seq-match-data] ")"
 *
 * Answers FLAGS, EXISTS, RECENT (IMAP4rev1 only), OK [UNSEEN] (rev1),
 * [PERMANENTFLAGS], [UIDVALIDITY], [UIDNEXT], [HIGHESTMODSEQ], the mailbox's
 * LIST response (IMAP4rev2 only, RFC 9051 6.3.2), then, for a
 * QRESYNC select with the right UIDVALIDITY, VANISHED (EARLIER) and FETCH
 * for what changed since the client's modseq. A failed SELECT leaves no
 * mailbox selected (RFC 3501 6.3.1). EXAMINE (examine.ts) is the same,
 * read-only.
 */
import type { Uid } from '../../../store/types.js';
import { bad } from '../errors.js';
import { flagsResponse, permanentFlagsValue } from '../responses.js';
import { mailboxListCache } from '../mailbox-cache.js';
import { SelectedMailbox } from '../selected-mailbox.js';
import { requireMailbox } from '../session-helpers.js';
import { AUTHENTICATED_STATES, type CommandContext, type ImapCommand, type RequestOf } from '../session-context.js';
import { atom, encodeFetch, sequenceSetIncludes, sequenceSetValue, type ImapValue, type QresyncParameters } from '../wire/index.js';
import { selectedListResponse } from './list.js';

/** SELECT and EXAMINE, which differ only in `readOnly`. */
export function openMailboxCommand<N extends 'SELECT' | 'EXAMINE'>(name: N): ImapCommand<N> {
  const readOnly = name === 'EXAMINE';
  const command: ImapCommand<'SELECT'> = {
    name: name as 'SELECT',
    states: AUTHENTICATED_STATES,
    flags: { usesSequenceNumbers: false, breaksSequenceNumbers: true, breaksMailbox: true },
    async run(ctx: CommandContext, request: RequestOf<'SELECT'>) {
      if (request.qresync && !ctx.isEnabled('QRESYNC')) throw bad('the QRESYNC parameter needs ENABLE QRESYNC first');
      const hadSelected = ctx.state === 'selected';
      // RFC 3501 6.3.1: selecting closes the current mailbox first, even if the new one fails.
      ctx.setSelected(null);
      // RFC 7162 3.2.11: the end of the old mailbox's updates is marked.
      if (hadSelected) await ctx.untaggedStatus('OK', 'previous mailbox closed', { name: 'CLOSED' });
      const mailbox = await requireMailbox(ctx, request.mailbox);
      if (request.condstore) ctx.enable('CONDSTORE');
      const view = await SelectedMailbox.open(ctx.store.mail, mailbox, readOnly, mailboxListCache(ctx.store.mail));
      const rev2 = ctx.isEnabled('IMAP4REV2');
      const keywords = view.keywords();
      await ctx.untagged(flagsResponse(keywords));
      await ctx.untagged([view.count, atom('EXISTS')]);
      if (!rev2) {
        await ctx.untagged([0, atom('RECENT')]);
        const firstUnseen = view.firstUnseenSeq();
        if (firstUnseen > 0) await ctx.untaggedStatus('OK', `message ${firstUnseen} is the first unseen`, { name: 'UNSEEN', args: [firstUnseen] });
      }
      await ctx.untaggedStatus('OK', readOnly ? 'no permanent flags in a read-only mailbox' : 'flags that can be changed permanently', { name: 'PERMANENTFLAGS', args: [permanentFlagsValue(keywords, readOnly)] });
      await ctx.untaggedStatus('OK', 'UIDs valid', { name: 'UIDVALIDITY', args: [mailbox.uidValidity] });
      await ctx.untaggedStatus('OK', 'predicted next UID', { name: 'UIDNEXT', args: [view.uidNext] });
      await ctx.untaggedStatus('OK', 'highest modseq', { name: 'HIGHESTMODSEQ', args: [view.highestModSeq] });
      // RFC 9051 6.3.2: IMAP4rev2 adds the mailbox's LIST response.
      if (rev2) await ctx.untagged(await selectedListResponse(ctx, mailbox));
      ctx.setSelected(view);
      if (request.qresync && request.qresync.uidValidity === mailbox.uidValidity) await resynchronise(ctx, view, request.qresync);
      return { code: { name: readOnly ? 'READ-ONLY' : 'READ-WRITE' }, text: `${name} completed` };
    },
  };
  return command as unknown as ImapCommand<N>;
}

/**
 * RFC 7162 3.2.5.2: what the client missed since its modseq: expunged UIDs
 * as VANISHED (EARLIER), changed messages as FETCH (UID FLAGS MODSEQ),
 * limited to the UIDs the client says it knows.
 */
async function resynchronise(ctx: CommandContext, view: SelectedMailbox, qresync: QresyncParameters): Promise<void> {
  const changes = await ctx.store.mail.changesSince(view.id, qresync.modSeq as never);
  const known = (uid: number) => qresync.knownUids === null || sequenceSetIncludes(qresync.knownUids, uid, view.highestUid);
  const vanished: Uid[] = changes.expunged.filter((uid) => known(uid) && view.seqOf(uid) === 0);
  if (vanished.length > 0) await ctx.untagged([atom('VANISHED'), [atom('EARLIER')], sequenceSetValue(vanished, { sort: true })]);
  for (const record of changes.changed) {
    const seq = view.seqOf(record.uid);
    if (seq === 0 || !known(record.uid)) continue;
    const items: Array<readonly [string, ImapValue]> = [['UID', record.uid], ['FLAGS', record.flags.map((f) => atom(f))], ['MODSEQ', [record.modSeq]]];
    await ctx.send(encodeFetch(seq, items, ctx.encodeOptions));
  }
}

export const select = openMailboxCommand('SELECT');
