/**
 * Mailbox commands: SELECT/EXAMINE responses, CREATE (with parents and
 * special use), DELETE, RENAME (with children, INBOX), SUBSCRIBE, LIST
 * (plain, extended, STATUS, SPECIAL-USE), LSUB, STATUS, NAMESPACE, and the
 * name policy (no empty levels, no control characters, modified UTF-7).
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { python } from '../helpers/clients.js';
import { flow, message, RawClient, startImap, type ImapHarness } from './support.js';

describe('IMAP mailboxes', () => {
  let h: ImapHarness;
  before(async () => {
    h = await startImap();
    await h.deliver('alice@example.test', message('one'), { flags: ['\\Seen'] });
    await h.deliver('alice@example.test', message('two'), { flags: ['$Important'] });
  });
  after(async () => h.close());

  it('answers SELECT with FLAGS, EXISTS, UIDVALIDITY, UIDNEXT, UNSEEN, HIGHESTMODSEQ and READ-WRITE', async () => {
    const c = await RawClient.login(h.port);
    const a = await c.command('SELECT INBOX');
    const text = a.untagged.join('\n');
    assert.match(text, /^\* FLAGS \(\\Answered \\Flagged \\Deleted \\Seen \\Draft \$Important\)$/m);
    assert.match(text, /^\* 2 EXISTS$/m);
    assert.match(text, /^\* 0 RECENT$/m);
    assert.match(text, /^\* OK \[UNSEEN 2\]/m);
    assert.match(text, /^\* OK \[PERMANENTFLAGS \(.*\\\*\)\]/m);
    assert.match(text, /^\* OK \[UIDVALIDITY \d+\]/m);
    assert.match(text, /^\* OK \[UIDNEXT 3\]/m);
    assert.match(text, /^\* OK \[HIGHESTMODSEQ \d+\]/m);
    assert.match(a.tagged, /^t\d+ OK \[READ-WRITE\]/);
    const e = await c.command('EXAMINE INBOX');
    assert.match(e.untagged[0]!, /^\* OK \[CLOSED\]/);
    assert.match(e.tagged, /^t\d+ OK \[READ-ONLY\]/);
    assert.match((await c.command('STORE 1 +FLAGS (\\Deleted)')).tagged, /^t\d+ NO \[READ-ONLY\]/);
    const missing = await c.command('SELECT Nowhere');
    assert.match(missing.tagged, /^t\d+ NO \[NONEXISTENT\]/);
    // A failed SELECT leaves no mailbox selected.
    assert.match((await c.command('FETCH 1 FLAGS')).tagged, /^t\d+ BAD .*SELECT first/);
    c.end();
  });

  it('creates, lists, renames and deletes mailboxes', async () => {
    const c = await flow(h.port);
    await c.mailboxCreate('Projects/Rookery/Notes');
    let names = (await c.list()).map((m) => m.path);
    assert.ok(names.includes('Projects'));
    assert.ok(names.includes('Projects/Rookery'));
    assert.ok(names.includes('Projects/Rookery/Notes'));
    await c.mailboxRename('Projects', 'Work/Projects');
    names = (await c.list()).map((m) => m.path);
    assert.ok(names.includes('Work/Projects/Rookery/Notes'));
    assert.ok(!names.includes('Projects'));
    await assert.rejects(c.mailboxDelete('Work/Projects'));
    await c.mailboxDelete('Work/Projects/Rookery/Notes');
    await c.mailboxDelete('Work/Projects/Rookery');
    names = (await c.list()).map((m) => m.path);
    assert.ok(!names.includes('Work/Projects/Rookery'));
    await c.logout();
  });

  it('answers DELETE of INBOX, of a parent and of a missing mailbox with response codes', async () => {
    const c = await RawClient.login(h.port);
    assert.match((await c.command('DELETE INBOX')).tagged, /NO \[CANNOT\]/);
    await c.command('CREATE Parent/Child');
    assert.match((await c.command('DELETE Parent')).tagged, /NO \[HASCHILDREN\]/);
    assert.match((await c.command('DELETE Nothing')).tagged, /NO \[NONEXISTENT\]/);
    assert.match((await c.command('CREATE Parent')).tagged, /NO \[ALREADYEXISTS\]/);
    assert.match((await c.command('CREATE INBOX')).tagged, /NO \[ALREADYEXISTS\]/);
    assert.match((await c.command('RENAME Parent/Child Parent')).tagged, /NO \[ALREADYEXISTS\]/);
    c.end();
  });

  it('refuses bad names: empty levels, control characters, wildcards, dot levels', async () => {
    const c = await RawClient.login(h.port);
    for (const name of ['"a//b"', '"/a"', '"a/"', '"a/./b"', '"x/../y"', '"&AAk-tab"', '"a*b"', '"a%"']) {
      const a = await c.command(`CREATE ${name}`);
      if (name === '"a/"') {
        // A trailing separator only announces children: "a" is created.
        assert.match(a.tagged, /OK/, name);
        continue;
      }
      assert.match(a.tagged, /NO \[CANNOT\]/, `${name}: ${a.tagged}`);
    }
    assert.match((await c.command('CREATE "&Jjo"')).tagged, /BAD .*modified UTF-7/);
    c.end();
  });

  it('keeps international names in modified UTF-7, and in UTF-8 after ENABLE UTF8=ACCEPT', async () => {
    const c = await RawClient.login(h.port);
    assert.match((await c.command('CREATE "Entw&APw-rfe"')).tagged, /OK/);
    const l = await c.command('LIST "" "Entw*"');
    assert.deepEqual(l.untagged, ['* LIST (\\HasNoChildren) "/" "Entw&APw-rfe"']);
    await c.command('ENABLE UTF8=ACCEPT');
    const u = await c.command('LIST "" "Entw*"');
    assert.deepEqual(u.untagged, ['* LIST (\\HasNoChildren) "/" "Entwürfe"']);
    c.end();
    const f = await flow(h.port);
    assert.ok((await f.list()).some((m) => m.path === 'Entwürfe'));
    await f.logout();
  });

  it('lists with CHILDREN, SPECIAL-USE, LIST-EXTENDED and LIST-STATUS', async () => {
    const c = await RawClient.login(h.port);
    await c.command('CREATE Archive (USE (\\Archive))');
    const plain = await c.command('LIST "" %');
    assert.ok(plain.untagged.includes('* LIST (\\HasNoChildren) "/" INBOX') || plain.untagged.includes('* LIST (\\HasNoChildren) "/" "INBOX"'), plain.untagged.join('\n'));
    assert.ok(plain.untagged.some((l) => /\\Sent\) "\/" "?Sent"?$/.test(l)), plain.untagged.join('\n'));
    assert.ok(plain.untagged.some((l) => /\\Archive\) "\/" "?Archive"?$/.test(l)));
    const sep = await c.command('LIST "" ""');
    assert.deepEqual(sep.untagged, ['* LIST (\\Noselect) "/" ""']);
    const special = await c.command('LIST (SPECIAL-USE) "" *');
    assert.ok(special.untagged.every((l) => /\\(Sent|Drafts|Trash|Junk|Archive)/.test(l)), special.untagged.join('\n'));
    assert.equal(special.untagged.length, 5);
    const withStatus = await c.command('LIST "" INBOX RETURN (STATUS (MESSAGES UNSEEN UIDNEXT))');
    assert.match(withStatus.untagged.join('\n'), /\* STATUS "?INBOX"? \(MESSAGES 2 UNSEEN 1 UIDNEXT 3\)/);
    await c.command('UNSUBSCRIBE Junk');
    await c.command('SUBSCRIBE "Gone/Away"');
    const subscribed = await c.command('LIST (SUBSCRIBED) "" *');
    const text = subscribed.untagged.join('\n');
    assert.match(text, /\\Subscribed.*"?INBOX"?/);
    assert.doesNotMatch(text, /Junk/);
    assert.match(text, /\(\\NonExistent \\Subscribed\) "\/" "Gone\/Away"/);
    const recursive = await c.command('LIST (SUBSCRIBED RECURSIVEMATCH) "" %');
    assert.match(recursive.untagged.join('\n'), /"Gone" \(CHILDINFO \("SUBSCRIBED"\)\)/);
    const lsub = await c.command('LSUB "" *');
    assert.ok(lsub.untagged.some((l) => l.endsWith('"Gone/Away"')));
    assert.ok(!lsub.untagged.some((l) => l.includes('Junk')));
    c.end();
  });

  it('answers STATUS, NAMESPACE and GETQUOTAROOT', async () => {
    const c = await RawClient.login(h.port);
    const s = await c.command('STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ SIZE DELETED APPENDLIMIT)');
    assert.match(s.untagged[0]!, /^\* STATUS "?INBOX"? \(MESSAGES 2 RECENT 0 UIDNEXT 3 UIDVALIDITY \d+ UNSEEN 1 HIGHESTMODSEQ \d+ SIZE \d+ DELETED 0 APPENDLIMIT \d+\)$/);
    assert.match((await c.command('STATUS Nothing (MESSAGES)')).tagged, /NO \[NONEXISTENT\]/);
    const n = await c.command('NAMESPACE');
    assert.deepEqual(n.untagged, ['* NAMESPACE (("" "/")) NIL NIL']);
    c.end();
  });

  it("works with Python's imaplib for list, create, status and delete", async () => {
    const out = await python(
      `import imaplib, sys
c = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
c.login('alice@example.test', 'secret')
print(c.create('PyBox')[0])
print(c.status('PyBox', '(MESSAGES UIDNEXT)')[1][0].decode())
print(any(b'PyBox' in l for l in c.list()[1]))
print(c.delete('PyBox')[0])
c.logout()`,
      [String(h.port)],
    );
    assert.equal(out.trim(), 'OK\n"PyBox" (MESSAGES 0 UIDNEXT 1)\nTrue\nOK');
  });
});
