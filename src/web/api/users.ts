/**
 * Users: /api/v1/users and /api/v1/users/{address}. What `rookery user`
 * does. An admin manages every user; a domain admin the users of its
 * domain, except admins, and it cannot make anyone an admin; a user only
 * reads itself and changes its own password.
 */
import { domainOf } from '../../store/address.js';
import type { User, UserChanges } from '../../store/types.js';
import { administers, requireDomain, requireSelfOrDomain, type Principal } from '../auth.js';
import { ApiError, storeCall } from '../errors.js';
import { checkIfMatch, etagOf } from '../etag.js';
import { admins, created, everyone, noContent, ok, route, type AnyRoute, type WebContext } from '../route.js';
import { s } from '../schema.js';
import { listOf, roleSchema, userSchema } from './schemas.js';

export function userJson(u: User) {
  return { address: u.address, quotaBytes: u.quotaBytes, usedBytes: u.usedBytes, customerId: u.customerId, enabled: u.enabled, role: u.role, createdAt: u.createdAt.toISOString() };
}

/** The ETag leaves out usedBytes: mail arriving must not make an admin's edit stale. */
export function userEtag(u: User): string {
  const { usedBytes: _used, ...rest } = userJson(u);
  return etagOf(rest);
}

const addressParam = s.object({ address: s.string({ description: 'The user\'s address.' }) }, ['address']);
const password = s.string({ minLength: 1, maxLength: 1024 });
const quotaBytes = s.integer({ minimum: 0, description: 'Bytes; 0 is unlimited.' });
const customerId = s.string({ maxLength: 200 });

async function loadUser(ctx: WebContext, p: Principal, address: string): Promise<User> {
  requireSelfOrDomain(p, address);
  const user = await ctx.store.directory.getUser(address);
  if (!user) throw new ApiError('not-found', `There is no user ${address.toLowerCase()}.`);
  return user;
}

/** A domain admin may not touch an admin's account (it could take the admin's password) nor hand out the admin role. */
function checkDomainAdminLimits(p: Principal, target: User | null, role: string | undefined): void {
  if (p.role !== 'domain-admin') return;
  if (target?.role === 'admin') throw new ApiError('forbidden', 'A domain admin cannot change an admin\'s account.');
  if (role === 'admin') throw new ApiError('forbidden', 'A domain admin cannot give the admin role.', 'role');
}

export const userRoutes: AnyRoute[] = [
  route({
    method: 'GET', path: '/api/v1/users', operationId: 'listUsers', tag: 'Users', access: admins,
    summary: 'The users of every domain, or of one (a domain admin sees its own domain only).',
    query: s.object({ domain: s.string({ description: 'Only this domain\'s users.' }) }),
    success: { status: 200, description: 'The users, by address.', schema: listOf('users', userSchema) },
    errors: [],
    async handler({ ctx, principal, query }) {
      let domain = query.domain?.toLowerCase();
      if (principal.role === 'domain-admin') {
        if (domain !== undefined && domain !== principal.domain) requireDomain(principal, domain);
        domain = principal.domain!;
      }
      const users = await ctx.store.directory.listUsers(domain);
      return ok({ users: users.map(userJson) });
    },
  }),
  route({
    method: 'POST', path: '/api/v1/users', operationId: 'createUser', tag: 'Users', access: admins,
    summary: 'Adds a user with INBOX, Sent, Drafts, Trash and Junk.',
    body: s.object({
      address: s.string({ minLength: 3, maxLength: 320, example: 'me@example.org' }),
      password,
      quotaBytes,
      customerId,
      enabled: s.boolean(),
      role: roleSchema,
    }, ['address', 'password']),
    success: { status: 201, description: 'The user as created; Location names it.', schema: userSchema },
    etag: true,
    errors: ['exists'],
    async handler({ ctx, principal, body }) {
      requireDomain(principal, domainOf(body.address.trim()));
      checkDomainAdminLimits(principal, null, body.role);
      const user = await storeCall(ctx.store.directory.addUser(body), { 'bad-parameters': 'address', 'not-found': 'address' });
      return created(userJson(user), `/api/v1/users/${encodeURIComponent(user.address)}`, userEtag(user));
    },
  }),
  route({
    method: 'GET', path: '/api/v1/users/{address}', operationId: 'getUser', tag: 'Users', access: everyone,
    summary: 'One user (a user may read itself).',
    params: addressParam,
    success: { status: 200, description: 'The user, with its ETag.', schema: userSchema },
    etag: true,
    errors: ['not-found'],
    async handler({ ctx, principal, params }) {
      const user = await loadUser(ctx, principal, params.address);
      return ok(userJson(user), userEtag(user));
    },
  }),
  route({
    method: 'PATCH', path: '/api/v1/users/{address}', operationId: 'updateUser', tag: 'Users', access: everyone,
    summary: 'Changes a user\'s password, quota, customer id, enabled or role (a user may change its own password only).',
    params: addressParam,
    body: s.object({ password, quotaBytes, customerId, enabled: s.boolean(), role: roleSchema }),
    success: { status: 200, description: 'The user as changed, with its new ETag.', schema: userSchema },
    etag: true,
    errors: ['not-found'],
    async handler({ ctx, principal, params, body, ifMatch }) {
      const user = await loadUser(ctx, principal, params.address);
      if (!administers(principal, domainOf(user.address))) {
        const other = Object.keys(body).find((k) => k !== 'password');
        if (other) throw new ApiError('forbidden', 'You may change your own password only.', other);
      }
      checkDomainAdminLimits(principal, user, body.role);
      if (Object.keys(body).length === 0) throw new ApiError('bad-request', 'Nothing to change: give at least one field.');
      checkIfMatch(ifMatch, userEtag(user));
      const changed = await storeCall(ctx.store.directory.updateUser(user.address, body as UserChanges), { 'bad-parameters': Object.keys(body)[0]! });
      return ok(userJson(changed), userEtag(changed));
    },
  }),
  route({
    method: 'DELETE', path: '/api/v1/users/{address}', operationId: 'deleteUser', tag: 'Users', access: admins,
    summary: 'Removes a user with all of its mail, and its tokens and sessions.',
    params: addressParam,
    success: { status: 204, description: 'Removed.' },
    etag: true,
    errors: ['not-found'],
    async handler({ ctx, principal, params, ifMatch }) {
      requireDomain(principal, domainOf(params.address));
      const user = await loadUser(ctx, principal, params.address);
      checkDomainAdminLimits(principal, user, undefined);
      checkIfMatch(ifMatch, userEtag(user));
      await ctx.store.directory.removeUser(user.address);
      await ctx.store.tokens.removeForSubject(user.address);
      return noContent();
    },
  }),
];
