/**
 * The webmail magic names (limits.webMagicNames): webmail.DOMAIN on any
 * node redirects (302) to webmailNN.DOMAIN of the node that answered, each
 * node serves its own webmailNN name, the API answers under any name, and
 * with the option turned off (running nodes follow at once) nothing is
 * redirected. curl follows the redirect with the names resolved to the
 * nodes (--resolve), as DNS would.
 */
import { strict as assert } from 'node:assert';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { startNode, type RunningNode } from '../../src/node.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';
import { run } from '../helpers/clients.js';
import { tempDir } from '../helpers/temp.js';

describe('webmail magic names', () => {
  let dir: string;
  let store: Store;
  let node3: RunningNode;
  let node12: RunningNode;

  before(async () => {
    dir = await tempDir();
    store = await openStore(dir);
    await store.directory.addDomain('example.org');
    await store.settings.set('limits.webMagicNames', 'on');
    node3 = await startNode({ store, name: 'node3', address: '127.0.0.1', hostname: 'node3.example.org', ports: { http: 0 }, queue: false });
    node12 = await startNode({ store, name: 'node12', address: '127.0.0.1', hostname: 'node12.example.org', ports: { http: 0 }, queue: false });
  });
  after(async () => {
    await node3?.stop();
    await node12?.stop();
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const head = async (port: number, host: string, path: string, method = 'GET') => {
    const r = await run('curl', ['-s', '-o', '/dev/null', '-X', method, '-w', '%{http_code} %{redirect_url}', '-H', `Host: ${host}`, `http://127.0.0.1:${port}${path}`]);
    const [status, location] = r.stdout.split(' ');
    return { status: Number(status), location: location ?? '' };
  };

  it('sends webmail.DOMAIN to the answering node\'s webmailNN name, path and query kept', async () => {
    const p3 = node3.ports.http;
    assert.deepEqual(await head(p3, `webmail.example.org:${p3}`, '/mail?box=INBOX'), { status: 302, location: `http://webmail03.example.org:${p3}/mail?box=INBOX` });
    const p12 = node12.ports.http;
    assert.deepEqual(await head(p12, 'WEBMAIL.Example.org', '/'), { status: 302, location: 'http://webmail12.example.org/' });
    // A form posted to the shared name keeps its method.
    assert.equal((await head(p3, 'webmail.example.org', '/login', 'POST')).status, 307);
  });

  it('serves its own webmailNN name, and the API, health and metrics under any name', async () => {
    const p3 = node3.ports.http;
    assert.equal((await head(p3, 'webmail03.example.org', '/')).status, 200);
    assert.equal((await head(p3, 'webmail.example.org', '/healthz')).status, 200);
    assert.equal((await head(p3, 'webmail.example.org', '/metrics')).status, 200);
    assert.equal((await head(p3, 'webmail.example.org', '/api/v1/openapi.json')).status, 200);
    assert.equal((await head(p3, 'mail.example.org', '/')).status, 200, 'other names are not touched');
  });

  it('takes a browser-like client to the node\'s own name (curl -L with the names resolved)', async () => {
    const p = node12.ports.http;
    const r = await run('curl', ['-s', '-L', '-o', '/dev/null', '-w', '%{http_code} %{url_effective}',
      '--resolve', `webmail.example.org:${p}:127.0.0.1`, '--resolve', `webmail12.example.org:${p}:127.0.0.1`, `http://webmail.example.org:${p}/`]);
    assert.equal(r.stdout, `200 http://webmail12.example.org:${p}/`);
  });

  it('redirects nothing once the option is turned off, without a restart', async () => {
    await store.settings.set('limits.webMagicNames', 'off');
    const deadline = Date.now() + 5000;
    for (const node of [node3, node12]) {
      while ((await head(node.ports.http, 'webmail.example.org', '/')).status !== 200) {
        assert.ok(Date.now() < deadline, 'a node still redirects 5 s after the option was turned off');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  });
});
