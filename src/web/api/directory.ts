/**
 * Domains, aliases and forwards: what `rookery domain`, `rookery alias`
 * and `rookery forward` do. Admins manage all; a domain admin its own
 * domain's aliases and forwards; a user its own forwards.
 */
import { domainOf, normalizeAddress } from '../../store/address.js';
import { normalizeAliasAddress } from '../../store/rules.js';
import type { Alias, Domain, Forward } from '../../store/types.js';
import { requireDomain, requireSelfOrDomain, type Principal } from '../auth.js';
import { ApiError, storeCall } from '../errors.js';
import { checkIfMatch, etagOf } from '../etag.js';
import { adminOnly, admins, created, everyone, noContent, ok, route, type AnyRoute, type WebContext } from '../route.js';
import { s } from '../schema.js';
import { aliasSchema, domainSchema, forwardSchema, listOf } from './schemas.js';

function domainJson(d: Domain) {
  return { name: d.name, createdAt: d.createdAt.toISOString() };
}

/** A path or body value as a normalised domain, or 400 naming the field. */
function domainValue(text: string, field: string): string {
  return text.trim().toLowerCase().replace(/\.$/, '') || (() => { throw new ApiError('bad-request', 'A domain name is needed.', field); })();
}

async function loadDomain(ctx: WebContext, p: Principal, name: string): Promise<Domain> {
  const domain = domainValue(name, 'domain');
  requireDomain(p, domain);
  const found = (await ctx.store.directory.listDomains()).find((d) => d.name === domain);
  if (!found) throw new ApiError('not-found', `${domain} is not a local domain.`);
  return found;
}

async function loadAlias(ctx: WebContext, p: Principal, address: string): Promise<Alias> {
  const normal = await storeCall(Promise.resolve().then(() => normalizeAliasAddress(address)), { 'bad-parameters': 'address' });
  requireDomain(p, domainOf(normal));
  const found = (await storeCall(ctx.store.directory.listAliases(domainOf(normal)), { 'bad-parameters': 'address' })).find((a) => a.address === normal);
  if (!found) throw new ApiError('not-found', `There is no alias ${normal}.`);
  return found;
}

async function loadForward(ctx: WebContext, p: Principal, address: string, target: string): Promise<Forward> {
  const from = await storeCall(Promise.resolve().then(() => normalizeAddress(address)), { 'bad-parameters': 'address' });
  requireSelfOrDomain(p, from);
  const to = target.trim().toLowerCase();
  const found = (await ctx.store.directory.listForwards(domainOf(from))).find((f) => f.address === from && f.target === to);
  if (!found) throw new ApiError('not-found', `${from} has no forward to ${to}.`);
  return found;
}

const domainParam = s.object({ domain: s.string() }, ['domain']);
const aliasParam = s.object({ address: s.string({ description: 'The alias, or "@domain" for the catch-all.' }) }, ['address']);
const forwardParam = s.object({ address: s.string(), target: s.string() }, ['address', 'target']);
const targets = s.array(s.string({ minLength: 3, maxLength: 320 }), { minItems: 1, maxItems: 1000 });

