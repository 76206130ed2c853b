/** The traffic manager's configuration file: what it accepts, and one clear line for each mistake. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BalancerConfigError, parseBalancerConfig } from '../../src/balancer/config-file.js';

test('a full file: servers, pools with per-service weights, defaults and per-service settings', () => {
  const c = parseBalancerConfig(`
# like the seed's clusterserver.conf
scheduler least-connections
check-interval-ms 2000
fall 3
proxy-protocol off

server serv1 127.0.0.21
server serv2 127.0.0.22 port-base 20000   # its own base
pool mail
  add serv1 smtp/1 pop/1
  add serv2 smtp/3 imap/2:1143
  check-timeout-ms 500
  proxy-protocol on
end
service imap
  scheduler round-robin
  max-connections 20
  idle-timeout-ms 1860000
end
registry off
`, 'lb.conf');
  assert.equal(c.registry, false);
  assert.equal(c.service.scheduler, 'least-connections');
  assert.deepEqual(c.check, { intervalMs: 2000, timeoutMs: 1000, rise: 2, fall: 3 });
  assert.deepEqual(c.servers.map((s) => [s.name, s.address, s.portBase]), [['serv1', '127.0.0.21', null], ['serv2', '127.0.0.22', 20000]]);
  const pool = c.pools[0]!;
  assert.equal(pool.proxyProtocol, true);
  assert.deepEqual(pool.check, { intervalMs: 2000, timeoutMs: 500, rise: 2, fall: 3 }, 'a pool inherits the defaults it does not set');
  assert.deepEqual(pool.members.map((m) => [m.server, m.service, m.weight, m.port]), [
    ['serv1', 'smtp', 1, null], ['serv1', 'pop3', 1, null], ['serv2', 'smtp', 3, null], ['serv2', 'imap', 2, 1143],
  ]);
  assert.deepEqual(c.services.imap, { scheduler: 'round-robin', maxConnections: 20, idleTimeoutMs: 1860000 });
});

test('an empty file gives the documented defaults', () => {
  const c = parseBalancerConfig('');
  assert.equal(c.registry, true);
  assert.equal(c.proxyProtocol, false);
  assert.deepEqual(c.check, { intervalMs: 1000, timeoutMs: 1000, rise: 2, fall: 2 });
  assert.deepEqual(c.service, { scheduler: 'round-robin', maxConnections: 5000, idleTimeoutMs: null, connectTimeoutMs: 2000 });
});

test('each mistake is one sentence with the file and line', () => {
  const cases: [string, RegExp][] = [
    ['bogus 1', /^f line 1: unknown directive "bogus"$/],
    ['server a 127.0.0.1\npool p\n  add a smpt/1\nend', /^f line 3: unknown service "smpt"; services: smtp, submission/],
    ['pool p\n  add ghost smtp/1\nend', /^f line 2: pool "p" adds server "ghost", which no "server" line defines$/],
    ['server a 127.0.0.1\npool p\n  add a smtp/0\nend', /line 3: the weight in "smtp\/0" must be a whole number from 1 to 1000/],
    ['server a 127.0.0.1\npool p\n  add a smtp/1:99999\nend', /line 3: the port in "smtp\/1:99999" must be/],
    ['server a 127.0.0.1\npool p\n  add a smtp/1\n', /^f line 2: pool is not closed with "end"$/],
    ['end', /line 1: "end" without a pool or service to end/],
    ['server a 127.0.0.1\nserver a 127.0.0.2', /line 2: server "a" is defined twice/],
    ['server a not_a_host!', /line 1: "not_a_host!" is neither an IP address nor a host name/],
    ['fall 0', /line 1: fall must be a whole number from 1 to 100, not "0"/],
    ['check-interval-ms 1s', /check-interval-ms must be a whole number from 100 to 3600000, not "1s"/],
    ['scheduler random', /scheduler must be round-robin or least-connections, not "random"/],
    ['proxy-protocol maybe', /proxy-protocol must be on or off, not "maybe"/],
    ['service smtp\n  rise 2\nend', /line 2: "rise" is not allowed in a service/],
    ['server a 127.0.0.1\npool p\n  add a smtp/1\nend\npool q\n  add a smtp/2\nend', /line 6: server "a" serves smtp twice \(pools "p" and "q"\)/],
    ['add a smtp/1', /"add" belongs inside a pool/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseBalancerConfig(text, 'f'), (e: unknown) => e instanceof BalancerConfigError && message.test(e.message) && !e.message.includes('\n'), text);
  }
});
