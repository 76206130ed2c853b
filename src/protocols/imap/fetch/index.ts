/**
 * The items of one untagged FETCH response (RFC 3501 6.4.5 and 7.4.2,
 * RFC 9051 6.4.5 and 7.5.2, RFC 3516 BINARY, RFC 7162 MODSEQ), built from a
 * message's index row, its stored bytes and its MIME index. Pure apart from
 * the loader it is given: no store, no session, no socket.
 *
 *     msg-att  = "(" (msg-att-dynamic / msg-att-static) *(SP ...) ")"
 *     msg-att-dynamic = "FLAGS" SP "(" [flag-fetch *(SP flag-fetch)] ")"
 *     msg-att-static  = "ENVELOPE" SP envelope / "INTERNALDATE" SP date-time /
 *                       "RFC822" [".HEADER" / ".TEXT"] SP nstring /
 *                       "RFC822.SIZE" SP number / "BODY" ["STRUCTURE"] SP body /
 *                       "BODY" section ["<" number ">"] SP nstring / "UID" SP uniqueid /
 *                       "BINARY" section-binary SP (nstring / literal8) /
 *                       "BINARY.SIZE" section-binary SP number
 *     fetch-mod-resp  = "MODSEQ" SP "(" permsg-modsequence ")"      ; RFC 7162
 *
 * How the FETCH command uses it, per message:
 *
 *     const need = needsContent(request.attributes);   // once: skip the blob store when nothing needs it
 *     for (const message of messages) {
 *       const { items, setsSeen } = await fetchItems(request.attributes, message, content, options);
 *       if (setsSeen) ...store \Seen...
 *       send(encodeFetchResponse(message.seq, items, options));
 *     }
 *
 * Under CONDSTORE the other order keeps MODSEQ exact: when
 * `impliesSeen(attributes)` and the message lacks \Seen, store \Seen first
 * (batched for all messages, if wanted) and call fetchItems with the updated
 * record and `seenSet: true`.
 *
 * Body data is never re-encoded: BODY[] and RFC822 are the exact stored
 * bytes (issue 3), sections are views of them, sent as literals.
 */
import { filterHeaderFields, sectionRange, type MimeIndex } from '../../../mail/mime/index.js';
import type { MessageRecord } from '../../../store/types.js';
import type { MessageContent, SessionMessage } from '../message-content.js';
import { formatDateTime } from '../wire/dates.js';
import { atom, encodeFetch, flagListValue, literal, writeFetch, type AtomValue, type ImapValue, type ResponseWriter } from '../wire/encoder.js';
import { fetchResponseItemName } from '../wire/fetch-attributes.js';
import type { FetchAttribute } from '../wire/request.js';
import { binaryContent, binarySource, bodySection, isWholeMessage, slicePartial } from './sections.js';

export { FetchError, type FetchErrorCode } from './errors.js';

/** How one message's FETCH response is built. */
export interface FetchOptions {
  /** UTF8=ACCEPT is enabled (RFC 6855): valid UTF-8 may go in quoted strings. Used when encoding ({@link encodeFetchResponse}). */
  readonly utf8Accept: boolean;
  /**
   * CONDSTORE/QRESYNC is enabled: MODSEQ is added to every FETCH response,
   * and UID too when the fetch sets \Seen (RFC 7162 requires UID and MODSEQ
   * in every FETCH response that reports a flag change once CONDSTORE is
   * enabled; sending MODSEQ always is allowed and simpler for clients).
   */
  readonly condstore: boolean;
  /** The command is UID FETCH: UID is included, first, even when not asked for (RFC 3501 6.4.8). */
  readonly uid?: boolean;
  /** The mailbox was opened with EXAMINE: fetching never sets \Seen (RFC 3501 6.3.2), `setsSeen` is false. */
  readonly readOnly?: boolean;
  /**
   * The command already stored \Seen for this fetch (checked with
   * {@link impliesSeen} and passed the updated record): FLAGS is included
   * even when not asked for, as RFC 3501 6.4.5 says the changed flags
   * should be. Use this order under CONDSTORE so MODSEQ is the new one.
   */
  readonly seenSet?: boolean;
  /** This session sees the message as \Recent (RFC 3501 2.3.2): FLAGS shows it. IMAP4rev2 sessions leave it false. */
  readonly recent?: boolean;
}

