/**
 * Response encoding (RFC 3501 section 7 and 9): status lines with response
 * codes, continuation requests, string form choice (quoted or literal, with
 * UTF8=ACCEPT per RFC 6855), lists, sequence sets, and the RFC 3501 section
 * 8 FETCH response rebuilt from a JSON-like tree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  atom,
  canQuote,
  encodeChallenge,
  encodeContinuation,
  encodeFetch,
  encodeTagged,
  encodeUntagged,
  encodeUntaggedStatus,
  encodeValue,
  flagListValue,
  literal,
  mailboxValue,
  sequenceSetValue,
  type ImapValue,
} from '../../../src/protocols/imap/wire/encoder.js';
import { formatDateTime } from '../../../src/protocols/imap/wire/dates.js';
import { fetchResponseItemName } from '../../../src/protocols/imap/wire/fetch-attributes.js';

const str = (chunks: Buffer | Buffer[]) => (Array.isArray(chunks) ? Buffer.concat(chunks) : chunks).toString('utf8');

test('tagged and untagged status lines, with and without response codes', () => {
  assert.equal(str(encodeTagged('a001', 'OK', 'LOGIN completed')), 'a001 OK LOGIN completed\r\n');
  assert.equal(str(encodeTagged('A142', 'OK', 'SELECT completed', { name: 'READ-WRITE' })), 'A142 OK [READ-WRITE] SELECT completed\r\n');
  assert.equal(str(encodeUntaggedStatus('OK', 'Predicted next UID', { name: 'UIDNEXT', args: [4392] })), '* OK [UIDNEXT 4392] Predicted next UID\r\n');
  assert.equal(
    str(encodeUntaggedStatus('OK', 'Limited', { name: 'PERMANENTFLAGS', args: [flagListValue(['\\Deleted', '\\Seen', '\\*'])] })),
    '* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n',
  );
  assert.equal(
    str(encodeTagged('A003', 'OK', 'Done', { name: 'COPYUID', args: [38505, sequenceSetValue([304, 319, 320]), sequenceSetValue([3956, 3957, 3958])] })),
    'A003 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n',
  );
  assert.equal(str(encodeTagged('t', 'NO', 'bad charset', { name: 'BADCHARSET', args: [[atom('US-ASCII'), atom('UTF-8')]] })), 't NO [BADCHARSET (US-ASCII UTF-8)] bad charset\r\n');
  assert.equal(str(encodeUntaggedStatus('BYE', 'Autologout; idle for too long')), '* BYE Autologout; idle for too long\r\n');
});

test('response text cannot break the line: CR, LF and NUL are replaced, empty text is filled', () => {
  assert.equal(str(encodeTagged('a', 'BAD', 'evil\r\n* OK injected\0')), 'a BAD evil * OK injected\r\n');
  assert.equal(str(encodeTagged('a', 'OK', '')), 'a OK done\r\n');
});

test('continuations and SASL challenges', () => {
  assert.equal(str(encodeContinuation()), '+ go ahead\r\n');
  assert.equal(str(encodeContinuation('idling')), '+ idling\r\n');
  assert.equal(str(encodeChallenge(Buffer.alloc(0))), '+ \r\n');
  assert.equal(str(encodeChallenge(Buffer.from('abc'))), '+ YWJj\r\n');
});

test('untagged data lines', () => {
  assert.equal(str(encodeUntagged([172, atom('EXISTS')])), '* 172 EXISTS\r\n');
  assert.equal(str(encodeUntagged([atom('SEARCH'), 2, 84, 882])), '* SEARCH 2 84 882\r\n');
  assert.equal(str(encodeUntagged([atom('LIST'), [atom('\\Noselect')], '/', mailboxValue('foo/台北', false)])), '* LIST (\\Noselect) "/" "foo/&U,BTFw-"\r\n');
  assert.equal(str(encodeUntagged([atom('LIST'), [], '/', mailboxValue('台北', true)], { utf8: true })), '* LIST () "/" "台北"\r\n');
  assert.equal(str(encodeUntagged([atom('STATUS'), 'blurdybloop', [atom('MESSAGES'), 231, atom('UIDNEXT'), 44292]])), '* STATUS "blurdybloop" (MESSAGES 231 UIDNEXT 44292)\r\n');
  assert.equal(str(encodeUntagged([atom('ID'), null])), '* ID NIL\r\n');
  assert.equal(str(encodeUntagged([atom('VANISHED'), atom('(EARLIER)'), sequenceSetValue([41, 43, 44, 45, 47])])), '* VANISHED (EARLIER) 41,43:45,47\r\n');
});

test('strings: quoted when safe, escaped; literal for CR, LF, NUL and 8-bit unless UTF8=ACCEPT', () => {
  const cases: Array<[ImapValue, boolean, string | Buffer]> = [
    ['plain', false, '"plain"'],
    ['', false, '""'],
    ['say "hi" \\ bye', false, '"say \\"hi\\" \\\\ bye"'],
    ['two\r\nlines', false, '{10}\r\ntwo\r\nlines'],
    ['nul\0', false, '{4}\r\nnul\0'],
    ['Grüße', false, `{${Buffer.byteLength('Grüße')}}\r\nGrüße`],
    ['Grüße', true, '"Grüße"'],
    [Buffer.from([0x61, 0xff]), true, Buffer.from('{2}\r\na\xff', 'latin1')],
    [Buffer.from('bytes'), false, '"bytes"'],
    [literal('forced'), false, '{6}\r\nforced'],
    [literal(Buffer.from([0, 1]), true), false, Buffer.from('~{2}\r\n\0\x01', 'latin1')],
    [null, false, 'NIL'],
    [0, false, '0'],
    [4294967295, false, '4294967295'],
    [12345678901234567890n, false, '12345678901234567890'],
    [[], false, '()'],
    [[1, [2, [3, null]], 'x'], false, '(1 (2 (3 NIL)) "x")'],
  ];
  for (const [value, utf8, expected] of cases) {
    const bytes = Buffer.isBuffer(expected) ? expected : Buffer.from(expected, 'utf8');
    assert.deepEqual(encodeValue(value, { utf8 }), bytes, JSON.stringify(String(expected)));
  }
  assert.ok(canQuote(Buffer.from('x'), false));
  assert.ok(!canQuote(Buffer.from('\n'), true));
});

test('values that would break the line or are not IMAP numbers are programming errors, reported at once', () => {
  assert.throws(() => atom('$x\r\n* BYE'), RangeError);
  assert.throws(() => encodeValue(-1), RangeError);
  assert.throws(() => encodeValue(1.5), RangeError);
  assert.throws(() => encodeValue(-1n), RangeError);
});

test('RFC 3501 section 8: the FETCH FULL response, from a JSON-like tree', () => {
  const gray = [['Terry Gray', null, 'gray', 'cac.washington.edu']];
  const envelope: ImapValue = [
    'Wed, 17 Jul 1996 02:23:25 -0700 (PDT)',
    'IMAP4rev1 WG mtg summary and minutes',
    gray,
    gray,
    gray,
    [[null, null, 'imap', 'cac.washington.edu']],
    [
      [null, null, 'minutes', 'CNRI.Reston.VA.US'],
      ['John Klensin', null, 'KLENSIN', 'MIT.EDU'],
    ],
    null,
    null,
    '<B27397-0100000@cac.washington.edu>',
  ];
  const body: ImapValue = ['TEXT', 'PLAIN', ['CHARSET', 'US-ASCII'], null, null, '7BIT', 3028, 92];
  const internalDate = new Date('1996-07-17T09:44:25Z');
  const chunks = encodeFetch(12, [
    ['FLAGS', flagListValue(['\\Seen'])],
    ['INTERNALDATE', formatDateTime(internalDate, -420)],
    ['RFC822.SIZE', 4286],
    ['ENVELOPE', envelope],
    ['BODY', body],
  ]);
  assert.equal(
    str(chunks),
    '* 12 FETCH (FLAGS (\\Seen) INTERNALDATE "17-Jul-1996 02:44:25 -0700" RFC822.SIZE 4286 ENVELOPE ("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) ((NIL NIL "minutes" "CNRI.Reston.VA.US") ("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL "<B27397-0100000@cac.washington.edu>") BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92))\r\n',
  );
});

test('a body literal in a FETCH response is passed through without a copy', () => {
  const message = Buffer.alloc(100_000, 0x78);
  const chunks = encodeFetch(1, [
    ['UID', 7],
    [fetchResponseItemName({ kind: 'BODY[]', peek: true, section: { part: [], text: null, fields: [] }, partial: null }), literal(message)],
  ]);
  assert.ok(chunks.includes(message), 'the same Buffer object is in the output');
  const text = str(chunks);
  assert.ok(text.startsWith('* 1 FETCH (UID 7 BODY[] {100000}\r\nxxx'));
  assert.ok(text.endsWith('xxx)\r\n'));
});

test('INTERNALDATE formatting pads the day with a space and writes the zone', () => {
  assert.equal(formatDateTime(new Date('2024-03-05T00:00:00Z')), ' 5-Mar-2024 00:00:00 +0000');
  assert.equal(formatDateTime(new Date('2024-03-05T00:00:00Z'), 330), ' 5-Mar-2024 05:30:00 +0530');
  assert.equal(formatDateTime(new Date('2024-03-05T00:00:00Z'), -90), ' 4-Mar-2024 22:30:00 -0130');
});
