/**
 * The cluster-wide settings through the API (/api/v1/config), with Node's
 * fetch: an admin reads, sets and resets a limit and the DNS settings, bad
 * values answer 400 naming the field, other roles 403, a stale If-Match
 * 412, the change reaches the event stream, and both a running node and
 * one started after the change enforce it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { validate } from '../../src/web/schema.js';
import { startNode } from '../../src/node.js';
import { call, schemaOf, startApiNode, type ApiNode } from './helpers.js';

/** The SIZE a fresh SMTP session announces in its EHLO answer. */
async function ehloSize(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let saidEhlo = false;
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no EHLO answer; got ${JSON.stringify(text)}`)));
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (!saidEhlo && /^220 .*\r\n/m.test(text)) {
        saidEhlo = true;
        text = '';
        socket.write('EHLO client.test\r\n');
      } else if (saidEhlo && /^250 .*\r\n/m.test(text)) {
        socket.end('QUIT\r\n');
        const size = /^250[- ]SIZE (\d+)/m.exec(text);
        if (size) resolve(Number(size[1]));
        else reject(new Error(`EHLO announced no SIZE: ${text}`));
      }
    });
  });
}

describe('config API', () => {
  let n: ApiNode;
  before(async () => {
    n = await startApiNode();
  });
  after(async () => {
    await n.close();
  });

  const path = (key: string) => `/api/v1/config/${encodeURIComponent(key)}`;

  test('the list has every limit and DNS setting with value, default and meaning', async () => {
    const r = await call(n.base, 'GET', '/api/v1/config', { token: n.tokens.admin });
    assert.equal(r.status, 200);
    assert.equal(validate(schemaOf('GET', '/api/v1/config'), r.body), null);
    const byKey = new Map<string, { value: string | null; default: string | null; set: boolean; description: string; choices?: string[]; takesEffect: string }>(
      r.body.settings.map((x: { key: string }) => [x.key, x]),
    );
    const recipients = byKey.get('limits.maxRecipients')!;
    assert.deepEqual({ value: recipients.value, default: recipients.default, set: recipients.set, takesEffect: recipients.takesEffect }, { value: '100', default: '100', set: false, takesEffect: 'at-once' });
    assert.equal(byKey.get('limits.queueLeaseMs')!.takesEffect, 'node-start', 'the queue worker reads its limits when the node starts');
    assert.match(recipients.description, /Recipients accepted/);
    assert.deepEqual(byKey.get('limits.bareLineEndings')!.choices, ['normalise', 'reject']);
    assert.equal(byKey.get('dns.ttl')!.value, '60');
    assert.equal(byKey.get('dns.ttl')!.takesEffect, 'at-once');
    assert.equal(byKey.get('dns.ns')!.default, null, 'a computed default is null');
    assert.ok([...byKey.keys()].filter((k) => k.startsWith('limits.')).length >= 30);
  });

  test('an admin sets a limit, reads it back with the same ETag, and resets it to the default', async () => {
    const set = await call(n.base, 'PUT', path('limits.maxRecipients'), { token: n.tokens.admin, body: { value: '50' } });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.equal(validate(schemaOf('PUT', '/api/v1/config/{key}'), set.body), null);
    assert.deepEqual([set.body.key, set.body.value, set.body.default, set.body.set], ['limits.maxRecipients', '50', '100', true]);
    // Kept exactly as `rookery config set` keeps it.
    assert.equal(await n.store.settings.get('limits.maxRecipients'), '50');
    const read = await call(n.base, 'GET', path('limits.maxRecipients'), { token: n.tokens.admin });
    assert.equal(read.status, 200);
    assert.equal(read.body.value, '50');
    assert.equal(read.headers.get('etag'), set.headers.get('etag'));

    const reset = await call(n.base, 'DELETE', path('limits.maxRecipients'), { token: n.tokens.admin });
    assert.equal(reset.status, 200);
    assert.deepEqual([reset.body.value, reset.body.set], ['100', false]);
    assert.notEqual(reset.headers.get('etag'), set.headers.get('etag'));
    const listed = await call(n.base, 'GET', '/api/v1/config', { token: n.tokens.admin });
    assert.equal(listed.body.settings.find((x: { key: string }) => x.key === 'limits.maxRecipients').value, '100');
  });

  test('a bad value answers 400 naming the field, with the CLI checker\'s sentence; an unknown key 404', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['limits.maxRecipients', { value: 'lots' }, /positive whole number, not "lots"/],
      ['limits.maxRecipients', { value: '0' }, /positive whole number/],
      ['limits.bareLineEndings', { value: 'maybe' }, /one of normalise, reject/],
      ['limits.maxRecipients', { value: 50 }, /must be a string/],
      ['limits.maxRecipients', {}, /required/],
      ['dns.ttl', { value: '0' }, /whole number from 1 to 86400/],
      ['dns.nodes.example.test', { value: ' , ' }, /at least one node name/],
      ['dns.nodes.example.test', { value: 'not a node!' }, /not a node name/],
    ];
    for (const [key, body, sentence] of cases) {
      const r = await call(n.base, 'PUT', path(key), { token: n.tokens.admin, body });
      assert.equal(r.status, 400, `${key} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, 'bad-request');
      assert.equal(r.body.error.field, 'value');
      assert.match(r.body.error.message, sentence);
    }
    assert.equal(await n.store.settings.get('limits.maxRecipients'), '', 'nothing bad was kept (only the earlier reset)');
    for (const key of ['limits.noSuchLimit', 'limits.toString', 'smtp.anything', 'dns.serial.example.test', 'dns.nodes.nowhere.test']) {
      const r = await call(n.base, 'PUT', path(key), { token: n.tokens.admin, body: { value: '5' } });
      assert.equal(r.status, 404, key);
      assert.equal(r.body.error.code, 'not-found');
      assert.equal((await call(n.base, 'GET', path(key), { token: n.tokens.admin })).status, 404, key);
    }
  });

  test('only an admin: a domain admin and a user get 403, no credentials 401', async () => {
    for (const token of [n.tokens.domainAdmin, n.tokens.user]) {
      assert.equal((await call(n.base, 'GET', '/api/v1/config', { token })).status, 403);
      assert.equal((await call(n.base, 'GET', path('limits.maxRecipients'), { token })).status, 403);
      const put = await call(n.base, 'PUT', path('limits.maxRecipients'), { token, body: { value: '7' } });
      assert.equal(put.status, 403);
      assert.equal(put.body.error.code, 'forbidden');
      assert.equal((await call(n.base, 'DELETE', path('limits.maxRecipients'), { token })).status, 403);
    }
    assert.equal((await call(n.base, 'GET', '/api/v1/config')).status, 401);
    assert.notEqual(await n.store.settings.get('limits.maxRecipients'), '7');
  });

  test('a stale If-Match answers 412 and changes nothing; the current one is taken', async () => {
    const first = await call(n.base, 'GET', path('limits.maxAuthFailures'), { token: n.tokens.admin });
    const etag = first.headers.get('etag')!;
    assert.ok(etag);
    const changed = await call(n.base, 'PUT', path('limits.maxAuthFailures'), { token: n.tokens.admin, body: { value: '5' }, headers: { 'if-match': etag } });
    assert.equal(changed.status, 200);
    const stalePut = await call(n.base, 'PUT', path('limits.maxAuthFailures'), { token: n.tokens.admin, body: { value: '9' }, headers: { 'if-match': etag } });
    assert.equal(stalePut.status, 412);
    assert.equal(stalePut.body.error.code, 'precondition-failed');
    const staleDelete = await call(n.base, 'DELETE', path('limits.maxAuthFailures'), { token: n.tokens.admin, headers: { 'if-match': etag } });
    assert.equal(staleDelete.status, 412);
    assert.equal(await n.store.settings.get('limits.maxAuthFailures'), '5');
    const reset = await call(n.base, 'DELETE', path('limits.maxAuthFailures'), { token: n.tokens.admin, headers: { 'if-match': changed.headers.get('etag')! } });
    assert.equal(reset.status, 200);
    assert.equal(reset.body.value, '3');
  });

  test('DNS settings and node sets, as `rookery dns set|nodes` keep them', async () => {
    const ttl = await call(n.base, 'PUT', path('dns.ttl'), { token: n.tokens.admin, body: { value: ' 300 ' } });
    assert.equal(ttl.status, 200);
    assert.equal(await n.store.settings.get('dns.ttl'), '300');
    const nodes = await call(n.base, 'PUT', path('dns.nodes.Example.Test'), { token: n.tokens.admin, body: { value: 'node1, node2,' } });
    assert.equal(nodes.status, 200, JSON.stringify(nodes.body));
    assert.deepEqual([nodes.body.key, nodes.body.value], ['dns.nodes.example.test', 'node1,node2']);
    const listed = await call(n.base, 'GET', '/api/v1/config', { token: n.tokens.admin });
    assert.equal(listed.body.settings.find((x: { key: string }) => x.key === 'dns.nodes.example.test')?.value, 'node1,node2');
    const cleared = await call(n.base, 'DELETE', path('dns.nodes.example.test'), { token: n.tokens.admin });
    assert.deepEqual([cleared.status, cleared.body.value, cleared.body.set], [200, null, false]);
    const relisted = await call(n.base, 'GET', '/api/v1/config', { token: n.tokens.admin });
    assert.equal(relisted.body.settings.some((x: { key: string }) => x.key === 'dns.nodes.example.test'), false, 'a cleared node set is not listed');
    assert.equal((await call(n.base, 'DELETE', path('dns.ttl'), { token: n.tokens.admin })).body.value, '60');
  });

  test('a change is a "settings" event on the admin\'s event stream', async () => {
    const controller = new AbortController();
    const res = await fetch(`${n.base}/api/v1/events`, { headers: { authorization: `Bearer ${n.tokens.admin}` }, signal: controller.signal });
    assert.equal(res.status, 200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    const readUntil = async (pattern: RegExp) => {
      const deadline = Date.now() + 10_000;
      while (!pattern.test(text)) {
        if (Date.now() > deadline) throw new Error(`no ${pattern} on the stream; got ${text}`);
        const { value, done } = await reader.read();
        if (done) throw new Error(`the stream ended; got ${text}`);
        text += decoder.decode(value, { stream: true });
      }
    };
    try {
      await readUntil(/event: ready/);
      const put = await call(n.base, 'PUT', path('limits.maxImapBadCommands'), { token: n.tokens.admin, body: { value: '30' } });
      assert.equal(put.status, 200);
      await readUntil(/event: settings\ndata: \{"key":"limits\.maxImapBadCommands"\}/);
    } finally {
      controller.abort();
      await reader.cancel().catch(() => undefined);
    }
  });

  test('a change reaches a running node at once and a node started after it; after a reset, the default', async () => {
    const startSmtpNode = (name: string) => startNode({ store: n.store, name, address: '127.0.0.1', hostname: `${name}.example.test`, ports: { smtp: 0 }, queue: false });
    /** Waits until a running node's EHLO SIZE is `size` (it hears of the change through the store's change feed). */
    const sizeBecomes = async (port: number, size: number) => {
      const deadline = Date.now() + 5000;
      for (let seen = await ehloSize(port); seen !== size; seen = await ehloSize(port)) {
        assert.ok(Date.now() < deadline, `SIZE still ${seen}, not ${size}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    const before = await startSmtpNode('before-change');
    try {
      assert.equal(await ehloSize(before.ports.smtp), 25 * 1024 * 1024);
      const put = await call(n.base, 'PUT', path('limits.maxMessageBytes'), { token: n.tokens.admin, body: { value: '123456' } });
      assert.equal(put.status, 200);
      await sizeBecomes(before.ports.smtp, 123456);
      const later = await startSmtpNode('after-change');
      try {
        assert.equal(await ehloSize(later.ports.smtp), 123456);
      } finally {
        await later.stop();
      }
      assert.equal((await call(n.base, 'DELETE', path('limits.maxMessageBytes'), { token: n.tokens.admin })).status, 200);
      await sizeBecomes(before.ports.smtp, 25 * 1024 * 1024);
      const afterReset = await startSmtpNode('after-reset');
      try {
        assert.equal(await ehloSize(afterReset.ports.smtp), 25 * 1024 * 1024);
      } finally {
        await afterReset.stop();
      }
    } finally {
      await before.stop();
    }
  });
});
