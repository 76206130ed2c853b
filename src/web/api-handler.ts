/**
 * The API's dispatcher, the one place that does what every route needs:
 * match the path, authenticate and check the role, parse and validate
 * parameters, query and body against the route's schemas, run the
 * handler, and answer JSON with its ETag, or an error from the table.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { metrics } from '../metrics/index.js';
import { authenticate, challenges, type Authenticator, type AuthThrottle, type Principal } from './auth.js';
import { ApiError, toApiError } from './errors.js';
import { parseIfMatch } from './etag.js';
import type { WebLimits } from './limits.js';
import type { AnyRoute, Method, WebContext } from './route.js';
import { coerceParameters, validate } from './schema.js';

interface CompiledRoute {
  route: AnyRoute;
  pattern: RegExp;
  names: string[];
  /** Literal segments first: /queue/flush before /queue/{id}. */
  paramCount: number;
}

function compile(route: AnyRoute): CompiledRoute {
  const names: string[] = [];
  const source = route.path.split('/').map((seg) => {
    const m = /^\{(\w+)\}$/.exec(seg);
    if (!m) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    names.push(m[1]!);
    return '([^/]+)';
  }).join('/');
  return { route, pattern: new RegExp(`^${source}$`), names, paramCount: names.length };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    ...(text !== '' ? { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)) } : {}),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: ApiError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, err.status, err.toJSON(), err.headers);
}

/** Reads a JSON body within the size limit. */
async function readJsonBody(req: IncomingMessage, maxBytes: number, requiredFields: boolean): Promise<unknown> {
  const length = req.headers['content-length'];
  const hasBody = (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) {
    if (requiredFields) throw new ApiError('malformed-body', 'This request needs a JSON body.');
    return {};
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json' && !/^application\/[\w.-]+\+json$/.test(type)) {
    throw new ApiError('unsupported-media-type', 'Send the body as application/json.');
  }
  if (length !== undefined && Number(length) > maxBytes) throw new ApiError('payload-too-large', `The body is larger than ${maxBytes} bytes.`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new ApiError('payload-too-large', `The body is larger than ${maxBytes} bytes.`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '' && !requiredFields) return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ApiError('malformed-body', 'The body is not valid JSON.');
  }
}

export interface ApiHandlerOptions {
  ctx: WebContext;
  routes: readonly AnyRoute[];
  authenticators: readonly Authenticator[];
  throttle: AuthThrottle;
  limits: WebLimits;
  /** The metric label: http or https. */
  protocol: string;
}

export class ApiHandler {
  private readonly compiled: CompiledRoute[];

  constructor(private readonly opts: ApiHandlerOptions) {
    this.compiled = opts.routes.map(compile).sort((a, b) => a.paramCount - b.paramCount);
  }

  /** The route for a method and path, with its raw parameters; or the methods the path takes; or null. */
  match(method: string, pathname: string): { route: AnyRoute; params: Record<string, string> } | { allowed: Method[] } | null {
    const allowed: Method[] = [];
    const wanted = method === 'HEAD' ? 'GET' : method;
    for (const c of this.compiled) {
      const m = c.pattern.exec(pathname);
      if (!m) continue;
      if (c.route.method !== wanted) {
        allowed.push(c.route.method);
        continue;
      }
      const params: Record<string, string> = {};
      c.names.forEach((n, i) => {
        try {
          params[n] = decodeURIComponent(m[i + 1]!);
        } catch {
          throw new ApiError('bad-request', `The ${n} in the path is not valid percent-encoding.`, n);
        }
      });
      return { route: c.route, params };
    }
    return allowed.length > 0 ? { allowed } : null;
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL, clientAddress: string): Promise<void> {
    const started = process.hrtime.bigint();
    let routeLabel = 'unmatched';
    res.once('finish', () => {
      const labels = { method: req.method ?? '', route: routeLabel, status: String(res.statusCode) };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe({ route: routeLabel }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    try {
      const found = this.match(req.method ?? 'GET', url.pathname);
      if (found === null) throw new ApiError('not-found', `There is no ${url.pathname} in the API; /api/v1/openapi.json lists what there is.`);
      if ('allowed' in found) {
        throw new ApiError('method-not-allowed', `${url.pathname} takes ${found.allowed.join(', ')}.`, undefined, { Allow: found.allowed.join(', ') });
      }
      const { route } = found;
      routeLabel = route.path;
      await this.run(route, found.params, req, res, url, clientAddress);
    } catch (err) {
      const apiError = toApiError(err);
      if (apiError.code === 'internal' || apiError.code === 'unavailable') {
        this.opts.ctx.logger.error({ err, method: req.method, path: url.pathname }, 'API request failed');
      }
      sendError(res, apiError);
    }
  }

  private async run(route: AnyRoute, rawParams: Record<string, string>, req: IncomingMessage, res: ServerResponse, url: URL, clientAddress: string): Promise<void> {
    const { ctx } = this.opts;
    let principal: Principal | null = null;
    if (route.access !== 'public') {
      principal = await authenticate(req, ctx.store, this.opts.authenticators, this.opts.throttle, clientAddress);
      if (!principal) throw new ApiError('unauthenticated', 'This needs credentials: a bearer token (rookery token create) or your address and password.', undefined, challenges(this.opts.authenticators));
      if (!route.access.includes(principal.role)) throw new ApiError('forbidden', `Your role (${principal.role}) may not ${route.summary[0]!.toLowerCase()}${route.summary.slice(1).replace(/\.$/, '')}.`);
    }
    const params = route.params ? coerceParameters(route.params.json, rawParams) : {};
    if (route.params) {
      const p = validate(route.params.json, params);
      if (p) throw new ApiError('bad-request', p.message, p.field);
    }
    const rawQuery: Record<string, string> = {};
    for (const [k, v] of url.searchParams) rawQuery[k] ??= v;
    const query = coerceParameters(route.query?.json ?? { type: 'object', properties: {} }, rawQuery);
    if (route.query) {
      const p = validate(route.query.json, query);
      if (p) throw new ApiError('bad-request', p.message.replace(/is not a field of this request/, 'is not a query parameter of this route'), p.field);
    }
    let body: unknown;
    if (route.body) {
      body = await readJsonBody(req, this.opts.limits.maxHttpBodyBytes, (route.body.json.required ?? []).length > 0);
      const p = validate(route.body.json, body);
      if (p) throw new ApiError(p.field === '' ? 'malformed-body' : 'bad-request', p.message, p.field === '' ? undefined : p.field);
    } else {
      req.resume();
    }
    const result = await route.handler({
      params, query, body, principal: principal!, ifMatch: parseIfMatch(req.headers['if-match']), ctx, clientAddress, raw: req, res,
    });
    if ('streamed' in result) return;
    sendJson(res, result.status, result.status === 204 ? undefined : result.body, { ...(result.etag ? { ETag: result.etag } : {}), ...result.headers });
  }
}
