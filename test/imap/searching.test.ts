/**
 * SEARCH and UID SEARCH as the session answers them: plain `* SEARCH`,
 * ESEARCH with RETURN (MIN MAX COUNT ALL), SAVE and "$", MODSEQ, CHARSET,
 * and real clients (imapflow, imaplib). The matching itself is tested
 * beside the evaluator (test/imap/search).
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { python } from '../helpers/clients.js';
import { flow, message, RawClient, startImap, type ImapHarness } from './support.js';

describe('IMAP SEARCH', () => {
  let h: ImapHarness;
  before(async () => {
    h = await startImap();
    await h.deliver('alice@example.test', message('Quarterly report', 'Numbers are up.\r\n'), { flags: ['\\Seen'] });
    await h.deliver('alice@example.test', message('Lunch?', 'Pizza at noon.\r\n', 'bob@example.org'));
    await h.deliver('alice@example.test', message('Report draft', 'Please review.\r\n'), { flags: ['\\Flagged'] });
  });
  after(async () => h.close());

  it('answers SEARCH and UID SEARCH with numbers', async () => {
    const c = await RawClient.login(h.port);
    await c.command('SELECT INBOX');
    assert.deepEqual((await c.command('SEARCH SUBJECT report')).untagged, ['* SEARCH 1 3']);
    assert.deepEqual((await c.command('SEARCH UNSEEN')).untagged, ['* SEARCH 2 3']);
    assert.deepEqual((await c.command('UID SEARCH OR FLAGGED FROM bob')).untagged, ['* SEARCH 2 3']);
    assert.deepEqual((await c.command('SEARCH CHARSET UTF-8 BODY pizza')).untagged, ['* SEARCH 2']);
    assert.deepEqual((await c.command('SEARCH SUBJECT nothing-like-this')).untagged, ['* SEARCH']);
    assert.match((await c.command('SEARCH CHARSET KOI8-R ALL')).tagged, /NO \[BADCHARSET/);
    c.end();
  });

  it('answers ESEARCH for RETURN options and saves results for "$"', async () => {
    const c = await RawClient.login(h.port);
    await c.command('SELECT INBOX');
    const e = await c.command('SEARCH RETURN (MIN MAX COUNT) ALL');
    assert.match(e.untagged[0]!, /^\* ESEARCH \(TAG "t\d+"\) MIN 1 MAX 3 COUNT 3$/);
    const all = await c.command('UID SEARCH RETURN () SUBJECT report');
    assert.match(all.untagged[0]!, /^\* ESEARCH \(TAG "t\d+"\) UID ALL 1,3$/);
    const save = await c.command('SEARCH RETURN (SAVE) UNSEEN');
    assert.deepEqual(save.untagged, []);
    const fetch = await c.command('FETCH $ (UID)');
    assert.deepEqual(fetch.untagged, ['* 2 FETCH (UID 2)', '* 3 FETCH (UID 3)']);
    c.end();
  });

  it('adds MODSEQ to the result of a MODSEQ search', async () => {
    const c = await RawClient.login(h.port);
    await c.command('SELECT INBOX');
    const r = await c.command('SEARCH MODSEQ 1');
    assert.match(r.untagged[0]!, /^\* SEARCH 1 2 3 \(MODSEQ \d+\)$/);
    c.end();
  });

  it('searches with imapflow and imaplib', async () => {
    const f = await flow(h.port);
    await f.mailboxOpen('INBOX');
    assert.deepEqual(await f.search({ subject: 'report' }, { uid: true }), [1, 3]);
    assert.deepEqual(await f.search({ seen: false }), [2, 3]);
    await f.logout();
    const out = await python(
      `import imaplib, sys
c = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
c.login('alice@example.test', 'secret')
c.select('INBOX', readonly=True)
print(c.search(None, '(FROM "bob")')[1][0].decode())
print(c.uid('SEARCH', None, 'TEXT', 'review')[1][0].decode())
c.logout()`,
      [String(h.port)],
    );
    assert.equal(out.trim(), '2\n3');
  });
});
