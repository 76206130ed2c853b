/**
 * Sequence sets (RFC 3501 section 9 `sequence-set`, RFC 9051 section 9):
 *
 *     sequence-set = (seq-number / seq-range) ["," sequence-set]
 *     seq-range    = seq-number ":" seq-number
 *     seq-number   = nz-number / "*"
 *     nz-number    = digit-nz *DIGIT          ; 1 .. 4294967295
 *
 * plus "$", the result saved by `SEARCH RETURN (SAVE)` (RFC 5182, ESEARCH).
 * The same type serves message sequence numbers and UIDs; which one it holds
 * is decided by the command (UID prefix). A range may be written backwards
 * ("4:2" is "2:4", RFC 3501 section 9) and "*" stands for the largest number
 * in use, so `n:*` always includes the last message even when n is larger
 * (RFC 3501 section 6.4.8). Nothing here allocates per number in a range:
 * "1:4294967295" is cheap to parse, test and resolve.
 */

/** The largest number a sequence set may hold (`nz-number` is a 32-bit unsigned value). */
export const MAX_SEQUENCE_NUMBER = 4294967295;

/** One end of a range: a number, or "*" for the largest number in use. */
export type SequenceValue = number | '*';

/** A number or a range as written by the client (`first` may be above `last`). */
export interface SequenceRange {
  /** The left side as written. */
  readonly first: SequenceValue;
  /** The right side as written; equal to `first` for a single number. */
  readonly last: SequenceValue;
}

/** A parsed sequence set: explicit ranges, or "$" (the saved search result). */
export type SequenceSet = { readonly kind: 'ranges'; readonly ranges: readonly SequenceRange[] } | { readonly kind: 'saved' };

/** A range with "*" resolved and ends ordered: `low <= high`, both inclusive. */
export interface ResolvedRange {
  readonly low: number;
  readonly high: number;
}

/** Why text is not a sequence set; `message` is a sentence for the client. */
export class SequenceSetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SequenceSetError';
  }
}

/** Options for {@link parseSequenceSet}. */
export interface SequenceSetParseOptions {
  /** Accept "$" (SEARCHRES, RFC 5182). Default true. */
  readonly allowSaved?: boolean;
  /** Accept "*" (QRESYNC known-uids forbids it). Default true. */
  readonly allowStar?: boolean;
}

function parseValue(text: string, allowStar: boolean): SequenceValue {
  if (text === '*') {
    if (!allowStar) throw new SequenceSetError('"*" is not allowed in this sequence set');
    return '*';
  }
  if (!/^[1-9][0-9]*$/.test(text)) {
    throw new SequenceSetError(text === '0' || /^0[0-9]*$/.test(text) ? 'message numbers start at 1; 0 is not valid in a sequence set' : `"${text}" is not a valid sequence set element`);
  }
  if (text.length > 10 || Number(text) > MAX_SEQUENCE_NUMBER) throw new SequenceSetError(`${text} is larger than the largest message number (4294967295)`);
  return Number(text);
}

/**
 * Parses a sequence set.
 * @throws SequenceSetError with a sentence for the client.
 */
export function parseSequenceSet(text: string, options: SequenceSetParseOptions = {}): SequenceSet {
  const allowSaved = options.allowSaved ?? true;
  const allowStar = options.allowStar ?? true;
  if (text === '$') {
    if (!allowSaved) throw new SequenceSetError('"$" (the saved search result) is not allowed here');
    return { kind: 'saved' };
  }
  if (text.length === 0) throw new SequenceSetError('a sequence set is empty');
  const ranges: SequenceRange[] = [];
  for (const item of text.split(',')) {
    const colon = item.indexOf(':');
    if (colon === -1) {
      const value = parseValue(item, allowStar);
      ranges.push({ first: value, last: value });
    } else {
      if (item.indexOf(':', colon + 1) !== -1) throw new SequenceSetError(`"${item}" has more than one ":"`);
      ranges.push({ first: parseValue(item.slice(0, colon), allowStar), last: parseValue(item.slice(colon + 1), allowStar) });
    }
  }
  return { kind: 'ranges', ranges };
}

