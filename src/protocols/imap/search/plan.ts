/**
 * Turns a parsed SEARCH criteria tree (wire/request.ts `SearchKey`) into a
 * plan that is cheap to run once per message: strings folded once, dates
 * turned into day numbers, sequence sets resolved against the session's
 * view, "$" replaced by the saved UIDs, nested AND/OR flattened, constant
 * keys (ALL, RECENT, NEW, OLD) folded away, and the operands of every AND
 * and OR ordered by what they need to load, cheapest first.
 *
 * What a node needs is its *level*:
 *
 *   0 RECORD  the message row: flags, size, INTERNALDATE, seq, UID, modseq
 *   1 INDEX   the stored MIME index: decoded Subject and addresses, Date
 *   2 HEADER  the message bytes: HEADER and the header half of TEXT
 *   3 BODY    the decoded text of the body: BODY and the body half of TEXT
 *
 * The evaluator runs a plan at increasing levels and loads the index, then
 * the bytes, only when a lower level could not decide the message.
 */
import type { ImapDate, SearchKey } from '../wire/request.js';
import { resolveSequenceSet, type ResolvedRange, type SequenceSet } from '../wire/sequence-set.js';
import { foldText } from './fold.js';

/** What a plan node needs in order to be decided (see the file comment). */
export type Level = 0 | 1 | 2 | 3;

export const LEVEL_RECORD = 0;
export const LEVEL_INDEX = 1;
export const LEVEL_HEADER = 2;
export const LEVEL_BODY = 3;

/** The address fields of the decoded headers that SEARCH can name. */
export type AddressField = 'from' | 'to' | 'cc' | 'bcc';

/** How a date key compares a message's calendar day with the key's day. */
export type DayComparison = 'before' | 'on' | 'since';

/** One node of a plan. `level` is the highest level of the node and its operands. */
export type PlanNode =
  | { readonly op: 'const'; readonly level: 0; readonly value: boolean }
  /** A flag is present (`present`) or absent; `flag` is lower case, `spelling` as the client (or RFC 3501) wrote it. */
  | { readonly op: 'flag'; readonly level: 0; readonly flag: string; readonly spelling: string; readonly present: boolean }
  /** RFC822.SIZE strictly above (`larger`) or below the limit. */
  | { readonly op: 'size'; readonly level: 0; readonly larger: boolean; readonly size: number }
  /** The UTC calendar day of INTERNALDATE compared with `day` (days since the epoch). */
  | { readonly op: 'internal-date'; readonly level: 0; readonly compare: DayComparison; readonly day: number }
  /** The calendar day of the Date header compared with `day`. */
  | { readonly op: 'sent-date'; readonly level: 1; readonly compare: DayComparison; readonly day: number }
  /** The sequence number is in the ranges (sorted, merged, "*" resolved). */
  | { readonly op: 'seq'; readonly level: 0; readonly ranges: readonly ResolvedRange[] }
  /** The UID is in the ranges (sorted, merged, "*" resolved). */
  | { readonly op: 'uid'; readonly level: 0; readonly ranges: readonly ResolvedRange[] }
  /** The UID is in the saved search result (RFC 5182 "$"). */
  | { readonly op: 'uid-set'; readonly level: 0; readonly uids: ReadonlySet<number> }
  /** The message's modseq is at least `min` (RFC 7162 3.1.5). */
  | { readonly op: 'modseq'; readonly level: 0; readonly min: number }
  /** The decoded Subject contains `needle` (folded). */
  | { readonly op: 'subject'; readonly level: 1; readonly needle: string }
  /** An address field (decoded names and addresses as written) contains `needle`. */
  | { readonly op: 'address'; readonly level: 1; readonly field: AddressField; readonly needle: string }
  /** A header field (`field` lower case) of the message has a value containing `needle`. */
  | { readonly op: 'header'; readonly level: 2; readonly field: string; readonly needle: string }
  /** The header section or the body text contains `needle`. */
  | { readonly op: 'text'; readonly level: 3; readonly needle: string }
  /** The body text contains `needle`. */
  | { readonly op: 'body'; readonly level: 3; readonly needle: string }
  | { readonly op: 'not'; readonly level: Level; readonly operand: PlanNode }
  | { readonly op: 'and' | 'or'; readonly level: Level; readonly operands: readonly PlanNode[] };

