/**
 * Stopping the service: idle sessions are told 421 at once; a message in
 * the middle of DATA is finished and acknowledged before the session is
 * closed, and close() waits for it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtpNode, Wire, expectCode } from './support.js';

test('close() ends idle sessions with 421 and lets a transaction in flight finish', async () => {
  const node = await startSmtpNode({ users: { 'alice@example.test': 'pw' } });
  const idle = await Wire.open(node.port);
  await idle.hello();
  const busy = await Wire.open(node.port);
  await busy.hello();
  await busy.begin('x@remote.test', ['alice@example.test']);
  busy.write('Subject: in flight\r\n\r\nfirst half\r\n');

  const started = Date.now();
  let closed = false;
  const closing = node.close().then(() => (closed = true));

  const bye = await idle.reply();
  assert.match(bye.raw, /^421 4\.3\.2 /);
  await idle.closedByServer();

  await new Promise((r) => setTimeout(r, 50));
  assert.equal(closed, false, 'close() returned while a message was in flight');
  busy.write('second half\r\n.\r\n');
  await expectCode(busy.reply(), 250);
  assert.equal((await busy.cmd('NOOP')).code, 421);
  busy.end();
  await closing;
  assert.ok(Date.now() - started < 5000);
});
