/**
 * The record builder, the resolver, the wire parser and the zone-file
 * writer alone: no store, no sockets.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { checkDnsSetting, dnsConfigFromSettings, rnameToDns } from '../../src/dns/config.js';
import { buildZone, domainNodes, memberLabel, nextSerial, parseStoredSerial, withSerial, type ZoneRecord } from '../../src/dns/records.js';
import { webmailLabel } from '../../src/store/rules.js';
import { indexZone, QType, Rcode, resolve, type Question } from '../../src/dns/resolve.js';
import { encodeResponse, parseQuery } from '../../src/dns/wire.js';
import { zoneFileText } from '../../src/dns/zone-file.js';
import type { Member, MemberState } from '../../src/store/types.js';
import { allHealthy } from './harness.js';

function member(name: string, address: string, opts: { state?: MemberState; role?: 'node' | 'balancer'; services?: Member['services'] } = {}): Member {
  return {
    name, address, role: opts.role ?? 'node', host: 'h', pid: 1, version: 't',
    services: opts.services ?? allHealthy(), state: opts.state ?? 'up', startedAt: new Date(0), heartbeatAt: new Date(0),
  };
}

function zoneOf(members: Member[], settings: Record<string, string> = {}, domain = 'example.test', ownAddress = '127.0.0.1') {
  const { config } = dnsConfigFromSettings(settings);
  return buildZone({ domain, members, config, ownAddress, serial: 1 });
}

function rrs(records: ZoneRecord[], name: string, type?: string): string[] {
  return records.filter((r) => r.name === name && (type === undefined || r.type === type))
    .map((r) => (r.type === 'MX' ? `${r.data.preference} ${r.data.exchange}` : typeof r.data === 'string' ? r.data : r.type)).sort();
}

describe('the record builder', () => {
  const three = [member('node1', '127.0.0.11'), member('node2', '127.0.0.12'), member('node3', 'fd00::3')];

  it('builds SOA, NS, equal-preference MX, service names, node names and webmail names', () => {
    const z = zoneOf(three);
    assert.equal(z.records[0]!.type, 'SOA');
    assert.deepEqual(z.records[0]!.data, { mname: 'ns1.example.test', rname: 'hostmaster.example.test', serial: 1, refresh: 3600, retry: 600, expire: 1209600, minimum: 60 });
    assert.deepEqual(rrs(z.records, 'example.test', 'NS'), ['ns1.example.test']);
    assert.deepEqual(rrs(z.records, 'ns1.example.test'), ['127.0.0.1']);
    assert.deepEqual(rrs(z.records, 'example.test', 'MX'), ['10 node1.example.test', '10 node2.example.test', '10 node3.example.test']);
    for (const s of ['smtp', 'imap', 'pop3', 'mail', 'webmail']) {
      assert.deepEqual(rrs(z.records, `${s}.example.test`), ['127.0.0.11', '127.0.0.12', 'fd00::3'], s);
    }
    assert.deepEqual(rrs(z.records, 'smtp.example.test', 'AAAA'), ['fd00::3']);
    assert.deepEqual(rrs(z.records, 'node2.example.test'), ['127.0.0.12']);
    assert.deepEqual(rrs(z.records, 'webmail03.example.test', 'AAAA'), ['fd00::3']);
    assert.ok(z.records.every((r) => r.ttl === 60));
    assert.deepEqual(z.problems, []);
  });

  it('leaves out down, draining and unhealthy members per service', () => {
    const badImap = allHealthy();
    badImap.imaps!.healthy = false;
    const z = zoneOf([member('node1', '127.0.0.11'), member('node2', '127.0.0.12', { services: badImap }), member('node3', '127.0.0.13', { state: 'down' }), member('node4', '127.0.0.14', { state: 'draining' })]);
    assert.deepEqual(rrs(z.records, 'example.test', 'MX'), ['10 node1.example.test', '10 node2.example.test']);
    assert.deepEqual(rrs(z.records, 'imap.example.test'), ['127.0.0.11'], 'IMAPS down: out of imap.');
    assert.deepEqual(rrs(z.records, 'pop3.example.test'), ['127.0.0.11', '127.0.0.12']);
    assert.deepEqual(rrs(z.records, 'node3.example.test'), ['127.0.0.13'], 'per-node names stay');
  });

  it('fails open: with no healthy member, every member that runs the service is listed', () => {
    const z = zoneOf([member('node1', '127.0.0.11', { state: 'down' }), member('node2', '127.0.0.12', { state: 'down', services: { imap: { port: 1, healthy: true } } })]);
    assert.deepEqual(rrs(z.records, 'example.test', 'MX'), ['10 node1.example.test']);
    assert.deepEqual(rrs(z.records, 'imap.example.test'), ['127.0.0.11', '127.0.0.12']);
    const none = zoneOf([]);
    assert.deepEqual(rrs(none.records, 'example.test', 'MX'), [], 'no nodes, no MX');
    assert.deepEqual(rrs(none.records, 'smtp.example.test'), []);
  });

  it('serves a domain from its node set; other domains keep to the unreserved nodes', () => {
    const sets = new Map([['big.test', ['node1', 'NODE2']]]);
    assert.deepEqual(domainNodes('big.test', three, sets).map((m) => m.name), ['node1', 'node2']);
    assert.deepEqual(domainNodes('example.test', three, sets).map((m) => m.name), ['node3']);
    const all = new Map([['big.test', ['node1', 'node2', 'node3']]]);
    assert.deepEqual(domainNodes('example.test', three, all).map((m) => m.name), ['node1', 'node2', 'node3'], 'all reserved: fall back to all');
    const z = zoneOf(three, { 'dns.nodes.big.test': 'node1,node2' });
    assert.deepEqual(rrs(z.records, 'example.test', 'MX'), ['10 node3.example.test']);
    assert.deepEqual(rrs(z.records, 'node1.example.test'), []);
  });

  it('points at the traffic manager, or at a fixed MX host, when configured', () => {
    const lb = member('lb1', '127.0.0.1', { role: 'balancer', services: { smtp: { port: 25, healthy: true }, http: { port: 80, healthy: true } } });
    const z = zoneOf([...three, lb], { 'dns.mx': 'balancer', 'dns.service-names': 'balancer' });
    assert.deepEqual(rrs(z.records, 'example.test', 'MX'), ['10 lb1.example.test']);
    assert.deepEqual(rrs(z.records, 'lb1.example.test'), ['127.0.0.1']);
    assert.deepEqual(rrs(z.records, 'smtp.example.test'), ['127.0.0.1']);
    assert.deepEqual(rrs(z.records, 'imap.example.test'), ['127.0.0.11', '127.0.0.12', 'fd00::3'], 'no balancer IMAP: nodes');
    assert.deepEqual(rrs(z.records, 'webmail01.example.test'), ['127.0.0.11'], 'magic names always name the nodes');
    assert.deepEqual(rrs(zoneOf(three, { 'dns.mx': 'balancer' }).records, 'example.test', 'MX').length, 3, 'no balancer: nodes');
    assert.deepEqual(rrs(zoneOf(three, { 'dns.mx': 'mx' }).records, 'example.test', 'MX'), ['10 mx.example.test']);
    assert.deepEqual(rrs(zoneOf(three, { 'dns.mx': 'in.mx.example.' }).records, 'example.test', 'MX'), ['10 in.mx.example']);
  });

  it('names name servers from the settings, the members that run DNS, or its own address', () => {
    const z = zoneOf(three, { 'dns.ns': 'a,b', 'dns.ns.addresses': '10.0.0.1,10.0.0.2' });
    assert.deepEqual(rrs(z.records, 'example.test', 'NS'), ['a.example.test', 'b.example.test']);
    assert.deepEqual(rrs(z.records, 'b.example.test'), ['10.0.0.2']);
    const one = zoneOf(three, { 'dns.ns': 'a', 'dns.ns.addresses': '10.0.0.1,10.0.0.2' });
    assert.deepEqual(rrs(one.records, 'a.example.test'), ['10.0.0.1', '10.0.0.2'], 'counts differ: every name has them all');
    const dnsMembers = [member('node1', '127.0.0.11', { services: { dns: { port: 53, healthy: true } } }), member('node2', '127.0.0.12', { services: { dns: { port: 53, healthy: true } } })];
    const discovered = zoneOf(dnsMembers);
    assert.deepEqual(rrs(discovered.records, 'example.test', 'NS'), ['ns1.example.test', 'ns2.example.test']);
    assert.deepEqual(rrs(discovered.records, 'ns2.example.test'), ['127.0.0.12']);
    const outside = zoneOf(three, { 'dns.ns': 'ns.provider.example.' }, 'example.test', '');
    assert.deepEqual(rrs(outside.records, 'example.test', 'NS'), ['ns.provider.example']);
    assert.deepEqual(outside.problems, []);
    const unknown = zoneOf(three, {}, 'example.test', '0.0.0.0');
    assert.match(unknown.problems.join(), /no address is known for the name server ns1\.example\.test/);
  });

  it('gives members DNS-safe names and skips the ones that clash or cannot be names', () => {
    assert.equal(memberLabel('Node_1'), 'node-1');
    assert.equal(memberLabel('mail1.rack2'), 'mail1.rack2');
    assert.equal(memberLabel('bad-'), null);
    assert.equal(webmailLabel('node7'), 'webmail07');
    assert.equal(webmailLabel('node123'), 'webmail123');
    assert.equal(webmailLabel('alpha'), null);
    const z = zoneOf([member('smtp', '127.0.0.11'), member('ns1', '127.0.0.12'), member('n1', '127.0.0.13'), member('node-', '127.0.0.14'), member('x', 'not-an-ip')]);
    assert.deepEqual(rrs(z.records, 'ns1.example.test'), ['127.0.0.1'], 'a fixed name wins');
    assert.deepEqual(rrs(z.records, 'webmail01.example.test'), ['127.0.0.13']);
    assert.equal(z.problems.length, 5, z.problems.join('\n')); // node- and x cannot be names; smtp, ns1 and ns1's webmail01 clash
    assert.deepEqual(rrs(z.records, 'example.test', 'MX'), ['10 n1.example.test'], 'members without a name are not MX targets');
  });

  it('uses the configured TTL, preference and contact, and falls back on bad values', () => {
    const { config, problems } = dnsConfigFromSettings({ 'dns.ttl': '300', 'dns.mx.preference': '0', 'dns.soa.rname': 'first.last@example.org', 'dns.mx': '??', 'dns.nodes.a.test': 'bad name' });
    assert.equal(config.ttlSeconds, 300);
    assert.equal(config.mxPreference, 0);
    assert.equal(config.soaRname, 'first\\.last.example.org.');
    assert.deepEqual(config.mx, { kind: 'nodes' });
    assert.equal(config.nodeSets.size, 0);
    assert.equal(problems.length, 2);
    assert.equal(rnameToDns('hostmaster'), 'hostmaster');
    for (const [key, value] of [['dns.ttl', '0'], ['dns.ttl', '1.5'], ['dns.ns.addresses', 'example.org'], ['dns.service-names', 'mx.example.'], ['dns.mx.preference', '70000'], ['dns.nosuch', '1']]) {
      assert.throws(() => checkDnsSetting(key!, value!), Error, `${key}=${value}`);
    }
    checkDnsSetting('dns.mx', 'mx.example.org.');
  });

  it('keeps the serial while the records stay, and grows it when they change', () => {
    const a = zoneOf(three);
    const b = zoneOf(three.slice(0, 2));
    assert.equal(a.digest, zoneOf(three).digest);
    assert.notEqual(a.digest, b.digest);
    assert.equal(withSerial(a, 99).digest, a.digest, 'the serial is not part of the digest');
    const day = new Date('2026-03-04T12:00:00Z');
    assert.equal(nextSerial(null, a.digest, day), 2026030400);
    assert.equal(nextSerial({ serial: 2026030400, digest: a.digest }, a.digest, day), 2026030400);
    assert.equal(nextSerial({ serial: 2026030400, digest: a.digest }, b.digest, day), 2026030401);
    assert.equal(nextSerial({ serial: 2026030400, digest: a.digest }, b.digest, new Date('2026-03-05T00:00:00Z')), 2026030500);
    assert.equal(nextSerial({ serial: 2027010199, digest: a.digest }, b.digest, day), 2027010200, 'never goes back');
    assert.deepEqual(parseStoredSerial('2026030401 abcdef'), { serial: 2026030401, digest: 'abcdef' });
    assert.equal(parseStoredSerial('garbage'), null);
  });
});

describe('the resolver', () => {
  const zones = [
    indexZone(zoneOf([member('node1', '127.0.0.11'), member('node2', '127.0.0.12'), member('web.rack1', '127.0.0.13')])),
    indexZone(zoneOf([member('node1', '127.0.0.11')], {}, 'sub.example.test')),
  ];
  const q = (name: string, type: number, klass = 1): Question => ({ labels: name.split('.').filter(Boolean), type, class: klass });
  const noRotation = () => 0;

  it('answers, denies and refuses as RFC 1034 says', () => {
    const table: [string, number, number, number, boolean][] = [
      // name, type, rcode, answers, authoritative
      ['example.test', QType.MX, Rcode.NOERROR, 3, true],
      ['example.test', QType.ANY, Rcode.NOERROR, 5, true],
      ['example.test', QType.MAILA, Rcode.NOERROR, 3, true],
      ['example.test', QType.A, Rcode.NOERROR, 0, true],
      ['node1.example.test', QType.A, Rcode.NOERROR, 1, true],
      ['node1.example.test', 99, Rcode.NOERROR, 0, true],
      ['nope.example.test', QType.A, Rcode.NXDOMAIN, 0, true],
      ['rack1.example.test', QType.A, Rcode.NOERROR, 0, true], // an empty non-terminal above web.rack1
      ['node1.sub.example.test', QType.A, Rcode.NOERROR, 1, true], // the most specific zone answers
      ['sub.example.test', QType.SOA, Rcode.NOERROR, 1, true],
      ['example.org', QType.A, Rcode.REFUSED, 0, false],
      ['test', QType.SOA, Rcode.REFUSED, 0, false],
      ['', QType.NS, Rcode.REFUSED, 0, false],
      ['example.test', QType.AXFR, Rcode.REFUSED, 0, false],
      ['example.test', QType.IXFR, Rcode.REFUSED, 0, false],
    ];
    for (const [name, type, rcode, answers, aa] of table) {
      const r = resolve(q(name, type), zones, noRotation);
      assert.equal(r.rcode, rcode, `${name}/${type} rcode`);
      assert.equal(r.answers.length, answers, `${name}/${type} answers`);
      assert.equal(r.authoritative, aa, `${name}/${type} AA`);
      if (aa && answers === 0) assert.deepEqual(r.authorities.map((a) => a.type), ['SOA'], `${name}/${type} SOA in authority`);
    }
    assert.equal(resolve(q('example.test', QType.SOA, 3), zones, noRotation).rcode, Rcode.REFUSED, 'CHAOS class');
    assert.equal(resolve(q('example.test', QType.SOA, 255), zones, noRotation).rcode, Rcode.NOERROR, 'class ANY');
  });

  it('adds the addresses of MX targets and rotates each RRset by the counter', () => {
    const r = resolve(q('example.test', QType.MX), zones, () => 1);
    assert.deepEqual(r.answers.map((a) => (a.type === 'MX' ? a.data.exchange : '')), ['node2.example.test', 'web.rack1.example.test', 'node1.example.test']);
    assert.equal(r.additionals.length, 3);
    const keys: string[] = [];
    resolve(q('smtp.example.test', QType.A), zones, (key, count) => {
      keys.push(`${key}:${count}`);
      return 0;
    });
    assert.deepEqual(keys, ['smtp.example.test/A:3']);
  });
});

describe('the wire format', () => {
  const zones = [indexZone(zoneOf([member('node1', '127.0.0.11')]))];

  it('parses a query from dns-packet, with EDNS', () => {
    const message = dnsPacket.encode({
      type: 'query', id: 99, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'MX', name: 'Example.Test' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
    });
    const parsed = parseQuery(message);
    assert.equal(parsed.kind, 'query');
    if (parsed.kind !== 'query') return;
    assert.deepEqual(parsed.query.question, { labels: ['example', 'test'], type: QType.MX, class: 1 });
    assert.deepEqual(parsed.query.edns, { udpPayloadBytes: 4096, version: 0 });
    assert.equal(parsed.query.recursionDesired, true);
    const response = encodeResponse({ header: parsed.query, rawQuestion: parsed.query.rawQuestion, resolution: resolve(parsed.query.question, zones, () => 0), edns: true }, 1232);
    const decoded = dnsPacket.decode(response);
    assert.equal(decoded.id, 99);
    assert.ok(decoded.flag_qr && decoded.flag_aa && decoded.flag_rd && !decoded.flag_ra);
    assert.equal(decoded.questions![0]!.name, 'Example.Test', 'the question keeps its case');
    assert.equal(decoded.answers!.length, 1);
    assert.equal(decoded.additionals!.at(-1)!.type, 'OPT');
  });

  it('sorts bad messages into drop, FORMERR, NOTIMP and BADVERS', () => {
    const good = dnsPacket.encode({ type: 'query', id: 1, questions: [{ type: 'A', name: 'a.test' }] });
    const withFlags = (flags: number) => {
      const b = Buffer.from(good);
      b.writeUInt16BE(flags, 2);
      return b;
    };
    const ednsV1 = dnsPacket.encode({ type: 'query', id: 1, questions: [{ type: 'A', name: 'a.test' }], additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 512, extendedRcode: 0, ednsVersion: 1, flags: 0, flag_do: false, options: [] }] });
    const table: [string, Buffer, string, number?][] = [
      ['empty', Buffer.alloc(0), 'drop'],
      ['11 bytes', good.subarray(0, 11), 'drop'],
      ['a response', withFlags(0x8000), 'drop'],
      ['header only', good.subarray(0, 12), 'error', Rcode.FORMERR],
      ['cut in the name', good.subarray(0, 15), 'error', Rcode.FORMERR],
      ['cut in the type', good.subarray(0, good.length - 3), 'error', Rcode.FORMERR],
      ['NOTIFY', withFlags(4 << 11), 'error', Rcode.NOTIMP],
      ['EDNS version 1', ednsV1, 'error', Rcode.BADVERS],
      ['good', good, 'query'],
    ];
    for (const [what, message, kind, rcode] of table) {
      const parsed = parseQuery(message);
      assert.equal(parsed.kind, kind, what);
      if (parsed.kind === 'error') assert.equal(parsed.rcode, rcode, what);
    }
  });

  it('truncates what does not fit: additionals first, then the answer with TC', () => {
    const many = indexZone(zoneOf(Array.from({ length: 20 }, (_, i) => member(`node${i + 1}`, `127.0.1.${i + 1}`))));
    const parsed = parseQuery(dnsPacket.encode({ type: 'query', id: 1, questions: [{ type: 'MX', name: 'example.test' }] }));
    assert.equal(parsed.kind, 'query');
    if (parsed.kind !== 'query') return;
    const resolution = resolve(parsed.query.question, [many], () => 0);
    const spec = { header: parsed.query, rawQuestion: parsed.query.rawQuestion, resolution, edns: false };
    const whole = dnsPacket.decode(encodeResponse(spec, 65535));
    assert.equal(whole.additionals!.length, 20);
    const lean = encodeResponse(spec, 1232);
    assert.ok(lean.length <= 1232);
    assert.equal(dnsPacket.decode(lean).answers!.length, 20);
    assert.equal(dnsPacket.decode(lean).additionals!.length, 0);
    const cut = dnsPacket.decode(encodeResponse(spec, 512));
    assert.ok(cut.flag_tc);
    assert.equal(cut.answers!.length, 0);
  });
});

describe('the zone file', () => {
  it('writes $ORIGIN, $TTL, the SOA and every record', () => {
    const z = withSerial(zoneOf([member('node1', '127.0.0.11'), member('node2', 'fd00::2')], { 'dns.ttl': '120' }), 2026030401);
    const text = zoneFileText(z, new Date('2026-03-04T00:00:00Z'));
    assert.match(text, /^\$ORIGIN example\.test\.$/m);
    assert.match(text, /^\$TTL 120$/m);
    assert.match(text, /^@\s+IN SOA\s+ns1\.example\.test\. hostmaster\.example\.test\. \(\n\s+2026030401 /m);
    assert.match(text, /^@\s+IN MX\s+10 node1\.example\.test\.$/m);
    assert.match(text, /^node2\s+IN AAAA\s+fd00::2$/m);
    assert.match(text, /^smtp\s+IN A\s+127\.0\.0\.11$/m);
    assert.equal(text.split('\n').filter((l) => / IN /.test(l)).length, z.records.length);
  });
});
