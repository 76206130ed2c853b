/**
 * The OpenAPI document is built from the route table, and the error codes
 * from one table: every served route is in the document (and nothing
 * else), every error code is documented, and the document the server
 * answers is that one.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { apiRoutes } from '../../src/web/api/index.js';
import { allErrorCodes, errorCodes } from '../../src/web/errors.js';
import { dispatcherErrorCodes, openApiDocument, routeErrors } from '../../src/web/openapi.js';
import { call, startApiNode, type ApiNode } from './helpers.js';

let n: ApiNode;
before(async () => {
  n = await startApiNode();
});
after(async () => {
  await n.close();
});

test('the served document lists every route of the table, and only those', async () => {
  const r = await call(n.base, 'GET', '/api/v1/openapi.json');
  assert.equal(r.status, 200);
  const doc = r.body as { openapi: string; paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>> };
  assert.match(doc.openapi, /^3\./);
  const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort();
  const served = apiRoutes.map((x) => `${x.method} ${x.path}`).sort();
  assert.deepEqual(documented, served);
  assert.equal(new Set(served).size, served.length, 'no route twice');
  const ids = apiRoutes.map((x) => x.operationId);
  assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
  for (const route of apiRoutes) {
    const op = doc.paths[route.path]![route.method.toLowerCase()]!;
    assert.ok(op.responses[String(route.success.status)], `${route.operationId} documents its success`);
    for (const code of routeErrors(route)) {
      assert.ok(op.responses[String(errorCodes[code].status)], `${route.operationId} documents ${code}`);
    }
  }
  assert.deepEqual(doc, JSON.parse(JSON.stringify(openApiDocument(apiRoutes))));
});

test('the error codes in the document are exactly the error table, with their statuses', async () => {
  const doc = (await call(n.base, 'GET', '/api/v1/openapi.json')).body;
  const enumCodes = doc.components.schemas.ErrorCode.enum as string[];
  assert.deepEqual([...enumCodes].sort(), [...allErrorCodes].sort());
  for (const code of allErrorCodes) assert.equal(doc.components.schemas.ErrorCode['x-status'][code], errorCodes[code].status);
  // Every code is answerable by some route (none is dead), and the statuses the brief names are all there.
  const reachable = new Set([...apiRoutes.flatMap(routeErrors), ...dispatcherErrorCodes]);
  assert.deepEqual(doc['x-dispatcher-errors'], dispatcherErrorCodes);
  for (const code of allErrorCodes) assert.ok(reachable.has(code), `${code} is answered by some route`);
  for (const status of [400, 401, 403, 404, 409, 412, 429]) {
    assert.ok(allErrorCodes.some((c) => errorCodes[c].status === status), `a code for ${status}`);
  }
});

test('every $ref in the document resolves', async () => {
  const doc = (await call(n.base, 'GET', '/api/v1/openapi.json')).body;
  const refs = JSON.stringify(doc).match(/"\$ref":"#\/components\/schemas\/[^"]+"/g) ?? [];
  assert.ok(refs.length > 10);
  for (const ref of refs) {
    const name = /schemas\/([^"]+)"/.exec(ref)![1]!;
    assert.ok(doc.components.schemas[name], `${name} is defined`);
  }
});