/** One item of a FETCH response: the name to echo and its value, ready for encodeFetch. */
export type FetchItem = readonly [name: string, value: ImapValue];

/** What {@link fetchItems} returns. */
export interface FetchResult {
  /** The items in the client's order (duplicates dropped); UID first when implied, FLAGS and MODSEQ last when implied. */
  readonly items: FetchItem[];
  /**
   * The fetch implies setting \Seen and the record given lacks it (and the
   * mailbox is not read-only). The FLAGS item already shows \Seen; the
   * command must now store it.
   */
  readonly setsSeen: boolean;
}

/** Which loads a FETCH may need; false means that load is never made. */
export interface ContentNeeds {
  /** The stored message bytes (body sections, BINARY). */
  readonly bytes: boolean;
  /** The MIME index (ENVELOPE, BODY, BODYSTRUCTURE, numbered or HEADER/TEXT sections). */
  readonly index: boolean;
}

const SEEN = '\\Seen';
const RECENT = '\\Recent';

/**
 * Whether fetching these items sets \Seen on a message that lacks it
 * (RFC 3501 6.4.5): BODY[...] (not BODY.PEEK), RFC822, RFC822.TEXT and
 * BINARY[...] (not BINARY.PEEK, RFC 3516 4.2). RFC822.HEADER is
 * BODY.PEEK[HEADER] and sets nothing.
 */
export function impliesSeen(attributes: readonly FetchAttribute[]): boolean {
  return attributes.some((a) => {
    switch (a.kind) {
      case 'RFC822':
      case 'RFC822.TEXT':
        return true;
      case 'BODY[]':
      case 'BINARY[]':
        return !a.peek;
      default:
        return false;
    }
  });
}

/**
 * Which loads these items may need, so a command can skip the blob store
 * entirely (`FETCH 1:* (UID FLAGS)` loads nothing, ENVELOPE only the index).
 * An upper bound: {@link fetchItems} loads lazily and may skip a load this
 * allows (BINARY.SIZE of an identity-encoded part reads no bytes).
 */
export function needsContent(attributes: readonly FetchAttribute[]): ContentNeeds {
  let bytes = false;
  let index = false;
  for (const a of attributes) {
    switch (a.kind) {
      case 'ENVELOPE':
      case 'BODY':
      case 'BODYSTRUCTURE':
        index = true;
        break;
      case 'RFC822':
        bytes = true;
        break;
      case 'RFC822.HEADER':
      case 'RFC822.TEXT':
        bytes = index = true;
        break;
      case 'BODY[]':
        bytes = true;
        if (!isWholeMessage(a.section)) index = true;
        break;
      case 'BINARY[]':
        bytes = true;
        if (a.part.length > 0) index = true;
        break;
      case 'BINARY.SIZE':
        // BINARY.SIZE[] is RFC822.SIZE and loads nothing.
        if (a.part.length > 0) bytes = index = true;
        break;
      default:
        break;
    }
  }
  return { bytes, index };
}

/** Loads bytes and index at most once each for one message. */
class MessageLoader {
  private bytesPromise: Promise<Buffer> | undefined;
  private indexPromise: Promise<MimeIndex> | undefined;
  private headerPromise: Promise<Buffer> | undefined;

  constructor(
    private readonly content: MessageContent,
    private readonly record: MessageRecord,
  ) {}

  bytes(): Promise<Buffer> {
    return (this.bytesPromise ??= this.content.bytes(this.record));
  }

