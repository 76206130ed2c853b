/**
 * Bad input gets a clear protocol error and the server stays healthy:
 * overlong lines, literals too big before and after login, malformed and
 * unknown commands, invalid UTF-8, deep nesting, commands in the wrong
 * state, clients that vanish mid-literal or mid-IDLE, too many bad
 * commands, the idle timeout, STARTTLS with pipelined plain text, the
 * connection cap, and a graceful shutdown that says BYE.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { RawClient, startImap, type ImapHarness } from './support.js';

describe('IMAP bad input', () => {
  let h: ImapHarness;
  before(async () => {
    h = await startImap({ limits: { maxImapLineBytes: 2000, maxImapPreLoginLiteralBytes: 100, maxImapBadCommands: 5, maxConnectionsPerIp: 20 } });
  });
  after(async () => h.close());

  it('answers malformed and unknown commands with BAD and a sentence', async () => {
    const c = await RawClient.open(h.port);
    assert.match((await c.command('FROBNICATE')).tagged, /^t1 BAD unknown command FROBNICATE$/);
    assert.match((await c.command('LOGIN onlyuser')).tagged, /^t2 BAD \S.*/);
    c.write('\r\n');
    c.write('* NOOP\r\n');
    assert.match(await c.line(), /^\* BAD /);
    c.write('a\xff\xfe NOOP\r\n');
    assert.match(await c.line(), /BAD/);
    assert.match((await c.command('LOGIN "caf\u00e9\u0000" x')).tagged, /BAD/);
    c.end();
  });

  it('refuses a literal over the pre-login limit before the "+" and keeps the connection', async () => {
    const c = await RawClient.open(h.port);
    c.write('a LOGIN {5000}\r\n');
    assert.match(await c.line(), /^a NO \[TOOBIG\]/);
    // A non-synchronising one is skipped, never buffered.
    c.write(`b LOGIN {500+}\r\n${'x'.repeat(500)} y\r\n`);
    assert.match(await c.line(), /^b NO \[TOOBIG\]/);
    assert.match((await c.command('NOOP')).tagged, /OK/);
    c.end();
  });

  it('refuses an APPEND literal before login as a command in the wrong state', async () => {
    const c = await RawClient.open(h.port);
    c.write('a APPEND INBOX {50}\r\n');
    assert.match(await c.line(), /^a BAD .*after login/);
    c.end();
  });

  it('answers an overlong line with BAD [TOOBIG] and carries on', async () => {
    const c = await RawClient.login(h.port);
    c.write(`long SEARCH SUBJECT ${'y'.repeat(5000)}\r\n`);
    assert.match(await c.line(), /^long BAD \[TOOBIG\]/);
    assert.match((await c.command('NOOP')).tagged, /OK/);
    c.end();
  });

  it('answers deep nesting with BAD', async () => {
    const c = await RawClient.login(h.port);
    await c.command('SELECT INBOX');
    const a = await c.command(`SEARCH ${'('.repeat(100)}ALL${')'.repeat(100)}`);
    assert.match(a.tagged, /BAD/);
    c.end();
  });

  it('says BYE after too many bad commands in a row', async () => {
    const c = await RawClient.open(h.port);
    for (let i = 0; i < 4; i++) assert.match((await c.command('BOGUS')).tagged, /BAD/);
    c.write('x BOGUS\r\n');
    assert.match(await c.line(), /^x BAD/);
    assert.match(await c.line(), /^\* BYE .*too many/);
    await c.closedByServer();
  });

  it('survives a client that vanishes mid-literal and mid-IDLE', async () => {
    const c1 = await RawClient.login(h.port);
    c1.write('a APPEND INBOX {1000}\r\n');
    await c1.line();
    c1.write('only part of it');
    c1.end();
    const c2 = await RawClient.login(h.port);
    await c2.command('SELECT INBOX');
    c2.write('i IDLE\r\n');
    await c2.line();
    c2.end();
    const c3 = await RawClient.login(h.port);
    assert.match((await c3.command('NOOP')).tagged, /OK/);
    c3.end();
  });

  it('throws away what the client pipelined after STARTTLS', async () => {
    const c = await RawClient.open(h.port);
    c.write('s STARTTLS\r\nx LOGIN alice@example.test secret\r\n');
    assert.match(await c.line(), /^s OK /);
    const secure = tlsConnect({ socket: c.socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    const received: string[] = [];
    secure.on('data', (d: Buffer) => received.push(d.toString()));
    secure.write('c CAPABILITY\r\n');
    await new Promise((r) => setTimeout(r, 200));
    const text = received.join('');
    assert.doesNotMatch(text, /^x /m);
    assert.match(text, /^c OK /m);
    assert.doesNotMatch(text, /STARTTLS/);
    secure.destroy();
  });

  it('refuses connections over the per-address cap with BYE', async () => {
    const open: RawClient[] = [];
    for (let i = 0; i < 20; i++) open.push(await RawClient.open(h.port));
    const extra = await RawClient.open(h.port, { greeting: false });
    assert.match(await extra.line(), /^\* BYE \[UNAVAILABLE\]/);
    for (const c of open) c.end();
  });
});

describe('IMAP timeouts and shutdown', () => {
  it('closes an idle connection with BYE after the idle timeout', async () => {
    const h = await startImap({ limits: { imapIdleTimeoutMs: 300 } });
    try {
      const c = await RawClient.login(h.port);
      await c.command('SELECT INBOX');
      c.write('i IDLE\r\n');
      await c.line();
      assert.match(await c.line(3000), /^\* BYE .*idle/i);
      await c.closedByServer();
    } finally {
      await h.close();
    }
  });

  it('says BYE to every session on a graceful close, idling or not', async () => {
    const h = await startImap();
    const a = await RawClient.login(h.port);
    const b = await RawClient.login(h.port);
    await b.command('SELECT INBOX');
    b.write('i IDLE\r\n');
    await b.line();
    const stopping = h.stop();
    assert.match(await a.line(), /^\* BYE /);
    assert.match(await b.line(), /^\* BYE /);
    await stopping;
    await a.closedByServer();
    await b.closedByServer();
    await h.close();
  });
});
