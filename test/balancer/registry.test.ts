/**
 * Pools taken live from the store's cluster registry: nodes that are up and
 * report a service healthy join its pool; draining or stale ones leave it.
 * The traffic manager registers itself as a balancer, heartbeats, and is
 * 'down' after a clean stop.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { openStore } from '../../src/store/open.js';
import { tempDir } from '../helpers/temp.js';
import { backendOf, backendUp, fakeServer, greet, randomLoopback, startTestLb, waitFor } from './helpers.js';

test('registry nodes fill the pools per service, drain removes them, and the balancer registers itself', async () => {
  const dir = await tempDir('rookery-lb-registry-');
  const store = await openStore(dir);
  const host = randomLoopback();
  const n1smtp = await fakeServer('smtp', { name: 'n1', host });
  const n1pop3 = await fakeServer('pop3', { name: 'n1', host });
  const n2smtp = await fakeServer('smtp', { name: 'n2', host });
  const member = (name: string, services: Record<string, { port: number; healthy: boolean }>) =>
    ({ name, role: 'node' as const, address: host, host: 'test', pid: process.pid, version: 'test', services });
  await store.cluster.register(member('n1', { smtp: { port: n1smtp.port, healthy: true }, pop3: { port: n1pop3.port, healthy: true } }));
  // n2 says its POP3 is unhealthy: only its SMTP joins.
  await store.cluster.register(member('n2', { smtp: { port: n2smtp.port, healthy: true }, pop3: { port: 1, healthy: false } }));
  const beat = setInterval(() => {
    void store.cluster.heartbeat('n1', { smtp: { port: n1smtp.port, healthy: true }, pop3: { port: n1pop3.port, healthy: true } }).catch(() => {});
    void store.cluster.heartbeat('n2', { smtp: { port: n2smtp.port, healthy: true }, pop3: { port: 1, healthy: false } }).catch(() => {});
  }, 500);
  const lb = await startTestLb('', ['smtp', 'pop3'], { store, name: 'lb-registry-test' });
  try {
    const smtpSeen = new Set<string>();
    for (let i = 0; i < 4; i++) smtpSeen.add(backendOf((await greet(lb.host, lb.port('smtp'))).greeting));
    assert.deepEqual([...smtpSeen].sort(), ['n1', 'n2']);
    assert.deepEqual(lb.balancer.status().pop3!.backends.map((b) => b.name), ['n1']);

    await waitFor(async () => (await store.cluster.get('lb-registry-test'))?.services.smtp?.healthy === true, 3000, 'the balancer did not report its services');
    const self = (await store.cluster.get('lb-registry-test'))!;
    assert.equal(self.role, 'balancer');
    assert.equal(self.address, lb.host);
    assert.deepEqual(self.services.smtp, { port: lb.port('smtp'), healthy: true });

    await store.cluster.setState('n2', 'draining');
    await waitFor(() => backendUp(lb, 'smtp', 'n2') === undefined, 3000, 'a draining node stayed in the pool');
    for (let i = 0; i < 4; i++) assert.equal(backendOf((await greet(lb.host, lb.port('smtp'))).greeting), 'n1');
  } finally {
    clearInterval(beat);
    await lb.balancer.stop();
    assert.equal((await store.cluster.get('lb-registry-test'))?.state, 'down', 'a clean stop leaves the balancer down');
    await store.close();
    for (const s of [n1smtp, n1pop3, n2smtp]) await s.close();
    await rm(dir, { recursive: true, force: true });
  }
});