  index(): Promise<MimeIndex> {
    return (this.indexPromise ??= this.content.index(this.record));
  }

  /** The message's header section: from the loader's cache when it has one, else sliced from the bytes. */
  header(): Promise<Buffer> {
    return (this.headerPromise ??= this.content.header ? this.content.header(this.record) : this.sliceHeader());
  }

  private async sliceHeader(): Promise<Buffer> {
    const [bytes, index] = await Promise.all([this.bytes(), this.index()]);
    const range = sectionRange(index, [], 'HEADER');
    return range ? bytes.subarray(range.start, range.end) : Buffer.alloc(0);
  }
}

/**
 * Body data as a value: a literal (the usual form for message data; a
 * quoted string could not hold its line breaks anyway), or "" when empty.
 * `binary` data with a NUL goes as literal8 (RFC 3516 4.3); other 8-bit
 * data is a plain literal, so the client knows it holds no NUL. BODY[]
 * never uses literal8: RFC 3516 reserves it for BINARY.
 */
function dataValue(data: Buffer, binary: boolean): ImapValue {
  if (data.length === 0) return '';
  return literal(data, binary && data.includes(0));
}

function hasFlag(flags: readonly string[], flag: string): boolean {
  const lower = flag.toLowerCase();
  return flags.some((f) => f.toLowerCase() === lower);
}

/**
 * Flags as atoms, made once per distinct flag (FETCH 1:* (FLAGS) over
 * 100,000 messages meets a handful of them); bounded against a mailbox of
 * endless distinct keywords. The values are shared and only read.
 */
const flagAtoms = new Map<string, AtomValue>();
const singleFlagLists = new Map<string, AtomValue[]>();
const NO_FLAGS: AtomValue[] = [];
const MAX_DISTINCT_FLAGS = 10_000;

function flagAtom(flag: string): AtomValue {
  let value = flagAtoms.get(flag);
  if (!value) {
    if (flagAtoms.size >= MAX_DISTINCT_FLAGS) flagAtoms.clear();
    value = atom(flag);
    flagAtoms.set(flag, value);
  }
  return value;
}

function flagsValue(record: MessageRecord, showSeen: boolean, recent: boolean): ImapValue {
  if (!showSeen && !recent) {
    const stored = record.flags;
    if (stored.length === 0) return NO_FLAGS;
    if (stored.length === 1) {
      let list = singleFlagLists.get(stored[0]!);
      if (!list) {
        if (singleFlagLists.size >= MAX_DISTINCT_FLAGS) singleFlagLists.clear();
        list = [flagAtom(stored[0]!)];
        singleFlagLists.set(stored[0]!, list);
      }
      return list;
    }
    return stored.map(flagAtom);
  }
  const flags = [...record.flags];
  if (showSeen && !hasFlag(flags, SEEN)) flags.push(SEEN);
  if (recent && !hasFlag(flags, RECENT)) flags.push(RECENT);
  return flagListValue(flags);
}

/**
 * The items of the FETCH response for one message, in the client's order.
 *
 * - FLAGS is the record's flags, plus \Seen when `setsSeen` (or
 *   `options.seenSet`), plus \Recent when `options.recent`. When \Seen is
 *   being set and FLAGS was not asked for, FLAGS is appended (RFC 3501
 *   6.4.5: changed flags should be returned).
 * - UID comes first for UID FETCH (`options.uid`), and under CONDSTORE when
 *   \Seen is shown as set; MODSEQ is appended under CONDSTORE unless asked
 *   for (RFC 7162).
 * - An item asked for twice (or under two spellings with one response name,
 *   BODY[] and BODY.PEEK[]) is answered once.
 *
 * Loads bytes and index lazily, at most once each, through `content`.
 * Throws FetchError('unknown-cte') for BINARY of an undecodable part; the
 * command answers NO [UNKNOWN-CTE] (store errors from `content` pass through).
 */
