/**
 * The SEARCH evaluator (RFC 3501 6.4.4, RFC 9051 6.4.4, RFC 7162 3.1.5
 * MODSEQ, RFC 5182 "$"): which of the session's messages match a parsed
 * criteria tree. Pure apart from loading message content through the
 * MessageContent it is given; the SEARCH/UID SEARCH command (and ESEARCH's
 * MIN/MAX/COUNT/SAVE) build their replies from what it returns.
 *
 *   const hits = await searchMessages(request.criteria, view, { content, maxSeq, maxUid, savedUids }, { charset: request.charset });
 *
 * How keys are read:
 *
 * - Strings match as case-insensitive substrings after Unicode
 *   normalisation (fold.ts). FROM, TO, CC, BCC and SUBJECT read the stored
 *   MIME index (encoded words decoded; addresses as `name <local@domain>`,
 *   the name decoded, the address as written); HEADER reads the field's
 *   unfolded values in the message bytes, matching them decoded or as
 *   written, and an empty string matches every message that has the field;
 *   BODY reads the decoded text parts (and the headers of attached
 *   messages); TEXT reads the header section and the body. SUBJECT and the
 *   address keys match an empty string when the message has the field (an
 *   address field only when it holds an address); BODY and TEXT match it
 *   always.
 * - BEFORE, ON and SINCE compare the calendar day of INTERNALDATE *in UTC*.
 *   RFC 3501 leaves the zone to the server (Dovecot uses the server's own);
 *   the nodes of a cluster may sit in different zones, and UTC is what every
 *   node agrees on, so the same search gives the same answer everywhere.
 * - SENTBEFORE, SENTON and SENTSINCE compare the calendar day written in the
 *   Date field, its time and zone disregarded (RFC 3501 6.4.4). A message
 *   without a readable Date field matches none of them (so NOT SENTBEFORE
 *   does match it).
 * - \Recent is not kept by this server (RFC 9051 drops it): RECENT and NEW
 *   match nothing, OLD matches everything.
 * - KEYWORD and the flag keys compare flags case-insensitively. LARGER and
 *   SMALLER are strict. MODSEQ matches a modseq at least the given one,
 *   whatever entry name is given (the store has one modseq per message).
 * - A sequence set or UID set resolves "*" to the highest sequence number or
 *   UID of the view; in an empty view "*" matches nothing. "$" is the saved
 *   result as UIDs, in SEARCH and UID SEARCH alike; with none saved it
 *   matches nothing (RFC 5182 2.1). Sequence numbers beyond the view simply
 *   match nothing: whether to answer BAD for them (RFC 9051 6.4.4) is the
 *   session's decision (wire/sequence-set.ts largestExplicitNumber).
 *
 * Cost: keys that need only the message row (flags, size, dates, numbers,
 * modseq) are decided first, then those that need the MIME index, then the
 * bytes, then the decoded body text (plan.ts, evaluate.ts), so `SEARCH
 * UNSEEN` loads nothing and `SEARCH DELETED BODY x` loads only deleted
 * messages. Messages needing content are judged one at a time, or a few
 * at once with `loadsInFlight` so their loads overlap (the SEARCH command
 * uses CONTENT_LOADS_IN_FLIGHT), verdicts taken in order,
 * and text per message is capped at `maxTextBytes`.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { DEFAULT_MAX_TEXT_BYTES } from '../../../mail/mime/index.js';
import type { MessageContent, SessionMessage } from '../message-content.js';
import type { SearchKey } from '../wire/request.js';
import { SEARCH_CHARSETS } from '../wire/search-keys.js';
import { evaluate } from './evaluate.js';
import { MessageFacts } from './message-facts.js';
import { compileSearch, LEVEL_RECORD, planLevels } from './plan.js';

export { foldText } from './fold.js';

/** What the evaluator needs from the session besides the messages. */
export interface SearchContext {
  /** Loads a message's MIME index and bytes, only for keys that need them. */
  readonly content: MessageContent;
  /** Highest sequence number in the session's view, for resolving '*' (0 when empty). */
  readonly maxSeq: number;
  /** Highest UID in the session's view, for resolving '*' (0 when empty). */
  readonly maxUid: number;
  /** The saved search result (RFC 5182 '$'), as UIDs, or null when none is saved. */
  readonly savedUids: readonly number[] | null;
}

