/**
 * COPY, MOVE, EXPUNGE, UID EXPUNGE and CLOSE: COPYUID, TRYCREATE,
 * OVERQUOTA on COPY, EXPUNGE responses with the right numbers, VANISHED
 * under QRESYNC, and CLOSE expunging silently.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { flow, message, RawClient, startImap, type ImapHarness } from './support.js';

describe('IMAP COPY, MOVE and EXPUNGE', () => {
  let h: ImapHarness;
  before(async () => {
    h = await startImap({ quotas: { 'bob@example.test': 1000 } });
    for (let i = 1; i <= 6; i++) await h.deliver('alice@example.test', message(`m${i}`));
  });
  after(async () => h.close());

  it('copies with COPYUID and refuses a missing target with TRYCREATE', async () => {
    const c = await RawClient.login(h.port);
    await c.command('SELECT INBOX');
    const copy = await c.command('COPY 1:2 Trash');
    const m = /OK \[COPYUID (\d+) 1:2 1:2\]/.exec(copy.tagged);
    assert.ok(m, copy.tagged);
    assert.match((await c.command('COPY 1 Missing')).tagged, /NO \[TRYCREATE\]/);
    const st = await c.command('STATUS Trash (MESSAGES)');
    assert.match(st.untagged[0]!, /MESSAGES 2/);
    c.end();
  });

  it('refuses a COPY over quota with OVERQUOTA', async () => {
    for (let i = 0; i < 2; i++) await h.deliver('bob@example.test', message(`b${i}`, 'x'.repeat(150) + '\r\n'));
    const c = await RawClient.login(h.port, 'bob@example.test');
    await c.command('SELECT INBOX');
    assert.match((await c.command('COPY 1:* Trash')).tagged, /NO \[OVERQUOTA\]/);
    c.end();
  });

  it('moves with COPYUID before the EXPUNGE responses', async () => {
    const c = await RawClient.login(h.port);
    await c.command('SELECT INBOX');
    const move = await c.command('MOVE 2:3 Junk');
    assert.match(move.untagged[0]!, /^\* OK \[COPYUID \d+ 2:3 1:2\]/);
    assert.deepEqual(move.untagged.slice(1), ['* 3 EXPUNGE', '* 2 EXPUNGE']);
    const left = await c.command('UID FETCH 1:* UID');
    assert.deepEqual(left.untagged, ['* 1 FETCH (UID 1)', '* 2 FETCH (UID 4)', '* 3 FETCH (UID 5)', '* 4 FETCH (UID 6)']);
    c.end();
  });

  it('expunges \\Deleted messages, and UID EXPUNGE only those in its set', async () => {
    const c = await RawClient.login(h.port);
    await c.command('SELECT INBOX');
    await c.command('STORE 1,2,3 +FLAGS.SILENT (\\Deleted)');
    const uidExpunge = await c.command('UID EXPUNGE 4');
    assert.deepEqual(uidExpunge.untagged, ['* 2 EXPUNGE']);
    const expunge = await c.command('EXPUNGE');
    assert.deepEqual(expunge.untagged, ['* 2 EXPUNGE', '* 1 EXPUNGE']);
    const left = await c.command('UID FETCH 1:* UID');
    assert.deepEqual(left.untagged, ['* 1 FETCH (UID 6)']);
    c.end();
  });

  it('reports VANISHED instead of EXPUNGE under QRESYNC', async () => {
    await h.deliver('alice@example.test', message('m7'));
    await h.deliver('alice@example.test', message('m8'));
    const c = await RawClient.login(h.port);
    await c.command('ENABLE QRESYNC');
    await c.command('SELECT INBOX');
    await c.command('STORE 1:2 +FLAGS.SILENT (\\Deleted)');
    const expunge = await c.command('EXPUNGE');
    assert.deepEqual(expunge.untagged, ['* VANISHED 6:7']);
    c.end();
  });

  it('expunges silently on CLOSE and not at all on UNSELECT', async () => {
    await h.deliver('alice@example.test', message('m9'));
    const c = await RawClient.login(h.port);
    await c.command('SELECT INBOX');
    await c.command('STORE 1 +FLAGS.SILENT (\\Deleted)');
    assert.deepEqual((await c.command('UNSELECT')).untagged, []);
    const st = await c.command('STATUS INBOX (MESSAGES DELETED)');
    assert.match(st.untagged[0]!, /MESSAGES 2 DELETED 1/);
    await c.command('SELECT INBOX');
    const close = await c.command('CLOSE');
    assert.deepEqual(close.untagged, []);
    const after = await c.command('STATUS INBOX (MESSAGES DELETED)');
    assert.match(after.untagged[0]!, /MESSAGES 1 DELETED 0/);
    c.end();
  });

  it('moves and deletes with imapflow', async () => {
    const f = await flow(h.port);
    await f.mailboxOpen('Trash');
    const moved = await f.messageMove('1', 'Archive-Missing').catch((e: Error) => e);
    assert.ok(moved instanceof Error || moved === false);
    await f.mailboxCreate('Archive2');
    const result = await f.messageMove('1:*', 'Archive2');
    assert.ok(result && result.uidMap && result.uidMap.size === 2);
    await f.mailboxOpen('Archive2');
    assert.ok(await f.messageDelete('1'));
    const status = await f.status('Archive2', { messages: true });
    assert.equal(status && status.messages, 1);
    await f.logout();
  });
});