export async function fetchItems(
  attributes: readonly FetchAttribute[],
  message: SessionMessage,
  content: MessageContent,
  options: FetchOptions,
): Promise<FetchResult> {
  const { record } = message;
  const loader = new MessageLoader(content, record);
  const setsSeen = !options.readOnly && impliesSeen(attributes) && !hasFlag(record.flags, SEEN);
  const showSeen = setsSeen || options.seenSet === true;
  const items: Array<readonly [string, ImapValue]> = [];
  const names = new Set<string>();

  // UID FETCH, and under CONDSTORE a response that reports the new \Seen (RFC 7162), carry UID: first, as Dovecot writes it.
  if (options.uid || (options.condstore && showSeen)) {
    items.push(['UID', record.uid]);
    names.add('UID');
  }
  for (const attribute of attributes) {
    const name = fetchResponseItemName(attribute);
    if (names.has(name)) continue;
    names.add(name);
    // Items of the row come back at once; only content items are awaited (FETCH 1:* FLAGS makes no promise per item).
    const value = itemValue(attribute, record, loader, showSeen, options.recent === true);
    items.push([name, value instanceof Promise ? await value : value]);
  }
  if (showSeen && !names.has('FLAGS')) items.push(['FLAGS', flagsValue(record, true, options.recent === true)]);
  if (options.condstore && !names.has('MODSEQ')) items.push(['MODSEQ', [record.modSeq]]);
  return { items, setsSeen };
}

/** Items read from the index row alone. */
const ROW_ITEMS = new Set<FetchAttribute['kind']>(['FLAGS', 'UID', 'MODSEQ', 'INTERNALDATE', 'RFC822.SIZE']);
type RowItem = 'FLAGS' | 'UID' | 'MODSEQ' | 'INTERNALDATE' | 'RFC822.SIZE';
const UID_BIT = 1;
const FLAGS_BIT = 2;
const MODSEQ_BIT = 4;
const ROW_ITEM_BITS: Record<RowItem, number> = { UID: UID_BIT, FLAGS: FLAGS_BIT, MODSEQ: MODSEQ_BIT, INTERNALDATE: 8, 'RFC822.SIZE': 16 };

/** Whether every attribute comes from the index row, so {@link rowFetchItems} can build the response. */
export function onlyRowItems(attributes: readonly FetchAttribute[]): boolean {
  for (const a of attributes) if (!ROW_ITEMS.has(a.kind)) return false;
  return true;
}

/**
 * {@link fetchItems} for attributes that all come from the index row
 * (FLAGS, UID, MODSEQ, INTERNALDATE, RFC822.SIZE), built at once: no
 * promise per message when `FETCH 1:* (FLAGS)` walks 100,000 messages.
 * Null when an attribute needs the message's content.
 */
export function rowFetchItems(attributes: readonly FetchAttribute[], message: SessionMessage, options: FetchOptions): FetchResult | null {
  if (!onlyRowItems(attributes)) return null;
  const { record } = message;
  // None of these items implies \Seen; a seen flag set by the command itself is still shown.
  const showSeen = options.seenSet === true;
  const items: Array<readonly [string, ImapValue]> = [];
  // The names already answered, one bit each (an item asked for twice is answered once).
  let names = 0;
  if (options.uid || (options.condstore && showSeen)) {
    items.push(['UID', record.uid]);
    names |= UID_BIT;
  }
  for (const attribute of attributes) {
    const bit = ROW_ITEM_BITS[attribute.kind as RowItem];
    if (names & bit) continue;
    names |= bit;
    items.push([fetchResponseItemName(attribute), itemValue(attribute, record, null, showSeen, options.recent === true) as ImapValue]);
  }
  if (showSeen && !(names & FLAGS_BIT)) items.push(['FLAGS', flagsValue(record, true, options.recent === true)]);
  if (options.condstore && !(names & MODSEQ_BIT)) items.push(['MODSEQ', [record.modSeq]]);
  return { items, setsSeen: false };
}

