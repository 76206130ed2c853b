/**
 * The command parser beyond the RFC examples: every FETCH item and section
 * form, every SEARCH key, STORE forms, strings and escapes, and the tag and
 * command-name rules (RFC 3501 section 9, RFC 9051 section 9).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOk, parseErr } from './helpers.js';
import type { FetchAttribute, SearchKey } from '../../../src/protocols/imap/wire/request.js';
import { fetchResponseItemName, formatSection } from '../../../src/protocols/imap/wire/fetch-attributes.js';
import { framedLine, isIdleDone, parseAuthenticateResponse, parseCommand } from '../../../src/protocols/imap/wire/parser.js';
import { parseSequenceSet } from '../../../src/protocols/imap/wire/sequence-set.js';

function fetchAttributes(items: string): readonly FetchAttribute[] {
  const request = parseOk(`f FETCH 1:* ${items}`);
  assert.ok(request.command === 'FETCH');
  return request.attributes;
}

function searchKeys(program: string): readonly SearchKey[] {
  const request = parseOk(`s SEARCH ${program}`);
  assert.ok(request.command === 'SEARCH');
  return request.criteria.operands;
}

test('every simple FETCH item, in any case', () => {
  const names = ['FLAGS', 'INTERNALDATE', 'RFC822', 'RFC822.HEADER', 'RFC822.SIZE', 'RFC822.TEXT', 'ENVELOPE', 'BODY', 'BODYSTRUCTURE', 'UID', 'MODSEQ'];
  assert.deepEqual(
    fetchAttributes(`(${names.map((n) => n.toLowerCase()).join(' ')})`).map((a) => a.kind),
    names,
  );
  assert.deepEqual(fetchAttributes('uid'), [{ kind: 'UID' }]);
  const fast = parseOk('f FETCH 1 fast');
  assert.ok(fast.command === 'FETCH' && fast.macro === 'FAST' && fast.attributes.length === 3);
  const all = parseOk('f FETCH 1 ALL');
  assert.ok(all.command === 'FETCH' && all.attributes.length === 4);
});

test('BODY sections: parts, HEADER, HEADER.FIELDS(.NOT), TEXT, MIME, partial, PEEK', () => {
  const cases: Array<[string, FetchAttribute, string]> = [
    ['BODY[]', { kind: 'BODY[]', peek: false, section: { part: [], text: null, fields: [] }, partial: null }, 'BODY[]'],
    ['BODY.PEEK[]<0.1024>', { kind: 'BODY[]', peek: true, section: { part: [], text: null, fields: [] }, partial: { offset: 0, length: 1024 } }, 'BODY[]<0>'],
    ['body[1.2.3]', { kind: 'BODY[]', peek: false, section: { part: [1, 2, 3], text: null, fields: [] }, partial: null }, 'BODY[1.2.3]'],
    ['BODY[3.MIME]', { kind: 'BODY[]', peek: false, section: { part: [3], text: 'MIME', fields: [] }, partial: null }, 'BODY[3.MIME]'],
    ['BODY[TEXT]<10.5>', { kind: 'BODY[]', peek: false, section: { part: [], text: 'TEXT', fields: [] }, partial: { offset: 10, length: 5 } }, 'BODY[TEXT]<10>'],
    ['BODY[4.2.TEXT]', { kind: 'BODY[]', peek: false, section: { part: [4, 2], text: 'TEXT', fields: [] }, partial: null }, 'BODY[4.2.TEXT]'],
    [
      'BODY.PEEK[1.2.HEADER.FIELDS (from "To" cc)]',
      { kind: 'BODY[]', peek: true, section: { part: [1, 2], text: 'HEADER.FIELDS', fields: ['FROM', 'TO', 'CC'] }, partial: null },
      'BODY[1.2.HEADER.FIELDS (FROM TO CC)]',
    ],
    [
      'BODY[HEADER.FIELDS.NOT (X-Spam {4}\r\nDate)]',
      { kind: 'BODY[]', peek: false, section: { part: [], text: 'HEADER.FIELDS.NOT', fields: ['X-SPAM', 'DATE'] }, partial: null },
      'BODY[HEADER.FIELDS.NOT (X-SPAM DATE)]',
    ],
    ['BINARY[1]', { kind: 'BINARY[]', peek: false, part: [1], partial: null }, 'BINARY[1]'],
    ['BINARY.PEEK[2.1]<0.100>', { kind: 'BINARY[]', peek: true, part: [2, 1], partial: { offset: 0, length: 100 } }, 'BINARY[2.1]<0>'],
    ['BINARY.SIZE[1]', { kind: 'BINARY.SIZE', part: [1] }, 'BINARY.SIZE[1]'],
  ];
  for (const [text, expected, responseName] of cases) {
    const [attribute] = fetchAttributes(text);
    assert.deepEqual(attribute, expected, text);
    assert.equal(fetchResponseItemName(attribute!), responseName, text);
  }
  assert.equal(formatSection({ part: [1], text: 'HEADER', fields: [] }), '1.HEADER');
});

test('bad FETCH items are syntax errors', () => {
  for (const items of [
    'BODY.PEEK',
    'BODY[MIME]',
    'BODY[0]',
    'BODY[1.]',
    'BODY[1..2]',
    'BODY[HEADER.FIELDS]',
    'BODY[HEADER.FIELDS ()]',
    'BODY[HEADER.FIELDS (A:B)]',
    'BODY[HEADER.FOO]',
    'BODY[]<1>',
    'BODY[]<1.0>',
    'BODY[',
    'BINARY[TEXT]',
    'BINARY',
    'BINARY.SIZE[1]<0.1>',
    '(FLAGS ALL)',
    '()',
    '(FLAGS',
    'FLAGS)',
    'XYZZY',
    'RFC822.FOO',
    'FLAGS[1]',
    '(FLAGS) (CHANGEDSINCE)',
    '(FLAGS) (FOO 1)',
    '(FLAGS) (VANISHED)',
  ]) {
    const error = parseErr(`f FETCH 1 ${items}`);
    assert.equal(error.code, 'syntax', items);
    assert.equal(error.tag, 'f');
    assert.equal(error.command, 'FETCH');
  }
  assert.equal(parseErr('f FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)').code, 'syntax', 'VANISHED needs UID FETCH');
});

test('every RFC 3501 SEARCH key', () => {
  const flagKeys = ['ALL', 'ANSWERED', 'DELETED', 'DRAFT', 'FLAGGED', 'NEW', 'OLD', 'RECENT', 'SEEN', 'UNANSWERED', 'UNDELETED', 'UNDRAFT', 'UNFLAGGED', 'UNSEEN'];
  assert.deepEqual(searchKeys(flagKeys.join(' ').toLowerCase()), flagKeys.map((key) => ({ key })));
  assert.deepEqual(searchKeys('BCC a BODY "b c" CC {1}\r\nd FROM e SUBJECT f TEXT g TO h'), [
    { key: 'BCC', value: 'a' },
    { key: 'BODY', value: 'b c' },
    { key: 'CC', value: 'd' },
    { key: 'FROM', value: 'e' },
    { key: 'SUBJECT', value: 'f' },
    { key: 'TEXT', value: 'g' },
    { key: 'TO', value: 'h' },
  ]);
  assert.deepEqual(searchKeys('BEFORE 1-Feb-1994 ON "12-mar-2020" SINCE 29-Feb-2024 SENTBEFORE 31-Dec-1999 SENTON 1-Jan-2000 SENTSINCE 01-Jan-2000'), [
    { key: 'BEFORE', date: { year: 1994, month: 2, day: 1 } },
    { key: 'ON', date: { year: 2020, month: 3, day: 12 } },
    { key: 'SINCE', date: { year: 2024, month: 2, day: 29 } },
    { key: 'SENTBEFORE', date: { year: 1999, month: 12, day: 31 } },
    { key: 'SENTON', date: { year: 2000, month: 1, day: 1 } },
    { key: 'SENTSINCE', date: { year: 2000, month: 1, day: 1 } },
  ]);
  assert.deepEqual(searchKeys('HEADER Message-ID "<x@y>" KEYWORD $Forwarded UNKEYWORD Junk LARGER 100 SMALLER 5000000000'), [
    { key: 'HEADER', field: 'Message-ID', value: '<x@y>' },
    { key: 'KEYWORD', flag: '$Forwarded' },
    { key: 'UNKEYWORD', flag: 'Junk' },
    { key: 'LARGER', size: 100 },
    { key: 'SMALLER', size: 5000000000 },
  ]);
  assert.deepEqual(searchKeys('1:3,5 UID 10:* *'), [
    { key: 'SEQUENCE', set: parseSequenceSet('1:3,5') },
    { key: 'UID', set: parseSequenceSet('10:*') },
    { key: 'SEQUENCE', set: parseSequenceSet('*') },
  ]);
  assert.deepEqual(searchKeys('HEADER X-Empty ""'), [{ key: 'HEADER', field: 'X-Empty', value: '' }]);
});

test('OR, NOT and parentheses nest', () => {
  assert.deepEqual(searchKeys('OR (FROM a SEEN) NOT OR TO b (CC c)'), [
    {
      key: 'OR',
      left: { key: 'AND', operands: [{ key: 'FROM', value: 'a' }, { key: 'SEEN' }] },
      right: { key: 'NOT', operand: { key: 'OR', left: { key: 'TO', value: 'b' }, right: { key: 'AND', operands: [{ key: 'CC', value: 'c' }] } } },
    },
  ]);
  assert.deepEqual(searchKeys('((SEEN))'), [{ key: 'AND', operands: [{ key: 'AND', operands: [{ key: 'SEEN' }] }] }]);
});

test('SEARCH strings are UTF-8 (RFC 9051), in quotes or literals', () => {
  assert.deepEqual(searchKeys('SUBJECT "Grüße \\"x\\" \\\\"'), [{ key: 'SUBJECT', value: 'Grüße "x" \\' }]);
  assert.deepEqual(searchKeys('CHARSET utf-8 BODY {6}\r\nGrüße'.replace('{6}', `{${Buffer.byteLength('Grüße')}}`)).length, 1);
});

test('bad SEARCH programs are typed errors', () => {
  const cases: Array<[string, string]> = [
    ['', 'syntax'],
    ['FOO', 'syntax'],
    ['FROM', 'syntax'],
    ['BEFORE 31-Feb-2020', 'syntax'],
    ['BEFORE 1-Foo-2020', 'syntax'],
    ['BEFORE 1-Jan-20', 'syntax'],
    ['ON "1-Jan-2020', 'syntax'],
    ['OR SEEN', 'syntax'],
    ['NOT', 'syntax'],
    ['(SEEN', 'syntax'],
    ['SEEN)', 'syntax'],
    ['()', 'syntax'],
    ['LARGER x', 'syntax'],
    ['LARGER 99999999999999999999', 'syntax'],
    ['UID 0', 'syntax'],
    ['0:4', 'syntax'],
    ['HEADER "Bad Name" x', 'syntax'],
    ['RETURN (FOO) ALL', 'syntax'],
    ['RETURN (ALL)', 'syntax'],
    ['ALL RETURN (ALL)', 'syntax'],
    ['CHARSET ISO-8859-1 TEXT x', 'bad-charset'],
    ['MODSEQ "/flags/\\\\Seen" foo 5', 'syntax'],
    ['MODSEQ x', 'syntax'],
    ['SEEN  UNSEEN', 'syntax'],
    ['SEEN ', 'syntax'],
  ];
  for (const [program, code] of cases) {
    const error = parseErr(`t SEARCH ${program}`);
    assert.equal(error.code, code, program);
  }
  const charset = parseErr('t SEARCH CHARSET KOI8-R TEXT x');
  assert.equal(charset.status, 'NO');
  assert.equal(charset.responseCode, 'BADCHARSET (US-ASCII UTF-8)');
});

test('STORE forms: FLAGS, +FLAGS, -FLAGS, .SILENT, lists and bare flags', () => {
  const cases: Array<[string, 'set' | 'add' | 'remove', boolean, string[]]> = [
    ['FLAGS (\\Seen)', 'set', false, ['\\Seen']],
    ['flags.silent ()', 'set', true, []],
    ['+FLAGS \\seen \\FLAGGED $Label1', 'add', false, ['\\Seen', '\\Flagged', '$Label1']],
    ['-FLAGS.SILENT (\\Deleted \\Deleted)', 'remove', true, ['\\Deleted']],
    ['+FLAGS (\\Answered \\Draft NonJunk)', 'add', false, ['\\Answered', '\\Draft', 'NonJunk']],
  ];
  for (const [args, action, silent, flags] of cases) {
    const request = parseOk(`s UID STORE 1:* ${args}`);
    assert.ok(request.command === 'STORE' && request.uid, args);
    assert.equal(request.action, action, args);
    assert.equal(request.silent, silent, args);
    assert.deepEqual(request.flags, flags, args);
  }
  for (const bad of ['FLAGS', 'FLAGS (\\Recent)', 'FLAGS (\\Bogus)', 'FLAGS (\\*)', '*FLAGS (\\Seen)', 'FLAGS.LOUD (x)', 'FLAGS (a', 'FLAGS (a]b)', '(UNCHANGEDSINCE x) FLAGS (a)', '(FOO 1) FLAGS (a)']) {
    assert.equal(parseErr(`s STORE 1 ${bad}`).code, 'syntax', bad);
  }
});

test('quoted strings: escapes, and what is refused inside them', () => {
  const a = parseOk('a LOGIN "a\\"b" "c\\\\d"');
  assert.ok(a.command === 'LOGIN' && a.username === 'a"b' && a.password === 'c\\d');
  const b = parseOk('a LOGIN "" "pass word"');
  assert.ok(b.command === 'LOGIN' && b.username === '' && b.password === 'pass word');
  assert.equal(parseErr('a LOGIN "a\\b" x').code, 'syntax', 'only \\\\ and \\" are escapes');
  assert.equal(parseErr('a LOGIN "abc x').code, 'syntax', 'unterminated');
  assert.equal(parseErr('a LOGIN "a\rb" x').code, 'syntax', 'CR inside quotes');
  const lit = parseOk('a LOGIN {5}\r\nalice {8}\r\nse"cr et');
  assert.ok(lit.command === 'LOGIN' && lit.username === 'alice' && lit.password === 'se"cr et');
  const astring = parseOk('a LOGIN ali]ce pw');
  assert.ok(astring.command === 'LOGIN' && astring.username === 'ali]ce', 'astring allows "]"');
});

test('tags and command names', () => {
  assert.equal(parseOk('* NOOP'.replace('*', 'x]y')).tag, 'x]y');
  const cases: Array<[string, string, string | null]> = [
    ['', 'empty-command', null],
    [' NOOP', 'bad-tag', null],
    ['+a NOOP', 'bad-tag', null],
    ['a(b NOOP', 'bad-tag', null],
    ['a*b NOOP', 'bad-tag', null],
    ['tag', 'syntax', 'tag'],
    ['tag ', 'syntax', 'tag'],
    ['tag  NOOP', 'syntax', 'tag'],
    ['tag NOOP extra', 'syntax', 'tag'],
    ['tag NOOP ', 'syntax', 'tag'],
    ['tag UID', 'syntax', 'tag'],
    ['tag UID LOGIN a b', 'syntax', 'tag'],
    ['tag UID XYZ', 'syntax', 'tag'],
    ['tag DONE', 'unknown-command', 'tag'],
  ];
  for (const [line, code, tag] of cases) {
    const error = parseErr(line);
    assert.equal(error.code, code, JSON.stringify(line));
    assert.equal(error.tag, tag, JSON.stringify(line));
  }
  assert.equal(parseOk('a uid fetch 1 flags').command, 'FETCH');
});

test('commands take exactly their arguments', () => {
  for (const line of [
    'a CAPABILITY x',
    'a LOGIN onlyuser',
    'a LOGIN a b c',
    'a SELECT',
    'a SELECT INBOX (FOO)',
    'a SELECT INBOX (QRESYNC (0 1))',
    'a SELECT INBOX (QRESYNC (1 1 1:*))',
    'a SELECT INBOX (QRESYNC (1))',
    'a RENAME a',
    'a STATUS INBOX ()',
    'a STATUS INBOX (MESSAGES BOGUS)',
    'a STATUS INBOX MESSAGES',
    'a LIST ""',
    'a LIST (FOO) "" *',
    'a LIST (RECURSIVEMATCH) "" *',
    'a LIST "" * RETURN (FOO)',
    'a LIST "" * FOO (CHILDREN)',
    'a LIST "" ()',
    'a LSUB ""',
    'a APPEND box',
    'a APPEND box "x"',
    'a APPEND box (\\Seen)',
    'a APPEND box "99-Jan-2020 00:00:00 +0000" {1}\r\nx',
    'a APPEND box "1-Jan-2020 24:00:00 +0000" {1}\r\nx',
    'a APPEND box "1-Jan-2020 00:00:00 +0060" {1}\r\nx',
    'a APPEND box UTF8 ({1}\r\nx)',
    'a APPEND box UTF8 (~{1}\r\nx',
    'a COPY 1',
    'a COPY x box',
    'a EXPUNGE 1',
    'a UID EXPUNGE',
    'a ENABLE',
    'a ID',
    'a ID ("a")',
    'a ID (NIL "x")',
    'a ID FOO',
    'a GETQUOTA',
    'a SETQUOTA "" (STORAGE)',
    'a SETQUOTA "" (STORAGE x)',
    'a CREATE x (USE (\\Bogus))',
    'a CREATE x (FOO)',
    'a AUTHENTICATE',
  ]) {
    assert.equal(parseErr(line).code, 'syntax', line);
  }
});

test('ID takes at most 30 pairs', () => {
  const pairs = (n: number) => Array.from({ length: n }, (_, i) => `"k${i}" "v"`).join(' ');
  assert.ok(parseOk(`a ID (${pairs(30)})`).command === 'ID');
  assert.equal(parseErr(`a ID (${pairs(31)})`).code, 'syntax');
});

test('IDLE terminator and AUTHENTICATE continuation lines', () => {
  assert.ok(isIdleDone(framedLine('DONE')));
  assert.ok(isIdleDone(framedLine('done')));
  assert.ok(!isIdleDone(framedLine('DONE ')));
  assert.ok(!isIdleDone(framedLine('a DONE')));
  assert.deepEqual(parseAuthenticateResponse(framedLine('*')), { kind: 'cancel' });
  assert.deepEqual(parseAuthenticateResponse(framedLine('')), { kind: 'data', data: Buffer.alloc(0) });
  const ok = parseAuthenticateResponse(framedLine(Buffer.from('\0bob\0pw').toString('base64')));
  assert.ok(ok.kind === 'data' && ok.data.equals(Buffer.from('\0bob\0pw')));
  assert.equal(parseAuthenticateResponse(framedLine('not base64!')).kind, 'invalid');
});

test('a command that the framer split at literals must use them where they were announced', () => {
  // A literal marker at the end of a line that the grammar does not expect there.
  assert.equal(parseErr('a NOOP {3}\r\nabc').code, 'syntax');
  // A literal marker that is not at the cursor: the atom swallowed part of it.
  assert.equal(parseErr('a LOGIN x{3}\r\nabc').code, 'syntax');
  // literal8 where a plain string belongs.
  assert.equal(parseErr('a LOGIN ~{3}\r\nabc pw').code, 'syntax');
  const direct = parseCommand({ lines: [Buffer.from('a LOGIN {3}')], literals: [] });
  assert.ok(!direct.ok && direct.error.code === 'syntax', 'a marker without its literal');
});
