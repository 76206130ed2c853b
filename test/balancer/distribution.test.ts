/**
 * Connections through the virtual ports: weighted round robin and least
 * connections spread them as configured, a refusing backend is skipped
 * unseen, the connection limit turns clients away politely, and bytes pass
 * both ways untouched (backpressure and half-close included).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { backendOf, backendUp, fakeServer, freeBase, greet, randomLoopback, startTestLb, waitFor, type FakeServer } from './helpers.js';

async function backends(names: string[]): Promise<{ host: string; servers: Map<string, FakeServer> }> {
  const host = randomLoopback();
  const servers = new Map<string, FakeServer>();
  for (const name of names) servers.set(name, await fakeServer('smtp', { name, host }));
  return { host, servers };
}

function configFor(host: string, servers: Map<string, FakeServer>, weights: Record<string, number>, extra = ''): string {
  const lines = [extra, ...[...servers.keys()].map((n) => `server ${n} ${host}`), 'pool mail'];
  for (const [n, s] of servers) lines.push(`  add ${n} smtp/${weights[n] ?? 1}:${s.port}`);
  lines.push('end');
  return lines.join('\n');
}

test('weighted round robin: 60 connections over weights 3:2:1 land 30/20/10', async () => {
  const { host, servers } = await backends(['a', 'b', 'c']);
  const lb = await startTestLb(configFor(host, servers, { a: 3, b: 2, c: 1 }), ['smtp']);
  try {
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 60; i++) counts[backendOf((await greet(lb.host, lb.port('smtp'))).greeting)]!++;
    assert.deepEqual(counts, { a: 30, b: 20, c: 10 });
  } finally {
    await lb.balancer.stop();
    for (const s of servers.values()) await s.close();
  }
});

test('least connections: new clients go to the backend with the fewest open sessions', async () => {
  const { host, servers } = await backends(['a', 'b']);
  const lb = await startTestLb(configFor(host, servers, {}, 'scheduler least-connections'), ['smtp']);
  const held = [];
  try {
    // Two long sessions: one on each backend.
    for (let i = 0; i < 2; i++) held.push(await greet(lb.host, lb.port('smtp'), { keepOpen: true }));
    const holders = held.map((h) => backendOf(h.greeting)).sort();
    assert.deepEqual(holders, ['a', 'b']);
    // End the one on b: b now has none, a has one; round robin would go back to a, least connections to b.
    const onB = held.find((h) => backendOf(h.greeting) === 'b')!;
    held.splice(held.indexOf(onB), 1);
    onB.socket.end('QUIT\r\n');
    await new Promise((r) => onB.socket.on('close', r));
    await waitFor(() => lb.balancer.status().smtp!.backends.find((b) => b.name === 'b')!.activeConnections === 0, 2000, 'b still counts a session');
    const next = await greet(lb.host, lb.port('smtp'), { keepOpen: true });
    held.push(next);
    assert.equal(backendOf(next.greeting), 'b');
    // Four more: each goes to a least-loaded backend, so the loads end even.
    for (let i = 0; i < 4; i++) held.push(await greet(lb.host, lb.port('smtp'), { keepOpen: true }));
    const counts = { a: 0, b: 0 } as Record<string, number>;
    for (const h of held) counts[backendOf(h.greeting)]!++;
    assert.deepEqual(counts, { a: 3, b: 3 });
  } finally {
    for (const h of held) h.socket.destroy();
    await lb.balancer.stop();
    for (const s of servers.values()) await s.close();
  }
});

test('a backend that refuses is skipped and the client never sees it', async () => {
  const { host, servers } = await backends(['a']);
  const deadPort = await freeBase(host, [0]);
  // fall 100: the dead one stays "up" for the checks, so every client meets it first half the time.
  const text = configFor(host, servers, {}, 'fall 100') + `\nserver dead ${host}\npool dead\n  add dead smtp/1:${deadPort}\nend\n`;
  const lb = await startTestLb(text, ['smtp']);
  try {
    for (let i = 0; i < 20; i++) assert.equal(backendOf((await greet(lb.host, lb.port('smtp'))).greeting), 'a');
    assert.equal(backendUp(lb, 'smtp', 'dead'), true, 'refusals were skipped, not waited out by the checks');
  } finally {
    await lb.balancer.stop();
    for (const s of servers.values()) await s.close();
  }
});

test('with no backend left, SMTP clients get 421, POP3 clients -ERR, and nothing hangs', async () => {
  const host = randomLoopback();
  const deadPort = await freeBase(host, [0]);
  const lb = await startTestLb(`server dead ${host}\npool p\n  add dead smtp/1:${deadPort} pop3/1:${deadPort}\nend\n`, ['smtp', 'pop3']);
  try {
    assert.match((await greet(lb.host, lb.port('smtp'))).greeting, /^421 4\.3\.2 /);
    assert.match((await greet(lb.host, lb.port('pop3'))).greeting, /^-ERR \[SYS\/TEMP\] /);
  } finally {
    await lb.balancer.stop();
  }
});

test('the per-service connection limit turns the next client away with 421, and frees with the sessions', async () => {
  const { host, servers } = await backends(['a']);
  const lb = await startTestLb(configFor(host, servers, {}) + '\nservice smtp\n  max-connections 2\nend\n', ['smtp']);
  const held = [];
  try {
    held.push(await greet(lb.host, lb.port('smtp'), { keepOpen: true }));
    held.push(await greet(lb.host, lb.port('smtp'), { keepOpen: true }));
    assert.match((await greet(lb.host, lb.port('smtp'))).greeting, /^421 /, 'the third is over the limit');
    held.shift()!.socket.destroy();
    await waitFor(() => lb.balancer.status().smtp!.connections === 1, 2000, 'the ended session is still counted');
    assert.match((await greet(lb.host, lb.port('smtp'))).greeting, /^220 a /);
  } finally {
    for (const h of held) h.socket.destroy();
    await lb.balancer.stop();
    for (const s of servers.values()) await s.close();
  }
});

test('8 MB each way through the splice, untouched, with the reply after the client half-closes', async () => {
  const host = randomLoopback();
  const echo = await fakeServer('http', { name: 'echo', host });
  const lb = await startTestLb(`server echo ${host}\npool web\n  add echo http/1:${echo.port}\nend\n`, ['http']);
  try {
    const payload = randomBytes(8 * 1024 * 1024);
    const received = await new Promise<Buffer>((resolve, reject) => {
      const socket = connect({ host: lb.host, port: lb.port('http') });
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('end', () => resolve(Buffer.concat(chunks)));
      socket.on('error', reject);
      // Written in one go; pipe() on both hops must apply backpressure rather than fail.
      socket.end(payload);
    });
    const digest = createHash('sha256').update(payload).digest('hex');
    assert.equal(received.length, payload.length + `sha256=${digest}\n`.length);
    assert.ok(received.subarray(0, payload.length).equals(payload), 'the echo came back byte for byte');
    assert.equal(received.subarray(payload.length).toString(), `sha256=${digest}\n`, 'the backend got every byte, then the FIN');
    assert.equal(echo.relayed, 1);
  } finally {
    await lb.balancer.stop();
    await echo.close();
  }
});

test('a slow client: 12 MB from the backend arrive untouched while the relay buffer grows, pauses and shrinks', async () => {
  const host = randomLoopback();
  const payload = randomBytes(12 * 1024 * 1024);
  const tail = Array.from({ length: 12 }, (_, i) => `small write ${i}\n`);
  // On "SEND": the payload in writes of uneven sizes, then small writes apart (the relay's buffer shrinks back), then FIN.
  const raw = createServer((s: Socket) => {
    s.on('error', () => {});
    s.once('data', async () => {
      for (let at = 0, n = 1; at < payload.length; at += n, n = (n * 7919) % 300_000 + 1) s.write(payload.subarray(at, at + n));
      for (const line of tail) {
        await new Promise((r) => setTimeout(r, 15));
        s.write(line);
      }
      s.end();
    });
  });
  await new Promise<void>((r) => raw.listen(0, host, r));
  const port = (raw.address() as { port: number }).port;
  // fall 100: the raw backend never greets, so it fails its checks but stays in the pool for this test.
  const lb = await startTestLb(`fall 100\ncheck-timeout-ms 200\nserver raw ${host}\npool p\n  add raw smtp/1:${port}\nend`, ['smtp']);
  try {
    const received = await new Promise<Buffer>((resolve, reject) => {
      const client = connect({ host: lb.host, port: lb.port('smtp') });
      const chunks: Buffer[] = [];
      client.on('error', reject);
      client.on('connect', () => {
        client.write('SEND\r\n');
        // Not reading for a while fills the client's socket: the relay must pause the backend, not lose or reorder bytes.
        client.pause();
        setTimeout(() => client.resume(), 500);
      });
      client.on('data', (c: Buffer) => chunks.push(c));
      client.on('end', () => resolve(Buffer.concat(chunks)));
    });
    const expected = Buffer.concat([payload, Buffer.from(tail.join(''))]);
    assert.equal(received.length, expected.length);
    assert.ok(received.equals(expected), 'every byte, in order, then the FIN');
  } finally {
    await lb.balancer.stop();
    raw.close();
  }
});

test('the idle timeout cuts a silent session and spares a talking one', async () => {
  const { host, servers } = await backends(['a']);
  const lb = await startTestLb(configFor(host, servers, {}) + '\nservice smtp\n  idle-timeout-ms 1000\nend\n', ['smtp']);
  try {
    const quiet = await greet(lb.host, lb.port('smtp'), { keepOpen: true });
    const chatty = await greet(lb.host, lb.port('smtp'), { keepOpen: true });
    const quietClosedAt = new Promise<number>((r) => quiet.socket.on('close', () => r(Date.now())));
    let chattyClosed = false;
    chatty.socket.on('close', () => { chattyClosed = true; });
    chatty.socket.on('data', () => {});
    const started = Date.now();
    const talk = setInterval(() => chatty.socket.write('NOOP\r\n'), 300);
    const closedAfterMs = (await quietClosedAt) - started;
    await new Promise((r) => setTimeout(r, 800));
    clearInterval(talk);
    assert.ok(closedAfterMs >= 900 && closedAfterMs < 3000, `the silent session closed after ${closedAfterMs} ms`);
    assert.equal(chattyClosed, false, 'a session with traffic every 300 ms outlives the 1 s idle timeout');
    chatty.socket.destroy();
  } finally {
    await lb.balancer.stop();
    for (const s of servers.values()) await s.close();
  }
});
