/** USER/PASS (RFC 1939) and AUTH PLAIN (RFC 5034, RFC 4616), failures and their limits. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AUTH_FAILURE_DELAY_MS } from '../../src/protocols/pop3/session.js';
import { ALICE, PASSWORD, RawClient, startPop3, type Pop3Harness } from './harness.js';

let h: Pop3Harness;
before(async () => {
  h = await startPop3({ users: { [ALICE]: PASSWORD }, limits: { maxAuthFailures: 3 } });
  await h.store.directory.addUser({ address: 'off@example.test', password: PASSWORD, enabled: false });
});
after(() => h.close());

const plain = (authzid: string, authcid: string, pass: string) => Buffer.from(`${authzid}\0${authcid}\0${pass}`, 'utf8').toString('base64');

test('a wrong password gets -ERR [AUTH] after a delay; the session may try again', async () => {
  const { client } = await RawClient.open(h.port);
  await client.command(`USER ${ALICE}`);
  const started = Date.now();
  assert.equal(await client.command('PASS wrong'), '-ERR [AUTH] invalid credentials');
  assert.ok(Date.now() - started >= AUTH_FAILURE_DELAY_MS - 20, 'failures are slowed down');
  assert.match(await client.command('PASS ' + PASSWORD), /^-ERR send USER first/, 'a failed PASS forgets the USER');
  assert.match(await client.login(ALICE, PASSWORD), /^\+OK/);
  await client.command('QUIT');
});

test('unknown and disabled users fail exactly like a wrong password', async () => {
  for (const user of ['nobody@example.test', 'off@example.test', 'not-an-address']) {
    const { client } = await RawClient.open(h.port);
    assert.equal(await client.command(`USER ${user}`), '+OK send PASS');
    assert.equal(await client.command(`PASS ${PASSWORD}`), '-ERR [AUTH] invalid credentials', user);
    await client.command('QUIT');
  }
});

test('the connection closes after maxAuthFailures failed logins', async () => {
  const { client } = await RawClient.open(h.port);
  for (let i = 1; i <= 2; i++) {
    await client.command(`USER ${ALICE}`);
    assert.equal(await client.command('PASS nope'), '-ERR [AUTH] invalid credentials');
  }
  assert.match(await client.command(`AUTH PLAIN ${plain('', ALICE, 'nope')}`), /^-ERR \[AUTH\] .*closing/);
  await client.closed();
});

test('AUTH PLAIN with an initial response', async () => {
  const { client } = await RawClient.open(h.port);
  assert.match(await client.command(`AUTH PLAIN ${plain('', ALICE, PASSWORD)}`), /^\+OK .*has 0 messages/);
  assert.equal(await client.command('STAT'), '+OK 0 0');
  await client.command('QUIT');
});

test('AUTH PLAIN with the "+ " continuation, and an authzid equal to the user', async () => {
  const { client } = await RawClient.open(h.port);
  assert.equal(await client.command('AUTH PLAIN'), '+ ');
  assert.match(await client.command(plain(ALICE, ALICE, PASSWORD)), /^\+OK /);
  await client.command('QUIT');
});

test('"*" cancels AUTH; a wrong password, garbage and a foreign authzid are refused', async () => {
  const { client } = await RawClient.open(h.port);
  assert.equal(await client.command('AUTH PLAIN'), '+ ');
  assert.equal(await client.command('*'), '-ERR authentication cancelled');
  assert.equal(await client.command('AUTH PLAIN'), '+ ');
  assert.equal(await client.command('not base64!'), '-ERR invalid SASL PLAIN response');
  assert.equal(await client.command(`AUTH PLAIN ${plain('admin@example.test', ALICE, PASSWORD)}`), '-ERR [AUTH] authorization identity not permitted');
  assert.equal(await client.command('AUTH PLAIN ='), '-ERR invalid SASL PLAIN response');
  assert.equal(await client.command(`AUTH PLAIN ${plain('', ALICE, 'wrong')}`), '-ERR [AUTH] invalid credentials');
  // The session still works after all that.
  assert.match(await client.command(`AUTH PLAIN ${plain('', ALICE, PASSWORD)}`), /^\+OK/);
  await client.command('QUIT');
});

test('AUTH lists mechanisms; unknown mechanisms are refused', async () => {
  const { client } = await RawClient.open(h.port);
  assert.match(await client.command('AUTH'), /^\+OK/);
  assert.deepEqual(await client.body(), ['PLAIN']);
  assert.equal(await client.command('AUTH CRAM-MD5'), '-ERR unsupported SASL mechanism');
  assert.equal(await client.command('AUTH LOGIN'), '-ERR unsupported SASL mechanism');
  await client.command('QUIT');
});

test('USER, PASS and AUTH are refused after login', async () => {
  const { client } = await RawClient.open(h.port);
  await client.login(ALICE, PASSWORD);
  for (const cmd of [`USER ${ALICE}`, `PASS ${PASSWORD}`, 'AUTH PLAIN', 'STLS']) {
    assert.match(await client.command(cmd), /^-ERR .*not valid in the TRANSACTION state/, cmd);
  }
  await client.command('QUIT');
});

test('a password with spaces and non-ASCII characters works with USER/PASS and AUTH PLAIN', async () => {
  const address = 'jörg@example.test';
  const pw = ' sp ace  pässwörd ';
  await h.store.directory.addUser({ address, password: pw.trim() + ' x' });
  const { client } = await RawClient.open(h.port);
  await client.command(`USER ${address}`);
  assert.match(await client.command(`PASS ${pw.trim()} x`), /^\+OK/);
  await client.command('QUIT');
  await client.closed();
  const b = await RawClient.open(h.port);
  assert.match(await b.client.command(`AUTH PLAIN ${plain('', address, pw.trim() + ' x')}`), /^\+OK/);
  await b.client.command('QUIT');
});
