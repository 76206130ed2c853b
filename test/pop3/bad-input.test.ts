/** Malformed and hostile input: always a clear -ERR or a clean close, never a crash or a hang. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ALICE, BOB, PASSWORD, RawClient, startPop3, type Pop3Harness } from './harness.js';

let h: Pop3Harness;
const big = Buffer.from('all work and no play makes jack a dull boy\r\n'.repeat(100_000));
before(async () => {
  h = await startPop3({
    users: { [ALICE]: PASSWORD, [BOB]: PASSWORD },
    limits: { maxPop3LineBytes: 100, maxPop3BadCommands: 12, maxConnectionsPerIp: 8 },
  });
  await h.deliver(ALICE, 'Subject: small\r\n\r\nsmall\r\n');
  await h.deliver(BOB, Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), big]));
});
after(() => h.close());

test('unknown commands get -ERR and the session carries on', async () => {
  const { client } = await RawClient.open(h.port);
  assert.equal(await client.command('XYZZY'), '-ERR unknown command');
  assert.equal(await client.command('APOP alice 0123456789abcdef'), '-ERR unknown command');
  assert.equal(await client.command('GET / HTTP/1.1'), '-ERR unknown command');
  assert.match(await client.login(ALICE, PASSWORD), /^\+OK/);
  await client.command('QUIT');
});

test('commands in the wrong state get -ERR', async () => {
  const { client } = await RawClient.open(h.port);
  for (const cmd of ['STAT', 'LIST', 'RETR 1', 'DELE 1', 'NOOP', 'RSET', 'UIDL', 'TOP 1 1']) {
    assert.match(await client.command(cmd), /^-ERR .*not valid in the AUTHORIZATION state$/, cmd);
  }
  await client.command('QUIT');
});

test('malformed arguments get -ERR', async () => {
  const { client } = await RawClient.open(h.port);
  await client.login(ALICE, PASSWORD);
  for (const cmd of ['RETR', 'RETR x', 'RETR 0', 'RETR -1', 'TOP 1', 'LIST 1 2', 'STAT now']) {
    assert.match(await client.command(cmd), /^-ERR /, cmd);
  }
  assert.equal(await client.command('NOOP'), '+OK nothing done');
  await client.command('QUIT');
});

test('an overlong line gets -ERR, is drained, and the next command works', async () => {
  const { client } = await RawClient.open(h.port);
  assert.equal(await client.command('USER ' + 'a'.repeat(500)), '-ERR line too long (limit 100 octets)');
  // Several megabytes without a line end are drained, not buffered, then answered once.
  const chunk = 'b'.repeat(64 * 1024);
  client.send('NOOP ');
  for (let i = 0; i < 64; i++) client.send(chunk);
  assert.equal(await client.line(), '-ERR line too long (limit 100 octets)');
  client.send('\r\n');
  assert.match(await client.command('CAPA'), /^\+OK/);
  await client.body();
  await client.command('QUIT');
});

test('NUL bytes and invalid UTF-8 in commands get -ERR', async () => {
  const { client } = await RawClient.open(h.port);
  client.send(Buffer.from('USER ali\0ce@example.test\r\n'));
  assert.equal(await client.line(), '-ERR the command contains control characters');
  client.send(Buffer.concat([Buffer.from('USER '), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('\r\n')]));
  assert.equal(await client.line(), '-ERR the command is not valid UTF-8');
  client.send(Buffer.from('\0\0\0\0\r\n'));
  assert.match(await client.line(), /^-ERR /);
  assert.match(await client.login(ALICE, PASSWORD), /^\+OK/);
  await client.command('QUIT');
});

test('bare LF ends a command like CRLF', async () => {
  const { client } = await RawClient.open(h.port);
  client.send(`USER ${ALICE}\nPASS ${PASSWORD}\nSTAT\n`);
  assert.match(await client.line(), /^\+OK/);
  assert.match(await client.line(), /^\+OK/);
  assert.match(await client.line(), /^\+OK 1 /);
  await client.command('QUIT');
});

test('too many bad commands close the connection', async () => {
  const { client } = await RawClient.open(h.port);
  for (let i = 1; i < 12; i++) assert.equal(await client.command('BOGUS'), '-ERR unknown command');
  assert.equal(await client.command('x'.repeat(200)), '-ERR line too long (limit 100 octets); too many bad commands, closing');
  await client.closed();
});

test('a flood of pipelined garbage is answered up to the limit, then closed', async () => {
  const { client } = await RawClient.open(h.port);
  client.send('BOGUS\r\n'.repeat(10_000));
  await client.closed();
  const replies = client.pending.split('\r\n').filter(Boolean);
  assert.equal(replies.length, 12);
  assert.match(replies[11]!, /too many bad commands, closing/);
});

test('an idle client is disconnected without a reply and without UPDATE', async () => {
  const idle = await startPop3({ users: { [ALICE]: PASSWORD }, limits: { pop3IdleTimeoutMs: 300 } });
  try {
    await idle.deliver(ALICE, 'Subject: a\r\n\r\na\r\n');
    const { client } = await RawClient.open(idle.port);
    await client.login(ALICE, PASSWORD);
    await client.command('DELE 1');
    const started = Date.now();
    // Trickling bytes without ever finishing a line does not count as activity.
    const trickle = setInterval(() => client.send('N'), 50);
    await client.closed(3000);
    clearInterval(trickle);
    const waited = Date.now() - started;
    assert.ok(waited >= 250 && waited < 2000, `closed after ${waited} ms`);
    assert.equal(client.pending, '');
    const again = await RawClient.open(idle.port);
    assert.match(await again.client.login(ALICE, PASSWORD), /has 1 messages/);
    await again.client.command('QUIT');
  } finally {
    await idle.close();
  }
});

test('a client that stops reading mid-RETR is cut off at the idle timeout and its lock freed', async () => {
  const slow = await startPop3({ users: { [BOB]: PASSWORD }, limits: { pop3IdleTimeoutMs: 500 } });
  try {
    await slow.deliver(BOB, big);
    const { client } = await RawClient.open(slow.port);
    await client.login(BOB, PASSWORD);
    client.socket.pause();
    client.send('RETR 1\r\n');
    await new Promise((r) => setTimeout(r, 300));
    const during = await RawClient.open(slow.port);
    await during.client.command(`USER ${BOB}`);
    assert.match(await during.client.command(`PASS ${PASSWORD}`), /^-ERR \[IN-USE\]/, 'still held while the client may yet read');
    await during.client.command('QUIT');
    await new Promise((r) => setTimeout(r, 1000));
    const again = await RawClient.open(slow.port);
    assert.match(await again.client.login(BOB, PASSWORD), /^\+OK/, 'freed after the idle timeout');
    await again.client.command('QUIT');
    client.destroy();
  } finally {
    await slow.close();
  }
});

test('a client vanishing mid-RETR leaves the server serving and the maildrop intact', async () => {
  const { client } = await RawClient.open(h.port);
  await client.login(BOB, PASSWORD);
  await client.command('DELE 1');
  await client.command('RSET');
  client.send('RETR 1\r\n');
  await client.until('all work');
  client.destroy();
  // Other clients are served meanwhile and afterwards; the lock comes free.
  const other = await RawClient.open(h.port);
  assert.match(await other.client.login(ALICE, PASSWORD), /^\+OK/);
  await other.client.command('QUIT');
  let reply = '';
  for (let i = 0; i < 50 && !reply.startsWith('+OK'); i++) {
    const c = await RawClient.open(h.port);
    await c.client.command(`USER ${BOB}`);
    reply = await c.client.command(`PASS ${PASSWORD}`);
    if (reply.startsWith('+OK')) {
      assert.match(reply, /has 1 messages/);
      assert.match(await c.client.command('RETR 1'), /^\+OK/);
      const raw = await c.client.until('\r\n.\r\n', 10_000);
      assert.equal(raw.length, 'Subject: big\r\n\r\n'.length + big.length + 3);
    }
    await c.client.command('QUIT');
    await c.client.closed();
    if (!reply.startsWith('+OK')) await new Promise((r) => setTimeout(r, 20));
  }
  assert.match(reply, /^\+OK/);
  await other.client.closed();
});

test('connections beyond maxConnectionsPerIp are refused with [SYS/TEMP]; others keep working', async () => {
  const open: RawClient[] = [];
  for (let i = 0; i < 8; i++) open.push((await RawClient.open(h.port)).client);
  const refused = await RawClient.connect(h.port);
  assert.equal(await refused.line(), '-ERR [SYS/TEMP] too many connections from your address');
  await refused.closed();
  const refusedTls = await RawClient.connect(h.tlsPort).catch((e: Error) => e);
  // The pop3s port counts separately (per service), so this one is let in.
  assert.ok(!(refusedTls instanceof Error));
  refusedTls.destroy();
  for (const c of open) await c.command('QUIT');
  for (const c of open) await c.closed();
  const after = await RawClient.open(h.port);
  assert.match(after.greeting, /^\+OK/);
  await after.client.command('QUIT');
});

test('talking before the greeting is read is fine: commands queue in order', async () => {
  const client = await RawClient.connect(h.port);
  client.send('CAPA\r\nQUIT\r\n');
  assert.match(await client.line(), /^\+OK .*ready/);
  assert.match(await client.line(), /^\+OK capability/);
  await client.body();
  assert.match(await client.line(), /^\+OK .*signing off/);
  await client.closed();
});
