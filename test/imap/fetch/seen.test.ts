/**
 * The implicit \Seen of RFC 3501 6.4.5: BODY[...], RFC822, RFC822.TEXT and
 * BINARY[...] set it, their PEEK forms and RFC822.HEADER do not; a FETCH
 * that sets it shows FLAGS with \Seen. Read-only mailboxes never set it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { impliesSeen } from '../../../src/protocols/imap/fetch/index.js';
import type { ModSeq } from '../../../src/store/types.js';
import { attrs, CountingContent, fetchText, lit, plain } from './helpers.js';

const table: Array<[items: string, sets: boolean]> = [
  ['BODY[]', true],
  ['BODY[HEADER]', true],
  ['BODY[1.MIME]', true],
  ['BODY[]<0.10>', true],
  ['RFC822', true],
  ['RFC822.TEXT', true],
  ['BINARY[1]', true],
  ['BODY.PEEK[]', false],
  ['BODY.PEEK[TEXT]<0.5>', false],
  ['BINARY.PEEK[1]', false],
  ['BINARY.SIZE[1]', false],
  ['RFC822.HEADER', false],
  ['(FLAGS ENVELOPE BODYSTRUCTURE BODY RFC822.SIZE UID)', false],
  ['(BODY.PEEK[HEADER] BODY[TEXT])', true],
];

describe('which items imply \\Seen', () => {
  for (const [items, sets] of table) {
    test(`${items}: ${sets}`, async () => {
      assert.equal(impliesSeen(attrs(items)), sets);
      const content = new CountingContent();
      const { result } = await fetchText(items, content, content.add(plain));
      assert.equal(result.setsSeen, sets);
      assert.equal(
        result.items.some(([name]) => name === 'FLAGS'),
        sets || items.includes('FLAGS'),
      );
    });
  }
});

describe('FLAGS in a response that sets \\Seen', () => {
  test('FLAGS is appended with \\Seen when not asked for', async () => {
    const content = new CountingContent();
    const record = content.add(plain, { flags: ['$Label1'] });
    const { text, result } = await fetchText('BODY[TEXT]', content, record);
    assert.equal(result.setsSeen, true);
    assert.equal(text, `* 1 FETCH (BODY[TEXT] ${lit('Hello\r\nworld\r\n')} FLAGS ($Label1 \\Seen))\r\n`);
  });

  test('FLAGS asked for keeps its place and shows \\Seen', async () => {
    const content = new CountingContent();
    const { text } = await fetchText('(FLAGS BODY[]<0.4>)', content, content.add(plain));
    assert.equal(text, `* 1 FETCH (FLAGS (\\Seen) BODY[]<0> ${lit('From')})\r\n`);
  });

  test('a message already \\Seen: setsSeen is false and nothing is added', async () => {
    const content = new CountingContent();
    const { text, result } = await fetchText('BODY[]<0.4>', content, content.add(plain, { flags: ['\\Seen'] }));
    assert.equal(result.setsSeen, false);
    assert.equal(text, `* 1 FETCH (BODY[]<0> ${lit('From')})\r\n`);
  });

  test('PEEK leaves FLAGS out', async () => {
    const content = new CountingContent();
    const { text, result } = await fetchText('BODY.PEEK[]<0.4>', content, content.add(plain));
    assert.equal(result.setsSeen, false);
    assert.equal(text, `* 1 FETCH (BODY[]<0> ${lit('From')})\r\n`);
  });

  test('read-only (EXAMINE): nothing is set, nothing is added', async () => {
    const content = new CountingContent();
    const { text, result } = await fetchText('(FLAGS BODY[]<0.4>)', content, content.add(plain), { readOnly: true });
    assert.equal(result.setsSeen, false);
    assert.equal(text, `* 1 FETCH (FLAGS () BODY[]<0> ${lit('From')})\r\n`);
  });

  test('seenSet: the command stored \\Seen first; FLAGS and the new MODSEQ are shown', async () => {
    const content = new CountingContent();
    const record = content.add(plain, { flags: ['\\Seen'], modSeq: 78 as ModSeq });
    const { text, result } = await fetchText('BODY[]<0.4>', content, record, { seenSet: true, condstore: true });
    assert.equal(result.setsSeen, false);
    assert.equal(text, `* 1 FETCH (UID 42 BODY[]<0> ${lit('From')} FLAGS (\\Seen) MODSEQ (78))\r\n`);
  });

  test('CONDSTORE: a plain FETCH that sets \\Seen carries UID and MODSEQ (RFC 7162)', async () => {
    const content = new CountingContent();
    const { text, result } = await fetchText('BODY[]<0.4>', content, content.add(plain), { condstore: true });
    assert.equal(result.setsSeen, true);
    assert.equal(text, `* 1 FETCH (UID 42 BODY[]<0> ${lit('From')} FLAGS (\\Seen) MODSEQ (77))\r\n`);
  });

  test('CONDSTORE: a PEEK gets MODSEQ but no implied UID', async () => {
    const content = new CountingContent();
    const { text } = await fetchText('BODY.PEEK[]<0.4>', content, content.add(plain), { condstore: true });
    assert.equal(text, `* 1 FETCH (BODY[]<0> ${lit('From')} MODSEQ (77))\r\n`);
  });

  test('UID FETCH with CONDSTORE: UID first, FLAGS then MODSEQ last', async () => {
    const content = new CountingContent();
    const { text } = await fetchText('RFC822.TEXT', content, content.add(plain), { uid: true, condstore: true });
    assert.equal(text, `* 1 FETCH (UID 42 RFC822.TEXT ${lit('Hello\r\nworld\r\n')} FLAGS (\\Seen) MODSEQ (77))\r\n`);
  });
});
