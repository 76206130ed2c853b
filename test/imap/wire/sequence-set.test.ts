/** Sequence sets (RFC 3501 section 9, RFC 5182 "$"): parsing, "*", membership, iteration, compression. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compressSequenceNumbers,
  formatSequenceSet,
  iterateSequenceSet,
  largestExplicitNumber,
  parseSequenceSet,
  resolveSequenceSet,
  sequenceSetIncludes,
  SequenceSetError,
} from '../../../src/protocols/imap/wire/sequence-set.js';

test('valid sets parse and format back as written', () => {
  for (const text of ['1', '*', '1:*', '2,4:7,9,12:*', '*:4', '4294967295', '7:2', '$']) {
    assert.equal(formatSequenceSet(parseSequenceSet(text)), text);
  }
});

test('bad sets are refused with a sentence', () => {
  for (const text of ['', '0', '1:0', '01', ',1', '1,', '1::2', '1:2:3', 'a', '4294967296', '99999999999999999999', '-1', '1.5', '$1', '$,1']) {
    assert.throws(() => parseSequenceSet(text), SequenceSetError, text);
  }
  assert.throws(() => parseSequenceSet('$', { allowSaved: false }), SequenceSetError);
  assert.throws(() => parseSequenceSet('1:*', { allowStar: false }), SequenceSetError);
});

test('"*" resolves to the largest number, and n:* always includes the last message', () => {
  const set = parseSequenceSet('2,4:7,9,12:*');
  assert.deepEqual(resolveSequenceSet(set, 15), [
    { low: 2, high: 2 },
    { low: 4, high: 7 },
    { low: 9, high: 9 },
    { low: 12, high: 15 },
  ]);
  // RFC 3501 section 6.4.8: "UID 5:*" with highest UID 3 still matches 3.
  assert.ok(sequenceSetIncludes(parseSequenceSet('5:*'), 3, 3));
  assert.ok(!sequenceSetIncludes(parseSequenceSet('5:*'), 2, 3));
  assert.ok(sequenceSetIncludes(parseSequenceSet('7:2'), 5, 10), 'backwards ranges are ranges');
});

test('overlapping and adjacent ranges merge; iteration clamps to the message count', () => {
  const set = parseSequenceSet('5,1:3,4,2,10:8');
  assert.deepEqual(resolveSequenceSet(set, 100), [
    { low: 1, high: 5 },
    { low: 8, high: 10 },
  ]);
  assert.deepEqual([...iterateSequenceSet(set, 9)], [1, 2, 3, 4, 5, 8, 9]);
  assert.deepEqual([...iterateSequenceSet(parseSequenceSet('1:*'), 0)], []);
  assert.equal(largestExplicitNumber(parseSequenceSet('3,1:*,7:5')), 7);
});

test('huge ranges cost nothing to resolve or test', () => {
  const set = parseSequenceSet('1:4294967295');
  assert.deepEqual(resolveSequenceSet(set, 3), [{ low: 1, high: 4294967295 }]);
  assert.ok(sequenceSetIncludes(set, 4000000000, 3));
});

test('"$" must be substituted by the session', () => {
  assert.throws(() => resolveSequenceSet(parseSequenceSet('$'), 10), SequenceSetError);
});

test('compression joins ascending runs and keeps order unless asked to sort', () => {
  assert.equal(compressSequenceNumbers([1, 2, 3, 5]), '1:3,5');
  assert.equal(compressSequenceNumbers([]), '');
  assert.equal(compressSequenceNumbers([7]), '7');
  assert.equal(compressSequenceNumbers([304, 319, 320]), '304,319:320');
  assert.equal(compressSequenceNumbers([5, 3, 4, 1]), '5,3:4,1');
  assert.equal(compressSequenceNumbers([5, 3, 4, 1, 3, 2], { sort: true }), '1:5');
});
