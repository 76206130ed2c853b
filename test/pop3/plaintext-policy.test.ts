/**
 * Passwords cross the wire only over TLS or from loopback: a client that a
 * trusted traffic manager names as 192.0.2.10 sees no USER/SASL in CAPA and
 * gets [AUTH] for USER, PASS and AUTH until it has done STLS.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { encodeProxyV2 } from '../../src/net/proxy-protocol.js';
import { startTestNode, type TestNode } from '../helpers/test-node.js';

let node: TestNode;
before(async () => {
  node = await startTestNode({
    users: { 'far@example.test': 'pw' },
    // In the registry before the node starts, so the node trusts it at once.
    beforeStart: (store) => store.cluster.register({
      name: 'lb-test', role: 'balancer', address: '127.0.0.1', sourceAddress: '127.0.0.10', host: 'h', pid: 1, version: 't', services: {},
    }),
  });
});
after(async () => {
  await node.close();
});

/** Reads replies line by line from a socket. */
function lines(socket: Socket | TLSSocket): () => Promise<string> {
  let buffer = '';
  const waiting: ((line: string) => void)[] = [];
  const ready: string[] = [];
  socket.on('data', (c: Buffer) => {
    buffer += c.toString();
    let i;
    while ((i = buffer.indexOf('\r\n')) >= 0) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      const w = waiting.shift();
      if (w) w(line);
      else ready.push(line);
    }
  });
  return () => new Promise((resolve) => {
    const line = ready.shift();
    if (line !== undefined) resolve(line);
    else waiting.push(resolve);
  });
}

async function capa(socket: Socket | TLSSocket, next: () => Promise<string>): Promise<string[]> {
  socket.write('CAPA\r\n');
  assert.match(await next(), /^\+OK/);
  const out: string[] = [];
  for (let l = await next(); l !== '.'; l = await next()) out.push(l);
  return out;
}

test('a remote client behind the traffic manager must STLS before it may log in', async () => {
  const socket = connect({ host: '127.0.0.1', port: node.ports.pop3, localAddress: '127.0.0.10' });
  await new Promise((r) => socket.once('connect', r));
  socket.write(encodeProxyV2({ address: '192.0.2.10', port: 40000 }, { address: '127.0.0.1', port: node.ports.pop3 }));
  const next = lines(socket);
  assert.match(await next(), /^\+OK/);
  const before = await capa(socket, next);
  assert.ok(!before.includes('USER') && !before.some((c) => c.startsWith('SASL')), before.join(' '));
  assert.ok(before.includes('STLS'));
  socket.write('USER far@example.test\r\n');
  assert.match(await next(), /^-ERR \[AUTH\] .*STLS/);
  socket.write('AUTH PLAIN AGZhckBleGFtcGxlLnRlc3QAcHc=\r\n');
  assert.match(await next(), /^-ERR \[AUTH\]/);

  socket.write('STLS\r\n');
  assert.match(await next(), /^\+OK/);
  socket.removeAllListeners('data');
  const secure = tlsConnect({ socket, rejectUnauthorized: false });
  await new Promise((r) => secure.once('secureConnect', r));
  const nextTls = lines(secure);
  const after = await capa(secure, nextTls);
  assert.ok(after.includes('USER') && after.includes('SASL PLAIN'), after.join(' '));
  secure.write('USER far@example.test\r\n');
  assert.match(await nextTls(), /^\+OK/);
  secure.write('PASS pw\r\n');
  assert.match(await nextTls(), /^\+OK/);
  secure.write('QUIT\r\n');
  assert.match(await nextTls(), /^\+OK/);
  secure.destroy();
});

test('a client on loopback may log in without TLS (local tools and tests)', async () => {
  const socket = connect({ host: '127.0.0.1', port: node.ports.pop3 });
  const next = lines(socket);
  assert.match(await next(), /^\+OK/);
  assert.ok((await capa(socket, next)).includes('USER'));
  socket.write('USER far@example.test\r\nPASS pw\r\nQUIT\r\n');
  assert.match(await next(), /^\+OK/);
  assert.match(await next(), /^\+OK/);
  socket.destroy();
});

test('a traffic manager that registers after the node started is believed from its first connection', async () => {
  await node.store.cluster.register({
    name: 'lb-late', role: 'balancer', address: '127.0.0.1', sourceAddress: '127.0.0.20', host: 'h', pid: 2, version: 't', services: {},
  });
  // Past the quarter second in which the node may reuse its last reading of
  // the registry; well inside its 2 s background refresh.
  await new Promise((r) => setTimeout(r, 300));
  const socket = connect({ host: '127.0.0.1', port: node.ports.pop3, localAddress: '127.0.0.20' });
  await new Promise((r) => socket.once('connect', r));
  socket.write(encodeProxyV2({ address: '192.0.2.20', port: 40001 }, { address: '127.0.0.1', port: node.ports.pop3 }));
  const next = lines(socket);
  assert.match(await next(), /^\+OK/, 'the PROXY header was read as a header, not as a command');
  const caps = await capa(socket, next);
  assert.ok(!caps.includes('USER'), `the node took the client for 192.0.2.20, not loopback: ${caps.join(' ')}`);
  socket.destroy();
});
