import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DotStuffer, TopCutter } from '../../src/protocols/pop3/message-encoder.js';

/** Encodes a message split at the given chunk size, as a RETR body. */
function encode(message: Buffer, chunkSize: number, topLines: number | null = null): Buffer {
  const stuffer = new DotStuffer();
  const cutter = topLines === null ? null : new TopCutter(topLines);
  const out: Buffer[] = [];
  for (let i = 0; i < message.length; i += chunkSize) {
    const part = cutter ? cutter.push(message.subarray(i, i + chunkSize)) : message.subarray(i, i + chunkSize);
    out.push(stuffer.push(part));
    if (cutter?.finished) break;
  }
  out.push(stuffer.finish());
  return Buffer.concat(out);
}

/** What a client does (RFC 1939 section 3): split on CRLF, stop at ".", drop one leading dot. */
function unstuff(reply: Buffer): Buffer {
  const text = reply.toString('latin1');
  assert.ok(text.endsWith('\r\n.\r\n') || text === '.\r\n', 'terminated by CRLF.CRLF');
  const lines = text.split('\r\n');
  const out: string[] = [];
  for (const line of lines) {
    if (line === '.') break;
    out.push(line.startsWith('.') ? line.slice(1) : line);
  }
  return Buffer.from(out.join('\r\n') + (out.length ? '\r\n' : ''), 'latin1');
}

test('stuffs line-initial dots and terminates, whatever the chunking', () => {
  const msg = Buffer.from('.starts with dot\r\nplain\r\n..two dots\r\n.\r\nend.\r\n', 'latin1');
  const expected = '..starts with dot\r\nplain\r\n...two dots\r\n..\r\nend.\r\n.\r\n';
  for (const size of [1, 2, 3, 5, 7, 1000]) {
    const reply = encode(msg, size);
    assert.equal(reply.toString('latin1'), expected, `chunk size ${size}`);
    assert.deepEqual(unstuff(reply), msg);
  }
});

test('adds CRLF before the terminator only when the message lacks one', () => {
  assert.equal(encode(Buffer.from('a\r\n'), 10).toString(), 'a\r\n.\r\n');
  assert.equal(encode(Buffer.from('a'), 10).toString(), 'a\r\n.\r\n');
  assert.equal(encode(Buffer.from('a\r'), 10).toString(), 'a\r\r\n.\r\n');
  assert.equal(encode(Buffer.from('a\n'), 10).toString(), 'a\n\r\n.\r\n');
  assert.equal(encode(Buffer.from(''), 10).toString(), '.\r\n');
  assert.equal(encode(Buffer.from('ab\r\n'), 3).toString(), 'ab\r\n.\r\n');
  assert.equal(encode(Buffer.from('ab\r\n'), 2).toString(), 'ab\r\n.\r\n');
});

test('a dot after a bare LF is stuffed too, so LF-splitting clients never see an early end', () => {
  assert.equal(encode(Buffer.from('a\n.\nb\r\n'), 1).toString(), 'a\n..\nb\r\n.\r\n');
});

test('round-trips random binary-ish messages byte for byte', () => {
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const alphabet = ['.', '\r\n', 'a', ' ', 'é', '\x00', '\xff', '..', '\r\n.\r\n'];
  for (let round = 0; round < 200; round++) {
    let s = '';
    const n = Math.floor(rand() * 60);
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
    const msg = Buffer.from(s + '\r\n', 'latin1');
    const reply = encode(msg, 1 + Math.floor(rand() * 8));
    assert.deepEqual(unstuff(reply), msg, JSON.stringify(s));
  }
});

test('a 1 MB message with many dot lines is encoded quickly', () => {
  const line = '.'.repeat(10) + 'x'.repeat(60) + '\r\n';
  const msg = Buffer.from(line.repeat(Math.ceil((1024 * 1024) / line.length)));
  const started = process.hrtime.bigint();
  const reply = encode(msg, 64 * 1024);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.deepEqual(unstuff(reply), msg);
  assert.ok(ms < 500, `took ${ms} ms`);
});

const message = 'Subject: hi\r\nFrom: a@b\r\n\r\nline 1\r\n.line 2\r\nline 3\r\n';

test('TOP n sends the header, the blank line and n body lines', () => {
  for (const size of [1, 4, 1000]) {
    assert.equal(encode(Buffer.from(message), size, 0).toString(), 'Subject: hi\r\nFrom: a@b\r\n\r\n.\r\n');
    assert.equal(encode(Buffer.from(message), size, 1).toString(), 'Subject: hi\r\nFrom: a@b\r\n\r\nline 1\r\n.\r\n');
    assert.equal(encode(Buffer.from(message), size, 2).toString(), 'Subject: hi\r\nFrom: a@b\r\n\r\nline 1\r\n..line 2\r\n.\r\n');
    assert.equal(encode(Buffer.from(message), size, 50).toString(), message.replace('.line', '..line') + '.\r\n');
  }
});

test('TOP on a message without a body, or with LF line ends', () => {
  assert.equal(encode(Buffer.from('Subject: x\r\n'), 3, 5).toString(), 'Subject: x\r\n.\r\n');
  assert.equal(encode(Buffer.from('Subject: x'), 3, 5).toString(), 'Subject: x\r\n.\r\n');
  assert.equal(encode(Buffer.from('A: 1\n\nb1\nb2\n'), 2, 1).toString(), 'A: 1\n\nb1\n\r\n.\r\n');
  const cutter = new TopCutter(0);
  assert.equal(cutter.push(Buffer.from('A: 1\r\n\r\nbody')).toString(), 'A: 1\r\n\r\n');
  assert.ok(cutter.finished);
  assert.equal(cutter.push(Buffer.from('more')).length, 0);
});

test('a header line that is only a CR split from its LF is still the blank line', () => {
  const cutter = new TopCutter(0);
  const out = [cutter.push(Buffer.from('A: 1\r\n\r')), cutter.push(Buffer.from('\nbody\r\n'))];
  assert.equal(Buffer.concat(out).toString(), 'A: 1\r\n\r\n');
});
