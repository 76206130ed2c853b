/**
 * The HTTP service of a node (base+80, and HTTPS on base+443 with the
 * cluster certificate): /healthz, /metrics and the admin API under
 * /api/v1.
 *
 * The HTTP layer is node:http alone: the route table is ours anyway (it
 * is the OpenAPI document and the role checks), connections come from the
 * shared ServiceListener (PROXY from trusted traffic managers, the
 * per-address cap, implicit TLS) and are handed to an http.Server with
 * emit('connection'), and an event stream is a plain response; no
 * framework would remove code here, and none has to be pinned against a
 * lagging registry.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { registry, prometheusContentType } from '../metrics/index.js';
import { ServiceListener } from '../net/listener.js';
import type { ClientAddress } from '../net/proxy-accept.js';
import type { NetService, ServiceContext } from '../net/service.js';
import { apiRoutes } from './api/index.js';
import { ApiHandler, sendError, sendJson } from './api-handler.js';
import { BearerTokenAuthenticator, PasswordAuthenticator, webAuthThrottle, type Authenticator } from './auth.js';
import { ApiError } from './errors.js';
import { EventHub } from './events.js';
import { healthReport, storeCollector } from './health.js';
import { defaultWebLimits, type WebLimits } from './limits.js';
import type { WebContext } from './route.js';
import { createAdminConsole } from './admin/index.js';
import { magicNameRedirect } from './magic-names.js';
import { createWebmail } from './webmail/index.js';
import { createAutoconfig } from './autoconfig/index.js';
import { createSelfCare } from './selfcare/index.js';
import { SessionCookieAuthenticator } from './webmail/session.js';

export interface HttpServiceOptions {
  /** HTTPS: TLS with the cluster certificate from the first byte. */
  implicitTls: boolean;
  /** The node's name in the cluster (for /healthz and events). */
  nodeName: string;
  limits?: Partial<WebLimits>;
  /** Handlers tried before the 404, in order (the console and webmail); true when one answered. */
  extraHandlers?: ((req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>)[];
}

/** How long open requests have to finish at shutdown before their connections are cut. */
const closeGraceMs = 5000;

const busyReply = 'HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 52\r\nRetry-After: 5\r\nConnection: close\r\n\r\nToo many connections from your address; try later.\n';

export function createHttpService(ctx: ServiceContext, opts: HttpServiceOptions): NetService {
  const protocol = opts.implicitTls ? 'https' : 'http';
  const limits: WebLimits = { ...defaultWebLimits, ...opts.limits };
  const logger = ctx.logger.child({ service: protocol });
  // Timed once for the whole node (src/node.ts).
  const store = ctx.store;
  const events = new EventHub({ store, nodeName: opts.nodeName, logger, keepaliveMs: limits.eventKeepaliveMs, maxClients: limits.maxEventStreams, protocol });
  const webCtx: WebContext = { store, nodeName: opts.nodeName, hostname: ctx.hostname, logger, events };
  const authenticators: Authenticator[] = [new BearerTokenAuthenticator(), new PasswordAuthenticator(), new SessionCookieAuthenticator()];
  // The node's login throttle, shared with IMAP, POP3 and SMTP (and through the store with every node).
  const throttle = webAuthThrottle(store, protocol, ctx.limits);
  const api = new ApiHandler({ ctx: webCtx, routes: apiRoutes, authenticators, throttle, limits, protocol });
  const clients = new WeakMap<Duplex, ClientAddress>();
  const webmail = createWebmail({
    store, hostname: ctx.hostname, nodeName: opts.nodeName, logger, secure: opts.implicitTls,
    throttle,
    limits: ctx.limits, maxEventStreams: limits.maxEventStreams, eventKeepaliveMs: limits.eventKeepaliveMs,
  });
  const autoconfig = createAutoconfig({ store, hostname: ctx.hostname, nodeName: opts.nodeName, logger });
  const selfCare = createSelfCare({ store, logger, secure: opts.implicitTls, autoconfig, throttle });
  const adminConsole = createAdminConsole({
    store, logger, secure: opts.implicitTls, throttle,
  });
  const stopCollector = registry.addCollector(storeCollector(store));

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const client = clients.get(req.socket)?.address ?? req.socket.remoteAddress ?? 'unknown';
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    // The strictest policy on every answer (error pages, redirects, anything new); a page that needs
    // more (the webmail, the console) sends its own, which takes the place of this one.
    res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    res.setHeader('X-Frame-Options', 'DENY');
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://node.invalid');
    } catch {
      sendError(res, new ApiError('bad-request', 'The request target is not a valid path.'));
      return;
    }
    if (url.pathname === '/healthz') {
      const report = await healthReport(ctx, opts.nodeName);
      sendJson(res, report.status === 'ok' ? 200 : 503, report);
      return;
    }
    if (url.pathname === '/metrics') {
      const text = await registry.render();
      res.writeHead(200, { 'Content-Type': prometheusContentType, 'Cache-Control': 'no-store' });
      res.end(text);
      return;
    }
    if (url.pathname === '/api' || url.pathname.startsWith('/api/')) {
      res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
      await api.handle(req, res, url, client);
      return;
    }
    const magic = ctx.limits.webMagicNames === 'on' ? magicNameRedirect(req, url, opts.nodeName, opts.implicitTls) : null;
    if (magic) {
      res.writeHead(magic.status, { Location: magic.location, 'Cache-Control': 'no-store', 'Content-Length': '0' });
      res.end();
      return;
    }
    if (await adminConsole.handle(req, res, url, client)) return;
    if (await autoconfig.handle(req, res, url)) return;
    if (await selfCare.handle(req, res, url, client)) return;
    if (await webmail.handle(req, res, url, client)) return;
    for (const h of opts.extraHandlers ?? []) if (await h(req, res, url)) return;
    sendError(res, new ApiError('not-found', `There is nothing at ${url.pathname}; the API is under /api/v1.`));
  };

  const server = createServer({ requestTimeout: limits.httpRequestTimeoutMs, headersTimeout: limits.httpHeadersTimeoutMs, keepAliveTimeout: limits.httpKeepAliveTimeoutMs }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger.error({ err, path: req.url }, 'HTTP request failed');
      sendError(res, new ApiError('internal', 'Something went wrong on the server; the node logged the detail.'));
    });
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // Malformed requests and header timeouts: a plain 400 when the socket can still take it.
    if (socket.writable && err.code !== 'ECONNRESET') socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });

  let open = 0;
  let allClosed: (() => void) | null = null;
  const listener = new ServiceListener({
    ctx,
    protocol,
    logger,
    implicitTls: opts.implicitTls,
    handshakeTimeoutMs: () => 10_000,
    refuseTooMany(socket) {
      socket.end(busyReply);
    },
    begin(connection) {
      clients.set(connection.stream, connection.client);
      open++;
      connection.socket.once('close', () => {
        open--;
        if (open === 0) allClosed?.();
      });
      server.emit('connection', connection.stream);
    },
  });

  return {
    listen: (port, host) => listener.listen(port, host),
    openConnections: () => open,
    async close() {
      await listener.stopAccepting();
      stopCollector();
      events.close();
      webmail.close();
      server.closeIdleConnections();
      if (open > 0) {
        // Keep-alive connections finish their request and then close.
        server.on('request', (_req, res: ServerResponse) => res.setHeader('Connection', 'close'));
        await new Promise<void>((resolve) => {
          const idle = setInterval(() => server.closeIdleConnections(), 100);
          const finish = () => {
            clearInterval(idle);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(finish, closeGraceMs);
          allClosed = finish;
        });
      }
      listener.destroyAll();
    },
  };
}
