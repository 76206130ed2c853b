/**
 * Who may receive: local users only, no open relay, forwards that leave the
 * cluster accepted (their copies are queued: test/submission/forwarding),
 * and the recipients-per-message cap.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestNode, type TestNode } from '../helpers/test-node.js';
import { python } from '../helpers/clients.js';
import { Wire, expectCode, inbox } from './support.js';

const RCPT = `
import smtplib, sys
port, rcpt = int(sys.argv[1]), sys.argv[2]
with smtplib.SMTP('127.0.0.1', port, timeout=20) as s:
    s.ehlo('client.test')
    s.mail('bob@remote.test')
    code, msg = s.rcpt(rcpt)
    print(code, msg.decode())
`;

describe('recipients', () => {
  let node: TestNode;
  before(async () => {
    node = await startTestNode({ users: { 'alice@example.test': 'pw', 'off@example.test': 'pw', 'fwd@example.test': 'pw' }, limits: { maxRecipients: 3 } });
    await node.store.directory.updateUser('off@example.test', { enabled: false });
    await node.store.directory.addForward('fwd@example.test', 'elsewhere@remote.test', true);
    await node.store.directory.addAlias('list@example.test', ['alice@example.test', 'someone@remote.test']);
  });
  after(() => node.close());

  const rcpt = async (address: string) => (await python(RCPT, [String(node.ports.smtp), address])).trim();

  test('a local user is accepted, case-insensitively', async () => {
    assert.match(await rcpt('Alice@Example.TEST'), /^250 2\.1\.5 /);
  });

  test('an unknown local user gets 550 5.1.1', async () => {
    assert.match(await rcpt('nobody@example.test'), /^550 5\.1\.1 /);
  });

  test('a disabled user is unknown', async () => {
    assert.match(await rcpt('off@example.test'), /^550 5\.1\.1 /);
  });

  test('another domain gets 554 5.7.1: no open relay', async () => {
    assert.match(await rcpt('victim@remote.test'), /^554 5\.7\.1 Relay access denied/);
  });

  test('a forward outside the cluster is accepted (the remote copy goes through the queue)', async () => {
    assert.match(await rcpt('fwd@example.test'), /^250 2\.1\.5 /);
  });

  test('an alias with a remote member is accepted', async () => {
    assert.match(await rcpt('list@example.test'), /^250 2\.1\.5 /);
  });

  test('the recipient cap answers 452 4.5.3 and keeps the transaction', async () => {
    for (const name of ['a', 'b', 'c', 'd']) {
      await node.store.directory.addUser({ address: `${name}@example.test`, password: 'pw' });
    }
    const w = await Wire.open(node.ports.smtp);
    await w.hello();
    await expectCode(w.cmd('MAIL FROM:<bob@remote.test>'), 250);
    for (const name of ['a', 'b', 'c']) await expectCode(w.cmd(`RCPT TO:<${name}@example.test>`), 250);
    const over = await w.cmd('RCPT TO:<d@example.test>');
    assert.equal(over.code, 452);
    assert.match(over.raw, /^452 4\.5\.3 /);
    await expectCode(w.cmd('DATA'), 354);
    w.write('Subject: capped\r\n\r\nhi\r\n.\r\n');
    await expectCode(w.reply(), 250);
    w.end();
    assert.equal((await inbox(node.store, 'c@example.test')).length, 1);
    assert.equal((await inbox(node.store, 'd@example.test')).length, 0);
  });

  test('unsupported RCPT parameters get 555 5.5.4', async () => {
    const w = await Wire.open(node.ports.smtp);
    await w.hello();
    await expectCode(w.cmd('MAIL FROM:<bob@remote.test>'), 250);
    const r = await w.cmd('RCPT TO:<alice@example.test> NOTIFY=NEVER');
    assert.match(r.raw, /^555 5\.5\.4 /);
    w.end();
  });
});
