/**
 * Every example command of RFC 3501 (section 8's sample session and the
 * section 6 examples) parses, and the extension RFCs' examples parse to the
 * values they mean: UIDPLUS, MOVE, ENABLE, ID, LIST-EXTENDED, LIST-STATUS,
 * ESEARCH/SEARCHRES, CONDSTORE/QRESYNC, QUOTA, SASL-IR, BINARY, UTF8=ACCEPT.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOk, parseErr } from './helpers.js';
import { parseSequenceSet } from '../../../src/protocols/imap/wire/sequence-set.js';

const APPEND_MESSAGE = [
  'Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)',
  'From: Fred Foobar <foobar@Blurdybloop.COM>',
  'Subject: afternoon meeting',
  'To: mooch@owatagu.siam.edu',
  'Message-Id: <B27397-0100000@Blurdybloop.COM>',
  'MIME-Version: 1.0',
  'Content-Type: TEXT/PLAIN; CHARSET=US-ASCII',
  '',
  'Hello Joe, do you think we can meet at 3:30 tomorrow?',
  '',
].join('\r\n');

/** RFC 3501 command examples, section 8 first, then section 6 in order. */
const RFC3501_EXAMPLES: Array<[string, string]> = [
  ['a001 login mrc secret', 'LOGIN'],
  ['a002 select inbox', 'SELECT'],
  ['a003 fetch 12 full', 'FETCH'],
  ['a004 fetch 12 body[header]', 'FETCH'],
  ['a005 store 12 +flags \\deleted', 'STORE'],
  ['a006 logout', 'LOGOUT'],
  ['abcd CAPABILITY', 'CAPABILITY'],
  ['a002 NOOP', 'NOOP'],
  ['FXXZ CHECK', 'CHECK'],
  ['A023 LOGOUT', 'LOGOUT'],
  ['a001 STARTTLS', 'STARTTLS'],
  ['A001 AUTHENTICATE GSSAPI', 'AUTHENTICATE'],
  ['a001 LOGIN SMITH SESAME', 'LOGIN'],
  ['A142 SELECT INBOX', 'SELECT'],
  ['A932 EXAMINE blurdybloop', 'EXAMINE'],
  ['A003 CREATE owatagusiam/', 'CREATE'],
  ['A004 CREATE owatagusiam/blurdybloop', 'CREATE'],
  ['A682 LIST "" *', 'LIST'],
  ['A683 DELETE blurdybloop', 'DELETE'],
  ['A684 DELETE foo', 'DELETE'],
  ['A685 DELETE foo/bar', 'DELETE'],
  ['A686 LIST "" %', 'LIST'],
  ['A687 DELETE foo', 'DELETE'],
  ['A82 LIST "" *', 'LIST'],
  ['A683 RENAME blurdybloop sarasoop', 'RENAME'],
  ['A684 RENAME foo zowie', 'RENAME'],
  ['Z432 LIST "" *', 'LIST'],
  ['A002 SUBSCRIBE #news.comp.mail.mime', 'SUBSCRIBE'],
  ['A002 UNSUBSCRIBE #news.comp.mail.mime', 'UNSUBSCRIBE'],
  ['A101 LIST "" ""', 'LIST'],
  ['A102 LIST #news.comp.mail.misc ""', 'LIST'],
  ['A103 LIST /usr/staff/jones ""', 'LIST'],
  ['A202 LIST ~/Mail/ %', 'LIST'],
  ['A002 LSUB "#news." "comp.mail.*"', 'LSUB'],
  ['A003 LSUB "#news." "comp.%"', 'LSUB'],
  ['A042 STATUS blurdybloop (UIDNEXT MESSAGES)', 'STATUS'],
  [`A003 APPEND saved-messages (\\Seen) {${Buffer.byteLength(APPEND_MESSAGE)}}\r\n${APPEND_MESSAGE}`, 'APPEND'],
  ['A341 CLOSE', 'CLOSE'],
  ['A202 EXPUNGE', 'EXPUNGE'],
  ['A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"', 'SEARCH'],
  ['A283 SEARCH TEXT "string not in mailbox"', 'SEARCH'],
  ['A284 SEARCH CHARSET UTF-8 TEXT {6}\r\nXXXXXX', 'SEARCH'],
  ['A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])', 'FETCH'],
  ['A003 STORE 2:4 +FLAGS (\\Deleted)', 'STORE'],
  ['A003 COPY 2:4 MEETING', 'COPY'],
  ['A999 UID FETCH 4827313:4828442 FLAGS', 'FETCH'],
  ['a441 CAPABILITY', 'CAPABILITY'],
];