function itemValue(attribute: FetchAttribute, record: MessageRecord, loader: MessageLoader | null, showSeen: boolean, recent: boolean): ImapValue | Promise<ImapValue> {
  switch (attribute.kind) {
    case 'FLAGS':
      return flagsValue(record, showSeen, recent);
    case 'UID':
      return record.uid;
    case 'MODSEQ':
      return [record.modSeq];
    case 'INTERNALDATE':
      // Stored as an instant; written in UTC ("+0000").
      return formatDateTime(record.internalDate);
    case 'RFC822.SIZE':
      return record.size;
    default:
      if (!loader) throw new Error(`${attribute.kind} needs the message's content`);
      return contentValue(attribute, record, loader);
  }
}

/** The value of an item read from the message's bytes or MIME index. */
async function contentValue(attribute: FetchAttribute, record: MessageRecord, loader: MessageLoader): Promise<ImapValue> {
  switch (attribute.kind) {
    case 'FLAGS':
    case 'UID':
    case 'MODSEQ':
    case 'INTERNALDATE':
    case 'RFC822.SIZE':
      throw new Error(`${attribute.kind} is not a content item`);
    case 'ENVELOPE':
      return (await loader.index()).envelope;
    case 'BODY':
      return (await loader.index()).body;
    case 'BODYSTRUCTURE':
      return (await loader.index()).bodyStructure;
    case 'RFC822':
      return dataValue(await loader.bytes(), false);
    case 'RFC822.HEADER':
      return dataValue(await loader.header(), false);
    case 'RFC822.TEXT': {
      const [bytes, index] = await Promise.all([loader.bytes(), loader.index()]);
      const range = sectionRange(index, [], 'TEXT');
      return dataValue(range ? bytes.subarray(range.start, range.end) : Buffer.alloc(0), false);
    }
    case 'BODY[]': {
      // The message's own header (what a mail app lists a folder with) needs neither the body nor the index.
      const section = attribute.section;
      if (section.part.length === 0 && (section.text === 'HEADER' || section.text === 'HEADER.FIELDS' || section.text === 'HEADER.FIELDS.NOT')) {
        const header = await loader.header();
        const data = section.text === 'HEADER' ? header : filterHeaderFields(header, section.fields, section.text === 'HEADER.FIELDS.NOT');
        return dataValue(slicePartial(data, attribute.partial), false);
      }
      const whole = isWholeMessage(attribute.section);
      const [bytes, index] = await Promise.all([loader.bytes(), whole ? null : loader.index()]);
      return dataValue(slicePartial(bodySection(bytes, index, attribute.section), attribute.partial), false);
    }
    case 'BINARY[]': {
      const index = attribute.part.length > 0 ? await loader.index() : null;
      const bytes = await loader.bytes();
      const source = binarySource(index, attribute.part, bytes.length);
      // A part the message does not have: NIL (BINARY's value is an nstring).
      if (!source) return null;
      return dataValue(slicePartial(binaryContent(bytes, source), attribute.partial), true);
    }
    case 'BINARY.SIZE': {
      if (attribute.part.length === 0) return record.size;
      const source = binarySource(await loader.index(), attribute.part, record.size);
      if (!source) return 0;
      if (source.decode === null) return source.end - source.start;
      return binaryContent(await loader.bytes(), source).length;
    }
  }
}

/** Appends one FETCH response to a writer shared by many (see writeFetch). */
export function writeFetchResponse(w: ResponseWriter, seq: number, items: readonly FetchItem[]): void {
  writeFetch(w, seq, items);
}

/** Encodes one FETCH response (`* seq FETCH (...)` CRLF) as chunks; literal data is not copied. */
export function encodeFetchResponse(seq: number, items: readonly FetchItem[], options: Pick<FetchOptions, 'utf8Accept'>): Buffer[] {
  return encodeFetch(seq, items, { utf8: options.utf8Accept });
}
