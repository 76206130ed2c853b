/**
 * The DNS settings in the store change the answers of a running server:
 * per-domain node sets (reserved nodes), the traffic manager as MX and
 * service address, a fixed MX host, the TTL and the name servers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { data, eventually, nodeRegistration, startDnsFixture, type DnsFixture } from './harness.js';

describe('DNS settings', () => {
  let f: DnsFixture;
  before(async () => {
    f = await startDnsFixture({
      domains: ['example.test', 'big.test', 'small.test'],
      members: [
        nodeRegistration('node1', '127.0.0.11'),
        nodeRegistration('node2', '127.0.0.12'),
        nodeRegistration('node3', '127.0.0.13'),
        { ...nodeRegistration('lb1', '127.0.0.1', { smtp: { port: 10025, healthy: true }, imap: { port: 10143, healthy: true } }), role: 'balancer' },
      ],
      server: { staleAfterMs: 60_000, cacheMs: 50 },
    });
  });
  after(() => f.close());

  const mx = async (domain: string) => data(await f.dig(domain, 'MX'));

  it('serves a domain from its node set and keeps those nodes from the other domains', async () => {
    await f.store.settings.set('dns.nodes.big.test', 'node1,node2');
    assert.deepEqual(await eventually(() => mx('big.test'), (v) => v.length === 2), ['10 node1.big.test.', '10 node2.big.test.']);
    assert.deepEqual(await mx('example.test'), ['10 node3.example.test.'], 'node1 and node2 are reserved for big.test');
    assert.deepEqual(data(await f.dig('imap.small.test', 'A')), ['127.0.0.13']);
    assert.equal((await f.dig('node1.example.test', 'A')).status, 'NXDOMAIN', 'a reserved node has no name in other domains');
    assert.deepEqual(data(await f.dig('node1.big.test', 'A')), ['127.0.0.11']);

    await f.store.settings.set('dns.nodes.small.test', 'node3');
    // Every node is reserved now, so a domain without a set falls back to all of them rather than to none.
    assert.equal((await eventually(() => mx('example.test'), (v) => v.length === 3)).length, 3);
    assert.deepEqual(await mx('small.test'), ['10 node3.small.test.']);

    await f.store.settings.set('dns.nodes.big.test', '');
    await f.store.settings.set('dns.nodes.small.test', '');
    assert.equal((await eventually(() => mx('big.test'), (v) => v.length === 3)).length, 3);
  });

  it('points MX and the service names at the traffic manager when asked', async () => {
    await f.store.settings.set('dns.mx', 'balancer');
    await f.store.settings.set('dns.service-names', 'balancer');
    assert.deepEqual(await eventually(() => mx('example.test'), (v) => v.length === 1), ['10 lb1.example.test.']);
    assert.deepEqual(data(await f.dig('lb1.example.test', 'A')), ['127.0.0.1']);
    assert.deepEqual(data(await f.dig('imap.example.test', 'A')), ['127.0.0.1']);
    assert.deepEqual(data(await f.dig('pop3.example.test', 'A')), ['127.0.0.11', '127.0.0.12', '127.0.0.13'],
      'the traffic manager publishes no POP3, so pop3. still names the nodes');
    await f.store.settings.set('dns.mx', 'mx.provider.example.');
    assert.deepEqual(await eventually(() => mx('example.test'), (v) => v[0] === '10 mx.provider.example.'), ['10 mx.provider.example.']);
    await f.store.settings.set('dns.mx', 'nodes');
    await f.store.settings.set('dns.service-names', 'nodes');
    assert.equal((await eventually(() => mx('example.test'), (v) => v.length === 3)).length, 3);
  });

  it('uses the configured TTL, preference and name servers, and ignores a bad value', async () => {
    await f.store.settings.set('dns.ttl', '300');
    await f.store.settings.set('dns.mx.preference', '5');
    await f.store.settings.set('dns.ns', 'ns1,ns2,ns.provider.example.');
    await f.store.settings.set('dns.ns.addresses', '127.0.0.2,127.0.0.3');
    const r = await eventually(() => f.dig('example.test', 'MX'), (v) => v.answer[0]?.ttl === 300);
    assert.ok(r.answer.every((a) => a.ttl === 300 && a.data.startsWith('5 ')));
    assert.deepEqual(data(await f.dig('example.test', 'NS')), ['ns.provider.example.', 'ns1.example.test.', 'ns2.example.test.']);
    assert.deepEqual(data(await f.dig('ns2.example.test', 'A')), ['127.0.0.3'], 'paired with the addresses by position');
    assert.match((await f.dig('example.test', 'SOA')).answer[0]!.data, /^ns1\.example\.test\. /);

    await f.store.settings.set('dns.ttl', 'soon');
    const fallback = await eventually(() => f.dig('example.test', 'MX'), (v) => v.answer[0]?.ttl === 60);
    assert.equal(fallback.answer[0]!.ttl, 60, 'an unreadable TTL falls back to the default');
  });
});
