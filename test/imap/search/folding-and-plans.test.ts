/**
 * The pieces under the evaluator: text folding (case-insensitive,
 * normalisation-insensitive substrings) and the plan a criteria tree
 * becomes (constants folded, AND/OR flattened, cheap operands first).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { containsFolded, foldText } from '../../../src/protocols/imap/search/fold.js';
import { compileSearch, dayNumber, planLevels, type PlanNode } from '../../../src/protocols/imap/search/plan.js';
import { criteria } from './fixtures.js';

describe('foldText', () => {
  const same: ReadonlyArray<readonly [string, string]> = [
    ['Hello World', 'hello world'],
    ['STRASSE', 'straße'],
    ['ΣΟΦΟΣ', 'σοφος'],
    ['σοφοσ', 'σοφος'],
    ['Café', 'Cafe\u0301'],
    ['ÉCOLE', 'école'],
    ['ﬁnance', 'finance'],
    ['ＡＢＣ', 'abc'],
    ['ǅ', 'ǆ'],
  ];
  for (const [a, b] of same) {
    it(`${JSON.stringify(a)} folds like ${JSON.stringify(b)}`, () => {
      assert.equal(foldText(a), foldText(b));
    });
  }

  it('finds folded substrings, and the empty string everywhere', () => {
    assert.ok(containsFolded(foldText('Grüße aus München'), foldText('MÜNCHEN')));
    assert.ok(containsFolded(foldText('Grüße aus München'), foldText('GRÜSSE')));
    assert.ok(!containsFolded(foldText('Grüße'), foldText('Grube')));
    assert.ok(containsFolded('', ''));
  });

  it('keeps accents apart', () => {
    assert.notEqual(foldText('resume'), foldText('résumé'));
  });
});

describe('compileSearch', () => {
  const ctx = { maxSeq: 10, maxUid: 100, savedUids: null };
  const ops = (node: PlanNode): string[] => (node.op === 'and' || node.op === 'or' ? node.operands.map((o) => o.op) : [node.op]);

  it('puts cheap operands first, keeping the client order among equals', () => {
    const plan = compileSearch(criteria('BODY x SUBJECT y HEADER a b SEEN UID 1:5 FROM z'), ctx);
    assert.equal(plan.op, 'and');
    assert.deepEqual(ops(plan), ['flag', 'uid', 'subject', 'address', 'header', 'body']);
    assert.equal(plan.level, 3);
  });

  it('flattens nested AND and OR', () => {
    assert.deepEqual(ops(compileSearch(criteria('(SEEN (DELETED (FLAGGED)))'), ctx)), ['flag', 'flag', 'flag']);
    assert.deepEqual(ops(compileSearch(criteria('OR SEEN OR DELETED OR FLAGGED DRAFT'), ctx)), ['flag', 'flag', 'flag', 'flag']);
  });

  it('folds constants and double negation', () => {
    const f = { op: 'const', level: 0, value: false };
    const t = { op: 'const', level: 0, value: true };
    assert.deepEqual(compileSearch(criteria('RECENT BODY x'), ctx), f);
    assert.deepEqual(compileSearch(criteria('OR OLD BODY x'), ctx), t);
    assert.deepEqual(compileSearch(criteria('ALL NOT NEW'), ctx), t);
    assert.deepEqual(compileSearch(criteria('NOT NOT SEEN'), ctx), { op: 'flag', level: 0, flag: '\\seen', spelling: '\\Seen', present: true });
    assert.deepEqual(compileSearch(criteria('NOT UNSEEN'), ctx), { op: 'flag', level: 0, flag: '\\seen', spelling: '\\Seen', present: true });
    assert.deepEqual(compileSearch(criteria('ALL BODY x'), ctx).op, 'body');
  });

  it('resolves sets once', () => {
    assert.deepEqual(compileSearch(criteria('UID 5,1:3,*'), ctx), {
      op: 'uid',
      level: 0,
      ranges: [
        { low: 1, high: 3 },
        { low: 5, high: 5 },
        { low: 100, high: 100 },
      ],
    });
    assert.deepEqual(compileSearch(criteria('2:*'), ctx), { op: 'seq', level: 0, ranges: [{ low: 2, high: 10 }] });
  });

  it('lists the levels a plan needs', () => {
    assert.deepEqual(planLevels(compileSearch(criteria('SEEN'), ctx)), [0]);
    assert.deepEqual(planLevels(compileSearch(criteria('SEEN SENTON 1-Jan-2020'), ctx)), [0, 1]);
    assert.deepEqual(planLevels(compileSearch(criteria('OR TEXT x FROM y'), ctx)), [0, 1, 2, 3]);
    assert.deepEqual(planLevels(compileSearch(criteria('NOT BODY x'), ctx)), [0, 3]);
  });

  it('counts days from the epoch in the proleptic calendar', () => {
    assert.equal(dayNumber(1970, 1, 1), 0);
    assert.equal(dayNumber(2024, 3, 1) - dayNumber(2024, 2, 28), 2);
    assert.equal(dayNumber(1969, 12, 31), -1);
    assert.equal(dayNumber(50, 1, 1) < dayNumber(1950, 1, 1), true);
  });
});