/** What the plan needs from the session to resolve "*" and "$". */
export interface PlanContext {
  /** Highest message sequence number in the view (0 when the mailbox is empty). */
  readonly maxSeq: number;
  /** Highest UID in the view (0 when the mailbox is empty). */
  readonly maxUid: number;
  /** The saved search result as UIDs, or null when none is saved. */
  readonly savedUids: readonly number[] | null;
}

const TRUE: PlanNode = { op: 'const', level: 0, value: true };
const FALSE: PlanNode = { op: 'const', level: 0, value: false };

const MS_PER_DAY = 86_400_000;

/** Days since 1970-01-01 of a calendar date (proleptic Gregorian, years below 100 kept as written). */
export function dayNumber(year: number, month: number, day: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  return Math.floor(d.getTime() / MS_PER_DAY);
}

/** The UTC calendar day of an instant, in days since the epoch (NaN for an invalid date). */
export function utcDayOf(date: Date): number {
  return Math.floor(date.getTime() / MS_PER_DAY);
}

function imapDay(date: ImapDate): number {
  return dayNumber(date.year, date.month, date.day);
}

function flag(name: string, present: boolean): PlanNode {
  return { op: 'flag', level: 0, flag: name.toLowerCase(), spelling: name, present };
}

function sequenceNode(op: 'seq' | 'uid', set: SequenceSet, largest: number, ctx: PlanContext): PlanNode {
  if (set.kind === 'saved') {
    // RFC 5182 section 2.1: "$" names the same messages in SEARCH and UID SEARCH,
    // and with no saved result it is an empty set.
    if (ctx.savedUids === null || ctx.savedUids.length === 0) return FALSE;
    return { op: 'uid-set', level: 0, uids: new Set(ctx.savedUids) };
  }
  // RFC 9051 6.4.4: "*" is the largest number in use; in an empty mailbox there
  // is none, and 0 (what "*" resolves to) is never a sequence number or UID.
  const ranges = resolveSequenceSet(set, largest).filter((r) => r.high >= 1);
  return ranges.length === 0 ? FALSE : { op, level: 0, ranges };
}

function dayCompare(key: 'BEFORE' | 'ON' | 'SINCE' | 'SENTBEFORE' | 'SENTON' | 'SENTSINCE'): DayComparison {
  switch (key) {
    case 'BEFORE':
    case 'SENTBEFORE':
      return 'before';
    case 'ON':
    case 'SENTON':
      return 'on';
    default:
      return 'since';
  }
}

function not(operand: PlanNode): PlanNode {
  if (operand.op === 'const') return operand.value ? FALSE : TRUE;
  if (operand.op === 'not') return operand.operand;
  if (operand.op === 'flag') return { ...operand, present: !operand.present };
  return { op: 'not', level: operand.level, operand };
}

/**
 * AND (`and`) or OR of operands: nested nodes of the same kind flattened,
 * constants folded, the rest ordered by level (stable, so the client's order
 * decides among equals).
 */
function junction(op: 'and' | 'or', operands: readonly PlanNode[]): PlanNode {
  // For AND, a true operand changes nothing and a false one decides; for OR the reverse.
  const neutral = op === 'and';
  const flat: PlanNode[] = [];
  for (const operand of operands) {
    if (operand.op === 'const') {
      if (operand.value === neutral) continue;
      return operand;
    }
    if (operand.op === op) flat.push(...operand.operands);
    else flat.push(operand);
  }
  if (flat.length === 0) return neutral ? TRUE : FALSE;
  if (flat.length === 1) return flat[0]!;
  const ordered = flat.map((node, i) => ({ node, i })).sort((a, b) => a.node.level - b.node.level || a.i - b.i).map((x) => x.node);
  return { op, level: ordered[ordered.length - 1]!.level, operands: ordered };
}

