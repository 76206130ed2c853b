/**
 * Bad input gets a clear reply and never takes the node down: unknown and
 * out-of-sequence commands, 8-bit data, NUL bytes, early talkers, web
 * requests, and clients that vanish in the middle of a message.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtpNode, type SmtpNode, Wire, expectCode, inbox, splitTrace } from './support.js';

describe('bad input', () => {
  let node: SmtpNode;
  before(async () => {
    node = await startSmtpNode({ users: { 'alice@example.test': 'pw' } });
  });
  after(() => node.close());

  test('an unknown command gets 500 5.5.2 and the session goes on', async () => {
    const w = await Wire.open(node.port);
    await w.hello();
    const r = await w.cmd('XYZZY plugh');
    assert.match(r.raw, /^500 5\.5\.2 /);
    await expectCode(w.cmd('NOOP'), 250);
    w.end();
  });

  test('AUTH is not offered on the MX', async () => {
    const w = await Wire.open(node.port);
    await w.hello();
    const r = await w.cmd('AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABwdw==');
    assert.equal(r.code, 500);
    w.end();
  });

  test('commands out of sequence get 503 5.5.1', async () => {
    const w = await Wire.open(node.port);
    await w.reply();
    assert.match((await w.cmd('MAIL FROM:<a@remote.test>')).raw, /^503 5\.5\.1 /);
    await w.cmd('EHLO client.test');
    assert.match((await w.cmd('RCPT TO:<alice@example.test>')).raw, /^503 5\.5\.1 /);
    assert.match((await w.cmd('DATA')).raw, /^503 5\.5\.1 /);
    await expectCode(w.cmd('MAIL FROM:<a@remote.test>'), 250);
    assert.match((await w.cmd('MAIL FROM:<a@remote.test>')).raw, /^503 5\.5\.1 /);
    assert.match((await w.cmd('DATA')).raw, /^503 5\.5\.1 /);
    w.end();
  });

  test('malformed addresses and unsupported parameters are refused', async () => {
    const w = await Wire.open(node.port);
    await w.hello();
    assert.equal((await w.cmd('MAIL FROM:alice')).code, 501);
    assert.match((await w.cmd('MAIL FROM:<a@remote.test> FOO=BAR')).raw, /^555 5\.5\.4 /);
    w.end();
  });

  test('with a greeting delay, talking before the greeting gets 421', async () => {
    const patient = await startSmtpNode({ limits: { smtpGreetingDelayMs: 300 } });
    try {
      const w = await Wire.open(patient.port);
      w.write('EHLO hasty.test\r\n');
      const replies = [await w.reply(), await w.reply().catch(() => null)];
      assert.ok(replies.some((r) => r?.code === 421));
      await w.closedByServer();
    } finally {
      await patient.close();
    }
  });

  test('an HTTP request on the SMTP port is cut off', async () => {
    const w = await Wire.open(node.port);
    await w.reply();
    assert.equal((await w.cmd('GET / HTTP/1.1')).code, 421);
    await w.closedByServer();
  });

  test('8-bit data and UTF-8 addresses pass untouched', async () => {
    await node.store.directory.addUser({ address: 'jörg@example.test', password: 'pw' });
    const w = await Wire.open(node.port);
    await w.hello();
    await expectCode(w.cmd('MAIL FROM:<jürgen@remote.test> SMTPUTF8 BODY=8BITMIME'), 250);
    w.write(Buffer.from('RCPT TO:<jörg@example.test>\r\n', 'utf8'));
    await expectCode(w.reply(), 250);
    await expectCode(w.cmd('DATA'), 354);
    const body = Buffer.concat([Buffer.from('Subject: \xe9t\xe9\r\n\r\n', 'latin1'), Buffer.from([0x80, 0xff, 0xfe, 0x0d, 0x0a])]);
    w.write(Buffer.concat([body, Buffer.from('.\r\n')]));
    await expectCode(w.reply(), 250);
    w.end();
    const msg = (await inbox(node.store, 'jörg@example.test')).at(-1)!;
    const { received, rest } = splitTrace(msg.data);
    assert.ok(rest.equals(body));
    assert.match(received, /with UTF8SMTP\r\n/);
  });

  test('NUL bytes get the message refused with 554 5.6.0', async () => {
    const before = (await inbox(node.store, 'alice@example.test')).length;
    const w = await Wire.open(node.port);
    await w.hello();
    await w.begin('x@remote.test', ['alice@example.test']);
    w.write('Subject: nul\r\n\r\na\x00b\r\n.\r\n');
    const r = await w.reply();
    assert.match(r.raw, /^554 5\.6\.0 .*NUL/);
    await expectCode(w.cmd('NOOP'), 250);
    w.end();
    assert.equal((await inbox(node.store, 'alice@example.test')).length, before);
  });

  test('a client that vanishes mid-DATA leaves nothing and the node keeps serving', async () => {
    const before = (await inbox(node.store, 'alice@example.test')).length;
    const w = await Wire.open(node.port);
    await w.hello();
    await w.begin('x@remote.test', ['alice@example.test']);
    w.write('Subject: half\r\n\r\n' + 'x'.repeat(200_000) + '\r\n');
    await new Promise((r) => setTimeout(r, 100));
    w.socket.destroy();

    const w2 = await Wire.open(node.port);
    await w2.hello();
    await w2.begin('x@remote.test', ['alice@example.test']);
    w2.write('Subject: whole\r\n\r\nfine\r\n.\r\n');
    await expectCode(w2.reply(), 250);
    w2.end();
    const msgs = await inbox(node.store, 'alice@example.test');
    assert.equal(msgs.length, before + 1);
    assert.match(msgs.at(-1)!.data.toString(), /Subject: whole/);
  });
});
