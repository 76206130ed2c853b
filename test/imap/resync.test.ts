/**
 * CONDSTORE and QRESYNC (RFC 7162) as a reconnecting client uses them:
 * SELECT (QRESYNC ...) reports what vanished and what changed since the
 * client's modseq, UID FETCH (CHANGEDSINCE ... VANISHED), and ENABLE.
 * Also ID and ENABLE answers.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { message, RawClient, startImap, type ImapHarness } from './support.js';

describe('IMAP CONDSTORE and QRESYNC', () => {
  let h: ImapHarness;
  before(async () => {
    h = await startImap();
    for (let i = 1; i <= 5; i++) await h.deliver('alice@example.test', message(`m${i}`));
  });
  after(async () => h.close());

  it('resynchronises a client with SELECT (QRESYNC ...)', async () => {
    const c = await RawClient.login(h.port);
    const enabled = await c.command('ENABLE QRESYNC CONDSTORE X-UNKNOWN');
    assert.deepEqual(enabled.untagged, ['* ENABLED QRESYNC CONDSTORE']);
    const sel = await c.command('SELECT INBOX');
    const uidValidity = Number(/UIDVALIDITY (\d+)/.exec(sel.untagged.join('\n'))![1]);
    const modSeq = Number(/HIGHESTMODSEQ (\d+)/.exec(sel.untagged.join('\n'))![1]);
    c.end();
    // Meanwhile, elsewhere: one message flagged, two expunged.
    const other = await RawClient.login(h.port);
    await other.command('SELECT INBOX');
    await other.command('UID STORE 2 +FLAGS (\\Flagged)');
    await other.command('UID STORE 3,4 +FLAGS (\\Deleted)');
    await other.command('UID EXPUNGE 3:4');
    other.end();
    const back = await RawClient.login(h.port);
    await back.command('ENABLE QRESYNC');
    const resync = await back.command(`SELECT INBOX (QRESYNC (${uidValidity} ${modSeq} 1:5))`);
    const text = resync.untagged.join('\n');
    assert.match(text, /^\* VANISHED \(EARLIER\) 3:4$/m);
    assert.match(text, /^\* 2 FETCH \(UID 2 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)$/m);
    assert.doesNotMatch(text, /^\* 1 FETCH/m);
    const fetched = await back.command(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${modSeq} VANISHED)`);
    assert.equal(fetched.untagged[0], '* VANISHED (EARLIER) 3:4');
    assert.match(fetched.untagged[1]!, /^\* 2 FETCH \(UID 2 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)$/);
    // A wrong UIDVALIDITY means the client starts over: no resync data.
    const wrong = await back.command(`SELECT INBOX (QRESYNC (${uidValidity + 1} ${modSeq}))`);
    assert.doesNotMatch(wrong.untagged.join('\n'), /VANISHED|FETCH/);
    back.end();
  });

  it('refuses QRESYNC parameters without ENABLE QRESYNC', async () => {
    const c = await RawClient.login(h.port);
    assert.match((await c.command('SELECT INBOX (QRESYNC (1 1))')).tagged, /BAD .*ENABLE QRESYNC/);
    c.end();
  });

  it('answers ID', async () => {
    const c = await RawClient.open(h.port);
    const id = await c.command('ID ("name" "test-client" "version" "1")');
    assert.deepEqual(id.untagged, ['* ID ("name" "Rookery" "vendor" "Rookery")']);
    c.end();
  });
});