/** Options of one search. */
export interface SearchOptions {
  /** The CHARSET the client named (any case), or null/absent for none. */
  readonly charset?: string | null;
  /** Decoded text read per message for BODY, TEXT and HEADER, in UTF-8 bytes (default: searchableText's default, 1 MiB). */
  readonly maxTextBytes?: number;
  /**
   * Messages whose content is being loaded at once (default 1: one at a
   * time). More lets the reads overlap; verdicts are still taken in order.
   */
  readonly loadsInFlight?: number;
}

/** Stable codes of {@link SearchError}. */
export type SearchErrorCode = 'bad-charset';

/** A search that cannot be evaluated; the session answers `NO [responseCode] message`. */
export class SearchError extends Error {
  constructor(
    /** What went wrong. */
    readonly code: SearchErrorCode,
    /** A sentence for the client. */
    message: string,
    /** The response code without brackets, e.g. "BADCHARSET (US-ASCII UTF-8)". */
    readonly responseCode: string,
    /** The status to answer with. */
    readonly status: 'NO' | 'BAD' = 'NO',
  ) {
    super(message);
    this.name = 'SearchError';
  }
}

/** One message's verdict, and whether its content was read. */
interface Judged {
  readonly match: boolean;
  readonly loaded: boolean;
}

/** How many messages whose content was read between two yields to the event loop. */
const CONTENT_MESSAGES_PER_YIELD = 64;

/**
 * Returns the messages of `messages` that match `criteria`, in the order
 * given. Up to `opts.loadsInFlight` messages (default 1) are evaluated at once; a message's MIME index
 * and bytes are loaded through `ctx.content` only when a key still
 * undecided needs them. Errors from loading content propagate.
 *
 * @throws SearchError `bad-charset` (NO [BADCHARSET (US-ASCII UTF-8)]) when
 *   `opts.charset` is neither US-ASCII nor UTF-8 (RFC 3501 6.4.4).
 */
export async function searchMessages(
  criteria: SearchKey,
  messages: readonly SessionMessage[],
  ctx: SearchContext,
  opts: SearchOptions = {},
): Promise<SessionMessage[]> {
  checkCharset(opts.charset ?? null);
  const plan = compileSearch(criteria, ctx);
  if (plan.op === 'const') return plan.value ? [...messages] : [];
  const levels = planLevels(plan);
  const maxTextBytes = opts.maxTextBytes ?? DEFAULT_MAX_TEXT_BYTES;
  const loadsInFlight = Math.max(1, opts.loadsInFlight ?? 1);
  const matches: SessionMessage[] = [];
  if (levels.length === 1) {
    // Only keys of the message row: decided without loading anything.
    for (const message of messages) if (evaluate(plan, new MessageFacts(message, ctx.content, maxTextBytes), LEVEL_RECORD) === true) matches.push(message);
    return matches;
  }
  const judge = async (message: SessionMessage): Promise<Judged> => {
    const facts = new MessageFacts(message, ctx.content, maxTextBytes);
    let verdict = evaluate(plan, facts, LEVEL_RECORD);
    for (let i = 1; verdict === undefined && i < levels.length; i++) {
      const level = levels[i]!;
      await facts.load(level);
      verdict = evaluate(plan, facts, level);
    }
    return { match: verdict === true, loaded: facts.loaded };
  };
  // A few messages are judged at once so their loads overlap; verdicts are taken in order.
  const queue: Promise<Judged | { error: unknown }>[] = [];
  let next = 0;
  let readContent = 0;
  for (const message of messages) {
    while (next < messages.length && queue.length < loadsInFlight) {
      queue.push(judge(messages[next++]!).catch((error: unknown) => ({ error })));
    }
    const judged = await queue.shift()!;
    // Loads still in flight settle into their own results; none is left unhandled.
    if ('error' in judged) throw judged.error;
    if (judged.match) matches.push(message);
    // Text search is CPU work on cached data; let other sessions of the node run now and then.
    if (judged.loaded && ++readContent % CONTENT_MESSAGES_PER_YIELD === 0) await yieldToEventLoop();
  }
  return matches;
}

/** Throws SearchError unless `charset` is null or one SEARCH accepts. */
export function checkCharset(charset: string | null): void {
  if (charset === null) return;
  if ((SEARCH_CHARSETS as readonly string[]).includes(charset.toUpperCase())) return;
  throw new SearchError('bad-charset', `the charset ${charset} is not supported`, `BADCHARSET (${SEARCH_CHARSETS.join(' ')})`);
}
