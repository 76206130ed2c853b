/**
 * BINARY[part]<partial> and BINARY.SIZE[part] (RFC 3516 4.2, RFC 9051
 * 6.4.5): the Content-Transfer-Encoding is removed, data with NUL goes as
 * literal8, an encoding the server cannot undo is a typed error the command
 * turns into NO [UNKNOWN-CTE].
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FetchError, fetchItems } from '../../../src/protocols/imap/fetch/index.js';
import { attachmentBytes, attrs, CountingContent, crlf, fetchText, forwarded, lit, mixed, PLAIN, plain } from './helpers.js';

describe('BINARY[part]', () => {
  const cases: Array<[name: string, message: Buffer, item: string, expected: string]> = [
    ['quoted-printable is decoded (soft break joined)', mixed, 'BINARY[1]', `BINARY[1] ${lit('Café au lait, softbreak')}`],
    ['base64 with NUL is decoded and sent as literal8', mixed, 'BINARY.PEEK[2]', `BINARY[2] ${lit(attachmentBytes, true)}`],
    ['8bit is sent as it is, as a plain literal', mixed, 'BINARY[4]', `BINARY[4] ${lit('Grüße')}`],
    ['7bit in a nested message', mixed, 'BINARY[3.1]', `BINARY[3.1] ${lit('inner plain')}`],
    ['the body of a one-part message inside message/rfc822', forwarded, 'BINARY[2.1]', `BINARY[2.1] ${lit('old body')}`],
    ['a message/rfc822 part is its message, unchanged', forwarded, 'BINARY[2]', `BINARY[2] ${lit('From: d@example.com\r\nSubject: Old\r\nContent-Transfer-Encoding: base64\r\n\r\nb2xkIGJvZHk=')}`],
    ['BINARY[] is the whole message', plain, 'BINARY[]', `BINARY[] ${lit(plain)}`],
    ['part 1 of a one-part message', plain, 'BINARY[1]', `BINARY[1] ${lit('Hello\r\nworld\r\n')}`],
    ['a part that does not exist is NIL', mixed, 'BINARY[9]', 'BINARY[9] NIL'],
    ['partial of decoded data, with NUL', mixed, 'BINARY[2]<2.3>', `BINARY[2]<2> ${lit(attachmentBytes.subarray(2, 5), true)}`],
    ['partial without NUL is a plain literal', mixed, 'BINARY[2]<5.100>', `BINARY[2]<5> ${lit('hello')}`],
    ['partial past the end is empty', mixed, 'BINARY[2]<10.5>', 'BINARY[2]<10> ""'],
  ];
  for (const [name, message, item, expected] of cases) {
    test(name, async () => {
      const content = new CountingContent();
      const record = content.add(message, { flags: ['\\Seen'] });
      const { text } = await fetchText(item, content, record);
      assert.equal(text, `* 1 FETCH (${expected})\r\n`);
    });
  }
});

describe('BINARY.SIZE[part]', () => {
  test('decoded sizes, in the order asked', async () => {
    const content = new CountingContent();
    const record = content.add(mixed);
    const { text } = await fetchText('(BINARY.SIZE[2] BINARY.SIZE[1] BINARY.SIZE[4] BINARY.SIZE[3.1] BINARY.SIZE[] BINARY.SIZE[8])', content, record);
    const qp = Buffer.byteLength('Café au lait, softbreak');
    const eight = Buffer.byteLength('Grüße');
    assert.equal(
      text,
      `* 1 FETCH (BINARY.SIZE[2] ${attachmentBytes.length} BINARY.SIZE[1] ${qp} BINARY.SIZE[4] ${eight} BINARY.SIZE[3.1] 11 BINARY.SIZE[] ${mixed.length} BINARY.SIZE[8] 0)\r\n`,
    );
  });

  test('identity encodings need no bytes; BINARY.SIZE[] needs nothing', async () => {
    const content = new CountingContent();
    const record = content.add(mixed);
    await fetchText('(BINARY.SIZE[4] BINARY.SIZE[3.1])', content, record);
    assert.deepEqual([content.bytesLoads, content.indexLoads], [0, 1]);
    content.resetCounts();
    await fetchText('BINARY.SIZE[]', content, record);
    assert.deepEqual([content.bytesLoads, content.indexLoads], [0, 0]);
  });
});

describe('unknown Content-Transfer-Encoding', () => {
  for (const item of ['BINARY[3.2]', 'BINARY.PEEK[3.2]<0.5>', 'BINARY.SIZE[3.2]', '(FLAGS BINARY[3.2])']) {
    test(`${item} throws FetchError unknown-cte`, async () => {
      const content = new CountingContent();
      const record = content.add(mixed);
      await assert.rejects(fetchItems(attrs(item), { seq: 1, record }, content, PLAIN), (e: unknown) => {
        assert.ok(e instanceof FetchError);
        assert.equal(e.code, 'unknown-cte');
        assert.equal(e.responseCode, 'UNKNOWN-CTE');
        assert.equal(e.status, 'NO');
        assert.match(e.sentence, /part 3\.2.*x-uuencode/);
        return true;
      });
    });
  }

  test('BODY[] of the same part still works: only BINARY decodes', async () => {
    const content = new CountingContent();
    const record = content.add(mixed, { flags: ['\\Seen'] });
    const { text } = await fetchText('BODY[3.2]', content, record);
    assert.equal(text, `* 1 FETCH (BODY[3.2] ${lit('begin 644 x.html')})\r\n`);
  });

  test('the encoding in the sentence cannot break the reply line', async () => {
    const content = new CountingContent();
    const record = content.add(crlf('Content-Type: text/plain', 'Content-Transfer-Encoding: x-\u00e9\u0001weird', '', 'data', ''));
    await assert.rejects(fetchItems(attrs('BINARY[1]'), { seq: 1, record }, content, PLAIN), (e: unknown) => {
      assert.ok(e instanceof FetchError);
      assert.match(e.sentence, /^[\x20-\x7e]+$/);
      return true;
    });
  });
});
