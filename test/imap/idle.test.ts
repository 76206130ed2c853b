/**
 * IDLE (RFC 2177) on one node: "+ idling", changes made by another session
 * of the same node pushed at once (announced, not polled: the poll interval
 * here is long), DONE ends it with OK, anything else with BAD, and IDLE
 * without a selected mailbox is allowed.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { message, RawClient, startImap, type ImapHarness } from './support.js';

describe('IMAP IDLE', () => {
  let h: ImapHarness;
  before(async () => {
    h = await startImap({ limits: { imapChangePollMs: 60_000 } });
    await h.deliver('alice@example.test', message('first'));
  });
  after(async () => h.close());

  it("pushes another local session's APPEND, STORE and EXPUNGE at once", async () => {
    const idler = await RawClient.login(h.port);
    await idler.command('SELECT INBOX');
    idler.write('i IDLE\r\n');
    assert.equal(await idler.line(), '+ idling');
    const actor = await RawClient.login(h.port);
    await actor.command('SELECT INBOX');
    const body = message('second');
    actor.write(`a APPEND INBOX {${Buffer.byteLength(body)}+}\r\n${body}\r\n`);
    await actor.answer('a');
    assert.equal(await idler.line(1000), '* 2 EXISTS');
    await actor.command('STORE 1 +FLAGS (\\Seen)');
    assert.equal(await idler.line(1000), '* 1 FETCH (UID 1 FLAGS (\\Seen))');
    await actor.command('STORE 1 +FLAGS.SILENT (\\Deleted)');
    assert.equal(await idler.line(1000), '* 1 FETCH (UID 1 FLAGS (\\Seen \\Deleted))');
    await actor.command('EXPUNGE');
    assert.equal(await idler.line(1000), '* 1 EXPUNGE');
    idler.write('DONE\r\n');
    assert.equal((await idler.answer('i')).tagged, 'i OK IDLE terminated');
    assert.match((await idler.command('NOOP')).tagged, /OK/);
    idler.end();
    actor.end();
  });

  it('ends IDLE with BAD when the client sends something other than DONE', async () => {
    const c = await RawClient.login(h.port);
    c.write('i IDLE\r\n');
    await c.line();
    c.write('x NOOP\r\n');
    assert.match(await c.line(), /^i BAD .*DONE/);
    assert.match((await c.command('NOOP')).tagged, /OK/);
    c.end();
  });
});
