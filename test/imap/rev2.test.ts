/**
 * IMAP4rev2 (RFC 9051) for sessions that ENABLE it, driven over raw
 * sockets so every response can be checked exactly: both revisions
 * announced, `* ENABLED IMAP4rev2`, SELECT without RECENT and [UNSEEN] but
 * with the mailbox's LIST response, SEARCH answered with ESEARCH, SEARCHRES
 * ("$"), STATUS SIZE and DELETED, UTF-8 mailbox names and quoted strings,
 * \NonExistent, the response codes rev2 names (CLOSED, NONEXISTENT,
 * ALREADYEXISTS, TRYCREATE), EXPUNGE and MOVE, FETCH BINARY, NAMESPACE,
 * LSUB still answered, non-synchronising literals; and IMAP4rev1 sessions
 * on the same server, unchanged. imapflow enables IMAP4rev2 on its own when
 * it is announced, so it is the real-client check.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { flow, message, RawClient, startImap, type ImapHarness } from './support.js';

const USERS = ['ann', 'ben', 'cat', 'dan', 'eve', 'fay', 'gus', 'hal', 'ivy', 'joe', 'kim'];

/** Logs in and enables IMAP4rev2, checking the ENABLED answer. */
async function rev2(port: number, user: string): Promise<RawClient> {
  const c = await RawClient.login(port, `${user}@example.test`);
  const enabled = await c.command('ENABLE IMAP4rev2');
  assert.deepEqual(enabled.untagged, ['* ENABLED IMAP4rev2']);
  assert.match(enabled.tagged, /^t\d+ OK /);
  return c;
}

/** Untagged lines with the variable numbers (UIDVALIDITY, HIGHESTMODSEQ) replaced by "N". */
function normalised(lines: readonly string[]): string[] {
  return lines.map((l) => l.replace(/\[(UIDVALIDITY|HIGHESTMODSEQ) \d+\]/, '[$1 N]'));
}