test('every RFC 3501 example command parses', () => {
  for (const [line, command] of RFC3501_EXAMPLES) {
    const request = parseOk(line);
    assert.equal(request.command, command, line);
  }
});

test('RFC 3501 6.5.1: an unknown command (XPIG-LATIN) is a typed error with its tag', () => {
  const error = parseErr('A442 XPIG-LATIN');
  assert.equal(error.code, 'unknown-command');
  assert.equal(error.tag, 'A442');
  assert.equal(error.status, 'BAD');
});

test('the sample session means what it says', () => {
  assert.deepEqual(parseOk('a001 login mrc secret'), { command: 'LOGIN', tag: 'a001', username: 'mrc', password: 'secret' });
  assert.deepEqual(parseOk('a002 select inbox'), { command: 'SELECT', tag: 'a002', mailbox: 'INBOX', condstore: false, qresync: null });
  const full = parseOk('a003 fetch 12 full');
  assert.ok(full.command === 'FETCH');
  assert.equal(full.macro, 'FULL');
  assert.deepEqual(full.attributes.map((a) => a.kind), ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY']);
  const header = parseOk('a004 fetch 12 body[header]');
  assert.ok(header.command === 'FETCH');
  assert.deepEqual(header.attributes, [{ kind: 'BODY[]', peek: false, section: { part: [], text: 'HEADER', fields: [] }, partial: null }]);
  assert.deepEqual(parseOk('a005 store 12 +flags \\deleted'), {
    command: 'STORE',
    tag: 'a005',
    uid: false,
    sequenceSet: parseSequenceSet('12'),
    unchangedSince: null,
    action: 'add',
    silent: false,
    flags: ['\\Deleted'],
  });
});

test('APPEND keeps the literal bytes exactly, with flags', () => {
  const request = parseOk(`A003 APPEND saved-messages (\\Seen) {${Buffer.byteLength(APPEND_MESSAGE)}}\r\n${APPEND_MESSAGE}`);
  assert.ok(request.command === 'APPEND');
  assert.equal(request.mailbox, 'saved-messages');
  assert.equal(request.messages.length, 1);
  assert.deepEqual(request.messages[0]!.flags, ['\\Seen']);
  assert.equal(request.messages[0]!.data.toString('latin1'), APPEND_MESSAGE);
  assert.equal(request.messages[0]!.internalDate, null);
});

test('APPEND with a date-time, MULTIAPPEND, literal8 and UTF8 (RFC 3502, 3516, 6855)', () => {
  const request = parseOk('A1 APPEND Drafts (\\Draft $Forwarded) " 7-Feb-1994 21:52:25 -0800" {3+}\r\nabc ~{2+}\r\n\0x UTF8 (~{2+}\r\nhi)');
  assert.ok(request.command === 'APPEND');
  assert.equal(request.messages.length, 3);
  const [first, second, third] = request.messages;
  assert.deepEqual(first!.flags, ['\\Draft', '$Forwarded']);
  assert.equal(first!.internalDate!.date.toISOString(), '1994-02-08T05:52:25.000Z');
  assert.equal(first!.internalDate!.zoneOffsetMinutes, -480);
  assert.ok(second!.binary && !second!.utf8 && second!.data.equals(Buffer.from('\0x', 'latin1')));
  assert.ok(third!.binary && third!.utf8 && third!.data.toString() === 'hi');
});

test('SEARCH examples build the right tree', () => {
  const request = parseOk('A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"');
  assert.ok(request.command === 'SEARCH');
  assert.deepEqual(request.criteria, {
    key: 'AND',
    operands: [{ key: 'FLAGGED' }, { key: 'SINCE', date: { year: 1994, month: 2, day: 1 } }, { key: 'NOT', operand: { key: 'FROM', value: 'Smith' } }],
  });
  const charset = parseOk('A284 SEARCH CHARSET UTF-8 TEXT {6}\r\nXXXXXX');
  assert.ok(charset.command === 'SEARCH');
  assert.equal(charset.charset, 'UTF-8');
  assert.deepEqual(charset.criteria.operands, [{ key: 'TEXT', value: 'XXXXXX' }]);
});

test('FETCH section example: HEADER.FIELDS with a field list', () => {
  const request = parseOk('A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])');
  assert.ok(request.command === 'FETCH');
  assert.deepEqual(request.attributes[1], { kind: 'BODY[]', peek: false, section: { part: [], text: 'HEADER.FIELDS', fields: ['DATE', 'FROM'] }, partial: null });
});

test('UIDPLUS and MOVE (RFC 4315, RFC 6851)', () => {
  const expunge = parseOk('A003 UID EXPUNGE 3000:3002');
  assert.deepEqual(expunge, { command: 'EXPUNGE', tag: 'A003', uids: parseSequenceSet('3000:3002') });
  const move = parseOk('a UID MOVE 42:69 foo');
  assert.deepEqual(move, { command: 'MOVE', tag: 'a', uid: true, sequenceSet: parseSequenceSet('42:69'), mailbox: 'foo' });
});

test('ENABLE and ID (RFC 5161, RFC 2971)', () => {
  assert.deepEqual(parseOk('t2 ENABLE CONDSTORE X-GOOD-IDEA'), { command: 'ENABLE', tag: 't2', capabilities: ['CONDSTORE', 'X-GOOD-IDEA'] });
  assert.deepEqual(parseOk('a023 ID ("name" "sodr" "version" "19.34" "vendor" "Pink Floyd Music Limited")'), {
    command: 'ID',
    tag: 'a023',
    parameters: [
      ['name', 'sodr'],
      ['version', '19.34'],
      ['vendor', 'Pink Floyd Music Limited'],
    ],
  });
  assert.deepEqual(parseOk('a ID NIL'), { command: 'ID', tag: 'a', parameters: null });
  assert.deepEqual(parseOk('a ID ("os" NIL)'), { command: 'ID', tag: 'a', parameters: [['os', null]] });
});

test('LIST-EXTENDED and LIST-STATUS (RFC 5258, RFC 5819, RFC 6154)', () => {
  const a = parseOk('A02 LIST (SUBSCRIBED) "" "*"');
  assert.ok(a.command === 'LIST' && a.extended && a.selection.subscribed && a.patterns[0] === '*');
  const b = parseOk('A03 LIST () "" "%" RETURN (CHILDREN)');
  assert.ok(b.command === 'LIST' && b.returns.children && !b.selection.subscribed);
  const c = parseOk('A04 LIST (REMOTE SUBSCRIBED RECURSIVEMATCH) "" ("Foo/*" "Bar/%")');
  assert.ok(c.command === 'LIST');
  assert.deepEqual(c.patterns, ['Foo/*', 'Bar/%']);
  assert.ok(c.selection.recursiveMatch && c.selection.remote);
  const d = parseOk('A01 LIST "" % RETURN (STATUS (MESSAGES UNSEEN))');
  assert.ok(d.command === 'LIST');
  assert.deepEqual(d.returns.status, ['MESSAGES', 'UNSEEN']);
  const e = parseOk('t1 LIST (SPECIAL-USE) "" "*" RETURN (SPECIAL-USE SUBSCRIBED)');
  assert.ok(e.command === 'LIST' && e.selection.specialUse && e.returns.specialUse && e.returns.subscribed);
  const plain = parseOk('A101 LIST "" ""');
  assert.ok(plain.command === 'LIST' && !plain.extended && plain.reference === '' && plain.patterns[0] === '');
  assert.deepEqual(parseOk('t CREATE MySpecial (USE (\\Drafts \\Sent))'), { command: 'CREATE', tag: 't', mailbox: 'MySpecial', specialUse: ['\\Drafts', '\\Sent'] });
});

test('ESEARCH and SEARCHRES (RFC 4731, RFC 5182)', () => {
  const a = parseOk('A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"');
  assert.ok(a.command === 'SEARCH');
  assert.deepEqual(a.returnOptions, ['MIN', 'COUNT']);
  const b = parseOk('A283 SEARCH RETURN () FLAGGED');
  assert.ok(b.command === 'SEARCH');
  assert.deepEqual(b.returnOptions, []);
  const c = parseOk('A301 UID SEARCH RETURN (SAVE) SINCE 28-Oct-2006 NOT 1:4');
  assert.ok(c.command === 'SEARCH' && c.uid);
  assert.deepEqual(c.returnOptions, ['SAVE']);
  const d = parseOk('A302 UID FETCH $ (FLAGS)');
  assert.ok(d.command === 'FETCH');
  assert.deepEqual(d.sequenceSet, { kind: 'saved' });
  const e = parseOk('A303 SEARCH UID $ SMALLER 4096');
  assert.ok(e.command === 'SEARCH');
  assert.deepEqual(e.criteria.operands, [
    { key: 'UID', set: { kind: 'saved' } },
    { key: 'SMALLER', size: 4096 },
  ]);
});

test('CONDSTORE and QRESYNC (RFC 7162 examples)', () => {
  assert.deepEqual(parseOk('a SELECT INBOX (CONDSTORE)'), { command: 'SELECT', tag: 'a', mailbox: 'INBOX', condstore: true, qresync: null });
  const f = parseOk('s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)');
  assert.ok(f.command === 'FETCH' && f.changedSince === 12345 && !f.vanished);
  const v = parseOk('s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)');
  assert.ok(v.command === 'FETCH' && v.vanished);
  const s = parseOk('a102 STORE 5 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)');
  assert.ok(s.command === 'STORE' && s.unchangedSince === 320162338 && s.silent && s.action === 'add');
  const q = parseOk('A160 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))');
  assert.ok(q.command === 'SELECT' && q.qresync);
  assert.equal(q.qresync.uidValidity, 67890007);
  assert.equal(q.qresync.modSeq, Number.MAX_SAFE_INTEGER, 'modseqs beyond 2^53 are clamped');
  assert.deepEqual(q.qresync.knownUids, parseSequenceSet('41,43:211,214:541'));
  const qm = parseOk('B160 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976:29979)))');
  assert.ok(qm.command === 'SELECT' && qm.qresync?.sequenceMatch);
  assert.deepEqual(qm.qresync.sequenceMatch.uids, parseSequenceSet('15000,22500,27000,29970,29973,29976:29979'));
  const qs = parseOk('A1 EXAMINE INBOX (QRESYNC (1 2 (3 4)))');
  assert.ok(qs.command === 'EXAMINE' && qs.qresync && qs.qresync.knownUids === null && qs.qresync.sequenceMatch !== null);
  const m = parseOk('a SEARCH MODSEQ "/flags/\\\\draft" all 620162338');
  assert.ok(m.command === 'SEARCH');
  assert.deepEqual(m.criteria.operands, [{ key: 'MODSEQ', modSeq: 620162338, entry: { name: '/flags/\\draft', type: 'all' } }]);
});

test('QUOTA (RFC 9208) and NAMESPACE, UNSELECT, IDLE', () => {
  assert.deepEqual(parseOk('G0001 GETQUOTA "!partition/sda4"'), { command: 'GETQUOTA', tag: 'G0001', root: '!partition/sda4' });
  assert.deepEqual(parseOk('A003 GETQUOTAROOT INBOX'), { command: 'GETQUOTAROOT', tag: 'A003', mailbox: 'INBOX' });
  assert.deepEqual(parseOk('S0000 SETQUOTA "#user/alice" (STORAGE 510)'), { command: 'SETQUOTA', tag: 'S0000', root: '#user/alice', limits: [{ resource: 'STORAGE', limit: 510 }] });
  assert.deepEqual(parseOk('S1 SETQUOTA "" ()'), { command: 'SETQUOTA', tag: 'S1', root: '', limits: [] });
  for (const c of ['NAMESPACE', 'UNSELECT', 'IDLE']) assert.equal(parseOk(`x ${c}`).command, c);
});

test('AUTHENTICATE with SASL-IR (RFC 4959)', () => {
  const plain = Buffer.from('\0alice\0secret');
  const a = parseOk(`a AUTHENTICATE PLAIN ${plain.toString('base64')}`);
  assert.ok(a.command === 'AUTHENTICATE' && a.mechanism === 'PLAIN' && a.initialResponse?.equals(plain));
  const empty = parseOk('a authenticate plain =');
  assert.ok(empty.command === 'AUTHENTICATE' && empty.initialResponse?.length === 0);
  assert.equal(parseErr('a AUTHENTICATE PLAIN AGFsaWNl!').code, 'syntax');
  assert.equal(parseErr('a AUTHENTICATE PLAIN AGF').code, 'syntax');
});

test('mailbox names: modified UTF-7 decoded, INBOX normalised, UTF-8 with UTF8=ACCEPT', () => {
  const a = parseOk('a SELECT "~peter/mail/&U,BTFw-/&ZeVnLIqe-"');
  assert.ok(a.command === 'SELECT' && a.mailbox === '~peter/mail/台北/日本語');
  const b = parseOk('a SELECT "Entwürfe"', { utf8Accept: true });
  assert.ok(b.command === 'SELECT' && b.mailbox === 'Entwürfe');
  const c = parseOk('a SELECT "Tom &- Jerry"', { utf8Accept: true });
  assert.ok(c.command === 'SELECT' && c.mailbox === 'Tom &- Jerry', 'no UTF-7 decoding under UTF8=ACCEPT');
  const d = parseOk('a COPY 1 iNbOx');
  assert.ok(d.command === 'COPY' && d.mailbox === 'INBOX');
  const e = parseOk('a CREATE inbox/Sub');
  assert.ok(e.command === 'CREATE' && e.mailbox === 'inbox/Sub', 'only the whole name INBOX is case-insensitive');
  assert.equal(parseErr('a SELECT "Entwürfe"').code, 'syntax', 'raw UTF-8 without UTF8=ACCEPT is not modified UTF-7');
  assert.equal(parseErr('a SELECT &AGE-').code, 'syntax');
});
