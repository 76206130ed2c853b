/**
 * Hostile and malformed commands: NUL bytes, invalid UTF-8, 8-bit junk,
 * unbalanced parentheses, deep nesting (Dovecot CVE-2026-27857's class),
 * bad literal counts. Each gives a typed error; nothing throws or hangs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseErr, parseOk } from './helpers.js';
import { DEFAULT_MAX_NESTING_DEPTH, framedLine, parseCommand } from '../../../src/protocols/imap/wire/parser.js';

test('NUL bytes are refused in lines, strings and plain literals; allowed in literal8 messages', () => {
  assert.equal(parseErr('a NO\0OP').code, 'nul-byte');
  assert.equal(parseErr('a LOGIN "x\0" y').code, 'nul-byte');
  assert.equal(parseErr('a LOGIN {3}\r\nx\0y pw').code, 'nul-byte');
  assert.equal(parseErr('a APPEND box {3}\r\nx\0y').code, 'nul-byte');
  const binary = parseOk('a APPEND box ~{3}\r\nx\0y');
  assert.ok(binary.command === 'APPEND' && binary.messages[0]!.data.equals(Buffer.from('x\0y', 'latin1')));
  assert.equal(parseErr('\0').code, 'nul-byte');
  const tagged = parseErr('t9 LOGIN a\0 b');
  assert.equal(tagged.tag, 't9', 'the tag is kept so the client gets t9 BAD');
});

test('invalid UTF-8 is a typed error wherever it appears', () => {
  const bad = [
    Buffer.from('a LOGIN "\xff" x', 'latin1'),
    Buffer.from('a LOGIN "\xc3" x', 'latin1'),
    Buffer.from('a SELECT "\xed\xa0\x80"', 'latin1'), // an encoded surrogate
    Buffer.from('a SELECT "\xc0\xaf"', 'latin1'), // an overlong "/"
    Buffer.from('\xfe\xff NOOP', 'latin1'),
    Buffer.concat([Buffer.from('a LOGIN {2}\r\n'), Buffer.from([0xc3, 0x28]), Buffer.from(' pw')]),
    Buffer.concat([Buffer.from('a SEARCH TEXT {1}\r\n'), Buffer.from([0x80])]),
  ];
  for (const input of bad) assert.equal(parseErr(input).code, 'invalid-utf8', input.toString('latin1'));
  assert.equal(parseErr(Buffer.from('x1 SELECT "\xff"', 'latin1')).tag, 'x1');
});

test('valid 8-bit UTF-8 outside strings is a syntax error, not a crash', () => {
  assert.equal(parseErr('a NOOP é').code, 'syntax');
  assert.equal(parseErr('é NOOP').code, 'bad-tag');
  assert.equal(parseErr('a NOÖP').code, 'unknown-command', 'the atom stops at the 8-bit byte');
});

test('unbalanced parentheses', () => {
  for (const line of [
    'a FETCH 1 (FLAGS',
    'a FETCH 1 (FLAGS))',
    'a FETCH 1 ((FLAGS)',
    'a SEARCH (SEEN',
    'a SEARCH ((SEEN)',
    'a SEARCH SEEN)',
    'a STORE 1 FLAGS (\\Seen',
    'a STATUS INBOX (MESSAGES',
    'a LIST (SUBSCRIBED "" *',
    'a ID ("a" "b"',
    'a SELECT INBOX (CONDSTORE',
    'a SELECT INBOX (QRESYNC (1 2)',
    'a SETQUOTA "" (STORAGE 1',
    ')',
    'a )',
  ]) {
    const error = parseErr(line);
    assert.ok(error.code === 'syntax' || error.code === 'bad-tag' || error.code === 'unknown-command', `${line}: ${error.code}`);
    assert.equal(error.status, 'BAD');
  }
});

test('nesting beyond the limit is refused before it can exhaust the stack', () => {
  const depth = DEFAULT_MAX_NESTING_DEPTH;
  assert.ok(parseOk(`a SEARCH ${'('.repeat(depth)}SEEN${')'.repeat(depth)}`).command === 'SEARCH');
  assert.equal(parseErr(`a SEARCH ${'('.repeat(depth + 1)}SEEN${')'.repeat(depth + 1)}`).code, 'nesting-too-deep');
  assert.equal(parseErr(`a SEARCH ${'NOT '.repeat(depth + 1)}SEEN`).code, 'nesting-too-deep');
  assert.equal(parseErr(`a SEARCH ${'OR SEEN '.repeat(depth + 1)}SEEN`).code, 'nesting-too-deep');
  // Far deeper than any stack could take if recursion were unbounded.
  const deep = (line: string) => {
    const result = parseCommand(framedLine(line));
    return result.ok ? 'ok' : result.error.code;
  };
  assert.equal(deep(`a SEARCH ${'('.repeat(100_000)}`), 'nesting-too-deep');
  assert.equal(deep(`a SEARCH ${'NOT '.repeat(100_000)}SEEN`), 'nesting-too-deep');
  assert.equal(deep(`a SEARCH ${'OR '.repeat(100_000)}SEEN`), 'nesting-too-deep');
  assert.equal(parseErr('a SEARCH ((((SEEN))))', { maxNestingDepth: 3 }).code, 'nesting-too-deep');
  assert.equal(parseErr(`a FETCH 1 ${'('.repeat(50)}`).code, 'syntax', 'FETCH lists do not nest at all');
});

test('literals announced with bad counts or in the wrong place', () => {
  // The framer only treats a well-formed marker at the end of a line as a literal; the rest is text.
  for (const line of ['a LOGIN {x}', 'a LOGIN {-1}', 'a LOGIN {}', 'a LOGIN {1', 'a LOGIN {1}x', 'a LOGIN {1 } pw', 'a LOGIN ~{1 }', 'a LOGIN ~{1}x pw']) {
    assert.equal(parseErr(line).code, 'syntax', line);
  }
});

test('oversized numbers are refused, never rounded', () => {
  assert.equal(parseErr('a FETCH 4294967296 FLAGS').code, 'syntax');
  assert.equal(parseErr('a FETCH 1 BODY[]<4294967296.1>').code, 'syntax');
  assert.equal(parseErr('a FETCH 1 (FLAGS) (CHANGEDSINCE 9223372036854775808)').code, 'syntax');
  assert.equal(parseErr('a SEARCH LARGER 99999999999999999999999999').code, 'syntax');
  assert.ok(parseOk('a FETCH 1 (FLAGS) (CHANGEDSINCE 9223372036854775807)').command === 'FETCH');
});

test('parseCommand survives structurally impossible input', () => {
  const result = parseCommand({ lines: [], literals: [] });
  assert.ok(!result.ok);
  const extra = parseCommand({ lines: [Buffer.from('a NOOP')], literals: [{ data: Buffer.from('x'), binary: false, synchronising: true }] });
  assert.ok(extra.ok, 'unused literals beyond the lines are ignored by the grammar walk');
});
