/**
 * FETCH and UID FETCH through real clients: flags, envelope, body
 * structure, exact body bytes, partial fetches, \Seen set by BODY[] and not
 * by BODY.PEEK, read-only EXAMINE, BAD for numbers above the count, and
 * curl's imap:// URL fetch.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { run } from '../helpers/clients.js';
import { flow, message, RawClient, startImap, type ImapHarness } from './support.js';

describe('IMAP FETCH', () => {
  let h: ImapHarness;
  const first = message('First subject', 'Line one.\r\nLine two.\r\n');
  before(async () => {
    h = await startImap();
    await h.deliver('alice@example.test', first);
    await h.deliver('alice@example.test', message('Second subject'), { flags: ['\\Flagged'] });
    await h.deliver('alice@example.test', message('Third subject'));
  });
  after(async () => h.close());

  it('fetches envelopes, flags and sizes with imapflow', async () => {
    const f = await flow(h.port);
    await f.mailboxOpen('INBOX');
    const seen: string[] = [];
    for await (const msg of f.fetch('1:*', { uid: true, flags: true, envelope: true, size: true, bodyStructure: true })) {
      seen.push(`${msg.seq} ${msg.uid} ${msg.envelope?.subject} ${[...(msg.flags ?? [])].join(',')}`);
      assert.ok(msg.size && msg.size > 0);
      assert.equal(msg.bodyStructure?.type, 'text/plain');
    }
    assert.deepEqual(seen, ['1 1 First subject ', '2 2 Second subject \\Flagged', '3 3 Third subject ']);
    const one = await f.fetchOne('1', { source: true });
    assert.ok(one);
    assert.equal(one.source?.toString(), first);
    await f.logout();
  });

  it('sets \\Seen on BODY[] but not on BODY.PEEK[], and reports it in the response', async () => {
    const c = await RawClient.login(h.port);
    await c.command('SELECT INBOX');
    const peek = await c.command('FETCH 2 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
    assert.equal(peek.untagged[0], '* 2 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {27}\r\nSubject: Second subject\r\n\r\n)');
    assert.doesNotMatch(peek.untagged.join(''), /Seen/);
    const read = await c.command('FETCH 2 (BODY[TEXT])');
    assert.match(read.untagged[0]!, /^\* 2 FETCH \(BODY\[TEXT\] \{14\}\r\nHello there.\r\n FLAGS \(\\Flagged \\Seen\)\)$/);
    const flags = await c.command('FETCH 2 FLAGS');
    assert.deepEqual(flags.untagged, ['* 2 FETCH (FLAGS (\\Flagged \\Seen))']);
    const partial = await c.command('UID FETCH 1 (BODY.PEEK[]<0.4>)');
    assert.deepEqual(partial.untagged, ['* 1 FETCH (UID 1 BODY[]<0> {4}\r\nFrom)']);
    c.end();
  });

  it('does not set \\Seen in a mailbox opened with EXAMINE', async () => {
    const c = await RawClient.login(h.port);
    await c.command('EXAMINE INBOX');
    const read = await c.command('FETCH 3 (BODY[TEXT] FLAGS)');
    assert.doesNotMatch(read.untagged.join(''), /Seen/);
    c.end();
  });

  it('answers BAD for a message number above the count and ignores missing UIDs', async () => {
    const c = await RawClient.login(h.port);
    await c.command('SELECT INBOX');
    assert.match((await c.command('FETCH 4 FLAGS')).tagged, /BAD .*only 3 messages/);
    assert.match((await c.command('FETCH 0 FLAGS')).tagged, /BAD/);
    const uids = await c.command('UID FETCH 2:100 FLAGS');
    assert.equal(uids.untagged.length, 2);
    assert.match(uids.tagged, /OK/);
    const star = await c.command('FETCH * UID');
    assert.deepEqual(star.untagged, ['* 3 FETCH (UID 3)']);
    c.end();
  });

  it("serves curl's imap:// fetch of one message by UID", async () => {
    const res = await run('curl', ['-s', '--max-time', '10', `imap://127.0.0.1:${h.port}/INBOX;UID=1`, '-u', 'alice@example.test:secret']);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, first);
  });
});
