import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { MessageScanner } from '../../src/mail/message-scan.js';

/** Feeds the input in the given chunk sizes and returns output and stats. */
function scan(input: string, chunkSize = input.length || 1) {
  const s = new MessageScanner();
  const bytes = Buffer.from(input, 'latin1');
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) out.push(s.push(bytes.subarray(i, i + chunkSize)));
  out.push(s.end());
  return { out: Buffer.concat(out).toString('latin1'), stats: s.stats };
}

describe('line endings', () => {
  const cases: [string, string, string, number][] = [
    ['CRLF untouched', 'a\r\nb\r\n', 'a\r\nb\r\n', 0],
    ['bare LF', 'a\nb\n', 'a\r\nb\r\n', 2],
    ['bare CR', 'a\rb\r', 'a\r\nb\r\n', 2],
    ['LF.LF smuggling', 'x\r\n\n.\nMAIL FROM:<a@b>\r\n', 'x\r\n\r\n.\r\nMAIL FROM:<a@b>\r\n', 2],
    ['CR.CR smuggling', 'x\r.\rRCPT\r\n', 'x\r\n.\r\nRCPT\r\n', 2],
    ['LF.CRLF', 'x\n.\r\ny\r\n', 'x\r\n.\r\ny\r\n', 1],
    ['CRLF.LF', 'x\r\n.\ny\r\n', 'x\r\n.\r\ny\r\n', 1],
    ['CR CR LF', 'a\r\r\nb', 'a\r\n\r\nb', 1],
    ['LF CR', 'a\n\rb', 'a\r\n\r\nb', 2],
    ['empty', '', '', 0],
  ];
  for (const [name, input, expected, bare] of cases) {
    test(name, () => {
      // Every chunking gives the same answer: CR at a chunk's end is the hard case.
      for (const size of [1, 2, 3, 7, Math.max(1, input.length)]) {
        const { out, stats } = scan(input, size);
        assert.equal(out, expected, `chunk size ${size}`);
        assert.equal(stats.bareLineEndings, bare, `chunk size ${size}`);
        assert.equal(stats.outputBytes, expected.length);
        assert.equal(stats.inputBytes, input.length);
      }
    });
  }

  test('a chunk of many bare CRs stays linear and exact', () => {
    const input = 'x\r'.repeat(100_000);
    const { out, stats } = scan(input, 65536);
    assert.equal(out, 'x\r\n'.repeat(100_000));
    assert.equal(stats.bareLineEndings, 100_000);
  });

  test('8-bit bytes pass through unchanged', () => {
    const input = 'Subject: caf\xc3\xa9\r\n\r\n\xff\xfe\x80\r\n';
    assert.equal(scan(input, 3).out, input);
  });
});

describe('content checks', () => {
  test('NUL bytes are noticed', () => {
    assert.equal(scan('a\r\n\r\nb\x00c\r\n').stats.hasNul, true);
    assert.equal(scan('a\r\n\r\nbc\r\n').stats.hasNul, false);
  });

  test('Received headers are counted in the header section only', () => {
    const msg = 'Received: one\r\nRECEIVED: two\r\n\tfolded received: no\r\nX-Received: no\r\nreceived:three\r\nSubject: s\r\n\r\nReceived: in the body\r\n';
    for (const size of [1, 4, 9, 10, msg.length]) {
      assert.equal(scan(msg, size).stats.receivedHeaders, 3, `chunk size ${size}`);
    }
  });

  test('a message without a header section counts nothing', () => {
    assert.equal(scan('\r\nReceived: x\r\n').stats.receivedHeaders, 0);
  });

  test('bare LF header lines are counted after normalising', () => {
    assert.equal(scan('Received: a\nReceived: b\n\nReceived: c\n').stats.receivedHeaders, 2);
  });
});
