/**
 * The admin API through a real HTTP client (Node's fetch, and curl):
 * authentication and roles, the status codes, ETags and If-Match, and
 * responses that match the OpenAPI document's schemas.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../helpers/clients.js';
import { validate } from '../../src/web/schema.js';
import { call, schemaOf, startApiNode, type ApiNode } from './helpers.js';

describe('admin API', () => {
  let n: ApiNode;
  before(async () => {
    n = await startApiNode();
  });
  after(async () => {
    await n.close();
  });

  test('401 without credentials or with a bad token; 200 with a good one', async () => {
    const none = await call(n.base, 'GET', '/api/v1/users');
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'unauthenticated');
    assert.match(none.headers.get('www-authenticate') ?? '', /Bearer/);
    const bad = await call(n.base, 'GET', '/api/v1/users', { token: 'rookery_000000000000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    assert.equal(bad.status, 401);
    const garbage = await call(n.base, 'GET', '/api/v1/users', { token: 'nonsense' });
    assert.equal(garbage.status, 401);
    const good = await call(n.base, 'GET', '/api/v1/users', { token: n.tokens.admin });
    assert.equal(good.status, 200);
    assert.equal(validate(schemaOf('GET', '/api/v1/users'), good.body), null);
    assert.deepEqual(good.body.users.map((u: { address: string }) => u.address).sort(), ['me@example.test', 'them@other.test', 'you@example.test']);
  });

  test('users: 201 with the user, 409 for a duplicate, 400 naming the field, 404 for none', async () => {
    const made = await call(n.base, 'POST', '/api/v1/users', { token: n.tokens.admin, body: { address: 'New@Example.test', password: 'pw', quotaBytes: 1024, customerId: 'c-9', role: 'user' } });
    assert.equal(made.status, 201);
    assert.equal(made.body.address, 'new@example.test');
    assert.equal(made.body.quotaBytes, 1024);
    assert.equal(made.headers.get('location'), '/api/v1/users/new%40example.test');
    assert.ok(made.headers.get('etag'));
    assert.equal(validate(schemaOf('POST', '/api/v1/users'), made.body), null);

    const dup = await call(n.base, 'POST', '/api/v1/users', { token: n.tokens.admin, body: { address: 'new@example.test', password: 'pw' } });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error.code, 'exists');

    const cases: [unknown, string][] = [
      [{ address: 'x@example.test' }, 'password'],
      [{ address: 'x@example.test', password: 'pw', quotaBytes: -1 }, 'quotaBytes'],
      [{ address: 'x@example.test', password: 'pw', quotaBytes: 'lots' }, 'quotaBytes'],
      [{ address: 'x@example.test', password: 'pw', role: 'root' }, 'role'],
      [{ address: 'x@example.test', password: 'pw', colour: 'blue' }, 'colour'],
      [{ address: 'not an address', password: 'pw' }, 'address'],
      [{ address: 'x@nowhere.test', password: 'pw' }, 'address'],
    ];
    for (const [body, field] of cases) {
      const r = await call(n.base, 'POST', '/api/v1/users', { token: n.tokens.admin, body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error.code, 'bad-request');
      assert.equal(r.body.error.field, field, JSON.stringify(r.body));
      assert.equal(typeof r.body.error.message, 'string');
    }
    const notJson = await call(n.base, 'POST', '/api/v1/users', { token: n.tokens.admin, body: '{"address":', headers: { 'content-type': 'application/json' } });
    assert.equal(notJson.status, 400);
    assert.equal(notJson.body.error.code, 'malformed-body');
    const wrongType = await call(n.base, 'POST', '/api/v1/users', { token: n.tokens.admin, body: 'address=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(wrongType.status, 415);

    const missing = await call(n.base, 'GET', '/api/v1/users/nobody@example.test', { token: n.tokens.admin });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'not-found');
    const noRoute = await call(n.base, 'GET', '/api/v1/nothing', { token: n.tokens.admin });
    assert.equal(noRoute.status, 404);
    const wrongMethod = await call(n.base, 'PUT', '/api/v1/users', { token: n.tokens.admin, body: {} });
    assert.equal(wrongMethod.status, 405);
    assert.match(wrongMethod.headers.get('allow') ?? '', /GET/);

    const patched = await call(n.base, 'PATCH', '/api/v1/users/new@example.test', { token: n.tokens.admin, body: { enabled: false, quotaBytes: 2048 } });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.enabled, false);
    assert.equal((await n.store.directory.getUser('new@example.test'))?.quotaBytes, 2048);
    const gone = await call(n.base, 'DELETE', '/api/v1/users/new@example.test', { token: n.tokens.admin });
    assert.equal(gone.status, 204);
    assert.equal(await n.store.directory.getUser('new@example.test'), null);
  });

  test('ETag and If-Match: a stale ETag answers 412 and changes nothing', async () => {
    await call(n.base, 'POST', '/api/v1/users', { token: n.tokens.admin, body: { address: 'locked@example.test', password: 'pw' } });
    const read = await call(n.base, 'GET', '/api/v1/users/locked@example.test', { token: n.tokens.admin });
    const etag = read.headers.get('etag')!;
    assert.match(etag, /^"[^"]+"$/);
    // Admin one changes the quota with the ETag it read...
    const first = await call(n.base, 'PATCH', '/api/v1/users/locked@example.test', { token: n.tokens.admin, body: { quotaBytes: 5000 }, headers: { 'if-match': etag } });
    assert.equal(first.status, 200);
    assert.notEqual(first.headers.get('etag'), etag);
    // ...admin two, with the same old ETag, is told and overwrites nothing.
    const second = await call(n.base, 'PATCH', '/api/v1/users/locked@example.test', { token: n.tokens.admin, body: { quotaBytes: 9999 }, headers: { 'if-match': etag } });
    assert.equal(second.status, 412);
    assert.equal(second.body.error.code, 'precondition-failed');
    assert.equal((await n.store.directory.getUser('locked@example.test'))?.quotaBytes, 5000);
    const del = await call(n.base, 'DELETE', '/api/v1/users/locked@example.test', { token: n.tokens.admin, headers: { 'if-match': etag } });
    assert.equal(del.status, 412);
    const delOk = await call(n.base, 'DELETE', '/api/v1/users/locked@example.test', { token: n.tokens.admin, headers: { 'if-match': first.headers.get('etag')! } });
    assert.equal(delOk.status, 204);

    // Aliases and transports take If-Match the same way.
    const alias = await call(n.base, 'POST', '/api/v1/aliases', { token: n.tokens.admin, body: { address: 'info@example.test', targets: ['me@example.test'] } });
    assert.equal(alias.status, 201);
    const put = await call(n.base, 'PUT', '/api/v1/aliases/info@example.test', { token: n.tokens.admin, body: { targets: ['you@example.test', 'far@remote.test'] }, headers: { 'if-match': alias.headers.get('etag')! } });
    assert.equal(put.status, 200);
    assert.deepEqual(put.body.targets, ['you@example.test', 'far@remote.test']);
    const stale = await call(n.base, 'PUT', '/api/v1/aliases/info@example.test', { token: n.tokens.admin, body: { targets: ['me@example.test'] }, headers: { 'if-match': alias.headers.get('etag')! } });
    assert.equal(stale.status, 412);
    const dupAlias = await call(n.base, 'POST', '/api/v1/aliases', { token: n.tokens.admin, body: { address: 'info@example.test', targets: ['me@example.test'] } });
    assert.equal(dupAlias.status, 409);
  });

  test('a domain admin manages its own domain only, and never an admin', async () => {
    const da = n.tokens.domainAdmin;
    const list = await call(n.base, 'GET', '/api/v1/users', { token: da });
    assert.equal(list.status, 200);
    assert.ok(list.body.users.every((u: { address: string }) => u.address.endsWith('@example.test')));
    assert.equal((await call(n.base, 'GET', '/api/v1/users?domain=other.test', { token: da })).status, 403);
    assert.equal((await call(n.base, 'GET', '/api/v1/users/them@other.test', { token: da })).status, 403);
    const other = await call(n.base, 'POST', '/api/v1/users', { token: da, body: { address: 'sneak@other.test', password: 'pw' } });
    assert.equal(other.status, 403);
    assert.equal(other.body.error.code, 'forbidden');
    assert.equal((await call(n.base, 'PATCH', '/api/v1/users/them@other.test', { token: da, body: { password: 'taken' } })).status, 403);
    assert.equal((await call(n.base, 'DELETE', '/api/v1/users/them@other.test', { token: da })).status, 403);
    assert.equal((await call(n.base, 'POST', '/api/v1/aliases', { token: da, body: { address: 'x@other.test', targets: ['me@example.test'] } })).status, 403);
    assert.equal((await call(n.base, 'POST', '/api/v1/forwards', { token: da, body: { address: 'them@other.test', target: 'me@example.test' } })).status, 403);

    const own = await call(n.base, 'POST', '/api/v1/users', { token: da, body: { address: 'staff@example.test', password: 'pw' } });
    assert.equal(own.status, 201);
    assert.equal((await call(n.base, 'POST', '/api/v1/users', { token: da, body: { address: 'boss@example.test', password: 'pw', role: 'admin' } })).status, 403);
    assert.equal((await call(n.base, 'PATCH', '/api/v1/users/staff@example.test', { token: da, body: { role: 'admin' } })).status, 403);
    await n.store.directory.addUser({ address: 'root@example.test', password: 'pw', role: 'admin' });
    assert.equal((await call(n.base, 'PATCH', '/api/v1/users/root@example.test', { token: da, body: { password: 'mine now' } })).status, 403);
    const fwd = await call(n.base, 'POST', '/api/v1/forwards', { token: da, body: { address: 'staff@example.test', target: 'elsewhere@remote.test', keepCopy: true } });
    assert.equal(fwd.status, 201);
    assert.equal((await call(n.base, 'DELETE', '/api/v1/users/staff@example.test', { token: da })).status, 204);

    // Operator resources are the admin's.
    for (const path of ['/api/v1/nodes', '/api/v1/queue', '/api/v1/transports', '/api/v1/tokens', '/api/v1/tls/certificate']) {
      assert.equal((await call(n.base, 'GET', path, { token: da })).status, 403, path);
    }
    assert.equal((await call(n.base, 'POST', '/api/v1/domains', { token: da, body: { name: 'mine.test' } })).status, 403);
    const domains = await call(n.base, 'GET', '/api/v1/domains', { token: da });
    assert.deepEqual(domains.body.domains.map((d: { name: string }) => d.name), ['example.test']);
    assert.equal((await call(n.base, 'GET', '/api/v1/users', { token: n.tokens.otherDomainAdmin })).body.users.length, 1);
  });

  test('a user reads itself, changes its own password and forwards, and nothing else', async () => {
    const u = n.tokens.user;
    const me = await call(n.base, 'GET', '/api/v1/users/me@example.test', { token: u });
    assert.equal(me.status, 200);
    assert.equal((await call(n.base, 'GET', '/api/v1/users/you@example.test', { token: u })).status, 403);
    assert.equal((await call(n.base, 'GET', '/api/v1/users', { token: u })).status, 403);
    const quota = await call(n.base, 'PATCH', '/api/v1/users/me@example.test', { token: u, body: { quotaBytes: 0 } });
    assert.equal(quota.status, 403);
    assert.equal(quota.body.error.field, 'quotaBytes');
    const pw = await call(n.base, 'PATCH', '/api/v1/users/me@example.test', { token: u, body: { password: 'new secret' } });
    assert.equal(pw.status, 200);
    assert.ok(await n.store.directory.authenticate('me@example.test', 'new secret'));
    assert.equal((await call(n.base, 'PATCH', '/api/v1/users/you@example.test', { token: u, body: { password: 'x' } })).status, 403);

    const f = await call(n.base, 'POST', '/api/v1/forwards', { token: u, body: { address: 'me@example.test', target: 'me@remote.test' } });
    assert.equal(f.status, 201);
    assert.equal((await call(n.base, 'POST', '/api/v1/forwards', { token: u, body: { address: 'you@example.test', target: 'me@remote.test' } })).status, 403);
    const mine = await call(n.base, 'GET', '/api/v1/forwards', { token: u });
    assert.deepEqual(mine.body.forwards, [{ address: 'me@example.test', target: 'me@remote.test', keepCopy: false }]);
    const keep = await call(n.base, 'PATCH', '/api/v1/forwards/me@example.test/me@remote.test', { token: u, body: { keepCopy: true }, headers: { 'if-match': f.headers.get('etag')! } });
    assert.equal(keep.status, 200);
    assert.equal(keep.body.keepCopy, true);
    assert.equal((await call(n.base, 'DELETE', '/api/v1/forwards/me@example.test/me@remote.test', { token: u })).status, 204);
    assert.equal((await call(n.base, 'GET', '/api/v1/aliases', { token: u })).status, 403);
    assert.equal((await call(n.base, 'GET', '/api/v1/me', { token: u })).body.subject, 'me@example.test');
  });

  test('Basic authentication with a user\'s own address and password', async () => {
    const auth = `Basic ${Buffer.from('you@example.test:secret2').toString('base64')}`;
    const me = await call(n.base, 'GET', '/api/v1/me', { headers: { authorization: auth } });
    assert.equal(me.status, 200);
    assert.deepEqual(me.body, { role: 'user', domain: null, subject: 'you@example.test', via: 'password', client: '127.0.0.1' });
    const wrong = await call(n.base, 'GET', '/api/v1/me', { headers: { authorization: `Basic ${Buffer.from('you@example.test:nope').toString('base64')}` } });
    assert.equal(wrong.status, 401);
  });

  test('domains, transports, queue, nodes, tokens, DNS zone and certificate for an admin', async () => {
    const a = n.tokens.admin;
    const d = await call(n.base, 'POST', '/api/v1/domains', { token: a, body: { name: 'Third.test' } });
    assert.equal(d.status, 201);
    assert.equal(d.body.name, 'third.test');
    assert.equal((await call(n.base, 'POST', '/api/v1/domains', { token: a, body: { name: 'third.test' } })).status, 409);
    assert.equal((await call(n.base, 'POST', '/api/v1/domains', { token: a, body: { name: 'bad domain' } })).body.error.field, 'name');
    await n.store.directory.addUser({ address: 'x@third.test', password: 'pw' });
    const busy = await call(n.base, 'DELETE', '/api/v1/domains/third.test', { token: a });
    assert.equal(busy.status, 409);
    await n.store.directory.removeUser('x@third.test');
    assert.equal((await call(n.base, 'DELETE', '/api/v1/domains/third.test', { token: a })).status, 204);

    const t = await call(n.base, 'POST', '/api/v1/transports', { token: a, body: { domain: 'slow.test', target: 'relay.example.net:2525' } });
    assert.equal(t.status, 201);
    assert.deepEqual(t.body, { domain: 'slow.test', target: 'relay.example.net:2525' });
    assert.equal((await call(n.base, 'POST', '/api/v1/transports', { token: a, body: { domain: 'slow.test', target: 'x:25' } })).status, 409);
    assert.equal((await call(n.base, 'PUT', '/api/v1/transports/slow.test', { token: a, body: { target: 'other.example.net:25' }, headers: { 'if-match': t.headers.get('etag')! } })).status, 200);
    assert.equal((await call(n.base, 'PUT', '/api/v1/transports/slow.test', { token: a, body: { target: 'x.example.net:25' }, headers: { 'if-match': t.headers.get('etag')! } })).status, 412);
    assert.equal((await call(n.base, 'GET', '/api/v1/transports', { token: a })).body.transports.length, 1);
    assert.equal((await call(n.base, 'DELETE', '/api/v1/transports/slow.test', { token: a })).status, 204);
    assert.equal((await call(n.base, 'GET', '/api/v1/transports/slow.test', { token: a })).status, 404);

    const blob = await n.store.blobs.put(Buffer.from('Subject: q\r\n\r\nqueued\r\n'));
    const id = await n.store.queue.enqueue({ sender: 'me@example.test', blobId: blob.id, size: blob.size, recipients: ['far@remote.test'], origin: 'test' });
    const q = await call(n.base, 'GET', '/api/v1/queue', { token: a });
    assert.equal(q.status, 200);
    assert.equal(validate(schemaOf('GET', '/api/v1/queue'), q.body), null);
    assert.ok(q.body.messages.some((m: { id: string }) => m.id === id));
    const flushed = await call(n.base, 'POST', '/api/v1/queue/flush', { token: a, body: { domain: 'remote.test' } });
    assert.equal(flushed.status, 200);
    assert.equal(typeof flushed.body.due, 'number');
    assert.equal((await call(n.base, 'POST', '/api/v1/queue/flush', { token: a })).status, 200);
    assert.equal((await call(n.base, 'DELETE', `/api/v1/queue/${id}`, { token: a })).status, 204);
    assert.equal((await call(n.base, 'DELETE', `/api/v1/queue/${id}`, { token: a })).status, 404);

    const nodes = await call(n.base, 'GET', '/api/v1/nodes', { token: a });
    assert.equal(validate(schemaOf('GET', '/api/v1/nodes'), nodes.body), null);
    const me = nodes.body.nodes.find((m: { name: string }) => m.name === 'test-node');
    assert.equal(me.state, 'up');
    assert.ok(me.services.http.port > 0);
    assert.match(me.status, /W/);
    const node = await call(n.base, 'GET', '/api/v1/nodes/test-node', { token: a });
    const drained = await call(n.base, 'PATCH', '/api/v1/nodes/test-node', { token: a, body: { state: 'draining' }, headers: { 'if-match': node.headers.get('etag')! } });
    assert.equal(drained.status, 200);
    assert.equal(drained.body.state, 'draining');
    assert.equal((await call(n.base, 'PATCH', '/api/v1/nodes/test-node', { token: a, body: { state: 'up' }, headers: { 'if-match': node.headers.get('etag')! } })).status, 412);
    assert.equal((await call(n.base, 'PATCH', '/api/v1/nodes/test-node', { token: a, body: { state: 'sleeping' } })).body.error.field, 'state');
    assert.equal((await call(n.base, 'PATCH', '/api/v1/nodes/test-node', { token: a, body: { state: 'up' } })).body.state, 'up');
    assert.equal((await call(n.base, 'GET', '/api/v1/nodes/nope', { token: a })).status, 404);

    await n.store.settings.set('dns.ns.addresses', '127.0.0.1');
    const zone = await call(n.base, 'GET', '/api/v1/dns/zones/example.test', { token: a });
    assert.equal(zone.status, 200, JSON.stringify(zone.body));
    assert.match(zone.body.text, /\$ORIGIN example\.test\./);
    assert.match(zone.body.text, /IN MX/);
    assert.equal((await call(n.base, 'GET', '/api/v1/dns/zones/nowhere.test', { token: a })).status, 404);

    const cert = await call(n.base, 'GET', '/api/v1/tls/certificate', { token: a });
    assert.equal(cert.status, 200);
    assert.match(cert.body.cert, /BEGIN CERTIFICATE/);
    assert.ok(!JSON.stringify(cert.body).includes('PRIVATE KEY'));
    const badCert = await call(n.base, 'PUT', '/api/v1/tls/certificate', { token: a, body: { cert: 'nonsense', key: 'nonsense' } });
    assert.equal(badCert.status, 400);
    assert.equal(badCert.body.error.field, 'cert');

    const tok = await call(n.base, 'POST', '/api/v1/tokens', { token: a, body: { role: 'domain-admin', domain: 'other.test', label: 'other admin' } });
    assert.equal(tok.status, 201);
    assert.match(tok.body.token, /^rookery_/);
    assert.equal((await call(n.base, 'GET', '/api/v1/users', { token: tok.body.token })).body.users.length, 1);
    assert.equal((await call(n.base, 'POST', '/api/v1/tokens', { token: a, body: { role: 'user' } })).body.error.field, 'subject');
    assert.equal((await call(n.base, 'DELETE', `/api/v1/tokens/${tok.body.info.id}`, { token: a })).status, 204);
    assert.equal((await call(n.base, 'GET', '/api/v1/users', { token: tok.body.token })).status, 401, 'a revoked token is refused');
  });

  test('curl: create a user with a bearer token, and read it back', async () => {
    const made = await run('curl', ['-s', '-i', '-X', 'POST', '-H', `Authorization: Bearer ${n.tokens.admin}`, '-H', 'Content-Type: application/json',
      '--data', JSON.stringify({ address: 'curl@example.test', password: 'pw', quotaBytes: 1000 }), `${n.base}/api/v1/users`]);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /^HTTP\/1\.1 201/);
    assert.match(made.stdout, /\r\nETag: "/i);
    const read = await run('curl', ['-s', '-f', '-H', `Authorization: Bearer ${n.tokens.admin}`, `${n.base}/api/v1/users/curl@example.test`]);
    assert.equal(read.code, 0, read.stderr);
    assert.equal(JSON.parse(read.stdout).quotaBytes, 1000);
    const denied = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-u', 'curl@example.test:wrong', `${n.base}/api/v1/me`]);
    assert.equal(denied.stdout, '401');
    const basic = await run('curl', ['-s', '-f', '-u', 'curl@example.test:pw', `${n.base}/api/v1/me`]);
    assert.equal(JSON.parse(basic.stdout).subject, 'curl@example.test');
  });
});
