/** STLS (RFC 2595) on the plain port and implicit TLS on the pop3s port. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { TLSSocket } from 'node:tls';
import { ALICE, PASSWORD, RawClient, startPop3, type Pop3Harness } from './harness.js';

let h: Pop3Harness;
before(async () => {
  h = await startPop3({ users: { [ALICE]: PASSWORD } });
  await h.deliver(ALICE, 'Subject: secret\r\n\r\nover TLS\r\n');
});
after(() => h.close());

test('STLS upgrades the connection; CAPA no longer offers STLS; login and RETR work', async () => {
  const { client } = await RawClient.open(h.port);
  assert.equal(await client.command('STLS'), '+OK Begin TLS negotiation');
  await client.startTls();
  assert.ok((client.socket as TLSSocket).encrypted);
  await client.command('CAPA');
  const caps = await client.body();
  assert.ok(caps.includes('SASL PLAIN') && !caps.includes('STLS'));
  assert.match(await client.command('STLS'), /^-ERR already using TLS/);
  await client.login(ALICE, PASSWORD);
  assert.match(await client.command('RETR 1'), /^\+OK/);
  assert.deepEqual(await client.body(), ['Subject: secret', '', 'over TLS']);
  await client.command('QUIT');
  await client.closed();
});

test('commands sent in plain text after STLS are discarded, never run over TLS (CVE-2011-0411)', async () => {
  const { client } = await RawClient.open(h.port);
  // One packet: STLS plus injected commands a man in the middle would append.
  client.send(`STLS\r\nUSER ${ALICE}\r\nCAPA\r\nNOOP\r\nUSER part`);
  assert.equal(await client.line(), '+OK Begin TLS negotiation');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(client.pending, '', 'no reply to the injected commands');
  await client.startTls();
  // Had the injected USER been honoured, PASS would log in.
  assert.equal(await client.command(`PASS ${PASSWORD}`), '-ERR send USER first');
  // And the partial line was not glued onto the first line read over TLS.
  assert.equal(await client.command('NOOP'), '-ERR NOOP is not valid in the AUTHORIZATION state');
  assert.equal(client.pending, '');
  await client.command('QUIT');
});

test('STLS is refused after login (RFC 2595: AUTHORIZATION state only)', async () => {
  const { client } = await RawClient.open(h.port);
  await client.login(ALICE, PASSWORD);
  assert.match(await client.command('STLS'), /^-ERR /);
  await client.command('QUIT');
});

test('a client that answers STLS with garbage instead of a handshake is cut off; the server carries on', async () => {
  const { client } = await RawClient.open(h.port);
  assert.equal(await client.command('STLS'), '+OK Begin TLS negotiation');
  client.send('this is not a TLS ClientHello\r\n\r\n');
  await client.closed();
  const other = await RawClient.open(h.port);
  assert.match(other.greeting, /^\+OK/);
  await other.client.command('QUIT');
});

test('implicit TLS on the pop3s port: greeting over TLS, no STLS offered', async () => {
  const { client, greeting } = await RawClient.open(h.tlsPort, { tls: true });
  assert.match(greeting, /^\+OK .*ready/);
  assert.ok((client.socket as TLSSocket).encrypted);
  await client.command('CAPA');
  assert.ok(!(await client.body()).includes('STLS'));
  assert.match(await client.command('STLS'), /^-ERR already using TLS/);
  await client.login(ALICE, PASSWORD);
  assert.match(await client.command('STAT'), /^\+OK 1 /);
  await client.command('QUIT');
  await client.closed();
});

test('a plain-text client on the pop3s port gets no reply and is closed', async () => {
  const client = await RawClient.connect(h.tlsPort);
  client.send('USER x\r\n');
  await client.closed();
  assert.equal(client.pending, '');
});

test('the handshake timeout follows the idle timeout changed on a running service (as a node updates its limits)', async () => {
  const before = h.ctx.limits.pop3IdleTimeoutMs;
  h.ctx.limits.pop3IdleTimeoutMs = 300;
  try {
    const started = Date.now();
    const silent = await RawClient.connect(h.tlsPort);
    await silent.closed(3000);
    const waited = Date.now() - started;
    assert.ok(waited >= 250 && waited < 2500, `closed after ${waited} ms`);
  } finally {
    h.ctx.limits.pop3IdleTimeoutMs = before;
  }
});

test('a client that never completes the TLS handshake is closed (pop3s and after STLS)', async () => {
  const quick = await startPop3({ users: { [ALICE]: PASSWORD }, limits: { pop3IdleTimeoutMs: 300 } });
  try {
    const started = Date.now();
    const silent = await RawClient.connect(quick.tlsPort);
    const { client } = await RawClient.open(quick.port);
    assert.equal(await client.command('STLS'), '+OK Begin TLS negotiation');
    await Promise.all([silent.closed(3000), client.closed(3000)]);
    const waited = Date.now() - started;
    assert.ok(waited >= 250 && waited < 2500, `closed after ${waited} ms`);
  } finally {
    await quick.close();
  }
});
