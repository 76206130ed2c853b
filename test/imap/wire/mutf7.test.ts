/** Modified UTF-7 mailbox names (RFC 3501 section 5.1.3): round trips, the RFC's example, and every bad form. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeModifiedUtf7, encodeModifiedUtf7, isValidModifiedUtf7, ModifiedUtf7Error } from '../../../src/protocols/imap/wire/mutf7.js';

const PAIRS: Array<[string, string]> = [
  ['INBOX', 'INBOX'],
  ['', ''],
  ['&', '&-'],
  ['Tom & Jerry', 'Tom &- Jerry'],
  // RFC 3501 section 5.1.3's example.
  ['~peter/mail/台北/日本語', '~peter/mail/&U,BTFw-/&ZeVnLIqe-'],
  ['Entwürfe', 'Entw&APw-rfe'],
  ['Корзина', '&BBoEPgRABDcEOAQ9BDA-'],
  ['😀', '&2D3eAA-'],
  ['a😀b€', 'a&2D3eAA-b&IKw-'],
  ['tab\there', 'tab&AAk-here'],
];

test('encode and decode agree with known spellings', () => {
  for (const [unicode, wire] of PAIRS) {
    assert.equal(encodeModifiedUtf7(unicode), wire, unicode);
    assert.equal(decodeModifiedUtf7(wire), unicode, wire);
  }
});

test('round trip of every BMP boundary and astral characters', () => {
  const samples = ['\u0080', '\u00ff', '\u0100', '\u07ff', '\u0800', '\ud7ff', '\ue000', '\uffff', '\u{10000}', '\u{10ffff}', 'x\u00e9\u00e9\u00e9y', '\u00e9&\u00e9'];
  for (const s of samples) assert.equal(decodeModifiedUtf7(encodeModifiedUtf7(s)), s, JSON.stringify(s));
});

test('bad forms are refused with ModifiedUtf7Error', () => {
  const bad: Array<[string, string]> = [
    ['&U,BTFw', 'unterminated shift'],
    ['a&', 'lone ampersand at the end'],
    ['caf\u00e9', '8-bit character written raw'],
    ['a\tb', 'control character written raw'],
    ['&AGE-', 'printable ASCII "a" encoded in base64'],
    ['&U,BTF2-', 'non-zero padding bits'],
    ['&U,BTFw=-', '"=" is not in the modified alphabet'],
    ['&U/BTFw-', '"/" replaced by "," in modified BASE64'],
    ['&AOk-&AOk-', 'adjacent shifted runs (null shift)'],
    ['&2D0-', 'lone high surrogate'],
    ['&3gA-', 'lone low surrogate'],
    ['&AO-', 'an incomplete UTF-16 unit'],
    ['&AOkA-', 'too many bits left over'],
  ];
  for (const [input, why] of bad) {
    assert.throws(() => decodeModifiedUtf7(input), ModifiedUtf7Error, why);
    assert.equal(isValidModifiedUtf7(input), false, why);
  }
});

test('"&-" next to a shifted run is fine (it is not a shift)', () => {
  assert.equal(decodeModifiedUtf7('&AOk-&-'), '\u00e9&');
  assert.equal(decodeModifiedUtf7('&-&AOk-'), '&\u00e9');
});
