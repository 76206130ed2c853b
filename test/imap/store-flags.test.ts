/**
 * STORE and UID STORE: FLAGS, +FLAGS, -FLAGS, .SILENT, keywords, the
 * FETCH responses they cause, CONDSTORE's UNCHANGEDSINCE and [MODIFIED].
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { python } from '../helpers/clients.js';
import { flow, message, RawClient, startImap, type ImapHarness } from './support.js';

describe('IMAP STORE', () => {
  let h: ImapHarness;
  before(async () => {
    h = await startImap();
    for (let i = 1; i <= 4; i++) await h.deliver('alice@example.test', message(`m${i}`));
  });
  after(async () => h.close());

  it('adds, removes and replaces flags, answering FETCH FLAGS unless .SILENT', async () => {
    const c = await RawClient.login(h.port);
    await c.command('SELECT INBOX');
    const add = await c.command('STORE 1:2 +FLAGS (\\Seen $Label1)');
    assert.deepEqual(add.untagged, ['* 1 FETCH (FLAGS (\\Seen $Label1))', '* 2 FETCH (FLAGS (\\Seen $Label1))']);
    const remove = await c.command('UID STORE 2 -FLAGS (\\Seen)');
    assert.deepEqual(remove.untagged, ['* 2 FETCH (UID 2 FLAGS ($Label1))']);
    const silent = await c.command('STORE 3 FLAGS.SILENT (\\Answered)');
    assert.deepEqual(silent.untagged, []);
    const check = await c.command('FETCH 1:3 FLAGS');
    assert.deepEqual(check.untagged, ['* 1 FETCH (FLAGS (\\Seen $Label1))', '* 2 FETCH (FLAGS ($Label1))', '* 3 FETCH (FLAGS (\\Answered))']);
    assert.match((await c.command('STORE 1 +FLAGS (\\Recent)')).tagged, /BAD/);
    c.end();
  });

  it('honours UNCHANGEDSINCE and reports MODIFIED (CONDSTORE)', async () => {
    const c = await RawClient.login(h.port);
    const sel = await c.command('SELECT INBOX (CONDSTORE)');
    const modseq = Number(/HIGHESTMODSEQ (\d+)/.exec(sel.untagged.join('\n'))![1]);
    const first = await c.command(`STORE 4 (UNCHANGEDSINCE ${modseq}) +FLAGS (\\Flagged)`);
    assert.match(first.untagged[0]!, /^\* 4 FETCH \(UID 4 FLAGS \(\\Flagged\) MODSEQ \((\d+)\)\)$/);
    const second = await c.command(`STORE 4 (UNCHANGEDSINCE ${modseq}) -FLAGS (\\Flagged)`);
    assert.match(second.tagged, /OK \[MODIFIED 4\]/);
    const fetched = await c.command(`FETCH 1:* (FLAGS) (CHANGEDSINCE ${modseq})`);
    // Only message 4 changed after the modseq of the SELECT; CHANGEDSINCE adds MODSEQ.
    assert.equal(fetched.untagged.length, 1, fetched.untagged.join('\n'));
    assert.match(fetched.untagged[0]!, /^\* 4 FETCH \(FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)$/);
    c.end();
  });

  it('changes flags with imapflow and imaplib', async () => {
    const f = await flow(h.port);
    await f.mailboxOpen('INBOX');
    assert.ok(await f.messageFlagsAdd({ uid: '1:4' } as never, ['\\Draft'], { uid: true }));
    const msg = await f.fetchOne('4', { flags: true });
    assert.ok(msg && msg.flags?.has('\\Draft'));
    await f.logout();
    const out = await python(
      `import imaplib, sys
c = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
c.login('alice@example.test', 'secret')
c.select('INBOX')
typ, data = c.store('1', '-FLAGS', '(\\\\Draft)')
print(typ, data[0].decode())
c.logout()`,
      [String(h.port)],
    );
    assert.equal(out.trim(), 'OK 1 (FLAGS (\\Seen $Label1))');
  });
});
