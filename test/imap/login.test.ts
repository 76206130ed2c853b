/**
 * Logging in: LOGIN, AUTHENTICATE PLAIN with and without SASL-IR, failures
 * (AUTHENTICATIONFAILED, growing delay, BYE after maxAuthFailures), the
 * capability lists before and after login, and the plain-text policy.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { plaintextAuthAllowed, isLoopbackAddress } from '../../src/net/plaintext-auth.js';
import { python } from '../helpers/clients.js';
import { flow, RawClient, startImap, type ImapHarness } from './support.js';

describe('IMAP login', () => {
  let h: ImapHarness;
  before(async () => {
    h = await startImap({ limits: { maxAuthFailures: 2 } });
  });
  after(async () => h.close());

  it('greets with a capability list that offers STARTTLS and AUTH=PLAIN on loopback', async () => {
    const c = await RawClient.open(h.port, { greeting: false });
    const greeting = await c.line();
    assert.match(greeting, /^\* OK \[CAPABILITY IMAP4rev1 .*STARTTLS.*AUTH=PLAIN.*\] /);
    assert.doesNotMatch(greeting, /LOGINDISABLED/);
    c.end();
  });

  it('does not offer STARTTLS on the implicit-TLS port', async () => {
    const c = await RawClient.open(h.tlsPort, { tls: true });
    const a = await c.command('CAPABILITY');
    assert.match(a.untagged[0]!, /^\* CAPABILITY /);
    assert.doesNotMatch(a.untagged[0]!, /STARTTLS/);
    c.end();
  });

  it('logs in with LOGIN and announces the full capability list', async () => {
    const c = await RawClient.open(h.port);
    const a = await c.command('LOGIN alice@example.test secret');
    assert.match(a.tagged, /^t1 OK \[CAPABILITY .*IDLE.*UIDPLUS.*MOVE.*CONDSTORE.*QRESYNC.*APPENDLIMIT=\d+.*\] /);
    const again = await c.command('LOGIN alice@example.test secret');
    assert.match(again.tagged, /^t2 BAD .*not allowed after login/);
    c.end();
  });

  it('logs in with AUTHENTICATE PLAIN, with SASL-IR and with a continuation', async () => {
    const token = Buffer.from('\0alice@example.test\0secret').toString('base64');
    const c1 = await RawClient.open(h.port);
    assert.match((await c1.command(`AUTHENTICATE PLAIN ${token}`)).tagged, /^t1 OK /);
    c1.end();
    const c2 = await RawClient.open(h.port);
    c2.write('a AUTHENTICATE PLAIN\r\n');
    assert.equal(await c2.line(), '+ ');
    c2.write(token + '\r\n');
    assert.match((await c2.answer('a')).tagged, /^a OK /);
    c2.end();
    const c3 = await RawClient.open(h.port);
    c3.write('b AUTHENTICATE PLAIN\r\n');
    await c3.line();
    c3.write('*\r\n');
    assert.match((await c3.answer('b')).tagged, /^b BAD .*cancel/);
    c3.end();
  });

  it('refuses an authorization identity that is another user', async () => {
    const c = await RawClient.open(h.port);
    const token = Buffer.from('bob@example.test\0alice@example.test\0secret').toString('base64');
    assert.match((await c.command(`AUTHENTICATE PLAIN ${token}`)).tagged, /NO \[AUTHORIZATIONFAILED\]/);
    c.end();
  });

  it('answers a wrong password with AUTHENTICATIONFAILED and says BYE after too many', async () => {
    const c = await RawClient.open(h.port);
    const a = await c.command('LOGIN alice@example.test wrong');
    assert.match(a.tagged, /^t1 NO \[AUTHENTICATIONFAILED\] /);
    const b = await c.command('LOGIN nobody@example.test wrong');
    assert.match(b.tagged, /^t2 NO \[AUTHENTICATIONFAILED\] /);
    assert.match(await c.line(), /^\* BYE /);
    await c.closedByServer();
  });

  it('needs a login before mailbox commands', async () => {
    const c = await RawClient.open(h.port);
    assert.match((await c.command('SELECT INBOX')).tagged, /^t1 BAD .*after login/);
    assert.match((await c.command('FETCH 1 FLAGS')).tagged, /^t2 BAD /);
    c.end();
  });

  it('lets imapflow log in over STARTTLS and over implicit TLS', async () => {
    const viaStartTls = await flow(h.port, { doSTARTTLS: true });
    assert.equal(viaStartTls.authenticated !== false, true);
    assert.ok((viaStartTls as unknown as { secureConnection: boolean }).secureConnection);
    await viaStartTls.logout();
    const viaTls = await flow(h.tlsPort, { secure: true });
    const status = await viaTls.status('INBOX', { messages: true });
    assert.equal(status && status.messages, 0);
    await viaTls.logout();
  });

  it("lets Python's imaplib log in", async () => {
    const out = await python(
      `import imaplib, sys
c = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
typ, data = c.login('alice@example.test', 'secret')
print(typ)
print(c.select('INBOX')[0])
c.logout()`,
      [String(h.port)],
    );
    assert.equal(out.trim(), 'OK\nOK');
  });

  it('allows plain-text logins only over TLS or from loopback (LOGINDISABLED otherwise)', () => {
    assert.equal(plaintextAuthAllowed(false, '127.0.0.1'), true);
    assert.equal(plaintextAuthAllowed(false, '::1'), true);
    assert.equal(plaintextAuthAllowed(false, '::ffff:127.0.0.5'), true);
    assert.equal(plaintextAuthAllowed(false, '192.0.2.7'), false);
    assert.equal(plaintextAuthAllowed(true, '192.0.2.7'), true);
    assert.equal(isLoopbackAddress(undefined), false);
  });
});

