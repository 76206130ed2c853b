/**
 * Every SMTP limit trips with its own reply: message size (at MAIL FROM
 * and after DATA), command line length, bad commands, connections per
 * address, idle time, Received headers (loops), and a nearly full disk.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtpNode, type SmtpNode, Wire, expectCode, inbox } from './support.js';
import { python } from '../helpers/clients.js';
import type { Store } from '../../src/store/types.js';

const MAX = 10_000;

describe('limits', () => {
  let node: SmtpNode;
  before(async () => {
    node = await startSmtpNode({
      users: { 'alice@example.test': 'pw' },
      limits: { maxMessageBytes: MAX, maxSmtpLineBytes: 200, maxSmtpBadCommands: 3, maxConnectionsPerIp: 4, maxReceivedHeaders: 5 },
    });
  });
  after(() => node.close());

  test('EHLO announces the size limit', async () => {
    const w = await Wire.open(node.port);
    const ehlo = await w.hello();
    assert.ok(ehlo.lines.includes(`SIZE ${MAX}`));
    w.end();
  });

  test('SIZE= over the limit is refused at MAIL FROM with 552 5.3.4', async () => {
    const out = await python(`
import smtplib, sys
with smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=20) as s:
    s.ehlo('client.test')
    print(*s.mail('a@remote.test', ['SIZE=%d' % (int(sys.argv[2]) + 1)]))
`, [String(node.port), String(MAX)]);
    assert.match(out, /^552 b'5\.3\.4 /);
  });

  test('a message over the limit gets 552 5.3.4 after DATA, is not stored, and the session goes on', async () => {
    const w = await Wire.open(node.port);
    await w.hello();
    await w.begin('a@remote.test', ['alice@example.test']);
    w.write('Subject: big\r\n\r\n' + 'y'.repeat(MAX) + '\r\n.\r\n');
    const r = await w.reply();
    assert.match(r.raw, /^552 5\.3\.4 /);
    await w.begin('a@remote.test', ['alice@example.test']);
    w.write('Subject: small\r\n\r\nok\r\n.\r\n');
    await expectCode(w.reply(), 250);
    w.end();
    const msgs = await inbox(node.store, 'alice@example.test');
    assert.equal(msgs.filter((m) => m.data.includes('Subject: big')).length, 0);
  });

  test('a command line over the limit gets 500 5.5.2 and the connection closes', async () => {
    const w = await Wire.open(node.port);
    await w.hello();
    const r = await w.cmd('MAIL FROM:<' + 'a'.repeat(300) + '@remote.test>');
    assert.match(r.raw, /^500 5\.5\.2 Line too long/);
    await w.closedByServer();
  });

  test('too many bad commands end the session with 421', async () => {
    const w = await Wire.open(node.port);
    await w.hello();
    assert.equal((await w.cmd('BOGUS1')).code, 500);
    assert.equal((await w.cmd('RCPT TO:<x@example.test>')).code, 503);
    const third = await w.cmd('BOGUS3');
    assert.equal(third.code, 500);
    const bye = await w.reply();
    assert.match(bye.raw, /^421 4\.7\.0 /);
    await w.closedByServer();
  });

  test('connections beyond the per-address cap get 421 4.7.0', async () => {
    const held: Wire[] = [];
    for (let i = 0; i < 4; i++) {
      const w = await Wire.open(node.port);
      await w.reply();
      held.push(w);
    }
    const extra = await Wire.open(node.port);
    const r = await extra.reply();
    assert.match(r.raw, /^421 4\.7\.0 /);
    await extra.closedByServer();
    for (const w of held) w.end();
    // Closing frees the slots again.
    await new Promise((r) => setTimeout(r, 100));
    const again = await Wire.open(node.port);
    assert.equal((await again.reply()).code, 220);
    again.end();
  });

  test('more Received headers than the limit is a loop: 554 5.4.6', async () => {
    const w = await Wire.open(node.port);
    await w.hello();
    await w.begin('a@remote.test', ['alice@example.test']);
    w.write('Received: from a\r\n'.repeat(6) + 'Subject: loop\r\n\r\nround and round\r\n.\r\n');
    assert.match((await w.reply()).raw, /^554 5\.4\.6 /);
    await w.begin('a@remote.test', ['alice@example.test']);
    w.write('Received: from a\r\n'.repeat(5) + 'Subject: fine\r\n\r\nok\r\n.\r\n');
    await expectCode(w.reply(), 250);
    w.end();
  });
});

describe('idle timeout', () => {
  let node: SmtpNode;
  before(async () => {
    node = await startSmtpNode({ limits: { smtpIdleTimeoutMs: 300 } });
  });
  after(() => node.close());

  test('a silent client gets 421 and is disconnected', async () => {
    const w = await Wire.open(node.port);
    await w.hello();
    const r = await w.reply(3000);
    assert.equal(r.code, 421);
    await w.closedByServer();
  });
});

describe('disk nearly full', () => {
  let node: SmtpNode;
  let free = Number.MAX_SAFE_INTEGER;
  before(async () => {
    node = await startSmtpNode({
      users: { 'alice@example.test': 'pw' },
      limits: { maxMessageBytes: 1_000_000 },
      wrap: (store: Store) => ({
        ...store,
        location: store.location,
        directory: store.directory,
        mail: store.mail,
        settings: store.settings,
        close: () => store.close(),
        blobs: new Proxy(store.blobs, {
          get: (target, prop) => (prop === 'freeBytes' ? async () => free : Reflect.get(target, prop, target)),
        }),
      }),
    });
  });
  after(() => node.close());

  test('MAIL FROM gets 452 4.3.1 below 1.5 times the message size limit', async () => {
    const w = await Wire.open(node.port);
    await w.hello();
    free = 1_499_999;
    assert.match((await w.cmd('MAIL FROM:<a@remote.test>')).raw, /^452 4\.3\.1 /);
    free = 1_500_000;
    await expectCode(w.cmd('MAIL FROM:<a@remote.test>'), 250);
    w.end();
  });
});
