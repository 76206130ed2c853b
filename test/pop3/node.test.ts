/** POP3 and POP3S as a composed node runs them: limits and the certificate come from the store. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../helpers/clients.js';
import { startTestNode, type TestNode } from '../helpers/test-node.js';
import { RawClient } from './harness.js';

const USER = 'carol@example.test';
const PASS = 'node secret';
let node: TestNode;

before(async () => {
  node = await startTestNode({ users: { [USER]: PASS }, limits: { maxPop3LineBytes: 64 } });
  const user = (await node.store.directory.getUser(USER))!;
  const body = Buffer.from('Subject: via node\r\n\r\n.dot line\r\nend\r\n');
  const blob = await node.store.blobs.put(body);
  await node.store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), targets: [{ userId: user.id }], onOverQuota: 'fail' });
});
after(() => node.close());

test('curl reads a message on the node\'s pop3 port, plain and with STLS', async () => {
  for (const extra of [[], ['--ssl-reqd', '-k']]) {
    const res = await run('curl', ['-s', '-S', ...extra, `pop3://${node.host}:${node.ports.pop3}/1`, '-u', `${USER}:${PASS}`]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, 'Subject: via node\r\n\r\n.dot line\r\nend\r\n');
  }
});

test('curl lists the maildrop on the node\'s pop3s port', async () => {
  const res = await run('curl', ['-s', '-S', '-k', `pop3s://${node.host}:${node.ports.pop3s}/`, '-u', `${USER}:${PASS}`]);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /^1 \d+\r?\n$/);
});

test('limits set in the store are the ones the node enforces', async () => {
  const { client } = await RawClient.open(node.ports.pop3);
  assert.equal(await client.command('USER ' + 'x'.repeat(70)), '-ERR line too long (limit 64 octets)');
  await client.command('QUIT');
});
