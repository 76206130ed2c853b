/**
 * Change notifications: an event stream on the node hears of a change
 * made by the rookery command in another process; node state changes
 * reach admins only. Also: `rookery token create` prints a token the API
 * accepts, and repeated bad credentials get 429.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rookery } from '../helpers/cli.js';
import { call, startApiNode, type ApiNode } from './helpers.js';

let n: ApiNode;
before(async () => {
  n = await startApiNode();
});
after(async () => {
  await n.close();
});

interface SseEvent { event: string; data: unknown }

/** Opens an event stream and collects its events until closed. */
async function openStream(base: string, token: string) {
  const controller = new AbortController();
  const res = await fetch(`${base}/api/v1/events`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events: SseEvent[] = [];
  const waiters: (() => void)[] = [];
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event) events.push({ event, data: data ? JSON.parse(data) : null });
          waiters.splice(0).forEach((w) => w());
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    events,
    async waitFor(name: string, timeoutMs = 10_000): Promise<SseEvent> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events.find((e) => e.event === name);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no "${name}" event within ${timeoutMs} ms; got ${events.map((e) => e.event).join(', ')}`);
        await new Promise<void>((r) => { waiters.push(r); setTimeout(r, 200); });
      }
    },
    close: () => controller.abort(),
  };
}

test('an event stream hears of a user added by the rookery command in another process', async () => {
  const admin = await openStream(n.base, n.tokens.admin);
  const user = await openStream(n.base, n.tokens.user);
  try {
    await admin.waitFor('ready');
    const added = await rookery(['user', 'add', 'fromcli@example.test', '--password', 'pw', '--store', n.dir]);
    assert.equal(added.code, 0, added.stderr);
    await admin.waitFor('directory');
    await user.waitFor('directory');

    // Node state: admins only.
    await rookery(['node', 'drain', 'test-node', '--store', n.dir]);
    const nodes = await admin.waitFor('nodes') as { data: { nodes: { name: string; state: string }[] } };
    assert.equal(nodes.data.nodes.find((x) => x.name === 'test-node')?.state, 'draining');
    await rookery(['node', 'undrain', 'test-node', '--store', n.dir]);
    const flushed = await rookery(['queue', 'flush', '--store', n.dir]);
    assert.equal(flushed.code, 0, flushed.stderr);
    await admin.waitFor('queue');
    assert.ok(!user.events.some((e) => e.event === 'nodes' || e.event === 'queue'), 'a user hears no operator events');
  } finally {
    admin.close();
    user.close();
  }
  assert.equal((await call(n.base, 'GET', '/api/v1/events')).status, 401);
});

test('rookery token create prints a token the API takes, with its role and domain', async () => {
  const made = await rookery(['token', 'create', '--role', 'domain-admin', '--domain', 'other.test', '--label', 'from the cli', '--store', n.dir]);
  assert.equal(made.code, 0, made.stderr);
  const token = made.stdout.trim();
  assert.match(token, /^rookery_[0-9a-f]{24}_[A-Za-z0-9_-]{43}$/);
  const me = await call(n.base, 'GET', '/api/v1/me', { token });
  assert.equal(me.status, 200);
  assert.equal(me.body.role, 'domain-admin');
  assert.equal(me.body.domain, 'other.test');
  const stored = await n.store.tokens.list();
  const row = stored.find((t) => t.label === 'from the cli')!;
  assert.ok(row);
  // The secret is everything after the 24-digit id; base64url has '_' in its alphabet, so no split('_').
  const secret = token.slice('rookery_'.length + 24 + 1);
  assert.equal(secret.length, 43);
  assert.ok(!JSON.stringify(await n.store.tokens.find(row.id)).includes(secret), 'the store keeps a hash, not the secret');
});

test('repeated bad credentials from one address get 429 with Retry-After', async () => {
  let last = 0;
  let retryAfter: string | null = null;
  for (let i = 0; i < 30 && last !== 429; i++) {
    const r = await call(n.base, 'GET', '/api/v1/me', { headers: { authorization: `Basic ${Buffer.from('me@example.test:guess' + i).toString('base64')}` } });
    last = r.status;
    retryAfter = r.headers.get('retry-after');
    if (last === 429) assert.equal(r.body.error.code, 'too-many-requests');
  }
  assert.equal(last, 429);
  assert.ok(Number(retryAfter) > 0);
  // Even good credentials wait out the window from that address.
  assert.equal((await call(n.base, 'GET', '/api/v1/me', { token: n.tokens.admin })).status, 429);
});
