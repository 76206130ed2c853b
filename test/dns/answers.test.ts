/**
 * The DNS server's answers, as dig (a client nobody here wrote) sees them
 * over UDP and TCP: MX, the service names, per-node and webmail names,
 * SOA/NS, NXDOMAIN, NODATA, REFUSED, ANY, rotation and truncation.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { allHealthy, data, nodeRegistration, startDnsFixture, type DnsFixture } from './harness.js';

describe('DNS answers through dig', () => {
  let f: DnsFixture;
  before(async () => {
    const noImap = allHealthy();
    noImap.imap!.healthy = false;
    f = await startDnsFixture({
      domains: ['example.test', 'other.test'],
      members: [
        nodeRegistration('node1', '127.0.0.11'),
        nodeRegistration('node2', '127.0.0.12', noImap),
        nodeRegistration('node3', '::1', { smtp: { port: 10025, healthy: true } }),
      ],
      // The registry would call these nodes down after 3 s without heartbeats; this file is about answers, not health.
      server: { staleAfterMs: 60_000 },
    });
  });
  after(() => f.close());

  for (const transport of ['UDP', 'TCP']) {
    const extra = transport === 'TCP' ? ['+tcp'] : [];
    it(`answers MX with every healthy SMTP node at one preference, with their addresses (${transport})`, async () => {
      const r = await f.dig('example.test', 'MX', ...extra);
      assert.equal(r.transport, transport);
      assert.equal(r.status, 'NOERROR');
      assert.ok(r.flags.includes('aa'), 'authoritative');
      assert.ok(!r.flags.includes('ra'), 'no recursion offered');
      assert.deepEqual(data(r, 'MX'), ['10 node1.example.test.', '10 node2.example.test.', '10 node3.example.test.']);
      assert.ok(r.answer.every((a) => a.ttl === 60), 'TTL 60 s by default');
      assert.deepEqual(r.additional.filter((a) => a.type !== 'OPT').map((a) => `${a.name} ${a.data}`).sort(),
        ['node1.example.test. 127.0.0.11', 'node2.example.test. 127.0.0.12', 'node3.example.test. ::1']);
    });

    it(`answers the service names with the nodes whose services are healthy (${transport})`, async () => {
      assert.deepEqual(data(await f.dig('imap.example.test', 'A', ...extra)), ['127.0.0.11'], 'node2 has an unhealthy IMAP');
      assert.deepEqual(data(await f.dig('smtp.example.test', 'A', ...extra)), ['127.0.0.11', '127.0.0.12']);
      assert.deepEqual(data(await f.dig('smtp.example.test', 'AAAA', ...extra)), ['::1']);
      assert.deepEqual(data(await f.dig('pop3.other.test', 'A', ...extra)), ['127.0.0.11', '127.0.0.12']);
      assert.deepEqual(data(await f.dig('webmail.example.test', 'A', ...extra)), ['127.0.0.11', '127.0.0.12']);
      assert.deepEqual(data(await f.dig('mail.example.test', 'A', ...extra)), ['127.0.0.11'], 'mail. needs every mail service healthy');
    });
  }

  it('answers each node by name and by its webmail magic name', async () => {
    assert.deepEqual(data(await f.dig('node2.example.test', 'A')), ['127.0.0.12']);
    assert.deepEqual(data(await f.dig('NODE3.Example.TEST', 'AAAA')), ['::1'], 'names match whatever their case');
    assert.deepEqual(data(await f.dig('webmail01.example.test', 'A')), ['127.0.0.11']);
    assert.deepEqual(data(await f.dig('webmail02.other.test', 'A')), ['127.0.0.12']);
    const r = await f.dig('webmail03.example.test', 'A');
    assert.equal(r.status, 'NXDOMAIN', 'node3 runs no web service, so it has no webmail name');
  });

  it('answers SOA and NS, the name server at the server\'s own address', async () => {
    const soa = await f.dig('example.test', 'SOA', '+tcp');
    assert.equal(soa.answer.length, 1);
    assert.match(soa.answer[0]!.data, /^ns1\.example\.test\. hostmaster\.example\.test\. \d{10} 3600 600 1209600 60$/);
    const ns = await f.dig('example.test', 'NS');
    assert.deepEqual(data(ns), ['ns1.example.test.']);
    assert.deepEqual(ns.additional.filter((a) => a.type === 'A').map((a) => a.data), ['127.0.0.1']);
    assert.deepEqual(data(await f.dig('ns1.other.test', 'A')), ['127.0.0.1']);
  });

  it('says NXDOMAIN with the SOA for names that do not exist, and NODATA for types that do not', async () => {
    const nx = await f.dig('nosuch.example.test', 'A');
    assert.equal(nx.status, 'NXDOMAIN');
    assert.ok(nx.flags.includes('aa'));
    assert.deepEqual(nx.authority.map((a) => a.type), ['SOA']);
    for (const type of ['TXT', 'CAA', 'TYPE65000', 'AAAA']) {
      const nodata = await f.dig('node1.example.test', type);
      assert.equal(nodata.status, 'NOERROR', type);
      assert.equal(nodata.answer.length, 0, type);
      assert.deepEqual(nodata.authority.map((a) => a.type), ['SOA'], type);
    }
  });

  it('refuses names outside its zones, other classes and zone transfers', async () => {
    for (const [name, type, ...extra] of [['example.com', 'A'], ['test', 'SOA'], ['.', 'NS'], ['version.bind', 'TXT', '-c', 'CH'], ['example.test', 'AXFR']] as string[][]) {
      if (type === 'AXFR') {
        // dig prints a failed transfer rather than a header; the server must refuse and stay up.
        const r = await f.dig(name!, type, ...extra!);
        assert.match(r.raw, /Transfer failed|REFUSED/);
        continue;
      }
      const r = await f.dig(name!, type!, ...extra!);
      assert.equal(r.status, 'REFUSED', `${name} ${type}`);
      assert.ok(!r.flags.includes('aa'), `${name}: not authoritative`);
      assert.equal(r.answer.length, 0);
    }
  });

  it('answers ANY with every record at the name', async () => {
    const r = await f.dig('example.test', 'ANY', '+tcp');
    assert.deepEqual([...new Set(r.answer.map((a) => a.type))].sort(), ['MX', 'NS', 'SOA']);
  });

  it('rotates the records of a name between answers', async () => {
    const firsts = new Set<string>();
    const orders = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await f.dig('example.test', 'MX');
      firsts.add(r.answer[0]!.data);
      orders.add(r.answer.map((a) => a.data).join(','));
      assert.equal(r.answer.length, 3);
    }
    assert.equal(firsts.size, 3, 'each MX comes first in turn');
    const smtpFirsts = new Set<string>();
    for (let i = 0; i < 4; i++) smtpFirsts.add((await f.dig('smtp.example.test', 'A', '+tcp')).answer[0]!.data);
    assert.deepEqual([...smtpFirsts].sort(), ['127.0.0.11', '127.0.0.12']);
  });
});

describe('DNS answers that do not fit in one UDP datagram', () => {
  let f: DnsFixture;
  before(async () => {
    // 20 MX records (about 950 bytes) fit in EDNS's 1232 bytes, with their 20 addresses they do not.
    const members = Array.from({ length: 20 }, (_, i) => nodeRegistration(`node${i + 1}`, `127.0.1.${i + 1}`));
    f = await startDnsFixture({ members, server: { staleAfterMs: 60_000 } });
  });
  after(() => f.close());

  it('sets TC over UDP when the answer does not fit, and dig gets it whole over TCP', async () => {
    const udp = await f.dig('example.test', 'MX', '+ignore', '+noedns');
    assert.ok(udp.flags.includes('tc'), 'truncated over UDP without EDNS (512 bytes)');
    assert.equal(udp.answer.length, 0, 'a truncated answer carries no partial RRset');
    const retried = await f.dig('example.test', 'MX', '+noedns');
    assert.equal(retried.transport, 'TCP', 'dig retried over TCP');
    assert.equal(retried.answer.length, 20);
  });

  it('drops the additional addresses rather than truncating', async () => {
    const r = await f.dig('example.test', 'MX', '+ignore');
    assert.equal(r.transport, 'UDP');
    assert.ok(!r.flags.includes('tc'));
    assert.equal(r.answer.length, 20);
    assert.equal(r.additional.filter((a) => a.type === 'A').length, 0);
    const tcp = await f.dig('example.test', 'MX', '+tcp');
    assert.equal(tcp.additional.filter((a) => a.type === 'A').length, 20, 'over TCP the addresses come along');
  });
});
