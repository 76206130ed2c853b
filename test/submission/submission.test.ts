/**
 * Authenticated submission on base+587 with Python's smtplib and swaks:
 * AUTH required (530), wrong passwords (535, then 421), the user's own
 * addresses only (553 for a forged envelope sender or From), aliases
 * allowed, local recipients delivered, remote ones queued, both in one
 * message, and the MSA's additions (Received with ESMTPSA, Message-ID,
 * Date).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../helpers/clients.js';
import { inbox, Wire, expectCode } from '../smtp/support.js';
import { queued, SMTPLIB_SEND, startSubmissionNode, type SendResult, type SubmissionNode } from './support.js';

const ALICE = 'alice@example.test';
const PW = 'alice-secret';

describe('submission (587)', () => {
  let node: SubmissionNode;
  before(async () => {
    node = await startSubmissionNode({ users: { [ALICE]: PW, 'bob@example.test': 'bob-secret', 'carol@example.test': 'carol-secret' } });
    await node.store.directory.addAlias('sales@example.test', [ALICE, 'carol@example.test']);
    await node.store.directory.addAlias('team@example.test', ['sales@example.test']);
    await node.store.directory.addAlias('bobs@example.test', ['bob@example.test']);
  });
  after(() => node.close());

  type SendArgs = { mode?: 'starttls' | 'plain' | 'ssl'; user?: string; password?: string; from: string; to: string[] };
  const sendWith = (message: string, args: SendArgs) => run('python3', ['-c', SMTPLIB_SEND, args.mode ?? 'starttls', String(args.mode === 'ssl' ? node.submissions : node.submission), args.user ?? '', args.password ?? '', args.from, args.to.join(',')], { input: message, timeoutMs: 60000 }).then((r) => {
    if (r.code !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout.trim()) as SendResult;
  });

  test('without AUTH, MAIL is refused with 530 5.7.0', async () => {
    const r = await sendWith('From: alice@example.test\r\nSubject: x\r\n\r\nhi\r\n', { from: ALICE, to: ['bob@example.test'] });
    assert.equal(r.error?.[0], 530, JSON.stringify(r));
    assert.match(r.error![1], /^5\.7\.0 Authentication required/);
  });

  test('a wrong password gets 535 5.7.8; the third failure closes with 421', async () => {
    const r = await sendWith('x', { user: ALICE, password: 'wrong', from: ALICE, to: ['bob@example.test'] });
    assert.deepEqual([r.stage, r.error?.[0]], ['auth', 535], JSON.stringify(r));
    const w = await Wire.open(node.submission);
    await w.hello();
    const token = (p: string) => Buffer.from(`\0${ALICE}\0${p}`).toString('base64');
    // Each failure's reply is delayed longer (failed-login throttling).
    const slowCmd = (line: string) => { w.write(`${line}\r\n`); return w.reply(15000); };
    const started = Date.now();
    assert.match((await slowCmd(`AUTH PLAIN ${token('bad1')}`)).raw, /^535 5\.7\.8 /);
    assert.match((await slowCmd(`AUTH LOGIN ${Buffer.from(ALICE).toString('base64')}`)).raw, /^334 /);
    assert.match((await slowCmd(Buffer.from('bad2').toString('base64'))).raw, /^535 5\.7\.8 /);
    assert.match((await slowCmd(`AUTH PLAIN ${token('bad3')}`)).raw, /^421 4\.7\.0 /);
    assert.ok(Date.now() - started >= 300 + 600 + 1200, 'failures are answered later and later');
    await w.closedByServer();
  });

  test('PLAIN with another authorization identity is refused', async () => {
    const w = await Wire.open(node.submission);
    await w.hello();
    const token = Buffer.from(`bob@example.test\0${ALICE}\0${PW}`).toString('base64');
    w.write(`AUTH PLAIN ${token}\r\n`);
    assert.match((await w.reply(15000)).raw, /^535 5\.7\.8 /);
    w.end();
  });

  test('a forged envelope sender gets 553 5.7.1', async () => {
    for (const from of ['bob@example.test', 'someone@remote.test', 'bobs@example.test']) {
      const r = await sendWith(`From: ${ALICE}\r\n\r\nhi\r\n`, { user: ALICE, password: PW, from, to: ['bob@example.test'] });
      assert.equal(r.error?.[0], 553, `${from}: ${JSON.stringify(r)}`);
      assert.match(r.error![1], /^5\.7\.1 /);
    }
  });

  test('a forged From (or Sender) header gets 553 5.7.1 after DATA, and nothing is delivered', async () => {
    const before = (await inbox(node.store, 'bob@example.test')).length;
    for (const header of ['From: Bob <bob@example.test>', `From: ${ALICE}, boss@remote.test`, `From: ${ALICE}\r\nSender: bob@example.test`]) {
      const r = await sendWith(`${header}\r\nSubject: forged\r\n\r\nhi\r\n`, { user: ALICE, password: PW, from: ALICE, to: ['bob@example.test'] });
      assert.equal(r.error?.[0], 553, `${header}: ${JSON.stringify(r)}`);
      assert.match(r.error![1], /^5\.7\.1 From address rejected/);
    }
    assert.equal((await inbox(node.store, 'bob@example.test')).length, before);
  });

  test('a local recipient is delivered, with ESMTPSA, the user, and the MSA additions', async () => {
    const r = await sendWith(`From: Alice <${ALICE}>\r\nTo: bob@example.test\r\nSubject: local\r\n\r\nhello bob\r\n`, { user: ALICE, password: PW, from: ALICE, to: ['bob@example.test'] });
    assert.deepEqual(r, { ok: {} });
    const text = (await inbox(node.store, 'bob@example.test')).at(-1)!.data.toString();
    assert.match(text, /^Return-Path: <alice@example\.test>\r\nReceived: from client\.test \(\[127\.0\.0\.1\]\)\r\n\t\(Authenticated sender: alice@example\.test\)\r\n\tby mx\.example\.test \(Rookery\) with ESMTPSA \(TLSv1\.[23] /);
    assert.match(text, /\r\nDate: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000\r\n/);
    assert.match(text, /\r\nMessage-ID: <[^@>]+@mx\.example\.test>\r\n/);
    assert.match(text, /Subject: local\r\n(Date|Message-ID)[^]*\r\n\r\nhello bob\r\n$/);
    assert.equal(await node.store.queue.list().then((q) => q.length), 0);
  });

  test('Date and Message-ID given by the client are kept, not added twice', async () => {
    const msg = `From: ${ALICE}\r\nDate: Thu, 01 Jan 2026 10:00:00 +0000\r\nMessage-ID: <given@client.test>\r\nSubject: own ids\r\n\r\nx\r\n`;
    assert.deepEqual(await sendWith(msg, { user: ALICE, password: PW, from: ALICE, to: ['bob@example.test'] }), { ok: {} });
    const text = (await inbox(node.store, 'bob@example.test')).at(-1)!.data.toString();
    assert.equal(text.match(/^Date:/gm)?.length, 1);
    assert.equal(text.match(/^Message-ID:/gim)?.length, 1);
    assert.match(text, /Message-ID: <given@client\.test>/);
  });

  test('a user may send as its aliases, directly or through another alias', async () => {
    for (const alias of ['sales@example.test', 'Team@Example.TEST']) {
      const r = await sendWith(`From: Sales <${alias}>\r\nSubject: as ${alias}\r\n\r\nx\r\n`, { user: ALICE, password: PW, from: alias, to: ['bob@example.test'] });
      assert.deepEqual(r, { ok: {} }, alias);
    }
  });

  test('a remote recipient is queued, with the Received field and without Return-Path', async () => {
    const r = await sendWith(`From: ${ALICE}\r\nTo: friend@remote.test\r\nSubject: out\r\n\r\nbye\r\n`, { user: ALICE, password: PW, from: ALICE, to: ['friend@remote.test'] });
    assert.deepEqual(r, { ok: {} });
    const q = (await queued(node.store)).filter((m) => m.recipients.some((x) => x.address === 'friend@remote.test'));
    assert.equal(q.length, 1);
    assert.equal(q[0]!.sender, ALICE);
    assert.deepEqual(q[0]!.recipients.map((x) => x.address), ['friend@remote.test']);
    const text = q[0]!.data.toString();
    assert.match(text, /^Received: from client\.test [^]*with ESMTPSA/);
    assert.doesNotMatch(text, /^Return-Path:/m);
    assert.match(text, /Subject: out\r\n/);
    assert.equal(q[0]!.size, q[0]!.data.length);
  });

  test('mixed: local recipients delivered and remote ones queued, from one message', async () => {
    const bobBefore = (await inbox(node.store, 'bob@example.test')).length;
    const carolBefore = (await inbox(node.store, 'carol@example.test')).length;
    const r = await sendWith(`From: ${ALICE}\r\nSubject: mixed\r\n\r\nx\r\n`, { user: ALICE, password: PW, from: ALICE, to: ['bob@example.test', 'one@remote.test', 'sales@example.test', 'two@elsewhere.test'] });
    assert.deepEqual(r, { ok: {} });
    assert.equal((await inbox(node.store, 'bob@example.test')).length, bobBefore + 1);
    assert.equal((await inbox(node.store, 'carol@example.test')).length, carolBefore + 1);
    const q = (await queued(node.store)).filter((m) => /Subject: mixed/.test(m.data.toString()));
    assert.equal(q.length, 1, 'one queued copy for all remote recipients');
    assert.deepEqual(q[0]!.recipients.map((x) => x.address).sort(), ['one@remote.test', 'two@elsewhere.test']);
  });

  test('an unknown local recipient still gets 550 5.1.1', async () => {
    const r = await sendWith(`From: ${ALICE}\r\n\r\nx\r\n`, { user: ALICE, password: PW, from: ALICE, to: ['nobody@example.test'] });
    assert.equal(r.error?.[0], 550);
  });

  test('swaks: STARTTLS and AUTH LOGIN, to a remote recipient', async () => {
    const res = await run('swaks', ['--server', '127.0.0.1', '--port', String(node.submission), '--tls', '--auth', 'LOGIN', '--auth-user', ALICE, '--auth-password', PW,
      '--from', ALICE, '--to', 'swaks@remote.test', '--header', 'Subject: swaks login'], { timeoutMs: 30000 });
    assert.equal(res.code, 0, res.stdout + res.stderr);
    const q = (await queued(node.store)).filter((m) => /Subject: swaks login/.test(m.data.toString()));
    assert.equal(q.length, 1);
  });

  test('swaks without AUTH is refused', async () => {
    const res = await run('swaks', ['--server', '127.0.0.1', '--port', String(node.submission), '--tls', '--from', ALICE, '--to', 'x@remote.test'], { timeoutMs: 30000 });
    assert.notEqual(res.code, 0);
    assert.match(res.stdout, /\* 530 5\.7\.0 Authentication required/);
  });

  test('loopback: AUTH is offered and works before TLS (policy: TLS or loopback)', async () => {
    const w = await Wire.open(node.submission);
    const ehlo = await w.hello();
    assert.ok(ehlo.lines.includes('AUTH PLAIN LOGIN'), ehlo.raw);
    assert.ok(ehlo.lines.includes('STARTTLS'));
    const token = Buffer.from(`\0${ALICE}\0${PW}`).toString('base64');
    await expectCode(w.cmd(`AUTH PLAIN ${token}`), 235);
    await expectCode(w.cmd(`MAIL FROM:<${ALICE}>`), 250);
    w.end();
  });

  test('the MX offers no AUTH and does not relay', async () => {
    const w = await Wire.open(node.mx);
    const ehlo = await w.hello();
    assert.ok(!ehlo.lines.some((l) => l.startsWith('AUTH')), ehlo.raw);
    assert.ok((await w.cmd('AUTH PLAIN AGFsaWNlAHB3')).code >= 500);
    await expectCode(w.cmd(`MAIL FROM:<${ALICE}>`), 250);
    assert.match((await w.cmd('RCPT TO:<x@remote.test>')).raw, /^554 5\.7\.1 /);
    w.end();
  });
});
