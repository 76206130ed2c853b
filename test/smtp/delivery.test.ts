/**
 * The happy path with real clients (python smtplib, swaks): byte-exact
 * storage behind the trace headers, one shared blob per message, aliases.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestNode, type TestNode } from '../helpers/test-node.js';
import { run } from '../helpers/clients.js';

/** Runs the smtplib sender with the message on stdin (1 MB does not fit in argv). */
async function send(port: number, sender: string, rcpts: string, body: Buffer): Promise<string> {
  const res = await run('python3', ['-c', SEND, String(port), sender, rcpts], { input: body, timeoutMs: 60000 });
  if (res.code !== 0) throw new Error(`python3 exited ${res.code}: ${res.stderr}`);
  return res.stdout;
}
import { inbox, splitTrace, Wire, expectCode } from './support.js';

const SEND = `
import smtplib, sys, base64
port, sender, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3].split(',')
body = sys.stdin.buffer.read()
with smtplib.SMTP('127.0.0.1', port, local_hostname='client.test', timeout=20) as s:
    refused = s.sendmail(sender, rcpts, body)
    print(repr(refused))
`;

/** A message to break naive servers: dots, 8-bit UTF-8, a binary attachment, 1 MB of text. */
function awkwardMessage(): Buffer {
  const binary = Buffer.alloc(3000);
  for (let i = 0; i < binary.length; i++) binary[i] = (i * 7919) & 0xff;
  const b64 = binary.toString('base64').replace(/.{76}/g, '$&\r\n');
  const text = 'The quick brown fox jumps over the lazy dog. 0123456789\r\n'.repeat(18_000);
  return Buffer.concat([
    Buffer.from(
      'From: Bob <bob@remote.test>\r\nTo: alice@example.test\r\nSubject: =?UTF-8?Q?caf=C3=A9?=\r\nMIME-Version: 1.0\r\n' +
        'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n',
    ),
    Buffer.from('.leading dot\r\n..two dots\r\n.\r\nnot the end\r\nCafé crème, naïve, 日本語\r\n', 'utf8'),
    Buffer.from(text),
    Buffer.from(`\r\n--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n--b1--\r\n`),
  ]);
}

describe('delivery', () => {
  let node: TestNode;
  before(async () => {
    node = await startTestNode({ users: { 'alice@example.test': 'pw', 'bob@example.test': 'pw', 'carol@example.test': 'pw' } });
    await node.store.directory.addAlias('team@example.test', ['alice@example.test', 'bob@example.test']);
  });
  after(() => node.close());

  test('smtplib: stored byte for byte behind Return-Path and Received', async () => {
    const body = awkwardMessage();
    const out = await send(node.ports.smtp, 'bob@remote.test', 'alice@example.test', body);
    assert.equal(out.trim(), '{}');
    const [msg] = await inbox(node.store, 'alice@example.test');
    assert.ok(msg);
    const { returnPath, received, rest } = splitTrace(msg.data);
    assert.equal(returnPath, 'Return-Path: <bob@remote.test>\r\n');
    assert.match(received, /^Received: from client\.test \(\[127\.0\.0\.1\]\)\r\n\tby mx\.example\.test \(Rookery\) with ESMTP\r\n\tid \S+\r\n\tfor <alice@example\.test>; \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000\r\n$/);
    assert.ok(rest.equals(body), 'the body differs from what was sent');
    assert.equal(msg.record.size, msg.data.length);
    const index = await node.store.mail.getMessageIndex(msg.record.blobId);
    assert.ok(index, 'the MIME index is computed at delivery');
    assert.equal(JSON.parse(index.json).size, msg.data.length);
  });

  test('several recipients share one blob and the Received names none of them', async () => {
    const body = Buffer.from('Subject: to two\r\n\r\nhello both\r\n');
    await send(node.ports.smtp, 'x@remote.test', 'alice@example.test,bob@example.test', body);
    const a = (await inbox(node.store, 'alice@example.test')).at(-1)!;
    const b = (await inbox(node.store, 'bob@example.test')).at(-1)!;
    assert.equal(a.record.blobId, b.record.blobId);
    assert.doesNotMatch(splitTrace(a.data).received, /\tfor </);
    assert.ok(splitTrace(a.data).rest.equals(body));
  });

  test('an alias expands to its members, and a member named twice gets one copy', async () => {
    const before = (await inbox(node.store, 'alice@example.test')).length;
    const beforeBob = (await inbox(node.store, 'bob@example.test')).length;
    const body = Buffer.from('Subject: team\r\n\r\nfor the team\r\n');
    await send(node.ports.smtp, 'x@remote.test', 'team@example.test,alice@example.test', body);
    assert.equal((await inbox(node.store, 'alice@example.test')).length, before + 1);
    assert.equal((await inbox(node.store, 'bob@example.test')).length, beforeBob + 1);
  });

  test('swaks delivers, with the null sender and "MAIL FROM: <>" spacing as real MTAs send it', async () => {
    const res = await run('swaks', ['--server', '127.0.0.1', '--port', String(node.ports.smtp), '--from', '<>', '--to', 'carol@example.test', '--helo', 'swaks.test', '--header', 'Subject: bounce', '--body', 'a bounce'], { timeoutMs: 20000 });
    assert.equal(res.code, 0, res.stdout + res.stderr);
    const [msg] = await inbox(node.store, 'carol@example.test');
    assert.ok(msg);
    assert.equal(splitTrace(msg.data).returnPath, 'Return-Path: <>\r\n');
    assert.match(msg.data.toString(), /a bounce/);

    const w = await Wire.open(node.ports.smtp);
    await w.hello();
    await expectCode(w.cmd('MAIL FROM: <bob@remote.test>'), 250);
    await expectCode(w.cmd('RCPT TO: <carol@example.test>'), 250);
    await expectCode(w.cmd('RSET'), 250);
    await w.cmd('QUIT');
    w.end();
  });

  test('the domain-less postmaster is accepted (RFC 5321 4.1.1.3)', async () => {
    await node.store.directory.addAlias('postmaster@example.test', ['carol@example.test']);
    const w = await Wire.open(node.ports.smtp);
    await w.hello();
    await w.begin('x@remote.test', ['postmaster']);
    w.write('Subject: pm\r\n\r\nhi\r\n.\r\n');
    await expectCode(w.reply(), 250);
    w.end();
    assert.match((await inbox(node.store, 'carol@example.test')).at(-1)!.data.toString(), /Subject: pm/);
  });
});
