/**
 * Answers follow the cluster's health: a node that stops heartbeating, turns
 * a service unhealthy or is drained leaves the shared names and the MX, and
 * comes back when it recovers; the SOA serial moves with the records.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { allHealthy, data, eventually, nodeRegistration, startDnsFixture, type DnsFixture } from './harness.js';

const staleAfterMs = 400;

describe('DNS answers follow health', () => {
  let f: DnsFixture;
  /** Nodes whose "process" still heartbeats, with the services they report. */
  const alive = new Map<string, ReturnType<typeof allHealthy>>();
  let beat: NodeJS.Timeout;

  before(async () => {
    f = await startDnsFixture({
      members: ['node1', 'node2', 'node3'].map((n, i) => nodeRegistration(n, `127.0.0.${11 + i}`)),
      server: { staleAfterMs, cacheMs: 50 },
    });
    for (const n of ['node1', 'node2', 'node3']) alive.set(n, allHealthy());
    beat = setInterval(() => {
      for (const [name, services] of alive) void f.store.cluster.heartbeat(name, services).catch(() => {});
    }, 100);
  });
  after(async () => {
    clearInterval(beat);
    await f.close();
  });

  const mx = async () => data(await f.dig('example.test', 'MX'));
  const smtp = async () => data(await f.dig('smtp.example.test', 'A', '+tcp'));
  const serial = async () => (await f.dig('example.test', 'SOA')).answer[0]!.data.split(' ')[2]!;

  it('lists every node while all are healthy', async () => {
    assert.deepEqual(await mx(), ['10 node1.example.test.', '10 node2.example.test.', '10 node3.example.test.']);
    assert.deepEqual(await smtp(), ['127.0.0.11', '127.0.0.12', '127.0.0.13']);
  });

  it('drops a node that stops heartbeating within the staleness, and takes it back when it returns', async () => {
    const before = await serial();
    alive.delete('node3');
    const started = Date.now();
    const gone = await eventually(mx, (v) => v.length === 2);
    assert.deepEqual(gone, ['10 node1.example.test.', '10 node2.example.test.']);
    assert.ok(Date.now() - started < staleAfterMs + 1000, 'gone within the staleness plus the cache');
    assert.deepEqual(await smtp(), ['127.0.0.11', '127.0.0.12']);
    assert.deepEqual(data(await f.dig('node3.example.test', 'A')), ['127.0.0.13'], 'its own name stays: it names a host, not a pool');
    assert.notEqual(await serial(), before, 'the serial changed with the records');

    alive.set('node3', allHealthy());
    assert.equal((await eventually(mx, (v) => v.length === 3)).length, 3);
  });

  it('drops a node whose SMTP check fails from the MX and smtp., but not from imap.', async () => {
    const sick = allHealthy();
    sick.smtp!.healthy = false;
    alive.set('node2', sick);
    assert.deepEqual(await eventually(mx, (v) => v.length === 2), ['10 node1.example.test.', '10 node3.example.test.']);
    assert.deepEqual(await smtp(), ['127.0.0.11', '127.0.0.13']);
    assert.deepEqual(data(await f.dig('imap.example.test', 'A')), ['127.0.0.11', '127.0.0.12', '127.0.0.13']);
    alive.set('node2', allHealthy());
    assert.equal((await eventually(mx, (v) => v.length === 3)).length, 3);
  });

  it('drops a draining node and takes it back when it is up again', async () => {
    await f.store.cluster.setState('node1', 'draining');
    assert.deepEqual(await eventually(mx, (v) => v.length === 2), ['10 node2.example.test.', '10 node3.example.test.']);
    await f.store.cluster.setState('node1', 'up');
    assert.equal((await eventually(mx, (v) => v.length === 3)).length, 3);
  });

  it('lists every node rather than none when no node is healthy, so that senders retry instead of bouncing', async () => {
    const saved = new Map(alive);
    alive.clear();
    await new Promise((r) => setTimeout(r, staleAfterMs + 200));
    assert.deepEqual(await mx(), ['10 node1.example.test.', '10 node2.example.test.', '10 node3.example.test.']);
    for (const [k, v] of saved) alive.set(k, v);
  });
});