describe('IMAP4rev2', () => {
  let h: ImapHarness;
  before(async () => {
    h = await startImap({ users: Object.fromEntries(USERS.map((u) => [`${u}@example.test`, 'secret'])) });
  });
  after(async () => h.close());

  it('announces IMAP4rev2 beside IMAP4rev1 and answers ENABLE with ENABLED IMAP4rev2', async () => {
    const c = await RawClient.open(h.port, { greeting: false });
    assert.match(await c.line(), /^\* OK \[CAPABILITY IMAP4rev1 IMAP4rev2 /);
    assert.match((await c.command('CAPABILITY')).untagged[0]!, /^\* CAPABILITY IMAP4rev1 IMAP4rev2 /);
    // ENABLE needs a login.
    assert.match((await c.command('ENABLE IMAP4rev2')).tagged, /^t\d+ BAD /);
    const login = await c.command('LOGIN ann@example.test secret');
    assert.match(login.tagged, /^t\d+ OK \[CAPABILITY IMAP4rev1 IMAP4rev2 .*ENABLE/);
    // Capability names are case-insensitive; the answer uses the registered spelling.
    assert.deepEqual((await c.command('ENABLE imap4REV2')).untagged, ['* ENABLED IMAP4rev2']);
    // Only what a command newly enables is listed.
    assert.deepEqual((await c.command('ENABLE IMAP4rev2 CONDSTORE')).untagged, ['* ENABLED CONDSTORE']);
    assert.deepEqual((await c.command('ENABLE IMAP4rev2')).untagged, ['* ENABLED']);
    c.end();
  });

  it('answers SELECT and EXAMINE without RECENT or [UNSEEN], with the mailbox LIST response', async () => {
    await h.deliver('ben@example.test', message('one'), { flags: ['\\Seen'] });
    await h.deliver('ben@example.test', message('two'), { flags: ['$Important'] });
    const c = await rev2(h.port, 'ben');
    const s = await c.command('SELECT INBOX');
    assert.deepEqual(normalised(s.untagged), [
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Important)',
      '* 2 EXISTS',
      '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Important \\*)] flags that can be changed permanently',
      '* OK [UIDVALIDITY N] UIDs valid',
      '* OK [UIDNEXT 3] predicted next UID',
      '* OK [HIGHESTMODSEQ N] highest modseq',
      '* LIST (\\HasNoChildren) "/" "INBOX"',
    ]);
    assert.match(s.tagged, /^t\d+ OK \[READ-WRITE\] /);
    // The attributes are accurate: children and special use are shown.
    assert.match((await c.command('CREATE Sent/2024')).tagged, /^t\d+ OK /);
    const e = await c.command('EXAMINE Sent');
    assert.deepEqual(normalised(e.untagged), [
      '* OK [CLOSED] previous mailbox closed',
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)',
      '* 0 EXISTS',
      '* OK [PERMANENTFLAGS ()] no permanent flags in a read-only mailbox',
      '* OK [UIDVALIDITY N] UIDs valid',
      '* OK [UIDNEXT 1] predicted next UID',
      '* OK [HIGHESTMODSEQ N] highest modseq',
      '* LIST (\\HasChildren \\Sent) "/" "Sent"',
    ]);
    assert.match(e.tagged, /^t\d+ OK \[READ-ONLY\] /);
    // A failed SELECT: NONEXISTENT, and no mailbox is selected any more.
    const missing = await c.command('SELECT Nowhere');
    assert.deepEqual(missing.untagged, ['* OK [CLOSED] previous mailbox closed']);
    assert.match(missing.tagged, /^t\d+ NO \[NONEXISTENT\] /);
    assert.match((await c.command('FETCH 1 FLAGS')).tagged, /^t\d+ BAD /);
    // Selecting from the authenticated state closes nothing.
    assert.ok(!(await c.command('SELECT INBOX')).untagged.some((l) => l.includes('[CLOSED]')));
    c.end();
  });

  it('answers SEARCH and UID SEARCH with ESEARCH, ALL when no RETURN is given', async () => {
    for (const subject of ['alpha', 'beta', 'gamma', 'delta']) await h.deliver('cat@example.test', message(subject));
    const c = await rev2(h.port, 'cat');
    await c.command('SELECT INBOX');
    await c.command('STORE 2,4 +FLAGS.SILENT (\\Seen)');
    let a = await c.command('SEARCH UNSEEN');
    assert.deepEqual(a.untagged, [`* ESEARCH (TAG "${a.tagged.split(' ')[0]}") ALL 1,3`]);
    a = await c.command('UID SEARCH SEEN');
    assert.deepEqual(a.untagged, [`* ESEARCH (TAG "${a.tagged.split(' ')[0]}") UID ALL 2,4`]);
    a = await c.command('SEARCH ALL');
    assert.deepEqual(a.untagged, [`* ESEARCH (TAG "${a.tagged.split(' ')[0]}") ALL 1:4`]);
    // No match: the correlator alone (and UID for UID SEARCH).
    a = await c.command('SEARCH SUBJECT nothing-like-this');
    assert.deepEqual(a.untagged, [`* ESEARCH (TAG "${a.tagged.split(' ')[0]}")`]);
    a = await c.command('UID SEARCH SUBJECT nothing-like-this');
    assert.deepEqual(a.untagged, [`* ESEARCH (TAG "${a.tagged.split(' ')[0]}") UID`]);
    a = await c.command('SEARCH RETURN (MIN MAX COUNT) ALL');
    assert.deepEqual(a.untagged, [`* ESEARCH (TAG "${a.tagged.split(' ')[0]}") MIN 1 MAX 4 COUNT 4`]);
    a = await c.command('UID SEARCH RETURN (COUNT) SUBJECT a');
    assert.deepEqual(a.untagged, [`* ESEARCH (TAG "${a.tagged.split(' ')[0]}") UID COUNT 4`]);
    assert.match((await c.command('SEARCH CHARSET KOI8-R ALL')).tagged, /^t\d+ NO \[BADCHARSET \(US-ASCII UTF-8\)\] /);
    c.end();
  });

  it('saves search results for "$" (SEARCHRES) and empties them when a saving SEARCH fails', async () => {
    for (const subject of ['one', 'two', 'three']) await h.deliver('dan@example.test', message(subject));
    const c = await rev2(h.port, 'dan');
    await c.command('SELECT INBOX');
    // Before any SAVE, "$" is empty.
    assert.deepEqual((await c.command('FETCH $ (UID)')).untagged, []);
    // SAVE alone returns nothing.
    assert.deepEqual((await c.command('SEARCH RETURN (SAVE) SUBJECT t')).untagged, []);
    assert.deepEqual((await c.command('FETCH $ (UID)')).untagged, ['* 2 FETCH (UID 2)', '* 3 FETCH (UID 3)']);
    // "$" in a search, and with other options the ESEARCH answer still comes.
    let a = await c.command('UID SEARCH RETURN (SAVE MIN) UID $ NOT SUBJECT three');
    assert.deepEqual(a.untagged, [`* ESEARCH (TAG "${a.tagged.split(' ')[0]}") UID MIN 2`]);
    assert.deepEqual((await c.command('UID FETCH $ (FLAGS)')).untagged, ['* 2 FETCH (UID 2 FLAGS ())']);
    assert.match((await c.command('STORE $ +FLAGS (\\Flagged)')).untagged[0]!, /^\* 2 FETCH \(FLAGS \(\\Flagged\)\)$/);
    // A SEARCH with SAVE that fails with NO empties the saved result (RFC 5182 2.1).
    assert.match((await c.command('SEARCH RETURN (SAVE) CHARSET KOI8-R ALL')).tagged, /^t\d+ NO \[BADCHARSET/);
    assert.deepEqual((await c.command('FETCH $ (UID)')).untagged, []);
    // One that fails with BAD leaves it alone.
    await c.command('SEARCH RETURN (SAVE) ALL');
    assert.match((await c.command('SEARCH RETURN (SAVE) NOSUCHKEY')).tagged, /^t\d+ BAD /);
    assert.equal((await c.command('FETCH $ (UID)')).untagged.length, 3);
    // SELECT starts with an empty result.
    await c.command('SELECT INBOX');
    assert.deepEqual((await c.command('FETCH $ (UID)')).untagged, []);
    c.end();
  });

  it('answers STATUS with SIZE and DELETED', async () => {
    const one = message('sized one');
    const two = message('sized two', 'A longer body than the first one.\r\n');
    await h.deliver('eve@example.test', one);
    await h.deliver('eve@example.test', two, { flags: ['\\Deleted'] });
    const c = await rev2(h.port, 'eve');
    const size = Buffer.byteLength(one) + Buffer.byteLength(two);
    assert.deepEqual((await c.command('STATUS INBOX (MESSAGES SIZE DELETED UNSEEN UIDNEXT)')).untagged, [
      `* STATUS "INBOX" (MESSAGES 2 SIZE ${size} DELETED 1 UNSEEN 2 UIDNEXT 3)`,
    ]);
    assert.match((await c.command('STATUS Nowhere (MESSAGES)')).tagged, /^t\d+ NO \[NONEXISTENT\] /);
    c.end();
  });

  it('uses UTF-8 mailbox names, and refuses names that are not in normalization form C', async () => {
    const c = await rev2(h.port, 'fay');
    assert.match((await c.command('CREATE "Entwürfe/Küche"')).tagged, /^t\d+ OK /);
    // "&" is an ordinary character in a UTF-8 name, not the start of modified UTF-7.
    assert.match((await c.command('CREATE "R&D"')).tagged, /^t\d+ OK /);
    assert.deepEqual((await c.command('LIST "" "Entw*"')).untagged, ['* LIST (\\HasChildren) "/" "Entwürfe"', '* LIST (\\HasNoChildren) "/" "Entwürfe/Küche"']);
    assert.deepEqual((await c.command('LIST "" "R*"')).untagged, ['* LIST (\\HasNoChildren) "/" "R&D"']);
    assert.deepEqual(normalised((await c.command('SELECT "Entwürfe/Küche"')).untagged).slice(-1), ['* LIST (\\HasNoChildren) "/" "Entwürfe/Küche"']);
    assert.deepEqual((await c.command('STATUS "Entwürfe" (MESSAGES)')).untagged, ['* STATUS "Entwürfe" (MESSAGES 0)']);
    await c.command('SUBSCRIBE "Entwürfe"');
    // LSUB is deprecated in IMAP4rev2 but still answered.
    assert.deepEqual((await c.command('LSUB "" "Entw%"')).untagged, ['* LSUB () "/" "Entwürfe"']);
    // "é" as e + U+0301 (NFD) is refused; the NFC spelling is accepted.
    assert.match((await c.command('CREATE "Cafe\u0301"')).tagged, /^t\d+ NO \[CANNOT\] .*normalization form C/);
    assert.match((await c.command('RENAME "R&D" "Cafe\u0301"')).tagged, /^t\d+ NO \[CANNOT\] /);
    assert.match((await c.command('CREATE "Caf\u00e9"')).tagged, /^t\d+ OK /);
    c.end();
    // An IMAP4rev1 session sees the same mailboxes in modified UTF-7.
    const old = await RawClient.login(h.port, 'fay@example.test');
    assert.deepEqual((await old.command('LIST "" "Entw*"')).untagged, ['* LIST (\\HasChildren) "/" "Entw&APw-rfe"', '* LIST (\\HasNoChildren) "/" "Entw&APw-rfe/K&APw-che"']);
    assert.deepEqual((await old.command('LIST "" "R*"')).untagged, ['* LIST (\\HasNoChildren) "/" "R&-D"']);
    assert.match((await old.command('CREATE "R&D2"')).tagged, /^t\d+ BAD .*modified UTF-7/);
    old.end();
  });

  it('sends UTF-8 in quoted strings only to IMAP4rev2 sessions', async () => {
    await h.deliver('gus@example.test', Buffer.from('From: a@example.org\r\nSubject: Grüße\r\n\r\nHi\r\n', 'utf8'));
    const old = await RawClient.login(h.port, 'gus@example.test');
    await old.command('EXAMINE INBOX');
    const rev1 = (await old.command('FETCH 1 (ENVELOPE)')).untagged[0]!;
    assert.ok(rev1.includes(`{${Buffer.byteLength('Grüße')}}\r\nGrüße`), rev1);
    old.end();
    const c = await rev2(h.port, 'gus');
    await c.command('EXAMINE INBOX');
    const fetched = (await c.command('FETCH 1 (ENVELOPE)')).untagged[0]!;
    assert.match(fetched, /^\* 1 FETCH \(ENVELOPE \(NIL "Grüße" /);
    // UTF-8 quoted strings are part of the rev2 grammar in commands too.
    const found = await c.command('SEARCH SUBJECT "grüße"');
    assert.deepEqual(found.untagged, [`* ESEARCH (TAG "${found.tagged.split(' ')[0]}") ALL 1`]);
    c.end();
  });

  it('lists parents that are not mailboxes as \\NonExistent', async () => {
    const user = (await h.store.directory.getUser('hal@example.test'))!;
    await h.store.mail.createMailbox(user.id, 'Ghost/Child');
    const old = await RawClient.login(h.port, 'hal@example.test');
    assert.deepEqual((await old.command('LIST "" "Ghost"')).untagged, ['* LIST (\\Noselect \\HasChildren) "/" "Ghost"']);
    old.end();
    const c = await rev2(h.port, 'hal');
    assert.deepEqual((await c.command('LIST "" "Ghost"')).untagged, ['* LIST (\\NonExistent \\HasChildren) "/" "Ghost"']);
    assert.deepEqual((await c.command('LIST "" "Ghost/%"')).untagged, ['* LIST (\\HasNoChildren) "/" "Ghost/Child"']);
    assert.deepEqual((await c.command('LIST "" ""')).untagged, ['* LIST (\\Noselect) "/" ""']);
    assert.match((await c.command('SELECT Ghost')).tagged, /^t\d+ NO \[NONEXISTENT\] /);
    c.end();
  });

  it('answers with the response codes IMAP4rev2 names', async () => {
    await h.deliver('ivy@example.test', message('coded'));
    const c = await rev2(h.port, 'ivy');
    assert.match((await c.command('CREATE Projects')).tagged, /^t\d+ OK /);
    assert.match((await c.command('CREATE Projects')).tagged, /^t\d+ NO \[ALREADYEXISTS\] /);
    assert.match((await c.command('CREATE inbox')).tagged, /^t\d+ NO \[ALREADYEXISTS\] /);
    assert.match((await c.command('RENAME Projects Trash')).tagged, /^t\d+ NO \[ALREADYEXISTS\] /);
    assert.match((await c.command('DELETE Nowhere')).tagged, /^t\d+ NO \[NONEXISTENT\] /);
    assert.match((await c.command('RENAME Nowhere Elsewhere')).tagged, /^t\d+ NO \[NONEXISTENT\] /);
    assert.match((await c.command('CREATE Projects/Old')).tagged, /^t\d+ OK /);
    assert.match((await c.command('DELETE Projects')).tagged, /^t\d+ NO \[HASCHILDREN\] /);
    await c.command('SELECT INBOX');
    assert.match((await c.command('COPY 1 Nowhere')).tagged, /^t\d+ NO \[TRYCREATE\] /);
    assert.match((await c.command('MOVE 1 Nowhere')).tagged, /^t\d+ NO \[TRYCREATE\] /);
    c.write('a1 APPEND Nowhere {5}\r\n');
    assert.match(await c.line(), /^a1 NO \[TRYCREATE\] /);
    c.end();
  });

  it('reports EXPUNGE, MOVE and UNSELECT as IMAP4rev1 does, and FETCH without \\Recent, with BINARY', async () => {
    for (let i = 1; i <= 4; i++) await h.deliver('joe@example.test', message(`m${i}`));
    await h.deliver('joe@example.test', 'Subject: encoded\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nSGVsbG8gd29ybGQ=\r\n');
    const c = await rev2(h.port, 'joe');
    await c.command('SELECT INBOX');
    assert.deepEqual((await c.command('FETCH 1:2 (UID FLAGS)')).untagged, ['* 1 FETCH (UID 1 FLAGS ())', '* 2 FETCH (UID 2 FLAGS ())']);
    // BINARY is part of IMAP4rev2's FETCH: the transfer encoding is removed; BINARY.PEEK leaves \Seen alone.
    assert.deepEqual((await c.command('FETCH 5 (BINARY.SIZE[1] BINARY.PEEK[1])')).untagged, ['* 5 FETCH (BINARY.SIZE[1] 11 BINARY[1] {11}\r\nHello world)']);
    assert.deepEqual((await c.command('FETCH 5 (FLAGS)')).untagged, ['* 5 FETCH (FLAGS ())']);
    assert.deepEqual((await c.command('FETCH 5 (BINARY[1]<6.5>)')).untagged, ['* 5 FETCH (BINARY[1]<6> {5}\r\nworld FLAGS (\\Seen))']);
    await c.command('STORE 1,3 +FLAGS.SILENT (\\Deleted)');
    const ex = await c.command('EXPUNGE');
    // Highest first, so each number is right when it is read.
    assert.deepEqual(ex.untagged, ['* 3 EXPUNGE', '* 1 EXPUNGE']);
    const mv = await c.command('MOVE 1 Trash');
    assert.match(mv.untagged[0]!, /^\* OK \[COPYUID \d+ 2 1\] /);
    assert.deepEqual(mv.untagged.slice(1), ['* 1 EXPUNGE']);
    // UIDPLUS is part of IMAP4rev2: UID EXPUNGE removes only the UIDs named.
    await c.command('STORE 1:2 +FLAGS.SILENT (\\Deleted)');
    assert.deepEqual((await c.command('UID FETCH 1:* (UID)')).untagged, ['* 1 FETCH (UID 4)', '* 2 FETCH (UID 5)']);
    assert.deepEqual((await c.command('UID EXPUNGE 5')).untagged, ['* 2 EXPUNGE']);
    assert.deepEqual((await c.command('NAMESPACE')).untagged, ['* NAMESPACE (("" "/")) NIL NIL']);
    const un = await c.command('UNSELECT');
    assert.deepEqual(un.untagged, []);
    assert.match(un.tagged, /^t\d+ OK /);
    c.end();
  });

  it('accepts non-synchronising literals (LITERAL+, a superset of rev2 LITERAL-)', async () => {
    const c = await rev2(h.port, 'kim');
    const body = 'Subject: literal\r\n\r\nbody\r\n';
    c.write(`a1 APPEND INBOX {${Buffer.byteLength(body)}+}\r\n${body}\r\n`);
    assert.match((await c.answer('a1')).tagged, /^a1 OK \[APPENDUID \d+ 1\] /);
    c.write(`a2 CREATE {4+}\r\nLit2\r\n`);
    assert.match((await c.answer('a2')).tagged, /^a2 OK /);
    c.end();
  });

  it('leaves IMAP4rev1 sessions as they were', async () => {
    const c = await RawClient.login(h.port, 'cat@example.test');
    const s = await c.command('SELECT INBOX');
    assert.ok(s.untagged.includes('* 0 RECENT'), s.untagged.join('\n'));
    assert.ok(s.untagged.some((l) => /^\* OK \[UNSEEN 1\]/.test(l)), s.untagged.join('\n'));
    assert.ok(!s.untagged.some((l) => l.startsWith('* LIST')), s.untagged.join('\n'));
    assert.deepEqual((await c.command('SEARCH UNSEEN')).untagged, ['* SEARCH 1 3']);
    assert.deepEqual((await c.command('UID SEARCH SEEN')).untagged, ['* SEARCH 2 4']);
    c.end();
  });

  it('is enabled and used by imapflow', async () => {
    const f = await flow(h.port, { user: 'cat@example.test' });
    try {
      assert.ok(f.enabled.has('IMAP4REV2'), [...f.enabled].join(' '));
      await f.mailboxOpen('INBOX');
      assert.deepEqual(await f.search({ seen: false }), [1, 3]);
      assert.deepEqual(await f.search({ seen: true }, { uid: true }), [2, 4]);
      assert.deepEqual(await f.search({ subject: 'nothing-like-this' }), []);
      const status = await f.status('INBOX', { messages: true, unseen: true });
      assert.ok(status);
      assert.equal(status.messages, 4);
      assert.equal(status.unseen, 2);
      await f.mailboxCreate('Größe');
      assert.ok((await f.list()).some((m) => m.path === 'Größe'));
    } finally {
      await f.logout();
    }
  });
});
