/**
 * The OpenAPI 3.0 document of the API, built from the route table and its
 * schemas (src/web/api/index.ts), and the error table (errors.ts): the
 * document cannot describe a route the server does not have, or miss one
 * it has. Errors each route can answer are its declared ones plus those
 * every route of its kind can: 401/403/429 with authentication, 400 with
 * parameters or a body, 412 with an ETag, 500 and 503 always.
 */
import { version } from '../version.js';
import { allErrorCodes, errorCodes, type ErrorCode } from './errors.js';
import type { AnyRoute } from './route.js';
import type { JsonSchema, Schema } from './schema.js';

/** Errors the dispatcher answers for requests that match no route: a path that is not there, or a method a path does not take. */
export const dispatcherErrorCodes: readonly ErrorCode[] = ['not-found', 'method-not-allowed'];

/** The errors a route can answer, in status order. */
export function routeErrors(r: AnyRoute): ErrorCode[] {
  const codes = new Set<ErrorCode>(r.errors);
  if (r.access !== 'public') ['unauthenticated', 'forbidden', 'too-many-requests'].forEach((c) => codes.add(c as ErrorCode));
  if (r.params || r.query || r.body) codes.add('bad-request');
  if (r.body) ['malformed-body', 'unsupported-media-type', 'payload-too-large'].forEach((c) => codes.add(c as ErrorCode));
  if (r.etag && r.method !== 'GET' && r.method !== 'POST') codes.add('precondition-failed');
  codes.add('internal');
  codes.add('unavailable');
  return [...codes].sort((a, b) => errorCodes[a].status - errorCodes[b].status || (a < b ? -1 : 1));
}

/** Collects named schemas into components and replaces them with $ref, recursively. */
class Components {
  readonly schemas: Record<string, JsonSchema> = {};

  ref(schema: Schema<unknown>): JsonSchema {
    if (schema.name) {
      if (!this.schemas[schema.name]) {
        this.schemas[schema.name] = {};
        this.schemas[schema.name] = this.inline(schema);
      }
      return { $ref: `#/components/schemas/${schema.name}` };
    }
    return this.inline(schema);
  }

  private inline(schema: Schema<unknown>): JsonSchema {
    const json: JsonSchema = { ...schema.json };
    if (schema.props) json.properties = Object.fromEntries(Object.entries(schema.props).map(([k, v]) => [k, this.ref(v)]));
    if (schema.items && json.type === 'array') json.items = this.ref(schema.items);
    if (schema.items && json.type === 'object') json.additionalProperties = this.ref(schema.items);
    return json;
  }
}

export function openApiDocument(routes: readonly AnyRoute[]): Record<string, unknown> {
  const components = new Components();
  const paths: Record<string, Record<string, unknown>> = {};
  const statusesUsed = new Map<string, ErrorCode[]>();
  for (const r of routes) {
    const parameters: unknown[] = [];
    for (const [where, schema] of [['path', r.params], ['query', r.query]] as const) {
      if (!schema) continue;
      const required = new Set(schema.json.required ?? []);
      for (const [name, prop] of Object.entries(schema.json.properties ?? {})) {
        parameters.push({ name, in: where, required: where === 'path' || required.has(name), schema: prop, ...(prop.description ? { description: prop.description } : {}) });
      }
    }
    if (r.etag && r.method !== 'GET' && r.method !== 'POST') {
      parameters.push({ name: 'If-Match', in: 'header', required: false, schema: { type: 'string' }, description: 'The ETag read before; a stale one answers 412.' });
    }
    const responses: Record<string, unknown> = {};
    const success: Record<string, unknown> = { description: r.success.description };
    if (r.success.schema) success.content = { [r.success.contentType ?? 'application/json']: { schema: components.ref(r.success.schema) } };
    else if (r.success.contentType) success.content = { [r.success.contentType]: { schema: { type: 'string' } } };
    if (r.etag && r.success.status !== 204) success.headers = { ETag: { description: 'The resource\'s version, for If-Match.', schema: { type: 'string' } } };
    responses[String(r.success.status)] = success;
    const byStatus = new Map<number, ErrorCode[]>();
    for (const code of routeErrors(r)) {
      const status = errorCodes[code].status;
      byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
    }
    for (const [status, codes] of byStatus) {
      responses[String(status)] = {
        description: codes.map((c) => `\`${c}\`: ${errorCodes[c].description}`).join(' '),
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        'x-error-codes': codes,
      };
    }
    statusesUsed.set(`${r.method} ${r.path}`, routeErrors(r));
    const operation: Record<string, unknown> = {
      operationId: r.operationId,
      summary: r.summary,
      tags: [r.tag],
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: components.ref(r.body) } } } } : {}),
      responses,
      security: r.access === 'public' ? [] : [{ bearer: [] }, { basic: [] }],
      ...(r.access !== 'public' ? { 'x-roles': r.access } : {}),
    };
    (paths[r.path] ??= {})[r.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'Rookery admin API',
      version,
      description: 'Administration of a Rookery mail cluster: everything the rookery command does. Every node serves it. '
        + 'Errors answer `{ "error": { "code", "message", "field"? } }`; the codes are listed under components.schemas.ErrorCode. '
        + 'A path that is not here answers 404 `not-found`; a method a path does not take answers 405 `method-not-allowed` with `Allow`.',
    },
    'x-dispatcher-errors': dispatcherErrorCodes,
    servers: [{ url: '/' }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'A token from `rookery token create --role ROLE` (or POST /api/v1/tokens).' },
        basic: { type: 'http', scheme: 'basic', description: 'A user\'s own address and password; the user\'s role applies.' },
      },
      schemas: {
        ...components.schemas,
        ErrorCode: {
          type: 'string',
          enum: allErrorCodes,
          description: allErrorCodes.map((c) => `${c} (${errorCodes[c].status}): ${errorCodes[c].description}`).join('\n'),
          'x-status': Object.fromEntries(allErrorCodes.map((c) => [c, errorCodes[c].status])),
        },
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { $ref: '#/components/schemas/ErrorCode' },
                message: { type: 'string', description: 'A sentence for a human.' },
                field: { type: 'string', description: 'The parameter or body field at fault (400).' },
              },
            },
          },
        },
      },
    },
  };
}