/**
 * Compiles a criteria tree into a plan. Never throws: every key of the
 * wire type has a meaning here.
 */
export function compileSearch(key: SearchKey, ctx: PlanContext): PlanNode {
  switch (key.key) {
    case 'ALL':
      return TRUE;
    // This server keeps no \Recent (RFC 9051 removed it; RFC 3501 allows a
    // server where no session ever sees a message as recent): RECENT and
    // NEW (= RECENT UNSEEN) match nothing, OLD (= NOT RECENT) everything.
    case 'RECENT':
    case 'NEW':
      return FALSE;
    case 'OLD':
      return TRUE;
    case 'ANSWERED':
      return flag('\\Answered', true);
    case 'UNANSWERED':
      return flag('\\Answered', false);
    case 'DELETED':
      return flag('\\Deleted', true);
    case 'UNDELETED':
      return flag('\\Deleted', false);
    case 'DRAFT':
      return flag('\\Draft', true);
    case 'UNDRAFT':
      return flag('\\Draft', false);
    case 'FLAGGED':
      return flag('\\Flagged', true);
    case 'UNFLAGGED':
      return flag('\\Flagged', false);
    case 'SEEN':
      return flag('\\Seen', true);
    case 'UNSEEN':
      return flag('\\Seen', false);
    case 'KEYWORD':
      return flag(key.flag, true);
    case 'UNKEYWORD':
      return flag(key.flag, false);
    case 'LARGER':
      return { op: 'size', level: 0, larger: true, size: key.size };
    case 'SMALLER':
      return { op: 'size', level: 0, larger: false, size: key.size };
    case 'BEFORE':
    case 'ON':
    case 'SINCE':
      return { op: 'internal-date', level: 0, compare: dayCompare(key.key), day: imapDay(key.date) };
    case 'SENTBEFORE':
    case 'SENTON':
    case 'SENTSINCE':
      return { op: 'sent-date', level: 1, compare: dayCompare(key.key), day: imapDay(key.date) };
    case 'SEQUENCE':
      return sequenceNode('seq', key.set, ctx.maxSeq, ctx);
    case 'UID':
      return sequenceNode('uid', key.set, ctx.maxUid, ctx);
    case 'MODSEQ':
      // RFC 7162 3.1.5: a server without per-flag modseqs uses the message's
      // modseq whatever entry the client names.
      return { op: 'modseq', level: 0, min: key.modSeq };
    case 'SUBJECT':
      return { op: 'subject', level: 1, needle: foldText(key.value) };
    case 'FROM':
    case 'TO':
    case 'CC':
    case 'BCC':
      return { op: 'address', level: 1, field: key.key.toLowerCase() as AddressField, needle: foldText(key.value) };
    case 'HEADER':
      return { op: 'header', level: 2, field: key.field.toLowerCase(), needle: foldText(key.value) };
    case 'TEXT':
      return { op: 'text', level: 3, needle: foldText(key.value) };
    case 'BODY':
      return { op: 'body', level: 3, needle: foldText(key.value) };
    case 'NOT':
      return not(compileSearch(key.operand, ctx));
    case 'OR':
      return junction('or', [compileSearch(key.left, ctx), compileSearch(key.right, ctx)]);
    case 'AND':
      return junction('and', key.operands.map((operand) => compileSearch(operand, ctx)));
  }
}

/** The levels a plan uses, ascending, always starting with RECORD. */
export function planLevels(plan: PlanNode): Level[] {
  const used = new Set<Level>([LEVEL_RECORD]);
  const visit = (node: PlanNode): void => {
    switch (node.op) {
      case 'not':
        visit(node.operand);
        break;
      case 'and':
      case 'or':
        for (const operand of node.operands) visit(operand);
        break;
      case 'text':
        // TEXT can be decided by the header alone (a match there is enough).
        used.add(LEVEL_HEADER);
        used.add(LEVEL_BODY);
        break;
      default:
        used.add(node.level);
    }
  };
  visit(plan);
  return [...used].sort((a, b) => a - b);
}
