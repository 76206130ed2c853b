/**
 * Sessions see each other across nodes (issue 3): two IMAP services over
 * one store, the same mailbox selected on each. A delivery, a flag change
 * and an expunge by one are reported to the other as EXISTS, FETCH FLAGS
 * and EXPUNGE (VANISHED under QRESYNC) at its next command, and pushed
 * during IDLE within the poll interval. EXPUNGE is held back during FETCH,
 * STORE and SEARCH (RFC 3501 7.4.1).
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { flow, message, RawClient, startImap, type ImapHarness, type ImapNode } from './support.js';

describe('IMAP sessions on two nodes', () => {
  let h: ImapHarness;
  let other: ImapNode;
  before(async () => {
    h = await startImap({ limits: { imapChangePollMs: 50 } });
    other = await h.startNode();
    for (let i = 1; i <= 3; i++) await h.deliver('alice@example.test', message(`m${i}`));
  });
  after(async () => h.close());

  it('reports a delivery, a flag change and an expunge at the next command', async () => {
    const a = await RawClient.login(h.port);
    const b = await RawClient.login(other.port);
    await a.command('SELECT INBOX');
    await b.command('SELECT INBOX');
    await h.deliver('alice@example.test', message('m4'));
    assert.deepEqual((await b.command('NOOP')).untagged, ['* 4 EXISTS']);
    await a.command('STORE 2 +FLAGS (\\Flagged)');
    assert.deepEqual((await b.command('NOOP')).untagged, ['* 2 FETCH (UID 2 FLAGS (\\Flagged))']);
    await a.command('STORE 1 +FLAGS.SILENT (\\Deleted)');
    await a.command('EXPUNGE');
    assert.deepEqual((await b.command('NOOP')).untagged, ['* 1 EXPUNGE']);
    const now = await b.command('UID FETCH 1:* UID');
    assert.deepEqual(now.untagged, ['* 1 FETCH (UID 2)', '* 2 FETCH (UID 3)', '* 3 FETCH (UID 4)']);
    a.end();
    b.end();
  });

  it('holds EXPUNGE back during FETCH, STORE and SEARCH, and sends it at NOOP', async () => {
    const a = await RawClient.login(h.port);
    const b = await RawClient.login(other.port);
    await a.command('SELECT INBOX');
    await b.command('SELECT INBOX');
    await a.command('STORE 1 +FLAGS.SILENT (\\Deleted)');
    await a.command('EXPUNGE');
    const fetch = await b.command('FETCH 1:* UID');
    assert.ok(!fetch.untagged.some((l) => /EXPUNGE/.test(l)), fetch.untagged.join('\n'));
    // The expunged message keeps its number until the client is told.
    assert.equal(fetch.untagged.filter((l) => /FETCH/.test(l)).length, 3);
    const search = await b.command('SEARCH ALL');
    assert.ok(!search.untagged.some((l) => /EXPUNGE/.test(l)));
    const noop = await b.command('NOOP');
    assert.deepEqual(noop.untagged, ['* 1 EXPUNGE']);
    // The UID form may report it at once.
    await a.command('STORE 1 +FLAGS.SILENT (\\Deleted)');
    await a.command('EXPUNGE');
    const uidFetch = await b.command('UID FETCH 1:* UID');
    assert.equal(uidFetch.untagged[uidFetch.untagged.length - 1], '* 1 EXPUNGE');
    a.end();
    b.end();
  });

  it('reports VANISHED to a QRESYNC session', async () => {
    await h.deliver('alice@example.test', message('m5'));
    const a = await RawClient.login(h.port);
    const b = await RawClient.login(other.port);
    await a.command('SELECT INBOX');
    await b.command('ENABLE QRESYNC');
    await b.command('SELECT INBOX');
    await a.command('UID STORE 5 +FLAGS.SILENT (\\Deleted)');
    await a.command('UID EXPUNGE 5');
    const noop = await b.command('NOOP');
    assert.deepEqual(noop.untagged, ['* VANISHED 5']);
    a.end();
    b.end();
  });

  it('pushes changes from another node during IDLE within the poll interval', async () => {
    const b = await RawClient.login(other.port);
    await b.command('SELECT INBOX');
    b.write('i1 IDLE\r\n');
    assert.equal(await b.line(), '+ idling');
    const started = Date.now();
    await h.deliver('alice@example.test', message('pushed'));
    assert.match(await b.line(2000), /^\* \d+ EXISTS$/);
    assert.ok(Date.now() - started < 1000);
    const a = await RawClient.login(h.port);
    await a.command('SELECT INBOX');
    await a.command('STORE 1 +FLAGS (\\Answered)');
    assert.match(await b.line(2000), /^\* 1 FETCH \(UID \d+ FLAGS \(\\Answered\)\)$/);
    await a.command('STORE 1 +FLAGS.SILENT (\\Deleted)');
    await a.command('EXPUNGE');
    // Changes are pushed as they commit (the store's change feed), so the
    // \Deleted flag may be reported before the expunge.
    let line = await b.line(2000);
    if (/^\* 1 FETCH \(UID \d+ FLAGS \(.*\\Deleted.*\)\)$/.test(line)) line = await b.line(2000);
    assert.equal(line, '* 1 EXPUNGE');
    b.write('DONE\r\n');
    assert.match((await b.answer('i1')).tagged, /^i1 OK /);
    a.end();
    b.end();
  });

  it('lets imapflow on one node see an append made through the other', async () => {
    const watcher: ImapFlow = await flow(other.port);
    await watcher.mailboxOpen('INBOX');
    const existsSeen = new Promise<number>((resolve) => watcher.on('exists', (d: { count: number }) => resolve(d.count)));
    const idling = watcher.idle();
    const writer = await flow(h.port);
    await writer.append('INBOX', message('from the other node'));
    const count = await existsSeen;
    assert.ok(count >= 1);
    await writer.logout();
    await watcher.logout().catch(() => undefined);
    await idling.catch(() => undefined);
  });
});
