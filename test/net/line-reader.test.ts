import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineSplitter, type LineEvent } from '../../src/net/line-reader.js';

const lines = (events: LineEvent[]) => events.map((e) => (e.kind === 'line' ? e.line.toString('latin1') : '<overlong>'));

function feed(max: number, chunks: string[]): string[] {
  const s = new LineSplitter(max);
  return chunks.flatMap((c) => lines(s.push(Buffer.from(c, 'latin1'))));
}

test('splits on CRLF and on bare LF, keeping a CR that is not at the end', () => {
  assert.deepEqual(feed(100, ['USER a\r\nPASS b\nNOOP\r\n']), ['USER a', 'PASS b', 'NOOP']);
  assert.deepEqual(feed(100, ['A\rB\r\n']), ['A\rB']);
  assert.deepEqual(feed(100, ['\r\n\n']), ['', '']);
});

test('joins a line split across chunks, even between CR and LF', () => {
  assert.deepEqual(feed(100, ['ST', 'AT\r', '\nLI', 'ST 1', '\r\n']), ['STAT', 'LIST 1']);
  assert.deepEqual(feed(100, ['x', '', 'y\n']), ['xy']);
});

test('keeps an unfinished line until its end arrives', () => {
  const s = new LineSplitter(100);
  assert.deepEqual(s.push(Buffer.from('QUI')), []);
  assert.equal(s.bufferedBytes, 3);
  assert.deepEqual(lines(s.push(Buffer.from('T\r\n'))), ['QUIT']);
  assert.equal(s.bufferedBytes, 0);
});

test('a line of exactly the limit passes, with or without CR; one more byte is overlong', () => {
  assert.deepEqual(feed(4, ['abcd\r\n', 'abcd\n', 'abcde\r\n', 'ok\r\n']), ['abcd', 'abcd', '<overlong>', 'ok']);
  assert.deepEqual(feed(4, ['abcd', '\r', '\n']), ['abcd']);
  assert.deepEqual(feed(4, ['abcd', 'e', '\r\n', 'ok\n']), ['<overlong>', 'ok']);
  assert.deepEqual(feed(4, ['abcd\rx\r\n']), ['<overlong>']);
});

test('an overlong line is reported once and drained without being buffered', () => {
  const s = new LineSplitter(10);
  const out: string[] = [];
  out.push(...lines(s.push(Buffer.alloc(50, 0x61))));
  for (let i = 0; i < 100; i++) {
    out.push(...lines(s.push(Buffer.alloc(10_000, 0x62))));
    assert.equal(s.bufferedBytes, 0);
  }
  out.push(...lines(s.push(Buffer.from('tail\r\nNOOP\r\n'))));
  assert.deepEqual(out, ['<overlong>', 'NOOP']);
});

test('several overlong lines in one chunk are reported one by one, in order with good lines', () => {
  const long = 'x'.repeat(20);
  assert.deepEqual(feed(8, [`${long}\r\nSTAT\r\n${long}\nQUIT\r\n`]), ['<overlong>', 'STAT', '<overlong>', 'QUIT']);
});

test('reset forgets a partial line and an overlong drain', () => {
  const s = new LineSplitter(8);
  s.push(Buffer.from('USER inj'));
  s.reset();
  assert.deepEqual(lines(s.push(Buffer.from('ected\r\nNOOP\r\n'))), ['ected', 'NOOP']);
  s.push(Buffer.from('x'.repeat(30)));
  s.reset();
  assert.deepEqual(lines(s.push(Buffer.from('CAPA\r\n'))), ['CAPA']);
});

test('returned lines do not alias the pushed chunk', () => {
  const s = new LineSplitter(100);
  const chunk = Buffer.from('NOOP\r\n');
  const [event] = s.push(chunk);
  chunk.fill(0);
  assert.equal(event?.kind === 'line' && event.line.toString(), 'NOOP');
});

test('refuses a limit that is not a positive integer', () => {
  assert.throws(() => new LineSplitter(0), RangeError);
  assert.throws(() => new LineSplitter(1.5), RangeError);
});
