/**
 * FETCH and UID FETCH (RFC 3501 sections 6.4.5 and 6.4.8, RFC 9051 section
 * 6.4.5; CHANGEDSINCE and VANISHED RFC 7162 sections 3.1.4 and 3.2.6)
 *
 *     fetch = ["UID" SP] "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" /
 *             fetch-att / "(" fetch-att *(SP fetch-att) ")") [SP "(" fetch-modifier ... ")"]
 *     fetch-modifier = "CHANGEDSINCE" SP mod-sequence-value / "VANISHED"
 *
 * The items are built by fetch/ (fetchItems). This file picks the
 * messages, sets \Seen first (one store change for the whole set, so MODSEQ
 * in the responses is the new one) and sends one response per message.
 */
import type { Uid } from '../../../store/types.js';
import { FetchError, fetchItems, impliesSeen, needsContent, onlyRowItems, rowFetchItems, writeFetchResponse, type FetchItem, type FetchOptions } from '../fetch/index.js';
import { CONTENT_LOADS_IN_FLIGHT } from '../message-content.js';
import { bad, ImapError } from '../errors.js';
import { type ImapCommand } from '../session-context.js';
import { atom, ResponseWriter, sequenceSetIncludes, sequenceSetValue } from '../wire/index.js';

/** One message's FETCH items, or what building them threw. */
type Built = { items: FetchItem[] } | { error: unknown };

/** At most this many message bytes are being loaded ahead of the response being sent. */
const IN_FLIGHT_BYTES = 4 * 1024 * 1024;

/** Responses are written in batches of about this many bytes. */
const WRITE_BATCH_BYTES = 64 * 1024;

export const fetch: ImapCommand<'FETCH'> = {
  name: 'FETCH',
  states: ['selected'],
  flags: { usesSequenceNumbers: true, breaksSequenceNumbers: false, breaksMailbox: false },
  async run(ctx, request) {
    const selected = ctx.selected();
    if (request.vanished && !ctx.isEnabled('QRESYNC')) throw bad('VANISHED needs ENABLE QRESYNC first');
    if (request.changedSince !== null || request.attributes.some((a) => a.kind === 'MODSEQ')) ctx.enable('CONDSTORE');
    let messages = selected.select(request.sequenceSet, request.uid);
    if (request.changedSince !== null) {
      const since = request.changedSince;
      messages = messages.filter((m) => m.record.modSeq > since);
    }
    if (request.vanished && request.changedSince !== null) {
      // RFC 7162 3.2.6: UIDs in the set expunged since the modseq, before the FETCH responses.
      const changes = await ctx.store.mail.changesSince(selected.id, request.changedSince as never);
      const gone = changes.expunged.filter((uid) => sequenceSetIncludes(request.sequenceSet, uid, selected.highestUid) && selected.seqOf(uid) === 0);
      if (gone.length > 0) await ctx.untagged([atom('VANISHED'), [atom('EARLIER')], sequenceSetValue(gone, { sort: true })]);
    }
    const seenSet = new Set<number>();
    if (!selected.readOnly && impliesSeen(request.attributes)) {
      const unseen = messages.filter((m) => !m.record.flags.includes('\\Seen')).map((m) => m.record.uid as Uid);
      if (unseen.length > 0) {
        const result = await ctx.store.mail.updateFlags(selected.id, unseen, { operation: 'add', flags: ['\\Seen'] });
        for (const m of selected.applyOwnChanges(result.updated)) seenSet.add(m.record.uid);
        ctx.announceChange(selected.id);
        messages = messages.map((m) => (seenSet.has(m.record.uid) ? selected.at(m.seq) ?? m : m));
      }
    }
    const base: FetchOptions = { utf8Accept: ctx.encodeOptions.utf8 ?? false, condstore: ctx.isEnabled('CONDSTORE'), uid: request.uid, readOnly: true };
    const content = ctx.content();
    const needs = needsContent(request.attributes);
    // Messages whose bytes or index are read are loaded a few at a time (the reads overlap in the
    // thread pool); responses still go out in order. Items from the row alone need no overlap.
    const inFlight = needs.bytes || needs.index ? CONTENT_LOADS_IN_FLIGHT : 1;
    const build = async (message: (typeof messages)[number]): Promise<Built> => {
      try {
        return { items: (await fetchItems(request.attributes, message, content, seenSet.has(message.record.uid) ? { ...base, seenSet: true } : base)).items };
      } catch (error) {
        return { error };
      }
    };
    // Small responses are gathered into one writer and one write; a big one (a body) goes out at once.
    let batch = new ResponseWriter(ctx.encodeOptions);
    const flush = async (atLeast: number) => {
      if (batch.approximateLength < atLeast || batch.approximateLength === 0) return;
      const chunks = batch.toChunks();
      batch = new ResponseWriter(ctx.encodeOptions);
      await ctx.send(chunks);
    };
    if (onlyRowItems(request.attributes)) {
      // Items of the row alone (FETCH 1:* (FLAGS)): built at once, without a promise per message.
      for (const message of messages) {
        const built = rowFetchItems(request.attributes, message, seenSet.has(message.record.uid) ? { ...base, seenSet: true } : base);
        if (!built) throw new Error('a row item needed the message content');
        writeFetchResponse(batch, message.seq, built.items);
        if (batch.approximateLength >= WRITE_BATCH_BYTES) await flush(WRITE_BATCH_BYTES);
      }
      await flush(1);
      return;
    }
    const queue: Promise<Built>[] = [];
    let next = 0;
    let queuedBytes = 0;
    let failure: FetchError | null = null;
    for (const message of messages) {
      let built: Built;
      if (inFlight === 1) {
        built = await build(message);
      } else {
        // Bounded in bytes too, so a FETCH of large bodies holds no more than one or a few at a time.
        while (next < messages.length && queue.length < inFlight && (queue.length === 0 || queuedBytes + messages[next]!.record.size <= IN_FLIGHT_BYTES)) {
          queuedBytes += messages[next]!.record.size;
          queue.push(build(messages[next++]!));
        }
        built = await queue.shift()!;
        queuedBytes -= message.record.size;
      }
      if ('error' in built) {
        // RFC 3516 4.2: an undecodable part fails the command, the other messages are still sent.
        // (Loads still in flight settle into their own results; none is left unhandled.)
        if (!(built.error instanceof FetchError)) throw built.error;
        failure ??= built.error;
      } else {
        writeFetchResponse(batch, message.seq, built.items);
      }
      await flush(WRITE_BATCH_BYTES);
    }
    await flush(1);
    if (failure) throw new ImapError('NO', failure.sentence, { name: failure.responseCode });
  },
};
