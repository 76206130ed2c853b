/**
 * The connection counts behind the console's cluster map: a node's
 * heartbeat carries each service's open connections, both registry
 * backends keep them, and GET /api/v1/nodes shows them (in the documented
 * schema). PostgreSQL is expected at 127.0.0.1:5432 (or ROOKERY_TEST_POSTGRES);
 * without it that case is skipped with the reason, except under CI=true.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { freshDatabase, postgresUnavailable } from '../helpers/postgres.js';
import { tempDir } from '../helpers/temp.js';
import { openStore } from '../../src/store/open.js';
import { startNode, type RunningNode } from '../../src/node.js';
import type { Store } from '../../src/store/types.js';
import { apiRoutes } from '../../src/web/api/index.js';
import { validate } from '../../src/web/schema.js';
import { mintToken } from '../../src/web/tokens.js';

/** Registers, heartbeats with counts, and reads back. */
async function roundTrip(store: Store): Promise<void> {
  await store.cluster.register({
    name: 'counted', role: 'node', address: '10.0.0.1', host: 'h', pid: 1, version: 'v',
    services: { imap: { port: 143, healthy: true, connections: 0 }, smtp: { port: 25, healthy: true, connections: 0 } },
  });
  await store.cluster.heartbeat('counted', { imap: { port: 143, healthy: true, connections: 7 }, smtp: { port: 25, healthy: false, connections: 2 } });
  const m = await store.cluster.get('counted');
  assert.deepEqual(m?.services, { imap: { port: 143, healthy: true, connections: 7 }, smtp: { port: 25, healthy: false, connections: 2 } });
  // A member that does not count (an older node, a traffic manager) has none, and that is fine.
  await store.cluster.register({ name: 'silent', role: 'balancer', address: '10.0.0.2', host: 'h', pid: 2, version: 'v', services: { smtp: { port: 25, healthy: true } } });
  assert.equal((await store.cluster.get('silent'))?.services.smtp?.connections, undefined);
}

describe('connections in the registry', () => {
  it('the embedded store keeps the counts of a heartbeat', async () => {
    const dir = await tempDir();
    const store = await openStore(dir);
    try {
      await roundTrip(store);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('PostgreSQL keeps the counts of a heartbeat', async (t) => {
    const reason = await postgresUnavailable();
    if (reason !== null) {
      if (process.env.CI === 'true') assert.fail(reason);
      t.skip(reason);
      return;
    }
    const db = await freshDatabase();
    const store = await openStore(db.location);
    try {
      await roundTrip(store);
    } finally {
      await store.close();
      await db.drop();
    }
  });
});

describe('a node counts its connections', () => {
  let dir: string;
  let store: Store;
  let node: RunningNode;
  let token: string;
  const sockets: Socket[] = [];

  before(async () => {
    dir = await tempDir();
    store = await openStore(dir);
    node = await startNode({ store, name: 'node-c', address: '127.0.0.1', hostname: 'mx.example.test', ports: { http: 0, imap: 0, pop3: 0 }, queue: false });
    token = (await mintToken(store, { role: 'admin', domain: null, subject: null, label: 'test', expiresAt: null })).text;
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await node?.stop();
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function servicesWhen(ok: (services: Record<string, { connections?: number }>) => boolean): Promise<Record<string, { connections?: number }>> {
    const deadline = Date.now() + 8000;
    for (;;) {
      const m = await store.cluster.get('node-c');
      if (m && ok(m.services)) return m.services;
      if (Date.now() > deadline) throw new Error(`the registry never showed the expected counts: ${JSON.stringify(m?.services)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('publishes open IMAP and POP3 connections in the heartbeat, and their end', async () => {
    await servicesWhen((s) => s.imap?.connections === 0 && s.pop3?.connections === 0);
    for (const port of [node.ports.imap, node.ports.imap, node.ports.pop3]) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      await new Promise((r) => s.once('data', r));
      sockets.push(s);
    }
    await servicesWhen((s) => s.imap?.connections === 2 && s.pop3?.connections === 1);

    const res = await fetch(`http://127.0.0.1:${node.ports.http}/api/v1/nodes`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    const body = await res.json() as { nodes: { name: string; services: Record<string, { connections?: number }> }[] };
    const schema = apiRoutes.find((r) => r.operationId === 'listNodes')!.success.schema!.json;
    assert.equal(validate(schema, body), null);
    const me = body.nodes.find((n) => n.name === 'node-c')!;
    assert.equal(me.services.imap?.connections, 2);
    assert.equal(me.services.pop3?.connections, 1);
    // The HTTP count is as of the last heartbeat, which may predate this request's connection.
    assert.equal(typeof me.services.http?.connections, 'number');

    for (const s of sockets.splice(0)) s.destroy();
    await servicesWhen((s) => s.imap?.connections === 0 && s.pop3?.connections === 0);
  });
});
