/**
 * HTTP and HTTPS through the traffic manager: its health check passes on
 * /healthz, requests reach a node with the real client's address (PROXY
 * v2), and HTTPS presents the cluster certificate. curl is the client.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { rookery } from '../helpers/cli.js';
import { run } from '../helpers/clients.js';
import { startNodeProcess, stopNodeProcess, type NodeProcess } from '../helpers/node-process.js';
import { startLbProcess, type LbProcess } from '../helpers/lb-process.js';
import { freePortBaseOn } from '../helpers/ports.js';
import { tempDir } from '../helpers/temp.js';

test('HTTP and HTTPS through rookery lb carry the client\'s address to the node', async () => {
  const dir = await tempDir('rookery-web-lb-');
  let node: NodeProcess | null = null;
  let lb: LbProcess | null = null;
  try {
    await rookery(['domain', 'add', 'example.org', '--store', dir]);
    await rookery(['user', 'add', 'me@example.org', '--password', 'secret', '--store', dir]);
    const base = await freePortBaseOn(['127.0.0.1', '127.0.0.31'], [694]);
    node = await startNodeProcess(['--store', dir, '--address', '127.0.0.31', '--port-base', String(base), '--services', 'http,https', '--name', 'w1']);
    lb = await startLbProcess(['--store', dir, '--address', '127.0.0.1', '--port-base', String(base), '--services', 'http,https',
      '--proxy-protocol', '--source-address', '127.0.0.30', '--name', 'lbw']);

    let me: { client?: string } = {};
    for (let i = 0; i < 50 && !me.client; i++) {
      const r = await run('curl', ['-s', '-f', '--interface', '127.0.0.5', '-u', 'me@example.org:secret', `http://127.0.0.1:${base + 80}/api/v1/me`]);
      if (r.code === 0) me = JSON.parse(r.stdout) as { client: string };
      else await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(me.client, '127.0.0.5', 'the node sees the client, not the traffic manager');

    const secure = await run('curl', ['-s', '-k', '--interface', '127.0.0.6', '-u', 'me@example.org:secret', `https://127.0.0.1:${base + 443}/api/v1/me`]);
    assert.equal(secure.code, 0, secure.stderr);
    assert.equal(JSON.parse(secure.stdout).client, '127.0.0.6');
    const health = await run('curl', ['-s', '-k', `https://127.0.0.31:${base + 443}/healthz`]);
    assert.equal(JSON.parse(health.stdout).node, 'w1');

    const status = JSON.parse((await rookery(['status', '--json', '--store', dir])).stdout) as { nodes: { name: string; services: Record<string, { healthy: boolean }> }[] };
    const w1 = status.nodes.find((x) => x.name === 'w1')!;
    assert.equal(w1.services.http?.healthy, true);
    assert.equal(w1.services.https?.healthy, true);
  } finally {
    await lb?.stop();
    if (node) await stopNodeProcess(node);
    await rm(dir, { recursive: true, force: true });
  }
});
