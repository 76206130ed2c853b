/**
 * The web's security rules, checked from outside with curl and fetch:
 * - every state-changing API route refuses a session cookie without the
 *   session's CSRF header (bearer and Basic credentials need none);
 * - every answer carries a Content-Security-Policy, and no HTML page
 *   allows inline script or framing;
 * - cookies are HttpOnly and SameSite, and Secure over HTTPS;
 * - a sign-in form without its token, or a form from another origin, is
 *   refused.
 */
import { strict as assert } from 'node:assert';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { startNode, type RunningNode } from '../../src/node.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';
import { apiRoutes } from '../../src/web/api/index.js';
import { mintToken } from '../../src/web/tokens.js';
import { createSession, csrfFor } from '../../src/web/webmail/session.js';
import { run } from '../helpers/clients.js';
import { tempDir } from '../helpers/temp.js';

describe('web security', () => {
  let dir: string;
  let store: Store;
  let node: RunningNode;
  let http: string;
  let https: string;
  let adminSession: string;

  before(async () => {
    dir = await tempDir();
    store = await openStore(dir);
    await store.directory.addDomain('example.test');
    const admin = await store.directory.addUser({ address: 'boss@example.test', password: 'boss-pw', role: 'admin' });
    await store.directory.addUser({ address: 'me@example.test', password: 'me-pw' });
    adminSession = await createSession(store, admin);
    // Low, so that if the CSRF refusals below counted as failed logins the later requests would be refused (429).
    await store.settings.set('limits.maxLoginFailuresPerAddress', '5');
    node = await startNode({ store, name: 'node1', address: '127.0.0.1', hostname: 'node1.example.test', ports: { http: 0, https: 0 }, queue: false });
    http = `http://127.0.0.1:${node.ports.http}`;
    https = `https://127.0.0.1:${node.ports.https}`;
  });
  after(async () => {
    await node?.stop();
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('refuses a session cookie without its CSRF header on every state-changing API route', async () => {
    const unsafe = apiRoutes.filter((r) => r.method !== 'GET');
    assert.ok(unsafe.length >= 10, 'the table has state-changing routes');
    const usersBefore = (await store.directory.listUsers()).map((u) => u.address);
    for (const r of unsafe) {
      const path = r.path.replace(/\{(\w+)\}/g, (_, name: string) => (name === 'address' ? 'me%40example.test' : 'example.test'));
      const res = await fetch(`${http}${path}`, {
        method: r.method,
        headers: { cookie: `rookery_session=${adminSession}`, 'content-type': 'application/json' },
        body: JSON.stringify({ address: 'new@example.test', password: 'x' }),
      });
      const body = await res.json() as { error?: { code: string } };
      // 403, not 401: the credentials are good, the request is refused, and it is not counted as a failed login.
      assert.equal(res.status, 403, `${r.method} ${r.path} without X-CSRF-Token answered ${res.status}`);
      assert.equal(body.error?.code, 'forbidden');
    }
    assert.deepEqual((await store.directory.listUsers()).map((u) => u.address), usersBefore, 'nothing changed');

    const withCsrf = await fetch(`${http}/api/v1/users`, {
      method: 'POST',
      headers: { cookie: `rookery_session=${adminSession}`, 'x-csrf-token': csrfFor(adminSession), 'content-type': 'application/json' },
      body: JSON.stringify({ address: 'csrf-ok@example.test', password: 'pw-1' }),
    });
    assert.equal(withCsrf.status, 201);
    const wrongCsrf = await fetch(`${http}/api/v1/users`, {
      method: 'POST',
      headers: { cookie: `rookery_session=${adminSession}`, 'x-csrf-token': csrfFor('another session'), 'content-type': 'application/json' },
      body: JSON.stringify({ address: 'csrf-bad@example.test', password: 'pw-1' }),
    });
    assert.equal(wrongCsrf.status, 403);

    // Bearer and Basic credentials cannot be sent by a forged cross-site request: no CSRF header needed.
    const token = (await mintToken(store, { role: 'admin', label: 'security test' })).text;
    const bearer = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', '-H', `Authorization: Bearer ${token}`,
      '-H', 'Content-Type: application/json', '-d', '{"address":"bearer-ok@example.test","password":"pw-2"}', `${http}/api/v1/users`]);
    assert.equal(bearer.stdout, '201');
    const basic = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'DELETE', '-u', 'boss@example.test:boss-pw', `${http}/api/v1/users/bearer-ok%40example.test`]);
    assert.equal(basic.stdout, '204');
  });

  it('sends a Content-Security-Policy with every answer; HTML pages allow no inline script and no framing', async () => {
    for (const path of ['/', '/admin', '/settings', '/mail?box=INBOX', '/nowhere', '/api/v1/nowhere', '/healthz', '/assets/webmail.css']) {
      const res = await fetch(`${http}${path}`, { redirect: 'manual' });
      await res.arrayBuffer();
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /default-src 'none'/, `${path} has a CSP`);
      if ((res.headers.get('content-type') ?? '').includes('text/html')) {
        assert.match(csp, /frame-ancestors 'none'/, path);
        assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, path);
      }
    }
    // Signed in, the pages keep it.
    for (const path of ['/mail?box=INBOX', '/settings', '/admin']) {
      const res = await fetch(`${http}${path}`, { headers: { cookie: `rookery_session=${adminSession}` }, redirect: 'manual' });
      await res.arrayBuffer();
      assert.doesNotMatch(res.headers.get('content-security-policy') ?? 'none', /unsafe-inline|unsafe-eval/, path);
      assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/, path);
    }
  });

  it('sets cookies HttpOnly and SameSite, Secure over HTTPS; signs in with the form token only', async () => {
    const overHttp = await run('curl', ['-s', '-D', '-', '-o', '/dev/null', `${http}/`]);
    const loginCookie = /^set-cookie: (rookery_login=[^\r\n]*)/im.exec(overHttp.stdout)?.[1] ?? '';
    assert.match(loginCookie, /HttpOnly/);
    assert.match(loginCookie, /SameSite=(Lax|Strict)/);
    assert.doesNotMatch(loginCookie, /Secure/, 'no Secure over plain HTTP (the browser would drop it)');

    const jar = `${dir}/cookies.txt`;
    const page = await run('curl', ['-sk', '-c', jar, `${https}/`]);
    const token = /name="csrf" value="([^"]+)"/.exec(page.stdout)?.[1];
    assert.ok(token, 'the sign-in form carries its token');
    const signIn = await run('curl', ['-sk', '-b', jar, '-D', '-', '-o', '/dev/null', '--data-urlencode', `csrf=${token}`,
      '--data-urlencode', 'address=me@example.test', '--data-urlencode', 'password=me-pw', `${https}/login`]);
    assert.match(signIn.stdout, /^HTTP\/1\.1 30[23] /);
    const session = /^set-cookie: (rookery_session=[^\r\n]*)/im.exec(signIn.stdout)?.[1] ?? '';
    assert.match(session, /HttpOnly/);
    assert.match(session, /SameSite=(Lax|Strict)/);
    assert.match(session, /Secure/);

    // The same form without its token, or posted from another origin, is refused.
    const noToken = await run('curl', ['-sk', '-b', jar, '-o', '/dev/null', '-w', '%{http_code}', '--data-urlencode', 'csrf=forged',
      '--data-urlencode', 'address=me@example.test', '--data-urlencode', 'password=me-pw', `${https}/login`]);
    assert.equal(noToken.stdout, '403');
    const foreign = await run('curl', ['-sk', '-b', jar, '-o', '/dev/null', '-w', '%{http_code}', '-H', 'Origin: https://evil.example',
      '--data-urlencode', `csrf=${token}`, '--data-urlencode', 'address=me@example.test', '--data-urlencode', 'password=me-pw', `${https}/login`]);
    assert.equal(foreign.stdout, '403');
  });

  it('a demoted or disabled user loses the rights of their session and of tokens acting as them at once', async () => {
    const chief = await store.directory.addUser({ address: 'chief@example.test', password: 'chief-pw', role: 'admin' });
    const session = await createSession(store, chief);
    const withCookie = (path: string) => run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-b', `rookery_session=${session}`, `${http}${path}`]);
    assert.equal((await withCookie('/api/v1/users')).stdout, '200', 'an admin lists users');
    await store.directory.updateUser('chief@example.test', { role: 'user' });
    assert.equal((await withCookie('/api/v1/users')).stdout, '403', 'demoted: the session has the role the user has now');
    assert.equal((await withCookie('/api/v1/mailboxes')).stdout, '200', 'and still reads their own mail');
    await store.directory.updateUser('chief@example.test', { enabled: false });
    assert.equal((await withCookie('/api/v1/mailboxes')).stdout, '401', 'disabled: the session has ended');

    const userToken = (await mintToken(store, { role: 'user', subject: 'me@example.test', label: 'my script' })).text;
    const withToken = (path: string) => run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', `Authorization: Bearer ${userToken}`, `${http}${path}`]);
    assert.equal((await withToken('/api/v1/mailboxes')).stdout, '200');
    await store.directory.updateUser('me@example.test', { enabled: false });
    assert.equal((await withToken('/api/v1/mailboxes')).stdout, '401', 'a token acting as a disabled user stops working');
    await store.directory.updateUser('me@example.test', { enabled: true });
    assert.equal((await withToken('/api/v1/mailboxes')).stdout, '200', 'and works again once the user is enabled');
  });
});
