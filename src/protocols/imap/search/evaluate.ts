/**
 * Runs a plan (plan.ts) against one message with three-valued logic: at a
 * given level, a key that needs more than that level is *unknown*
 * (undefined). AND is false as soon as one operand is false, OR true as
 * soon as one is true, NOT of unknown is unknown (Kleene logic). So
 * `UNSEEN OR BODY x` on an unseen message, or `DELETED BODY x` on an
 * undeleted one, is decided at the RECORD level and loads nothing.
 */
import { containsFolded } from './fold.js';
import type { MessageFacts } from './message-facts.js';
import { LEVEL_BODY, LEVEL_HEADER, type DayComparison, type Level, type PlanNode } from './plan.js';
import type { ResolvedRange } from '../wire/sequence-set.js';

/** True, false, or undefined when `level` is not enough to tell. */
export type Verdict = boolean | undefined;

function compareDay(day: number, compare: DayComparison, key: number): boolean {
  switch (compare) {
    case 'before':
      return day < key;
    case 'on':
      return day === key;
    case 'since':
      return day >= key;
  }
}

/** Binary search in sorted, disjoint ranges. */
function inRanges(ranges: readonly ResolvedRange[], n: number): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const r = ranges[mid]!;
    if (n < r.low) hi = mid - 1;
    else if (n > r.high) lo = mid + 1;
    else return true;
  }
  return false;
}

/** A string key, computed once per message and remembered. */
function remembered(node: PlanNode, facts: MessageFacts, compute: () => boolean): boolean {
  let result = facts.decided.get(node);
  if (result === undefined) {
    result = compute();
    facts.decided.set(node, result);
  }
  return result;
}

/**
 * Evaluates `node` for the message of `facts` with what `level` allows.
 * The caller has loaded what that level needs (MessageFacts.load).
 */
export function evaluate(node: PlanNode, facts: MessageFacts, level: Level): Verdict {
  const record = facts.message.record;
  switch (node.op) {
    case 'const':
      return node.value;
    case 'flag':
      return facts.hasFlag(node.spelling, node.flag) === node.present;
    case 'size':
      return node.larger ? record.size > node.size : record.size < node.size;
    case 'internal-date':
      // The calendar day in UTC (see index.ts for why UTC).
      return compareDay(Math.floor(record.internalDate.getTime() / 86_400_000), node.compare, node.day);
    case 'seq':
      return inRanges(node.ranges, facts.message.seq);
    case 'uid':
      return inRanges(node.ranges, record.uid);
    case 'uid-set':
      return node.uids.has(record.uid);
    case 'modseq':
      return record.modSeq >= node.min;
    case 'not': {
      const v = evaluate(node.operand, facts, level);
      return v === undefined ? undefined : !v;
    }
    case 'and':
    case 'or': {
      // AND stops at the first false, OR at the first true; unknown operands
      // leave the result unknown unless a later operand decides it.
      const decisive = node.op === 'or';
      let result: Verdict = !decisive;
      for (const operand of node.operands) {
        const v = evaluate(operand, facts, level);
        if (v === decisive) return decisive;
        if (v === undefined) result = undefined;
      }
      return result;
    }
  }
  if (node.level > level && node.op !== 'text') return undefined;
  switch (node.op) {
    case 'sent-date': {
      // A message without a readable Date field matches no SENT* key.
      const day = facts.sentDay();
      return day !== null && compareDay(day, node.compare, node.day);
    }
    case 'subject':
      return remembered(node, facts, () => {
        const subject = facts.foldedSubject();
        return subject !== null && containsFolded(subject, node.needle);
      });
    case 'address':
      return remembered(node, facts, () => {
        const text = facts.foldedAddresses(node.field);
        return text !== null && containsFolded(text, node.needle);
      });
    case 'header':
      // An empty string matches every message that has the field (RFC 9051 6.4.4).
      return remembered(node, facts, () => facts.foldedHeaderValues(node.field).some((v) => containsFolded(v.decoded, node.needle) || containsFolded(v.raw, node.needle)));
    case 'body':
      return remembered(node, facts, () => containsFolded(facts.foldedBodyText(), node.needle));
    case 'text': {
      if (level < LEVEL_HEADER) return undefined;
      const known = facts.decided.get(node);
      if (known !== undefined) return known;
      const header = facts.foldedHeaderText();
      if (containsFolded(header.decoded, node.needle) || containsFolded(header.raw, node.needle)) {
        facts.decided.set(node, true);
        return true;
      }
      if (level < LEVEL_BODY) return undefined;
      const inBody = containsFolded(facts.foldedBodyText(), node.needle);
      facts.decided.set(node, inBody);
      return inBody;
    }
  }
}
