/**
 * Submission over implicit TLS on base+465 (smtplib SMTP_SSL, swaks
 * --tlsc), and where AUTH may be used: over TLS, or from loopback. A
 * client that is not on loopback (here: named so by a trusted traffic
 * manager's PROXY header, the only way a loopback-only test can be
 * elsewhere) is not offered AUTH before STARTTLS, gets 538 5.7.11 for
 * trying, and can log in after STARTTLS.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { run } from '../helpers/clients.js';
import { encodeProxyV2 } from '../../src/net/proxy-protocol.js';
import { Wire, expectCode, inbox } from '../smtp/support.js';
import { queued, SMTPLIB_SEND, startSubmissionNode, type SendResult, type SubmissionNode } from './support.js';

const ALICE = 'alice@example.test';
const PW = 'alice-secret';

describe('submissions (465, implicit TLS)', () => {
  let node: SubmissionNode;
  before(async () => {
    node = await startSubmissionNode({ users: { [ALICE]: PW, 'bob@example.test': 'pw' } });
  });
  after(() => node.close());

  test('smtplib SMTP_SSL: AUTH offered, no STARTTLS; local and remote recipients', async () => {
    const res = await run('python3', ['-c', SMTPLIB_SEND, 'ssl', String(node.submissions), ALICE, PW, ALICE, 'bob@example.test,far@remote.test'], { input: `From: ${ALICE}\r\nSubject: over 465\r\n\r\nx\r\n`, timeoutMs: 30000 });
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(JSON.parse(res.stdout) as SendResult, { ok: {} });
    const text = (await inbox(node.store, 'bob@example.test')).at(-1)!.data.toString();
    assert.match(text, /with ESMTPSA \(TLSv1\.[23] cipher /);
    assert.equal((await queued(node.store)).filter((m) => /Subject: over 465/.test(m.data.toString())).length, 1);
  });

  test('no AUTH, no mail on 465 either (530)', async () => {
    const res = await run('python3', ['-c', SMTPLIB_SEND, 'ssl', String(node.submissions), '', '', ALICE, 'bob@example.test'], { input: 'x', timeoutMs: 30000 });
    assert.equal((JSON.parse(res.stdout) as SendResult).error?.[0], 530);
  });

  test('swaks --tlsc with AUTH PLAIN', async () => {
    const res = await run('swaks', ['--server', '127.0.0.1', '--port', String(node.submissions), '--tlsc', '--auth', 'PLAIN', '--auth-user', ALICE, '--auth-password', PW,
      '--from', ALICE, '--to', 'bob@example.test', '--header', 'Subject: swaks tlsc'], { timeoutMs: 30000 });
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.ok((await inbox(node.store, 'bob@example.test')).some((m) => /Subject: swaks tlsc/.test(m.data.toString())));
  });

  test('EHLO over implicit TLS lists AUTH and not STARTTLS; STARTTLS is refused', async () => {
    const w = await Wire.open(node.submissions, { tls: true });
    const ehlo = await w.hello();
    assert.ok(ehlo.lines.includes('AUTH PLAIN LOGIN'), ehlo.raw);
    assert.ok(!ehlo.lines.includes('STARTTLS'));
    assert.ok((await w.cmd('STARTTLS')).code >= 500);
    w.end();
  });
});

describe('AUTH needs TLS away from loopback', () => {
  let node: SubmissionNode;
  before(async () => {
    // Connections from 127.0.0.1 are a "traffic manager" whose PROXY header names the client.
    node = await startSubmissionNode({ users: { [ALICE]: PW }, trustedProxies: { trusts: (a) => a === '127.0.0.1' || a === '::ffff:127.0.0.1' } });
  });
  after(() => node.close());

  async function relayedFrom(client: string): Promise<Socket> {
    const socket = netConnect({ port: node.submission, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.write(encodeProxyV2({ address: client, port: 40000 }, { address: '127.0.0.1', port: node.submission }));
    return socket;
  }

  test('a remote client: no AUTH before STARTTLS (538 5.7.11), AUTH after it', async () => {
    const socket = await relayedFrom('192.0.2.10');
    const w = Wire.over(socket);
    const ehlo = await w.hello();
    assert.ok(!ehlo.lines.some((l) => l.startsWith('AUTH')), ehlo.raw);
    assert.ok(ehlo.lines.includes('STARTTLS'));
    const token = Buffer.from(`\0${ALICE}\0${PW}`).toString('base64');
    assert.match((await w.cmd(`AUTH PLAIN ${token}`)).raw, /^538 5\.7\.11 /);
    assert.match((await w.cmd('AUTH LOGIN')).raw, /^538 5\.7\.11 /, 'refused before the SASL exchange starts');
    assert.match((await w.cmd(`MAIL FROM:<${ALICE}>`)).raw, /^530 5\.7\.0 /);
    await expectCode(w.cmd('STARTTLS'), 220);
    socket.removeAllListeners('data');
    const secure = tlsConnect({ socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    const t = Wire.over(secure);
    const ehlo2 = await t.cmd('EHLO client.test');
    assert.ok(ehlo2.lines.includes('AUTH PLAIN LOGIN'), ehlo2.raw);
    await expectCode(t.cmd(`AUTH PLAIN ${token}`), 235);
    await expectCode(t.cmd(`MAIL FROM:<${ALICE}>`), 250);
    t.end();
  });

  test('a client on loopback (named by the PROXY header) may AUTH in clear', async () => {
    const w = Wire.over(await relayedFrom('127.0.0.5'));
    const ehlo = await w.hello();
    assert.ok(ehlo.lines.includes('AUTH PLAIN LOGIN'), ehlo.raw);
    await expectCode(w.cmd(`AUTH PLAIN ${Buffer.from(`\0${ALICE}\0${PW}`).toString('base64')}`), 235);
    w.end();
  });
});
