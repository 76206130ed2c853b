/**
 * Command framing (RFC 3501 sections 2.2 and 7.5, RFC 7888 LITERAL+/LITERAL-,
 * RFC 3516 literal8): lines and literals, continuation requests, refusals,
 * and every limit tripped without buffering the overflow.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandFramer, literalMarkerAtEnd, type FramerEvent } from '../../../src/protocols/imap/wire/framer.js';
import { frameEvents, ROOMY } from './helpers.js';

const text = (b: Buffer) => b.toString('latin1');
const kinds = (events: FramerEvent[]) => events.map((e) => (e.kind === 'error' ? `error:${e.code}` : e.kind));

test('lines end at CRLF or at a bare LF; pipelined commands come out in order', () => {
  const events = frameEvents('a1 NOOP\r\na2 NOOP\na3 CAPABILITY\r\n');
  assert.deepEqual(kinds(events), ['command', 'command', 'command']);
  assert.deepEqual(
    events.map((e) => (e.kind === 'command' ? text(e.command.lines[0]!) : '')),
    ['a1 NOOP', 'a2 NOOP', 'a3 CAPABILITY'],
  );
});

test('a CR that is not before LF stays in the line for the parser to refuse', () => {
  const [ev] = frameEvents('a1 NO\rOP\r\n');
  assert.ok(ev && ev.kind === 'command');
  assert.equal(text(ev.command.lines[0]!), 'a1 NO\rOP');
});

test('the same result whether bytes come at once or one at a time', () => {
  const input = 'a1 LOGIN {5}\r\nalice {6+}\r\nsecret\r\na2 APPEND x ~{3}\r\n\0\r\n\r\na3 NOOP\r\n';
  const whole = frameEvents(input);
  const trickle = frameEvents(input, ROOMY, true);
  assert.deepEqual(trickle, whole);
  assert.deepEqual(kinds(whole), ['literal-request', 'command', 'literal-request', 'command', 'command']);
});

test('a synchronising literal pauses the framer until the caller accepts it', () => {
  const framer = new CommandFramer(ROOMY);
  const first = framer.push(Buffer.from('A003 APPEND saved-messages (\\Seen) {5}\r\n'));
  assert.equal(first.length, 1);
  const req = first[0]!;
  assert.ok(req.kind === 'literal-request');
  assert.equal(req.tag, 'A003');
  assert.equal(req.commandName, 'APPEND');
  assert.equal(req.literalBytes, 5);
  assert.equal(req.binary, false);
  assert.deepEqual(req.linesSoFar.map(text), ['A003 APPEND saved-messages (\\Seen) {5}'], 'the caller can look at the arguments first');
  assert.ok(framer.awaitingLiteralDecision);
  assert.deepEqual(framer.acceptLiteral(), []);
  const done = framer.push(Buffer.from('hello\r\n'));
  assert.equal(done.length, 1);
  const ev = done[0]!;
  assert.ok(ev.kind === 'command');
  assert.deepEqual(ev.command.lines.map(text), ['A003 APPEND saved-messages (\\Seen) {5}', '']);
  assert.equal(text(ev.command.literals[0]!.data), 'hello');
  assert.equal(ev.command.literals[0]!.synchronising, true);
});

test('a refused literal drops the command; the client sends no literal and goes on', () => {
  const framer = new CommandFramer(ROOMY);
  const [req] = framer.push(Buffer.from('a1 APPEND box {100}\r\n'));
  assert.ok(req?.kind === 'literal-request');
  assert.deepEqual(framer.refuseLiteral(), []);
  const next = framer.push(Buffer.from('a2 NOOP\r\n'));
  assert.ok(next[0]?.kind === 'command');
  assert.equal(text(next[0].command.lines[0]!), 'a2 NOOP');
});

test('UID commands are named with their UID prefix in a literal request', () => {
  const [req] = new CommandFramer(ROOMY).push(Buffer.from('x UID SEARCH TEXT {4}\r\n'));
  assert.ok(req?.kind === 'literal-request');
  assert.equal(req.commandName, 'UID SEARCH');
});

test('non-synchronising and binary literals, including empty ones, need no continuation', () => {
  const events = frameEvents('a LOGIN {0+}\r\n {3+}\r\nabc\r\nb APPEND x ~{0}\r\n\r\n');
  assert.deepEqual(kinds(events), ['command', 'literal-request', 'command']);
  const a = events[0]!;
  assert.ok(a.kind === 'command');
  assert.deepEqual(a.command.literals.map((l) => [text(l.data), l.synchronising, l.binary]), [
    ['', false, false],
    ['abc', false, false],
  ]);
  const b = events[2]!;
  assert.ok(b.kind === 'command' && b.command.literals[0]!.binary);
});

test('a literal may hold CRLF, NUL and anything else', () => {
  const body = Buffer.from('line1\r\nline2\r\n\0\xff}{5}\r\n', 'latin1');
  const input = Buffer.concat([Buffer.from(`a APPEND x {${body.length}+}\r\n`), body, Buffer.from('\r\nb NOOP\r\n')]);
  const events = frameEvents(input);
  assert.deepEqual(kinds(events), ['command', 'command']);
  assert.ok(events[0]!.kind === 'command');
  assert.deepEqual(events[0].command.literals[0]!.data, body);
});

test('literal markers are recognised only at the very end of a line', () => {
  assert.deepEqual(literalMarkerAtEnd(Buffer.from('a {12}')), { literalBytes: 12, binary: false, nonSynchronising: false, markerLength: 4 });
  assert.deepEqual(literalMarkerAtEnd(Buffer.from('a ~{7+}')), { literalBytes: 7, binary: true, nonSynchronising: true, markerLength: 5 });
  for (const s of ['a {}', 'a {x}', 'a {1 }', 'a {1}x', 'a 1}', '{+}', 'a {-1}']) assert.equal(literalMarkerAtEnd(Buffer.from(s)), null, s);
  assert.equal(literalMarkerAtEnd(Buffer.from('a {99999999999999999999}'))?.literalBytes, Infinity);
});

test('an overlong line is reported once with its tag, drained, and the next command is read', () => {
  const limits = { maxLineBytes: 64, maxLiteralBytes: 1024, maxCommandBytes: 4096 };
  const framer = new CommandFramer(limits);
  const events: FramerEvent[] = [];
  events.push(...framer.push(Buffer.from('tag7 SEARCH ' + 'X'.repeat(50))));
  events.push(...framer.push(Buffer.from('Y'.repeat(100_000))));
  assert.ok(framer.bufferedBytes < 200, 'the overflow is not buffered');
  events.push(...framer.push(Buffer.from('Z\r\nb NOOP\r\n')));
  assert.deepEqual(kinds(events), ['error:line-too-long', 'command']);
  const err = events[0]!;
  assert.ok(err.kind === 'error');
  assert.equal(err.tag, 'tag7');
  assert.equal(err.responseCode, 'TOOBIG');
  assert.equal(err.fatal, false);
});

test('a line of exactly maxLineBytes passes, with CRLF or with LF; one more byte does not', () => {
  const limits = { maxLineBytes: 10, maxLiteralBytes: 10, maxCommandBytes: 100 };
  assert.deepEqual(kinds(frameEvents('a NOOP 345\r\n', limits)), ['command']);
  assert.deepEqual(kinds(frameEvents('a NOOP 345\n', limits)), ['command']);
  assert.deepEqual(kinds(frameEvents('a NOOP 3456\r\n', limits)), ['error:line-too-long']);
  assert.deepEqual(kinds(frameEvents('a NOOP 3456\r\n', limits, true)), ['error:line-too-long']);
});

test('the line limit counts all lines of a command, not its literals', () => {
  const limits = { maxLineBytes: 20, maxLiteralBytes: 100, maxCommandBytes: 1000 };
  assert.deepEqual(kinds(frameEvents('a LOGIN {30+}\r\n' + 'p'.repeat(30) + ' x\r\n', limits)), ['command']);
  assert.deepEqual(kinds(frameEvents('a LOGIN {3+}\r\nabc ' + 'x'.repeat(20) + '\r\n', limits)), ['error:line-too-long']);
});

test('an overlong line ending in a non-synchronising literal skips that literal too', () => {
  const limits = { maxLineBytes: 16, maxLiteralBytes: 1024, maxCommandBytes: 4096 };
  const evil = 'a2 NOOP\r\n'; // would run as a command if the literal were not skipped
  const events = frameEvents(`a1 APPEND ${'m'.repeat(40)} {${evil.length}+}\r\n${evil}\r\nb NOOP\r\n`, limits);
  assert.deepEqual(kinds(events), ['error:line-too-long', 'command']);
  assert.ok(events[1]!.kind === 'command');
  assert.equal(text(events[1].command.lines[0]!), 'b NOOP');
});

test('a synchronising literal over maxLiteralBytes is refused without a continuation', () => {
  const limits = { maxLineBytes: 100, maxLiteralBytes: 10, maxCommandBytes: 1000 };
  const events = frameEvents('a1 APPEND x {11}\r\na2 NOOP\r\n', limits);
  assert.deepEqual(kinds(events), ['error:literal-too-big', 'command']);
  const err = events[0]!;
  assert.ok(err.kind === 'error' && err.tag === 'a1' && err.skippingBytes === 0 && err.responseCode === 'TOOBIG');
});

test('a non-synchronising literal over maxLiteralBytes is skipped without buffering, and the rest of the command drained', () => {
  const limits = { maxLineBytes: 100, maxLiteralBytes: 10, maxCommandBytes: 1000 };
  const framer = new CommandFramer(limits);
  const events: FramerEvent[] = [...framer.push(Buffer.from('a1 APPEND x {5000+}\r\n'))];
  for (let i = 0; i < 5; i++) events.push(...framer.push(Buffer.alloc(1000, 0x41)));
  assert.ok(framer.bufferedBytes === 0);
  events.push(...framer.push(Buffer.from(' (\\Seen) {3+}\r\nabc\r\na2 NOOP\r\n')));
  assert.deepEqual(kinds(events), ['error:literal-too-big', 'command']);
  const err = events[0]!;
  assert.ok(err.kind === 'error' && err.skippingBytes === 5000);
  assert.ok(events[1]!.kind === 'command' && text(events[1].command.lines[0]!) === 'a2 NOOP');
});

test('an absurd literal size is refused, not parsed into a wrong number', () => {
  const events = frameEvents('a1 LOGIN {99999999999999999999}\r\na2 NOOP\r\n');
  assert.deepEqual(kinds(events), ['error:literal-too-big', 'command']);
  const [endless] = frameEvents('a1 LOGIN {99999999999999999999+}\r\n');
  assert.ok(endless?.kind === 'error' && endless.fatal, 'a literal that can never be skipped to its end is fatal');
});

test('LITERAL- allows non-synchronising literals of 4096 bytes and no more', () => {
  const limits = { ...ROOMY, nonSynchronisingLiterals: 'minus' as const };
  const ok = frameEvents(`a APPEND x {4096+}\r\n${'x'.repeat(4096)}\r\n`, limits);
  assert.deepEqual(kinds(ok), ['command']);
  const tooBig = frameEvents(`a APPEND x {4097+}\r\n${'x'.repeat(4097)}\r\nb NOOP\r\n`, limits);
  assert.deepEqual(kinds(tooBig), ['error:literal-minus-too-big', 'command']);
  const err = tooBig[0]!;
  assert.ok(err.kind === 'error' && err.responseCode === 'TOOBIG' && err.skippingBytes === 4097);
  // A synchronising literal of the same size is fine under LITERAL-.
  assert.deepEqual(kinds(frameEvents(`a APPEND x {4097}\r\n${'x'.repeat(4097)}\r\n`, limits)), ['literal-request', 'command']);
});

test('maxCommandBytes caps a command made of many literals', () => {
  const limits = { maxLineBytes: 1000, maxLiteralBytes: 100, maxCommandBytes: 250 };
  const lit = `{100+}\r\n${'x'.repeat(100)}`;
  const events = frameEvents(`a APPEND box ${lit} ${lit} ${lit}\r\nb NOOP\r\n`, limits);
  assert.deepEqual(kinds(events), ['error:command-too-big', 'command']);
  assert.ok(events[1]!.kind === 'command' && text(events[1].command.lines[0]!) === 'b NOOP');
});

test('a tag is recovered only when it is a valid tag', () => {
  const limits = { maxLineBytes: 8, maxLiteralBytes: 8, maxCommandBytes: 64 };
  const [a] = frameEvents('+bad ' + 'x'.repeat(20) + '\r\n', limits);
  assert.ok(a?.kind === 'error' && a.tag === null);
  const [b] = frameEvents('ok] ' + 'x'.repeat(20) + '\r\n', limits);
  assert.ok(b?.kind === 'error' && b.tag === 'ok]');
});

test('data sent before the continuation is held up to a bound, then reported as fatal', () => {
  const framer = new CommandFramer({ maxLineBytes: 50, maxLiteralBytes: 1000, maxCommandBytes: 2000 });
  assert.equal(framer.push(Buffer.from('a APPEND x {500}\r\n'))[0]?.kind, 'literal-request');
  assert.deepEqual(framer.push(Buffer.alloc(40, 0x61)), []);
  const [err] = framer.push(Buffer.alloc(40, 0x61));
  assert.ok(err?.kind === 'error' && err.code === 'data-before-continuation' && err.fatal);
});

test('a literal sent early by an impatient client is still read once accepted', () => {
  const framer = new CommandFramer(ROOMY);
  assert.equal(framer.push(Buffer.from('a LOGIN {3}\r\nbob pw\r\n'))[0]?.kind, 'literal-request');
  const [ev] = framer.acceptLiteral();
  assert.ok(ev?.kind === 'command');
  assert.deepEqual(ev.command.lines.map(text), ['a LOGIN {3}', ' pw']);
});

test('acceptLiteral and refuseLiteral refuse to run out of turn', () => {
  const framer = new CommandFramer(ROOMY);
  assert.throws(() => framer.acceptLiteral());
  assert.throws(() => framer.refuseLiteral());
});

test('bad limits are refused at construction', () => {
  assert.throws(() => new CommandFramer({ maxLineBytes: 0, maxLiteralBytes: 1, maxCommandBytes: 1 }), RangeError);
  assert.throws(() => new CommandFramer({ maxLineBytes: 1, maxLiteralBytes: 1.5, maxCommandBytes: 1 }), RangeError);
});
