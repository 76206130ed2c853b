/**
 * SEARCH and UID SEARCH (RFC 3501 sections 6.4.4 and 6.4.8, RFC 9051
 * section 6.4.4; ESEARCH RFC 4731, SAVE RFC 5182, MODSEQ RFC 7162 3.1.5)
 *
 *     search = ["UID" SP] "SEARCH" [SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"]
 *              [SP "CHARSET" SP charset] 1*(SP search-key)
 *     search-return-opt = "MIN" / "MAX" / "ALL" / "COUNT" / "SAVE"
 *
 * The matching is search/ (searchMessages). This file answers: `* SEARCH`
 * for a plain SEARCH (with "(MODSEQ n)" when a MODSEQ key was used), or
 * `* ESEARCH (TAG "t") [UID] MIN/MAX/COUNT/ALL [MODSEQ n]` when RETURN was
 * given, and always once IMAP4rev2 is enabled (RFC 9051 6.4.4 and
 * Appendix E: the SEARCH response is deprecated; no RETURN means ALL). It
 * saves the result for "$" (SEARCHRES, part of IMAP4rev2).
 */
import type { Uid } from '../../../store/types.js';
import { ImapError } from '../errors.js';
import { CONTENT_LOADS_IN_FLIGHT } from '../message-content.js';
import { SearchError, searchMessages } from '../search/index.js';
import { SelectedMailbox } from '../selected-mailbox.js';
import { type ImapCommand } from '../session-context.js';
import { atom, sequenceSetValue, type ImapValue, type SearchKey } from '../wire/index.js';

/** True when the criteria use the MODSEQ key anywhere (a CONDSTORE enabling use, RFC 7162 3.1). */
export function usesModSeq(key: SearchKey): boolean {
  switch (key.key) {
    case 'MODSEQ':
      return true;
    case 'NOT':
      return usesModSeq(key.operand);
    case 'OR':
      return usesModSeq(key.left) || usesModSeq(key.right);
    case 'AND':
      return key.operands.some(usesModSeq);
    default:
      return false;
  }
}

/**
 * Whether a SEARCH the parser refused asked to SAVE its result, read from the
 * command's first line: `[UID] SEARCH RETURN (options)` must lead the
 * arguments (RFC 4731 3.1), so the options are a plain list of atoms there.
 * Used for the one NO the parser itself answers (BADCHARSET), after which
 * RFC 5182 2.1 wants the saved result emptied as for any failed saving SEARCH.
 */
export function refusedSearchSaves(firstLine: Buffer): boolean {
  const m = /^\S+ (?:UID )?SEARCH RETURN \(([^)]*)\)/i.exec(firstLine.toString('latin1'));
  return m !== null && m[1]!.split(' ').some((option) => option.toUpperCase() === 'SAVE');
}

export const search: ImapCommand<'SEARCH'> = {
  name: 'SEARCH',
  states: ['selected'],
  flags: { usesSequenceNumbers: true, breaksSequenceNumbers: false, breaksMailbox: false },
  async run(ctx, request) {
    const selected = ctx.selected();
    const modSeqAsked = usesModSeq(request.criteria);
    if (modSeqAsked) ctx.enable('CONDSTORE');
    let hits;
    try {
      hits = await searchMessages(
        request.criteria,
        selected.all(),
        { content: ctx.content(), maxSeq: selected.count, maxUid: selected.highestUid, savedUids: selected.savedResult() },
        { charset: request.charset, loadsInFlight: CONTENT_LOADS_IN_FLIGHT },
      );
    } catch (err) {
      const failure = err instanceof SearchError ? new ImapError(err.status, err.message, { name: err.responseCode }) : err;
      // RFC 5182 2.1: a SEARCH with SAVE that fails with NO empties the saved result (BAD leaves it alone).
      const isBad = failure instanceof ImapError && failure.status === 'BAD';
      if (request.returnOptions?.includes('SAVE') && !isBad) selected.saveResult([]);
      throw failure;
    }
    const numbers = hits.map((m) => (request.uid ? m.record.uid : m.seq));
    const highestModSeq = modSeqAsked && hits.length > 0 ? SelectedMailbox.highestModSeqOf(hits) : 0;
    const options = request.returnOptions ?? (ctx.isEnabled('IMAP4REV2') ? [] : null);
    if (options === null) {
      const line: ImapValue[] = [atom('SEARCH'), ...numbers];
      if (highestModSeq > 0) line.push([atom('MODSEQ'), highestModSeq]);
      await ctx.untagged(line);
      return;
    }
    // RFC 4731 3.1: RETURN () means ALL; SAVE alone saves without returning anything.
    const wanted = new Set(options.length === 0 ? ['ALL'] : options);
    const line: ImapValue[] = [atom('ESEARCH'), [atom('TAG'), request.tag]];
    if (request.uid) line.push(atom('UID'));
    if (numbers.length > 0) {
      // Hits come in sequence (= UID) order: the first is the smallest.
      if (wanted.has('MIN')) line.push(atom('MIN'), numbers[0]!);
      if (wanted.has('MAX')) line.push(atom('MAX'), numbers[numbers.length - 1]!);
    }
    if (wanted.has('COUNT')) line.push(atom('COUNT'), numbers.length);
    if (wanted.has('ALL') && numbers.length > 0) line.push(atom('ALL'), sequenceSetValue(numbers, { sort: true }));
    if (highestModSeq > 0) line.push(atom('MODSEQ'), highestModSeq);
    if (wanted.has('SAVE')) {
      // RFC 5182 2.4: with MIN or MAX (and not ALL or COUNT), only those are saved.
      let saved = hits;
      if (!wanted.has('ALL') && !wanted.has('COUNT') && (wanted.has('MIN') || wanted.has('MAX')) && hits.length > 0) {
        saved = [...(wanted.has('MIN') ? [hits[0]!] : []), ...(wanted.has('MAX') ? [hits[hits.length - 1]!] : [])];
      }
      selected.saveResult(saved.map((m) => m.record.uid as Uid));
    }
    if (wanted.size > 1 || !wanted.has('SAVE')) await ctx.untagged(line);
  },
};
