/**
 * The operator's resources: transports, the queue, nodes, DNS zones, the
 * certificate, tokens (admin only), plus who-am-I and the event stream.
 * What `rookery transport|queue|node|dns zone|tls|token` do.
 */
import { X509Certificate } from 'node:crypto';
import { zoneFileText } from '../../dns/zone-file.js';
import { readZones } from '../../dns/zones.js';
import { readCertificate, validateCertificate, writeCertificate } from '../../net/tls.js';
import { addTransport, readTransportEntries, removeTransport } from '../../outbound/transport-map.js';
import type { AccessToken, Member, QueuedMessage } from '../../store/types.js';
import { ApiError, storeCall } from '../errors.js';
import { checkIfMatch, etagOf } from '../etag.js';
import { statusLetters } from '../cluster-status.js';
import { mintToken } from '../tokens.js';
import { adminOnly, created, everyone, noContent, ok, route, type AnyRoute, type WebContext } from '../route.js';
import { s } from '../schema.js';
import { certificateSchema, listOf, nodeSchema, principalSchema, queuedMessageSchema, roleSchema, tokenSchema, transportSchema, zoneSchema } from './schemas.js';

// ------------------------------------------------------------ representations

function queueJson(m: QueuedMessage) {
  return {
    id: m.id, sender: m.sender, size: m.size, createdAt: m.createdAt.toISOString(), origin: m.origin,
    recipients: m.recipients.map((r) => ({
      address: r.address, domain: r.domain, state: r.state, attempts: r.attempts, nextAttemptAt: r.nextAttemptAt.toISOString(),
      lastError: r.lastError, leaseOwner: r.leaseOwner, leaseExpiresAt: r.leaseExpiresAt?.toISOString() ?? null, delayWarned: r.delayWarned,
    })),
  };
}

function nodeJson(m: Member) {
  return {
    name: m.name, role: m.role, address: m.address, host: m.host, pid: m.pid, state: m.state, status: statusLetters(m), version: m.version,
    startedAt: m.startedAt.toISOString(), heartbeatAt: m.heartbeatAt.toISOString(),
    services: Object.fromEntries(Object.entries(m.services).map(([n, h]) => [n, {
      port: h.port, healthy: h.healthy && m.state === 'up', ...(h.connections === undefined ? {} : { connections: h.connections }),
    }])),
  };
}

/** A member's ETag covers what an operator changes (its state), not heartbeats and health, which change every second. */
function nodeEtag(m: Member): string {
  return etagOf({ name: m.name, role: m.role, address: m.address, state: m.state, startedAt: m.startedAt.getTime() });
}

function tokenJson(t: AccessToken) {
  return {
    id: t.id, kind: t.kind, role: t.role, domain: t.domain, subject: t.subject, label: t.label, createdAt: t.createdAt.toISOString(),
    expiresAt: t.expiresAt?.toISOString() ?? null, lastUsedAt: t.lastUsedAt?.toISOString() ?? null,
  };
}

function certificateJson(cert: string) {
  const x = new X509Certificate(cert);
  return {
    subject: x.subject.replace(/\n/g, ', '), issuer: x.issuer.replace(/\n/g, ', '), names: x.subjectAltName ?? '',
    validFrom: x.validFrom, validTo: x.validTo, fingerprint256: x.fingerprint256, cert,
  };
}

async function loadTransport(ctx: WebContext, domain: string): Promise<{ domain: string; target: string }> {
  const key = domain.trim().toLowerCase().replace(/\.$/, '');
  const entries = await readTransportEntries(ctx.store.settings);
  const target = entries[key];
  if (target === undefined) throw new ApiError('not-found', `There is no transport for ${key}.`);
  return { domain: key, target };
}

async function loadQueued(ctx: WebContext, id: string): Promise<QueuedMessage> {
  const m = await ctx.store.queue.get(id.toUpperCase());
  if (!m) throw new ApiError('not-found', `There is no queued message ${id.toUpperCase()}.`);
  return m;
}

