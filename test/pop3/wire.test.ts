import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeSaslPlain, err, isParseError, knownVerbs, multiline, ok, parseCommand, parseMsgNumber } from '../../src/protocols/pop3/wire.js';

const parse = (s: string | Buffer) => parseCommand(typeof s === 'string' ? Buffer.from(s, 'utf8') : s);

test('parses every RFC 1939 / 2449 / 5034 / 2595 command, case-insensitively', () => {
  const table: [string, unknown][] = [
    ['USER alice@example.test', { verb: 'USER', name: 'alice@example.test' }],
    ['user alice', { verb: 'USER', name: 'alice' }],
    ['PASS secret', { verb: 'PASS', password: 'secret' }],
    ['PASS with  two spaces ', { verb: 'PASS', password: 'with  two spaces' }],
    ['AUTH', { verb: 'AUTH', mechanism: null, initialResponse: null }],
    ['AUTH plain', { verb: 'AUTH', mechanism: 'PLAIN', initialResponse: null }],
    ['AUTH PLAIN AGFsaWNlAHNlY3JldA==', { verb: 'AUTH', mechanism: 'PLAIN', initialResponse: 'AGFsaWNlAHNlY3JldA==' }],
    ['STLS', { verb: 'STLS' }],
    ['capa', { verb: 'CAPA' }],
    ['QUIT', { verb: 'QUIT' }],
    ['STAT', { verb: 'STAT' }],
    ['LIST', { verb: 'LIST', msg: null }],
    ['LIST 2', { verb: 'LIST', msg: 2 }],
    ['UIDL', { verb: 'UIDL', msg: null }],
    ['UIDL 10', { verb: 'UIDL', msg: 10 }],
    ['RETR 1', { verb: 'RETR', msg: 1 }],
    ['TOP 1 0', { verb: 'TOP', msg: 1, lines: 0 }],
    ['TOP 3 25', { verb: 'TOP', msg: 3, lines: 25 }],
    ['DELE 4', { verb: 'DELE', msg: 4 }],
    ['NOOP', { verb: 'NOOP' }],
    ['RSET', { verb: 'RSET' }],
    ['STAT ', { verb: 'STAT' }],
    ['RETR\t1', { verb: 'RETR', msg: 1 }],
  ];
  for (const [line, expected] of table) assert.deepEqual(parse(line), expected, line);
});

test('covers exactly the verbs of the table', () => {
  assert.deepEqual([...knownVerbs].sort(), ['AUTH', 'CAPA', 'DELE', 'LIST', 'NOOP', 'PASS', 'QUIT', 'RETR', 'RSET', 'STAT', 'STLS', 'TOP', 'UIDL', 'USER']);
});

test('unknown keywords are "unknown", malformed ones "syntax"', () => {
  for (const line of ['APOP a b', 'LAST', 'XYZZY', 'GET / HTTP/1.1', 'EHLO x', '1234']) {
    const r = parse(line);
    assert.ok(isParseError(r) && r.error === 'unknown', line);
  }
  const bad = [
    '', '   ', 'RETR', 'RETR 0', 'RETR -1', 'RETR +1', 'RETR 1x', 'RETR 1 2', 'RETR 99999999999', 'LIST 1 2', 'DELE',
    'TOP 1', 'TOP 1 -1', 'TOP x 1', 'STAT 1', 'QUIT now', 'USER', 'USER a b', 'PASS', 'PASS ', 'AUTH PLAIN a b',
    `LIST ${'1'.repeat(41)}`,
  ];
  for (const line of bad) {
    const r = parse(line);
    assert.ok(isParseError(r) && r.error === 'syntax', JSON.stringify(line));
  }
});

test('NUL, other control characters and invalid UTF-8 are refused', () => {
  for (const bytes of [
    Buffer.from('USER a\0b'),
    Buffer.from('NOOP\0'),
    Buffer.from('PASS a\rb'),
    Buffer.from('STAT\x1b'),
    Buffer.from([0x55, 0x53, 0x45, 0x52, 0x20, 0xff, 0xfe]),
    Buffer.from([0x50, 0x41, 0x53, 0x53, 0x20, 0xc3]),
  ]) {
    const r = parse(bytes);
    assert.ok(isParseError(r) && r.error === 'syntax', bytes.toString('hex'));
  }
  assert.deepEqual(parse('USER jörg@example.test'), { verb: 'USER', name: 'jörg@example.test' });
});

test('message numbers are plain positive decimals', () => {
  assert.equal(parseMsgNumber('1'), 1);
  assert.equal(parseMsgNumber('007'), 7);
  assert.equal(parseMsgNumber('2147483647'), 2147483647);
  for (const s of ['0', '', '-1', '+1', '1.0', '0x1', '2147483648', ' 1']) assert.equal(parseMsgNumber(s), null, s);
});

test('SASL PLAIN responses decode to three fields (RFC 4616)', () => {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  assert.deepEqual(decodeSaslPlain(b64('\0alice@example.test\0pw with space')), { authzid: '', authcid: 'alice@example.test', password: 'pw with space' });
  assert.deepEqual(decodeSaslPlain(b64('admin\0alice\0pw')), { authzid: 'admin', authcid: 'alice', password: 'pw' });
  assert.deepEqual(decodeSaslPlain(b64('\0jörg\0pässword')), { authzid: '', authcid: 'jörg', password: 'pässword' });
  for (const bad of ['=', '', '!!!!', 'abc', b64('alice\0pw'), b64('\0\0pw'), b64('\0alice\0'), b64('a\0b\0c\0d'), Buffer.from([0, 0xff, 0, 0x61]).toString('base64')]) {
    assert.equal(decodeSaslPlain(bad), null, bad);
  }
});

test('replies are formatted with CRLF, codes in brackets, and dot-stuffed multi-line bodies', () => {
  assert.equal(ok('hi'), '+OK hi\r\n');
  assert.equal(err('no'), '-ERR no\r\n');
  assert.equal(err('busy', 'IN-USE'), '-ERR [IN-USE] busy\r\n');
  assert.equal(multiline('list', ['1 10', '.hidden']), '+OK list\r\n1 10\r\n..hidden\r\n.\r\n');
  assert.equal(multiline('none', []), '+OK none\r\n.\r\n');
});
