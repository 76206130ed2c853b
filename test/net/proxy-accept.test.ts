import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket, type AddressInfo } from 'node:net';
import { readProxyHeader } from '../../src/net/proxy-accept.js';
import { encodeProxyV2, encodeProxyV2Local } from '../../src/net/proxy-protocol.js';

/** One connection to a throwaway server; resolves with the accepted socket and the client's. */
async function pair(): Promise<{ server: Socket; client: Socket; close(): void }> {
  return new Promise((resolve) => {
    const srv = createServer((server) => resolve({ server, client, close: () => { server.destroy(); client.destroy(); srv.close(); } }));
    let client: Socket;
    srv.listen(0, '127.0.0.1', () => {
      client = connect((srv.address() as AddressInfo).port, '127.0.0.1');
    });
  });
}

function readAll(socket: Socket, bytes: number): Promise<Buffer> {
  return new Promise((resolve) => {
    let data = Buffer.alloc(0);
    socket.on('data', (c: Buffer) => {
      data = Buffer.concat([data, c]);
      if (data.length >= bytes) resolve(data);
    });
    socket.resume();
  });
}

test('a v2 header and the first protocol bytes in one write: the client is named and no byte is lost or repeated', async () => {
  const p = await pair();
  try {
    const payload = Buffer.from('EHLO client.example\r\n');
    p.client.write(Buffer.concat([encodeProxyV2({ address: '192.0.2.7', port: 4321 }, { address: '127.0.0.1', port: 25 }), payload]));
    const client = await readProxyHeader(p.server, { timeoutMs: 2000 });
    assert.deepEqual(client, { address: '192.0.2.7', port: 4321 });
    assert.deepEqual(await readAll(p.server, payload.length), payload);
  } finally {
    p.close();
  }
});

test('a LOCAL header (a health check) names the peer itself', async () => {
  const p = await pair();
  try {
    p.client.write(Buffer.concat([encodeProxyV2Local(), Buffer.from('x')]));
    const client = await readProxyHeader(p.server, { timeoutMs: 2000 });
    assert.equal(client.address, '127.0.0.1');
    assert.deepEqual(await readAll(p.server, 1), Buffer.from('x'));
  } finally {
    p.close();
  }
});

test('garbage, silence and an overlong header are refused', async () => {
  const garbage = await pair();
  garbage.client.write('EHLO not-a-proxy\r\n');
  await assert.rejects(readProxyHeader(garbage.server, { timeoutMs: 2000 }), /bad PROXY header/);
  garbage.close();
  const silent = await pair();
  await assert.rejects(readProxyHeader(silent.server, { timeoutMs: 100 }), /no PROXY header in time/);
  silent.close();
  const long = await pair();
  long.client.write(Buffer.concat([Buffer.from('PROXY TCP4 '), Buffer.alloc(200, 0x31)]));
  await assert.rejects(readProxyHeader(long.server, { timeoutMs: 2000 }), /PROXY header/);
  long.close();
});
