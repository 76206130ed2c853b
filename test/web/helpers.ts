/** A node with HTTP for the API tests, tokens for each role, and a fetch wrapper. */
import { startTestNode, type TestNode } from '../helpers/test-node.js';
import assert from 'node:assert/strict';
import { mintToken } from '../../src/web/tokens.js';
import { apiRoutes } from '../../src/web/api/index.js';

export interface ApiNode extends TestNode {
  base: string;
  tokens: { admin: string; domainAdmin: string; otherDomainAdmin: string; user: string };
}

export async function startApiNode(): Promise<ApiNode> {
  const node = await startTestNode({ domains: ['other.test'], users: { 'me@example.test': 'secret', 'you@example.test': 'secret2' } });
  await node.store.directory.addUser({ address: 'them@other.test', password: 'secret3' });
  const tokens = {
    admin: (await mintToken(node.store, { role: 'admin', label: 'tests' })).text,
    domainAdmin: (await mintToken(node.store, { role: 'domain-admin', domain: 'example.test' })).text,
    otherDomainAdmin: (await mintToken(node.store, { role: 'domain-admin', domain: 'other.test' })).text,
    user: (await mintToken(node.store, { role: 'user', subject: 'me@example.test' })).text,
  };
  return Object.assign(node, { base: `http://127.0.0.1:${node.ports.http}`, tokens });
}

export interface ApiAnswer {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** One request; a JSON body is sent as JSON, the answer parsed when it is JSON. */
export async function call(base: string, method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<ApiAnswer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers, ...(opts.body !== undefined ? { body: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) } : {}) });
  const text = await res.text();
  let body: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') body = JSON.parse(text);
  return { status: res.status, headers: res.headers, body };
}

/** The documented success schema of a route, to check answers against. */
export function schemaOf(method: string, path: string) {
  const r = apiRoutes.find((x) => x.method === method && x.path === path);
  assert.ok(r?.success.schema, `${method} ${path} has a documented schema`);
  return r.success.schema.json;
}
