/**
 * PROXY v2 towards backends, as a pool option: the header a backend
 * receives names the real client and the virtual address; health checks
 * send LOCAL; with the option off (the default) no header is sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { parseProxyHeader, proxyV2Signature } from '../../src/net/proxy-protocol.js';
import { backendOf, fakeServer, greet, randomLoopback, startTestLb, waitFor } from './helpers.js';
import { createServer } from 'node:net';

test('with proxy-protocol on, the backend gets a v2 header with the client and virtual addresses', async () => {
  const host = randomLoopback();
  const smtp = await fakeServer('smtp', { name: 'pp', host, proxy: true });
  const lb = await startTestLb(`server pp ${host}\npool p\n  add pp smtp/1:${smtp.port}\n  proxy-protocol on\nend`, ['smtp']);
  try {
    await waitFor(() => smtp.headers.some((h) => h.command === 'local'), 3000, 'no health check with a LOCAL header');
    const clientAddress = randomLoopback();
    const { greeting, socket } = await greet(lb.host, lb.port('smtp'), { keepOpen: true, localAddress: clientAddress });
    assert.equal(backendOf(greeting), 'pp', 'the backend parsed the header and went on with SMTP');
    const relayed = smtp.headers.filter((h) => h.command === 'proxy');
    assert.equal(relayed.length, 1);
    assert.deepEqual(relayed[0], {
      version: 2, command: 'proxy', family: 'tcp4',
      source: { address: clientAddress, port: socket.localPort },
      destination: { address: lb.host, port: lb.port('smtp') },
      tlvs: [], headerBytes: 28,
    });
    socket.destroy();
  } finally {
    await lb.balancer.stop();
    await smtp.close();
  }
});

test('the raw bytes: exactly one v2 header, then the client bytes untouched', async () => {
  const host = randomLoopback();
  const got: Buffer[] = [];
  // A backend that records every byte of relayed connections (checks close at once: they wait for a greeting).
  const raw = createServer((s) => { const mine: Buffer[] = []; got.push(Buffer.alloc(0)); const i = got.length - 1; s.on('data', (c: Buffer) => { mine.push(c); got[i] = Buffer.concat(mine); }); s.on('error', () => {}); });
  await new Promise<void>((r) => raw.listen(0, host, r));
  const port = (raw.address() as { port: number }).port;
  // fall 100 so the silent backend (it never greets) stays in the pool for this test.
  const lb = await startTestLb(`fall 100\ncheck-timeout-ms 200\nserver raw ${host}\npool p\n  add raw smtp/1:${port}\n  proxy-protocol on\nend`, ['smtp']);
  try {
    const client = connect({ host: lb.host, port: lb.port('smtp') });
    await new Promise((r) => client.on('connect', r));
    client.write('EHLO me\r\n');
    await waitFor(() => got.some((b) => b.includes(Buffer.from('EHLO me'))), 3000, 'the client bytes never arrived');
    const bytes = got.find((b) => b.includes(Buffer.from('EHLO me')))!;
    assert.deepEqual(bytes.subarray(0, 12), proxyV2Signature);
    assert.equal(bytes[12], 0x21, 'version 2, PROXY');
    assert.equal(bytes[13], 0x11, 'TCP over IPv4');
    assert.equal(bytes.readUInt16BE(14), 12);
    const r = parseProxyHeader(bytes);
    assert.equal(r.kind, 'header');
    assert.equal(bytes.subarray(28).toString(), 'EHLO me\r\n');
    client.destroy();
  } finally {
    await lb.balancer.stop();
    raw.close();
  }
});

test('proxy-protocol is off by default: the backend sees the client bytes only', async () => {
  const host = randomLoopback();
  const smtp = await fakeServer('smtp', { name: 'plain', host });
  const lb = await startTestLb(`server plain ${host}\npool p\n  add plain smtp/1:${smtp.port}\nend`, ['smtp']);
  try {
    // A backend expecting no header would answer a header's bytes with errors; the greeting and EHLO show it did not.
    const { greeting, socket } = await greet(lb.host, lb.port('smtp'), { keepOpen: true });
    assert.equal(backendOf(greeting), 'plain');
    socket.write('EHLO me\r\n');
    const reply = await new Promise<string>((r) => socket.once('data', (c: Buffer) => r(c.toString())));
    assert.match(reply, /^250-plain\r\n/);
    socket.destroy();
  } finally {
    await lb.balancer.stop();
    await smtp.close();
  }
});
