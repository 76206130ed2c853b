/**
 * What a FETCH loads: `needsContent` tells the command in advance, and
 * `fetchItems` loads lazily, each of bytes and index at most once per
 * message, nothing at all for index-row items (FETCH 1:* (UID FLAGS) must
 * touch no blob).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { needsContent } from '../../../src/protocols/imap/fetch/index.js';
import { attrs, CountingContent, fetchText, mixed } from './helpers.js';

/** items, needsContent (bytes, index), loads made (bytes, index) */
const table: Array<[items: string, needs: [boolean, boolean], loads: [number, number]]> = [
  ['FLAGS', [false, false], [0, 0]],
  ['(UID FLAGS MODSEQ INTERNALDATE RFC822.SIZE)', [false, false], [0, 0]],
  ['FAST', [false, false], [0, 0]],
  ['ENVELOPE', [false, true], [0, 1]],
  ['ALL', [false, true], [0, 1]],
  ['FULL', [false, true], [0, 1]],
  ['(ENVELOPE BODY BODYSTRUCTURE)', [false, true], [0, 1]],
  ['BODY.PEEK[]', [true, false], [1, 0]],
  ['BODY.PEEK[]<0.100>', [true, false], [1, 0]],
  ['RFC822', [true, false], [1, 0]],
  ['BINARY.PEEK[]', [true, false], [1, 0]],
  ['BODY.PEEK[HEADER]', [true, true], [1, 1]],
  ['BODY.PEEK[HEADER.FIELDS (FROM)]', [true, true], [1, 1]],
  ['RFC822.HEADER', [true, true], [1, 1]],
  ['RFC822.TEXT', [true, true], [1, 1]],
  ['BODY.PEEK[1.2]', [true, true], [1, 1]],
  ['(BODY.PEEK[1] BODY.PEEK[2] BODY.PEEK[3.HEADER] ENVELOPE BODYSTRUCTURE RFC822)', [true, true], [1, 1]],
  ['BINARY.PEEK[2]', [true, true], [1, 1]],
  ['BINARY.SIZE[2]', [true, true], [1, 1]],
  // An upper bound: an identity-encoded part's size comes from the index alone.
  ['BINARY.SIZE[4]', [true, true], [0, 1]],
  ['BINARY.SIZE[]', [false, false], [0, 0]],
];

describe('what a FETCH loads', () => {
  for (const [items, [bytes, index], [bytesLoads, indexLoads]] of table) {
    test(items, async () => {
      assert.deepEqual(needsContent(attrs(items)), { bytes, index });
      const content = new CountingContent();
      const record = content.add(mixed, { flags: ['\\Seen'] });
      await fetchText(items, content, record);
      assert.deepEqual({ bytesLoads: content.bytesLoads, indexLoads: content.indexLoads }, { bytesLoads, indexLoads });
    });
  }

  test('a load that fails is the error of the fetch', async () => {
    const content = new CountingContent();
    const record = { ...content.add(mixed), blobId: 'missing' as never };
    await assert.rejects(fetchText('BODY.PEEK[]', content, record), /no blob missing/);
    // Items that need nothing still work for that message.
    const { text } = await fetchText('UID', content, record);
    assert.equal(text, '* 1 FETCH (UID 42)\r\n');
  });
});