async function loadMember(ctx: WebContext, name: string): Promise<Member> {
  const m = await ctx.store.cluster.get(name);
  if (!m) throw new ApiError('not-found', `There is no cluster member ${name}.`);
  return m;
}

const targetField = s.string({ minLength: 1, maxLength: 300, example: 'relay.example.net:25' });

export const operationRoutes: AnyRoute[] = [
  // ------------------------------------------------------------ me and events
  route({
    method: 'GET', path: '/api/v1/me', operationId: 'whoAmI', tag: 'Session', access: everyone,
    summary: 'Who the credentials belong to, and what they may do.',
    success: { status: 200, description: 'The caller.', schema: principalSchema },
    errors: [],
    async handler({ principal, clientAddress }) {
      return ok({ role: principal.role, domain: principal.domain, subject: principal.subject, via: principal.via, client: clientAddress });
    },
  }),
  route({
    method: 'GET', path: '/api/v1/events', operationId: 'streamEvents', tag: 'Session', access: everyone,
    summary: 'Server-Sent Events: directory, settings, nodes, queue changes made on any node (see src/web/events.ts for the event names).',
    success: { status: 200, description: 'An event stream that stays open.', contentType: 'text/event-stream' },
    errors: ['unavailable'],
    async handler({ ctx, principal, res }) {
      if (!ctx.events.add(res, principal)) throw new ApiError('unavailable', 'This node has as many event streams open as it takes; try another or later.');
      return { streamed: true };
    },
  }),

  // ------------------------------------------------------------ transports
  route({
    method: 'GET', path: '/api/v1/transports', operationId: 'listTransports', tag: 'Transports', access: adminOnly,
    summary: 'The transport map: domains whose mail is relayed to a host instead of their MX.',
    success: { status: 200, description: 'The transports, by domain.', schema: listOf('transports', transportSchema) },
    errors: [],
    async handler({ ctx }) {
      const entries = await readTransportEntries(ctx.store.settings);
      return ok({ transports: Object.entries(entries).map(([domain, target]) => ({ domain, target })) });
    },
  }),
  route({
    method: 'POST', path: '/api/v1/transports', operationId: 'createTransport', tag: 'Transports', access: adminOnly,
    summary: 'Routes a domain\'s outbound mail to HOST:PORT ("*": a smarthost for every other domain).',
    body: s.object({ domain: s.string({ minLength: 1, maxLength: 253 }), target: targetField }, ['domain', 'target']),
    success: { status: 201, description: 'The transport as added.', schema: transportSchema },
    etag: true,
    errors: ['exists'],
    async handler({ ctx, body }) {
      const key = body.domain.trim().toLowerCase().replace(/\.$/, '');
      if ((await readTransportEntries(ctx.store.settings))[key] !== undefined) throw new ApiError('exists', `${key} has a transport already; PUT replaces it.`);
      const made = await storeCall(addTransport(ctx.store.settings, body.domain, body.target), { 'bad-parameters': /not a domain/.test(body.domain) ? 'domain' : 'target' });
      return created(made, `/api/v1/transports/${encodeURIComponent(made.domain)}`, etagOf(made));
    },
  }),
  route({
    method: 'GET', path: '/api/v1/transports/{domain}', operationId: 'getTransport', tag: 'Transports', access: adminOnly,
    summary: 'One domain\'s transport.',
    params: s.object({ domain: s.string() }, ['domain']),
    success: { status: 200, description: 'The transport.', schema: transportSchema },
    etag: true,
    errors: ['not-found'],
    async handler({ ctx, params }) {
      const t = await loadTransport(ctx, params.domain);
      return ok(t, etagOf(t));
    },
  }),
  route({
    method: 'PUT', path: '/api/v1/transports/{domain}', operationId: 'putTransport', tag: 'Transports', access: adminOnly,
    summary: 'Sets (adds or replaces) a domain\'s transport.',
    params: s.object({ domain: s.string() }, ['domain']),
    body: s.object({ target: targetField }, ['target']),
    success: { status: 200, description: 'The transport as set.', schema: transportSchema },
    etag: true,
    errors: [],
    async handler({ ctx, params, body, ifMatch }) {
      if (ifMatch !== null) checkIfMatch(ifMatch, etagOf(await loadTransport(ctx, params.domain)));
      const made = await storeCall(addTransport(ctx.store.settings, params.domain, body.target), { 'bad-parameters': 'target' });
      return ok(made, etagOf(made));
    },
  }),
  route({
    method: 'DELETE', path: '/api/v1/transports/{domain}', operationId: 'deleteTransport', tag: 'Transports', access: adminOnly,
    summary: 'Removes a domain\'s transport (its mail goes to its MX again).',
    params: s.object({ domain: s.string() }, ['domain']),
    success: { status: 204, description: 'Removed.' },
    etag: true,
    errors: ['not-found'],
    async handler({ ctx, params, ifMatch }) {
      const t = await loadTransport(ctx, params.domain);
      checkIfMatch(ifMatch, etagOf(t));
      await removeTransport(ctx.store.settings, t.domain);
      return noContent();
    },
  }),

  // ------------------------------------------------------------ queue
  route({
    method: 'GET', path: '/api/v1/queue', operationId: 'listQueue', tag: 'Queue', access: adminOnly,
    summary: 'Queued messages with their recipients not yet final, oldest first.',
    query: s.object({ domain: s.string({ description: 'Only messages with a recipient in this domain.' }) }),
    success: { status: 200, description: 'The queue.', schema: listOf('messages', queuedMessageSchema) },
    errors: [],
    async handler({ ctx, query }) {
      const messages = await ctx.store.queue.list(query.domain === undefined ? {} : { domain: query.domain });
      return ok({ messages: messages.map(queueJson) });
    },
  }),
  route({
    method: 'POST', path: '/api/v1/queue/flush', operationId: 'flushQueue', tag: 'Queue', access: adminOnly,
    summary: 'Makes queued mail due now, all or one domain\'s (as ETRN does); the workers deliver it within a second.',
    body: s.object({ domain: s.string({ minLength: 1, maxLength: 253 }) }),
    success: { status: 200, description: 'How many recipients were made due.', schema: s.object({ due: s.integer({ minimum: 0 }) }, ['due']) },
    errors: [],
    async handler({ ctx, body }) {
      const due = await storeCall(ctx.store.queue.flush(body.domain), { 'bad-parameters': 'domain' });
      await ctx.store.changes.publish({ kind: 'queue', ...(body.domain === undefined ? {} : { domain: body.domain.toLowerCase() }) }).catch(() => undefined);
      return ok({ due });
    },
  }),
  route({
    method: 'GET', path: '/api/v1/queue/{id}', operationId: 'getQueued', tag: 'Queue', access: adminOnly,
    summary: 'One queued message.',
    params: s.object({ id: s.string() }, ['id']),
    success: { status: 200, description: 'The message and its recipients.', schema: queuedMessageSchema },
    etag: true,
    errors: ['not-found'],
    async handler({ ctx, params }) {
      const m = queueJson(await loadQueued(ctx, params.id));
      return ok(m, etagOf(m));
    },
  }),
  route({
    method: 'DELETE', path: '/api/v1/queue/{id}', operationId: 'deleteQueued', tag: 'Queue', access: adminOnly,
    summary: 'Deletes a queued message for all its recipients (its message file stays in the blob store).',
    params: s.object({ id: s.string() }, ['id']),
    success: { status: 204, description: 'Deleted.' },
    etag: true,
    errors: ['not-found'],
    async handler({ ctx, params, ifMatch }) {
      const m = await loadQueued(ctx, params.id);
      checkIfMatch(ifMatch, etagOf(queueJson(m)));
      await ctx.store.queue.delete(m.id);
      await ctx.store.changes.publish({ kind: 'queue' }).catch(() => undefined);
      return noContent();
    },
  }),

  // ------------------------------------------------------------ nodes
  route({
    method: 'GET', path: '/api/v1/nodes', operationId: 'listNodes', tag: 'Nodes', access: adminOnly,
    summary: 'Every node and traffic manager: address, state, services and their health (what `rookery status` shows).',
    query: s.object({ role: s.enum(['node', 'balancer'] as const) }),
    success: { status: 200, description: 'The members, by name.', schema: listOf('nodes', nodeSchema) },
    errors: [],
    async handler({ ctx, query }) {
      const members = await ctx.store.cluster.list();
      return ok({ nodes: members.filter((m) => query.role === undefined || m.role === query.role).map(nodeJson) });
    },
  }),
  route({
    method: 'GET', path: '/api/v1/nodes/{name}', operationId: 'getNode', tag: 'Nodes', access: adminOnly,
    summary: 'One member. Its ETag changes with its state, not with heartbeats.',
    params: s.object({ name: s.string() }, ['name']),
    success: { status: 200, description: 'The member.', schema: nodeSchema },
    etag: true,
    errors: ['not-found'],
    async handler({ ctx, params }) {
      const m = await loadMember(ctx, params.name);
      return ok(nodeJson(m), nodeEtag(m));
    },
  }),
  route({
    method: 'PATCH', path: '/api/v1/nodes/{name}', operationId: 'updateNode', tag: 'Nodes', access: adminOnly,
    summary: 'Drains a node (state "draining": no new clients, open sessions go on) or takes it back ("up").',
    params: s.object({ name: s.string() }, ['name']),
    body: s.object({ state: s.enum(['up', 'draining'] as const) }, ['state']),
    success: { status: 200, description: 'The member as changed.', schema: nodeSchema },
    etag: true,
    errors: ['not-found'],
    async handler({ ctx, params, body, ifMatch }) {
      const m = await loadMember(ctx, params.name);
      checkIfMatch(ifMatch, nodeEtag(m));
      await ctx.store.cluster.setState(m.name, body.state);
      const changed = await loadMember(ctx, m.name);
      return ok(nodeJson(changed), nodeEtag(changed));
    },
  }),
  route({
    method: 'DELETE', path: '/api/v1/nodes/{name}', operationId: 'deleteNode', tag: 'Nodes', access: adminOnly,
    summary: 'Forgets a member that is gone for good (a running one registers again).',
    params: s.object({ name: s.string() }, ['name']),
    success: { status: 204, description: 'Removed from the registry.' },
    etag: true,
    errors: ['not-found'],
    async handler({ ctx, params, ifMatch }) {
      const m = await loadMember(ctx, params.name);
      checkIfMatch(ifMatch, nodeEtag(m));
      await ctx.store.cluster.remove(m.name);
      return noContent();
    },
  }),

  // ------------------------------------------------------------ DNS
  route({
    method: 'GET', path: '/api/v1/dns/zones/{domain}', operationId: 'getZone', tag: 'DNS', access: adminOnly,
    summary: 'A local domain\'s zone, for operators who run their own name servers (what `rookery dns zone` prints).',
    params: s.object({ domain: s.string() }, ['domain']),
    success: { status: 200, description: 'The zone.', schema: zoneSchema },
    errors: ['not-found', 'conflict'],
    async handler({ ctx, params }) {
      const domain = params.domain.trim().toLowerCase().replace(/\.$/, '');
      if (!(await ctx.store.directory.listDomains()).some((d) => d.name === domain)) throw new ApiError('not-found', `${domain} is not a local domain.`);
      const { zones, problems } = await readZones(ctx.store, { domains: [domain] });
      const fatal = problems.find((p) => p.includes('no address is known for the name server'));
      if (fatal) throw new ApiError('conflict', `${fatal} (set it with "rookery dns set KEY VALUE").`);
      return ok({ domain, text: zoneFileText(zones[0]!, new Date()), problems });
    },
  }),

  // ------------------------------------------------------------ TLS
  route({
    method: 'GET', path: '/api/v1/tls/certificate', operationId: 'getCertificate', tag: 'TLS', access: adminOnly,
    summary: 'The cluster\'s certificate (every node presents it); never its key.',
    success: { status: 200, description: 'The certificate.', schema: certificateSchema },
    etag: true,
    errors: ['not-found'],
    async handler({ ctx }) {
      const material = await readCertificate(ctx.store);
      if (!material) throw new ApiError('not-found', 'There is no certificate yet; the first node to start makes a self-signed one.');
      const c = certificateJson(material.cert);
      return ok(c, etagOf(c));
    },
  }),
  route({
    method: 'PUT', path: '/api/v1/tls/certificate', operationId: 'putCertificate', tag: 'TLS', access: adminOnly,
    summary: 'Replaces the cluster\'s certificate and key (PEM); nodes use it for new connections at once.',
    body: s.object({ cert: s.string({ minLength: 1, maxLength: 256 * 1024 }), key: s.string({ minLength: 1, maxLength: 64 * 1024 }) }, ['cert', 'key']),
    success: { status: 200, description: 'The certificate as set.', schema: certificateSchema },
    etag: true,
    errors: [],
    async handler({ ctx, body, ifMatch }) {
      if (ifMatch !== null) {
        const current = await readCertificate(ctx.store);
        checkIfMatch(ifMatch, current ? etagOf(certificateJson(current.cert)) : '"none"');
      }
      try {
        validateCertificate(body);
      } catch (err) {
        const message = (err as Error).message;
        throw new ApiError('bad-request', `${message[0]!.toUpperCase()}${message.slice(1)}.`, /key/.test(message) && !/certificate file/.test(message) ? 'key' : 'cert');
      }
      await writeCertificate(ctx.store, body);
      const c = certificateJson(body.cert);
      return ok(c, etagOf(c));
    },
  }),

  // ------------------------------------------------------------ tokens
  route({
    method: 'GET', path: '/api/v1/tokens', operationId: 'listTokens', tag: 'Tokens', access: adminOnly,
    summary: 'API tokens and web sessions (never their secrets).',
    query: s.object({ kind: s.enum(['api', 'session'] as const) }),
    success: { status: 200, description: 'The tokens.', schema: listOf('tokens', tokenSchema) },
    errors: [],
    async handler({ ctx, query }) {
      return ok({ tokens: (await ctx.store.tokens.list(query.kind ? { kind: query.kind } : {})).map(tokenJson) });
    },
  }),
  route({
    method: 'POST', path: '/api/v1/tokens', operationId: 'createToken', tag: 'Tokens', access: adminOnly,
    summary: 'Creates an API token; its text is in the answer only, once.',
    body: s.object({
      role: roleSchema,
      domain: s.string({ description: 'The domain of a domain-admin token.' }),
      subject: s.string({ description: 'The user a token acts as (needed for role user).' }),
      label: s.string({ maxLength: 200 }),
      expiresInSeconds: s.integer({ minimum: 60 }),
    }, ['role']),
    success: { status: 201, description: 'The token, with its text in `token`.', schema: s.object({ token: s.string(), info: tokenSchema }, ['token', 'info']) },
    errors: [],
    async handler({ ctx, body }) {
      const { token, text } = await storeCall(mintToken(ctx.store, {
        role: body.role, domain: body.domain ?? null, subject: body.subject ?? null, label: body.label ?? '',
        expiresAt: body.expiresInSeconds === undefined ? null : new Date(Date.now() + body.expiresInSeconds * 1000),
      }), { 'bad-parameters': body.role === 'user' ? 'subject' : body.role === 'domain-admin' ? 'domain' : 'role' });
      return created({ token: text, info: tokenJson(token) }, `/api/v1/tokens/${token.id}`);
    },
  }),
  route({
    method: 'DELETE', path: '/api/v1/tokens/{id}', operationId: 'deleteToken', tag: 'Tokens', access: adminOnly,
    summary: 'Revokes a token or ends a session, on every node at once.',
    params: s.object({ id: s.string() }, ['id']),
    success: { status: 204, description: 'Revoked.' },
    errors: ['not-found'],
    async handler({ ctx, params }) {
      await ctx.store.tokens.remove(params.id.toLowerCase());
      return noContent();
    },
  }),
];