/** Writes a parsed set back in wire form (ranges as the client wrote them). */
export function formatSequenceSet(set: SequenceSet): string {
  if (set.kind === 'saved') return '$';
  return set.ranges.map((r) => (r.first === r.last ? String(r.first) : `${r.first}:${r.last}`)).join(',');
}

/**
 * Resolves "*" to `largest` (the highest sequence number, or the highest UID
 * in use; 0 for an empty mailbox) and returns the ranges sorted, ordered and
 * merged. Ranges are not clamped to `largest`: `UID FETCH 1:1000` in a
 * mailbox whose highest UID is 7 resolves to 1:1000, and callers intersect
 * with what exists. A saved set ("$") cannot be resolved here.
 */
export function resolveSequenceSet(set: SequenceSet, largest: number): ResolvedRange[] {
  if (set.kind === 'saved') throw new SequenceSetError('the saved search result ("$") must be substituted by the session before use');
  const resolved = set.ranges.map((r) => {
    const a = r.first === '*' ? largest : r.first;
    const b = r.last === '*' ? largest : r.last;
    return { low: Math.min(a, b), high: Math.max(a, b) };
  });
  resolved.sort((x, y) => x.low - y.low || x.high - y.high);
  const merged: ResolvedRange[] = [];
  for (const r of resolved) {
    const last = merged[merged.length - 1];
    if (last && r.low <= last.high + 1) merged[merged.length - 1] = { low: last.low, high: Math.max(last.high, r.high) };
    else merged.push(r);
  }
  return merged;
}

/** True when `n` is in the set, with "*" standing for `largest`. */
export function sequenceSetIncludes(set: SequenceSet, n: number, largest: number): boolean {
  if (set.kind === 'saved') throw new SequenceSetError('the saved search result ("$") must be substituted by the session before use');
  for (const r of set.ranges) {
    const a = r.first === '*' ? largest : r.first;
    const b = r.last === '*' ? largest : r.last;
    if (n >= Math.min(a, b) && n <= Math.max(a, b)) return true;
  }
  return false;
}

/**
 * The largest explicit number in the set (0 when it holds only "*"). A
 * session checks it against the message count: RFC 9051 section 6.4.4 wants
 * BAD for a message sequence number above the number of messages.
 */
export function largestExplicitNumber(set: SequenceSet): number {
  if (set.kind === 'saved') return 0;
  let max = 0;
  for (const r of set.ranges) {
    if (r.first !== '*' && r.first > max) max = r.first;
    if (r.last !== '*' && r.last > max) max = r.last;
  }
  return max;
}

/**
 * Yields each number of the set once, ascending, clamped to `1..largest`:
 * for message sequence numbers, where `largest` is the message count. Do not
 * use it for UID sets in a sparse mailbox; intersect resolved ranges instead.
 */
export function* iterateSequenceSet(set: SequenceSet, largest: number): Generator<number> {
  for (const r of resolveSequenceSet(set, largest)) {
    const high = Math.min(r.high, largest);
    for (let n = Math.max(r.low, 1); n <= high; n++) yield n;
  }
}

/**
 * Compresses numbers to wire form, e.g. [1, 2, 3, 5] -> "1:3,5". Order is
 * kept (ascending runs are joined), because COPYUID and APPENDUID pair the
 * source and destination sets element by element (RFC 4315 section 3); pass
 * `{ sort: true }` to sort and remove duplicates first. Returns "" for none.
 */
export function compressSequenceNumbers(numbers: Iterable<number>, options: { sort?: boolean } = {}): string {
  let list = Array.from(numbers);
  if (options.sort) list = Array.from(new Set(list)).sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < list.length) {
    const start = list[i]!;
    let end = start;
    while (i + 1 < list.length && list[i + 1] === end + 1) {
      end++;
      i++;
    }
    parts.push(start === end ? String(start) : `${start}:${end}`);
    i++;
  }
  return parts.join(',');
}
