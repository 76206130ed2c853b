/** MX resolution (RFC 5321 section 5, RFC 7505) and the loop guard's filter, with an injected resolver. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTransportTarget, resolveMx, routeFor, withoutSelf, type DnsResolver } from '../../src/outbound/route.js';

function dnsError(code: string): Error {
  return Object.assign(new Error(code), { code });
}

/** A resolver from tables; a missing name answers ENOTFOUND, as a nonexistent name does. */
function fakeResolver(mx: Record<string, { exchange: string; priority: number }[] | string>, a: Record<string, string[] | string>, aaaa: Record<string, string[]> = {}): DnsResolver & { asked: string[] } {
  const asked: string[] = [];
  const answer = <T>(table: Record<string, T | string>, name: string, what: string): Promise<T> => {
    asked.push(`${what} ${name}`);
    const v = table[name];
    if (v === undefined) return Promise.reject(dnsError(what === 'MX' ? 'ENOTFOUND' : 'ENODATA'));
    if (typeof v === 'string') return Promise.reject(dnsError(v));
    return Promise.resolve(v);
  };
  return {
    asked,
    resolveMx: (n) => answer(mx, n, 'MX'),
    resolve4: (n) => answer(a, n, 'A'),
    resolve6: (n) => answer(aaaa, n, 'AAAA'),
  };
}

test('MX hosts are tried in preference order, each with its A then AAAA addresses', async () => {
  const r = fakeResolver(
    { 'far.test': [{ exchange: 'backup.far.test', priority: 20 }, { exchange: 'mx1.far.test', priority: 10 }, { exchange: 'last.far.test', priority: 30 }] },
    { 'mx1.far.test': ['192.0.2.1'], 'backup.far.test': ['192.0.2.2'], 'last.far.test': ['192.0.2.3'] },
    { 'mx1.far.test': ['2001:db8::1'] },
  );
  const route = await resolveMx('far.test', r);
  assert.equal(route.kind, 'hops');
  if (route.kind !== 'hops') return;
  assert.equal(route.via, 'mx');
  assert.deepEqual(route.hops.map((h) => [h.host, h.preference, h.port, h.addresses]), [
    ['mx1.far.test', 10, 25, ['192.0.2.1', '2001:db8::1']],
    ['backup.far.test', 20, 25, ['192.0.2.2']],
    ['last.far.test', 30, 25, ['192.0.2.3']],
  ]);
});

test('equal preferences are shuffled, never reordered across preferences', async () => {
  const r = fakeResolver(
    { 'far.test': [{ exchange: 'a.far.test', priority: 10 }, { exchange: 'b.far.test', priority: 10 }, { exchange: 'c.far.test', priority: 5 }] },
    { 'a.far.test': ['192.0.2.1'], 'b.far.test': ['192.0.2.2'], 'c.far.test': ['192.0.2.3'] },
  );
  const orders = new Set<string>();
  for (const random of [() => 0, () => 0.99]) {
    const route = await resolveMx('far.test', r, random);
    assert.ok(route.kind === 'hops');
    assert.equal(route.hops[0]!.host, 'c.far.test');
    orders.add(route.hops.slice(1).map((h) => h.host).join(','));
  }
  assert.deepEqual([...orders].sort(), ['a.far.test,b.far.test', 'b.far.test,a.far.test']);
});

test('no MX records: the domain itself is the implicit MX (A/AAAA fallback)', async () => {
  const r = fakeResolver({ 'plain.test': 'ENODATA' }, { 'plain.test': ['192.0.2.9'] });
  const route = await resolveMx('plain.test', r);
  assert.deepEqual(route, { kind: 'hops', via: 'implicit-mx', hops: [{ host: 'plain.test', preference: 0, port: 25, addresses: ['192.0.2.9'] }] });
});

test('a null MX (RFC 7505) and a nonexistent domain fail permanently; SERVFAIL is temporary', async () => {
  const r = fakeResolver({ 'null.test': [{ exchange: '', priority: 0 }], 'broken.test': 'ESERVFAIL', 'noaddr.test': 'ENODATA' }, {});
  const nul = await resolveMx('null.test', r);
  assert.equal(nul.kind, 'fail');
  assert.ok(nul.kind === 'fail' && nul.permanent && nul.status === '5.1.10', JSON.stringify(nul));
  const nx = await resolveMx('nowhere.test', r);
  assert.ok(nx.kind === 'fail' && nx.permanent && nx.status === '5.1.2', JSON.stringify(nx));
  const sf = await resolveMx('broken.test', r);
  assert.ok(sf.kind === 'fail' && !sf.permanent, JSON.stringify(sf));
  const none = await resolveMx('noaddr.test', r);
  assert.ok(none.kind === 'fail' && none.permanent, JSON.stringify(none));
  assert.ok(!r.asked.includes('A null.test'), 'a null MX is not looked up further');
});

test('the transport map wins over MX; "*" is the smarthost; no DNS for an address', async () => {
  const r = fakeResolver({}, { 'relay.test': ['192.0.2.50'] });
  const transports = new Map([['far.test', parseTransportTarget('127.0.0.5:2525')], ['*', parseTransportTarget('relay.test')]]);
  assert.deepEqual(await routeFor('far.test', transports, r), { kind: 'hops', via: 'transport', hops: [{ host: '127.0.0.5', preference: 0, port: 2525, addresses: ['127.0.0.5'] }] });
  assert.deepEqual(await routeFor('other.test', transports, r), { kind: 'hops', via: 'smarthost', hops: [{ host: 'relay.test', preference: 0, port: 25, addresses: ['192.0.2.50'] }] });
  assert.deepEqual(r.asked, ['A relay.test', 'AAAA relay.test']);
  assert.deepEqual(parseTransportTarget('[::1]:2526'), { host: '::1', port: 2526 });
  assert.throws(() => parseTransportTarget('host:99999'));
  assert.throws(() => parseTransportTarget('bad host'));
});

test('loop guard: self among the MX hosts leaves only the more preferred ones; self as the best MX leaves none', () => {
  const hops = [
    { host: 'mx1', preference: 10, port: 25, addresses: ['192.0.2.1'] },
    { host: 'us', preference: 20, port: 25, addresses: ['192.0.2.7'] },
    { host: 'mx3', preference: 30, port: 25, addresses: ['192.0.2.3'] },
  ];
  const isSelf = (a: string) => a === '192.0.2.7';
  assert.deepEqual(withoutSelf(hops, isSelf), { hops: [hops[0]], selfFound: true });
  assert.deepEqual(withoutSelf(hops.slice(1), isSelf), { hops: [], selfFound: true });
  assert.deepEqual(withoutSelf([hops[0]!], isSelf), { hops: [hops[0]], selfFound: false });
});
