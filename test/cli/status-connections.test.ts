/**
 * `rookery status` shows each service's open connections, which nodes
 * publish in their registry heartbeat: a CONN column after the existing
 * ones (whose order and letters stay as they were), and
 * services.NAME.connections in --json. Run as the real command against a
 * store where a real node holds two IMAP connections.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { rookery } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';
import { openStore } from '../../src/store/open.js';
import { startNode, type RunningNode } from '../../src/node.js';
import type { Store } from '../../src/store/types.js';

let dir: string;
let store: Store;
let node: RunningNode;
const clients: Socket[] = [];

/** Opens an IMAP connection and waits for its greeting, so the server has counted it. */
function imapClient(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('error', reject);
    socket.once('data', () => resolve(socket));
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  dir = await tempDir();
  store = await openStore(dir);
  node = await startNode({ store, name: 'node1', address: '127.0.0.1', hostname: 'node1.example.test', ports: { smtp: 0, imap: 0 }, queue: false });
  clients.push(await imapClient(node.ports.imap), await imapClient(node.ports.imap));
  // A traffic manager that counts nothing: it must show no count rather than 0.
  await store.cluster.register({ name: 'lb1', role: 'balancer', address: '127.0.0.9', host: 'elsewhere', pid: 1, version: 'test', services: { smtp: { port: 25, healthy: true } } });
  await waitFor(async () => (await store.cluster.get('node1'))?.services.imap?.connections === 2, 'the heartbeat to report 2 IMAP connections');
});

after(async () => {
  for (const c of clients) c.destroy();
  await node.stop();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

test('--json gives services.NAME.connections for members that count them', async () => {
  const res = await rookery(['status', '--json', '--store', dir]);
  assert.equal(res.code, 0, res.stderr);
  const status = JSON.parse(res.stdout);
  const node1 = status.nodes.find((m: { name: string }) => m.name === 'node1');
  assert.deepEqual(node1.services.imap, { port: node.ports.imap, healthy: true, connections: 2 });
  assert.deepEqual(node1.services.smtp, { port: node.ports.smtp, healthy: true, connections: 0 });
  assert.equal(node1.status, 'SI', 'the status letters are unchanged');
  const lb1 = status.balancers.find((m: { name: string }) => m.name === 'lb1');
  assert.deepEqual(lb1.services.smtp, { port: 25, healthy: true }, 'no count from a member that does not publish one');
});

test('the text adds a CONN column at the end and keeps the columns before it', async () => {
  const res = await rookery(['status', '--store', dir]);
  assert.equal(res.code, 0, res.stderr);
  const lines = res.stdout.split('\n');
  assert.match(lines[0]!, /^NAME\s+ROLE\s+ADDRESS\s+PID\s+STATE\s+STATUS\s+HEARTBEAT\s+SERVICES\s+CONN$/);
  const row = lines.find((l) => l.startsWith('node1'))!;
  assert.match(row, new RegExp(`^node1\\s+node\\s+127\\.0\\.0\\.1\\s+\\d+\\s+up\\s+SI\\s+\\d+s ago\\s+smtp:${node.ports.smtp} imap:${node.ports.imap}\\s+smtp=0,imap=2$`), row);
  const lbRow = lines.find((l) => l.startsWith('lb1'))!;
  assert.match(lbRow, /^lb1\s+balancer\s+127\.0\.0\.9\s+elsewhere:1\s+\S+\s+\S+\s+\d+s ago\s+smtp:25(\(down\))?\s+-$/, lbRow);
  assert.match(res.stdout, /status letters: S smtp, U submission, P pop3, I imap, W web, D dns, Q queue; lower case = unhealthy\n$/);
});
