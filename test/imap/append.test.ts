/**
 * APPEND: synchronising and LITERAL+ literals, flags and internal date,
 * APPENDUID, TRYCREATE before the "+", TOOBIG and OVERQUOTA refusals, and
 * that the stored bytes are exactly what was sent.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { python } from '../helpers/clients.js';
import { flow, message, RawClient, startImap, type ImapHarness } from './support.js';

describe('IMAP APPEND', () => {
  let h: ImapHarness;
  before(async () => {
    h = await startImap({ quotas: { 'bob@example.test': 2000 }, limits: { maxImapLiteralBytes: 100_000 } });
  });
  after(async () => h.close());

  it('stores a message sent with a synchronising literal and answers APPENDUID', async () => {
    const c = await RawClient.login(h.port);
    const body = message('sync literal');
    c.write(`a1 APPEND INBOX (\\Seen $Work) "05-Mar-2024 10:11:12 +0100" {${Buffer.byteLength(body)}}\r\n`);
    assert.match(await c.line(), /^\+ /);
    c.write(body + '\r\n');
    const a = await c.answer('a1');
    const m = /^a1 OK \[APPENDUID (\d+) (\d+)\]/.exec(a.tagged);
    assert.ok(m, a.tagged);
    const user = (await h.store.directory.getUser('alice@example.test'))!;
    const inbox = (await h.store.mail.getMailbox(user.id, 'INBOX'))!;
    assert.equal(Number(m[1]), inbox.uidValidity);
    const records = await h.store.mail.listMessages(inbox.id);
    const stored = records.find((r) => r.uid === Number(m[2]))!;
    assert.deepEqual(stored.flags.sort(), ['$Work', '\\Seen']);
    assert.equal(stored.internalDate.toISOString(), '2024-03-05T09:11:12.000Z');
    assert.equal((await h.store.blobs.get(stored.blobId)).toString(), body);
    c.end();
  });

  it('accepts a LITERAL+ literal without a continuation', async () => {
    const c = await RawClient.login(h.port);
    const body = message('literal plus');
    c.write(`a2 APPEND INBOX {${Buffer.byteLength(body)}+}\r\n${body}\r\n`);
    assert.match((await c.answer('a2')).tagged, /^a2 OK \[APPENDUID \d+ \d+\]/);
    c.end();
  });

  it('refuses before the "+": a missing mailbox with TRYCREATE, a huge literal with TOOBIG', async () => {
    const c = await RawClient.login(h.port);
    c.write('a3 APPEND Nowhere {10}\r\n');
    assert.match(await c.line(), /^a3 NO \[TRYCREATE\]/);
    c.write('a4 APPEND INBOX {200000}\r\n');
    assert.match(await c.line(), /^a4 NO \[TOOBIG\]/);
    // The connection is still usable.
    assert.match((await c.command('NOOP')).tagged, /OK/);
    c.end();
  });

  it('refuses a message over the quota with OVERQUOTA, before the "+" and after LITERAL+', async () => {
    const c = await RawClient.login(h.port, 'bob@example.test');
    c.write('a5 APPEND INBOX {5000}\r\n');
    assert.match(await c.line(), /^a5 NO \[OVERQUOTA\]/);
    const big = 'x'.repeat(2500);
    c.write(`a6 APPEND INBOX {${big.length}+}\r\n${big}\r\n`);
    assert.match((await c.answer('a6')).tagged, /^a6 NO \[OVERQUOTA\]/);
    const q = await c.command('GETQUOTAROOT INBOX');
    assert.deepEqual(q.untagged, ['* QUOTAROOT "INBOX" ""', '* QUOTA "" (STORAGE 0 1)']);
    c.end();
  });

  it('appends with imapflow and with imaplib, and the messages are readable', async () => {
    const f = await flow(h.port);
    const res = await f.append('Drafts', message('from imapflow'), ['\\Draft']);
    assert.ok(res && res.uid && res.uid > 0);
    await f.logout();
    const out = await python(
      `import imaplib, sys, time
c = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
c.login('alice@example.test', 'secret')
typ, data = c.append('Drafts', '(\\\\Seen)', imaplib.Time2Internaldate(time.time()), b'Subject: from imaplib\\r\\n\\r\\nbody\\r\\n')
print(typ, data[0].decode())
c.select('Drafts')
typ, data = c.search(None, 'ALL')
print(data[0].decode())
c.logout()`,
      [String(h.port)],
    );
    assert.match(out.trim(), /^OK \[APPENDUID \d+ 2\] APPEND completed\n1 2$/);
  });
});
