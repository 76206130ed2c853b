/** RFC 1939 in the TRANSACTION state, spoken over a raw socket. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ALICE, BOB, PASSWORD, RawClient, startPop3, type Pop3Harness } from './harness.js';

let h: Pop3Harness;
const m1 = 'Subject: one\r\n\r\nfirst\r\n';
const m2 = 'Subject: two\r\nX: y\r\n\r\nbody 1\r\n.body 2\r\nbody 3\r\n';
const m3 = 'Subject: three\r\n\r\n' + 'x'.repeat(1000) + '\r\n';

before(async () => {
  h = await startPop3({ users: { [ALICE]: PASSWORD, [BOB]: PASSWORD } });
  for (const m of [m1, m2, m3]) await h.deliver(ALICE, m);
});
after(() => h.close());

test('greets, logs in with USER/PASS and reports the maildrop', async () => {
  const { client, greeting } = await RawClient.open(h.port);
  assert.match(greeting, /^\+OK .*ready/);
  assert.equal(await client.command(`USER ${ALICE}`), '+OK send PASS');
  const total = Buffer.byteLength(m1) + Buffer.byteLength(m2) + Buffer.byteLength(m3);
  assert.equal(await client.command(`PASS ${PASSWORD}`), `+OK ${ALICE} has 3 messages (${total} octets)`);
  assert.equal(await client.command('STAT'), `+OK 3 ${total}`);
  assert.match(await client.command('QUIT'), /^\+OK/);
  await client.closed();
});

test('LIST and UIDL, whole and per message; unknown numbers get -ERR', async () => {
  const { client } = await RawClient.open(h.port);
  await client.login(ALICE, PASSWORD);
  assert.match(await client.command('LIST'), /^\+OK 3 messages/);
  assert.deepEqual(await client.body(), [`1 ${m1.length}`, `2 ${m2.length}`, `3 ${m3.length}`]);
  assert.equal(await client.command('LIST 2'), `+OK 2 ${m2.length}`);
  assert.equal(await client.command('LIST 4'), '-ERR no such message');
  assert.match(await client.command('UIDL'), /^\+OK/);
  const uidls = await client.body();
  assert.equal(uidls.length, 3);
  const ids = uidls.map((l) => l.split(' ')[1]!);
  for (const id of ids) assert.match(id, /^[\x21-\x7e]{1,70}$/);
  assert.equal(new Set(ids).size, 3);
  assert.equal(await client.command('UIDL 3'), `+OK 3 ${ids[2]}`);
  assert.equal(await client.command('UIDL 9'), '-ERR no such message');
  await client.command('QUIT');
});

test('UIDL of a message never changes, across sessions and after other messages go', async () => {
  const temp = await h.deliver(BOB, 'Subject: a\r\n\r\na\r\n');
  await h.deliver(BOB, 'Subject: b\r\n\r\nb\r\n');
  const uidlOf = async () => {
    const { client } = await RawClient.open(h.port);
    await client.login(BOB, PASSWORD);
    await client.command('UIDL');
    const lines = await client.body();
    return { client, lines };
  };
  const first = await uidlOf();
  assert.equal(first.lines.length, 2);
  assert.match(await first.client.command('DELE 1'), /^\+OK/);
  await first.client.command('QUIT');
  await first.client.closed();
  const second = await uidlOf();
  assert.deepEqual(second.lines, [`1 ${first.lines[1]!.split(' ')[1]}`]);
  await second.client.command('QUIT');
  assert.ok(temp.uid > 0);
});

test('RETR returns the message dot-stuffed and terminated; TOP returns header and n lines', async () => {
  const { client } = await RawClient.open(h.port);
  await client.login(ALICE, PASSWORD);
  assert.equal(await client.command('RETR 2'), `+OK ${m2.length} octets`);
  const raw = await client.until('\r\n.\r\n');
  assert.equal(raw.toString(), m2.replace('\r\n.body', '\r\n..body') + '.\r\n');
  assert.match(await client.command('TOP 2 1'), /^\+OK/);
  assert.deepEqual(await client.body(), ['Subject: two', 'X: y', '', 'body 1']);
  assert.match(await client.command('TOP 2 0'), /^\+OK/);
  assert.deepEqual(await client.body(), ['Subject: two', 'X: y', '']);
  assert.match(await client.command('TOP 1 100'), /^\+OK/);
  assert.deepEqual(await client.body(), ['Subject: one', '', 'first']);
  assert.equal(await client.command('RETR 7'), '-ERR no such message');
  assert.equal(await client.command('TOP 7 1'), '-ERR no such message');
  await client.command('QUIT');
});

test('DELE hides a message from every command; RSET brings it back; NOOP answers', async () => {
  const { client } = await RawClient.open(h.port);
  await client.login(ALICE, PASSWORD);
  assert.equal(await client.command('DELE 1'), '+OK message 1 deleted');
  assert.equal(await client.command('DELE 1'), '-ERR no such message');
  for (const cmd of ['RETR 1', 'TOP 1 0', 'LIST 1', 'UIDL 1']) assert.equal(await client.command(cmd), '-ERR no such message', cmd);
  assert.equal(await client.command('STAT'), `+OK 2 ${m2.length + m3.length}`);
  await client.command('LIST');
  assert.deepEqual(await client.body(), [`2 ${m2.length}`, `3 ${m3.length}`]);
  await client.command('UIDL');
  assert.equal((await client.body()).length, 2);
  assert.equal(await client.command('NOOP'), '+OK nothing done');
  assert.match(await client.command('RSET'), /^\+OK maildrop has 3 messages/);
  assert.equal(await client.command('LIST 1'), `+OK 1 ${m1.length}`);
  // RSET then QUIT: nothing is deleted.
  assert.match(await client.command('QUIT'), /^\+OK .*3 messages left/);
  await client.closed();
  const again = await RawClient.open(h.port);
  assert.match(await again.client.login(ALICE, PASSWORD), /has 3 messages/);
  await again.client.command('QUIT');
});

test('message numbers and the listing are a snapshot taken at login', async () => {
  const { client } = await RawClient.open(h.port);
  await client.login(ALICE, PASSWORD);
  const late = await h.deliver(ALICE, 'Subject: late\r\n\r\nlate\r\n');
  assert.match(await client.command('STAT'), /^\+OK 3 /);
  assert.equal(await client.command('RETR 4'), '-ERR no such message');
  await client.command('QUIT');
  await client.closed();
  await h.store.mail.expunge(late.mailboxId, [late.uid]);
});

test('CAPA lists RFC 2449 capabilities before and after login', async () => {
  const { client } = await RawClient.open(h.port);
  assert.match(await client.command('CAPA'), /^\+OK/);
  const before = await client.body();
  for (const cap of ['TOP', 'USER', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'SASL PLAIN', 'STLS']) assert.ok(before.includes(cap), cap);
  assert.ok(before.some((c) => c.startsWith('IMPLEMENTATION ')));
  await client.login(ALICE, PASSWORD);
  assert.match(await client.command('CAPA'), /^\+OK/);
  const afterLogin = await client.body();
  assert.ok(afterLogin.includes('UIDL') && !afterLogin.includes('STLS'));
  await client.command('QUIT');
});

test('pipelined commands are answered in order (RFC 2449 PIPELINING)', async () => {
  const { client } = await RawClient.open(h.port);
  client.send(`USER ${ALICE}\r\nPASS ${PASSWORD}\r\nSTAT\r\nLIST 1\r\nRETR 1\r\nNOOP\r\nQUIT\r\n`);
  assert.match(await client.line(), /^\+OK send PASS/);
  assert.match(await client.line(), /^\+OK .* has 3 messages/);
  assert.match(await client.line(), /^\+OK 3 /);
  assert.equal(await client.line(), `+OK 1 ${m1.length}`);
  assert.match(await client.line(), /^\+OK \d+ octets/);
  assert.deepEqual(await client.body(), ['Subject: one', '', 'first']);
  assert.equal(await client.line(), '+OK nothing done');
  assert.match(await client.line(), /^\+OK .*signing off/);
  await client.closed();
});

test('an empty maildrop lists nothing', async () => {
  await h.store.directory.addUser({ address: 'empty@example.test', password: 'pw' });
  const { client } = await RawClient.open(h.port);
  assert.match(await client.login('empty@example.test', 'pw'), /has 0 messages \(0 octets\)/);
  assert.equal(await client.command('STAT'), '+OK 0 0');
  await client.command('LIST');
  assert.deepEqual(await client.body(), []);
  assert.equal(await client.command('RETR 1'), '-ERR no such message');
  await client.command('QUIT');
});