export const directoryRoutes: AnyRoute[] = [
  // ------------------------------------------------------------ domains
  route({
    method: 'GET', path: '/api/v1/domains', operationId: 'listDomains', tag: 'Domains', access: admins,
    summary: 'The local domains (a domain admin sees its own).',
    success: { status: 200, description: 'The domains, by name.', schema: listOf('domains', domainSchema) },
    errors: [],
    async handler({ ctx, principal }) {
      const domains = await ctx.store.directory.listDomains();
      return ok({ domains: domains.filter((d) => principal.role === 'admin' || d.name === principal.domain).map(domainJson) });
    },
  }),
  route({
    method: 'POST', path: '/api/v1/domains', operationId: 'createDomain', tag: 'Domains', access: adminOnly,
    summary: 'Adds a local domain.',
    body: s.object({ name: s.string({ minLength: 1, maxLength: 253, example: 'example.org' }) }, ['name']),
    success: { status: 201, description: 'The domain as added.', schema: domainSchema },
    etag: true,
    errors: ['exists'],
    async handler({ ctx, body }) {
      const d = await storeCall(ctx.store.directory.addDomain(body.name), { 'bad-parameters': 'name' });
      return created(domainJson(d), `/api/v1/domains/${encodeURIComponent(d.name)}`, etagOf(domainJson(d)));
    },
  }),
  route({
    method: 'GET', path: '/api/v1/domains/{domain}', operationId: 'getDomain', tag: 'Domains', access: admins,
    summary: 'One local domain.',
    params: domainParam,
    success: { status: 200, description: 'The domain.', schema: domainSchema },
    etag: true,
    errors: ['not-found'],
    async handler({ ctx, principal, params }) {
      const d = domainJson(await loadDomain(ctx, principal, params.domain));
      return ok(d, etagOf(d));
    },
  }),
  route({
    method: 'DELETE', path: '/api/v1/domains/{domain}', operationId: 'deleteDomain', tag: 'Domains', access: adminOnly,
    summary: 'Removes a local domain; refused (409) while it has users or aliases.',
    params: domainParam,
    success: { status: 204, description: 'Removed.' },
    etag: true,
    errors: ['not-found', 'exists'],
    async handler({ ctx, principal, params, ifMatch }) {
      const d = await loadDomain(ctx, principal, params.domain);
      checkIfMatch(ifMatch, etagOf(domainJson(d)));
      await ctx.store.directory.removeDomain(d.name);
      return noContent();
    },
  }),

  // ------------------------------------------------------------ aliases
  route({
    method: 'GET', path: '/api/v1/aliases', operationId: 'listAliases', tag: 'Aliases', access: admins,
    summary: 'The aliases of every domain, or of one (a domain admin sees its own domain only).',
    query: s.object({ domain: s.string() }),
    success: { status: 200, description: 'The aliases.', schema: listOf('aliases', aliasSchema) },
    errors: [],
    async handler({ ctx, principal, query }) {
      let domain = query.domain === undefined ? undefined : domainValue(query.domain, 'domain');
      if (principal.role === 'domain-admin') {
        if (domain !== undefined) requireDomain(principal, domain);
        domain = principal.domain!;
      }
      return ok({ aliases: await storeCall(ctx.store.directory.listAliases(domain), { 'bad-parameters': 'domain' }) });
    },
  }),
  route({
    method: 'POST', path: '/api/v1/aliases', operationId: 'createAlias', tag: 'Aliases', access: admins,
    summary: 'Adds an alias (an address to one or more targets; "@domain" is the catch-all).',
    body: s.object({ address: s.string({ minLength: 2, maxLength: 320 }), targets }, ['address', 'targets']),
    success: { status: 201, description: 'The alias as added.', schema: aliasSchema },
    etag: true,
    errors: ['exists'],
    async handler({ ctx, principal, body }) {
      const address = await storeCall(Promise.resolve().then(() => normalizeAliasAddress(body.address)), { 'bad-parameters': 'address' });
      requireDomain(principal, domainOf(address));
      const existing = (await storeCall(ctx.store.directory.listAliases(domainOf(address)), { 'bad-parameters': 'address' })).find((a) => a.address === address);
      if (existing) throw new ApiError('exists', `The alias ${address} exists already; PUT /api/v1/aliases/${address} replaces its targets.`);
      const alias = await storeCall(ctx.store.directory.addAlias(address, body.targets), { 'bad-parameters': 'targets', 'not-found': 'address' });
      return created(alias, `/api/v1/aliases/${encodeURIComponent(alias.address)}`, etagOf(alias));
    },
  }),
  route({
    method: 'GET', path: '/api/v1/aliases/{address}', operationId: 'getAlias', tag: 'Aliases', access: admins,
    summary: 'One alias.',
    params: aliasParam,
    success: { status: 200, description: 'The alias.', schema: aliasSchema },
    etag: true,
    errors: ['not-found'],
    async handler({ ctx, principal, params }) {
      const alias = await loadAlias(ctx, principal, params.address);
      return ok(alias, etagOf(alias));
    },
  }),
  route({
    method: 'PUT', path: '/api/v1/aliases/{address}', operationId: 'replaceAlias', tag: 'Aliases', access: admins,
    summary: 'Replaces an alias\'s targets.',
    params: aliasParam,
    body: s.object({ targets }, ['targets']),
    success: { status: 200, description: 'The alias as changed.', schema: aliasSchema },
    etag: true,
    errors: ['not-found'],
    async handler({ ctx, principal, params, body, ifMatch }) {
      const alias = await loadAlias(ctx, principal, params.address);
      checkIfMatch(ifMatch, etagOf(alias));
      // Checked before anything is removed, so a bad target leaves the alias as it was.
      await storeCall(Promise.resolve().then(() => body.targets.forEach((t) => normalizeAddress(t))), { 'bad-parameters': 'targets' });
      await ctx.store.directory.removeAlias(alias.address);
      try {
        const changed = await ctx.store.directory.addAlias(alias.address, body.targets);
        return ok(changed, etagOf(changed));
      } catch (err) {
        await ctx.store.directory.addAlias(alias.address, alias.targets).catch(() => undefined);
        throw err;
      }
    },
  }),
  route({
    method: 'DELETE', path: '/api/v1/aliases/{address}', operationId: 'deleteAlias', tag: 'Aliases', access: admins,
    summary: 'Removes an alias.',
    params: aliasParam,
    success: { status: 204, description: 'Removed.' },
    etag: true,
    errors: ['not-found'],
    async handler({ ctx, principal, params, ifMatch }) {
      const alias = await loadAlias(ctx, principal, params.address);
      checkIfMatch(ifMatch, etagOf(alias));
      await ctx.store.directory.removeAlias(alias.address);
      return noContent();
    },
  }),

  // ------------------------------------------------------------ forwards
  route({
    method: 'GET', path: '/api/v1/forwards', operationId: 'listForwards', tag: 'Forwards', access: everyone,
    summary: 'Forwards of every domain, one domain or one user (a user sees its own).',
    query: s.object({ domain: s.string(), address: s.string() }),
    success: { status: 200, description: 'The forwards.', schema: listOf('forwards', forwardSchema) },
    errors: [],
    async handler({ ctx, principal, query }) {
      let address = query.address?.trim().toLowerCase();
      let domain = query.domain === undefined ? undefined : domainValue(query.domain, 'domain');
      if (principal.role === 'user') address ??= principal.subject!;
      if (address !== undefined) {
        requireSelfOrDomain(principal, address);
        domain = domainOf(address);
      } else if (principal.role === 'domain-admin') {
        if (domain !== undefined) requireDomain(principal, domain);
        domain = principal.domain!;
      }
      const forwards = await storeCall(ctx.store.directory.listForwards(domain), { 'bad-parameters': 'domain' });
      return ok({ forwards: forwards.filter((f) => address === undefined || f.address === address) });
    },
  }),
  route({
    method: 'POST', path: '/api/v1/forwards', operationId: 'createForward', tag: 'Forwards', access: everyone,
    summary: 'Forwards a user\'s mail to another address (a user may forward its own).',
    body: s.object({ address: s.string({ minLength: 3, maxLength: 320 }), target: s.string({ minLength: 3, maxLength: 320 }), keepCopy: s.boolean() }, ['address', 'target']),
    success: { status: 201, description: 'The forward as added.', schema: forwardSchema },
    etag: true,
    errors: ['exists'],
    async handler({ ctx, principal, body }) {
      const from = await storeCall(Promise.resolve().then(() => normalizeAddress(body.address)), { 'bad-parameters': 'address' });
      requireSelfOrDomain(principal, from);
      const f = await storeCall(ctx.store.directory.addForward(from, body.target, body.keepCopy ?? false), { 'bad-parameters': 'target', 'not-found': 'address' });
      return created(f, `/api/v1/forwards/${encodeURIComponent(f.address)}/${encodeURIComponent(f.target)}`, etagOf(f));
    },
  }),
  route({
    method: 'GET', path: '/api/v1/forwards/{address}/{target}', operationId: 'getForward', tag: 'Forwards', access: everyone,
    summary: 'One forward.',
    params: forwardParam,
    success: { status: 200, description: 'The forward.', schema: forwardSchema },
    etag: true,
    errors: ['not-found'],
    async handler({ ctx, principal, params }) {
      const f = await loadForward(ctx, principal, params.address, params.target);
      return ok(f, etagOf(f));
    },
  }),
  route({
    method: 'PATCH', path: '/api/v1/forwards/{address}/{target}', operationId: 'updateForward', tag: 'Forwards', access: everyone,
    summary: 'Changes whether the user keeps a copy.',
    params: forwardParam,
    body: s.object({ keepCopy: s.boolean() }, ['keepCopy']),
    success: { status: 200, description: 'The forward as changed.', schema: forwardSchema },
    etag: true,
    errors: ['not-found'],
    async handler({ ctx, principal, params, body, ifMatch }) {
      const f = await loadForward(ctx, principal, params.address, params.target);
      checkIfMatch(ifMatch, etagOf(f));
      if (f.keepCopy === body.keepCopy) return ok(f, etagOf(f));
      await ctx.store.directory.removeForward(f.address, f.target);
      const changed = await ctx.store.directory.addForward(f.address, f.target, body.keepCopy);
      return ok(changed, etagOf(changed));
    },
  }),
  route({
    method: 'DELETE', path: '/api/v1/forwards/{address}/{target}', operationId: 'deleteForward', tag: 'Forwards', access: everyone,
    summary: 'Removes a forward.',
    params: forwardParam,
    success: { status: 204, description: 'Removed.' },
    etag: true,
    errors: ['not-found'],
    async handler({ ctx, principal, params, ifMatch }) {
      const f = await loadForward(ctx, principal, params.address, params.target);
      checkIfMatch(ifMatch, etagOf(f));
      await ctx.store.directory.removeForward(f.address, f.target);
      return noContent();
    },
  }),
];
