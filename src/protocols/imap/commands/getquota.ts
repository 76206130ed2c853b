/**
 * GETQUOTA (RFC 9208 section 4.2)
 *
 *     getquota = "GETQUOTA" SP quota-root-name
 *     quota-response = "QUOTA" SP quota-root-name SP quota-list
 *     quota-list = "(" quota-resource *(SP quota-resource) ")"
 *
 * One quota root per user, "" (the user's whole storage): STORAGE in KiB,
 * as RFC 9208 5.1 defines it. A user without a quota has a root with no
 * resources.
 */
import { no } from '../errors.js';
import { AUTHENTICATED_STATES, NO_FLAGS, type CommandContext, type ImapCommand } from '../session-context.js';
import { atom, type ImapValue } from '../wire/index.js';

/** The user's quota root name. */
export const QUOTA_ROOT = '';

/** `* QUOTA "" (STORAGE used limit)` from fresh directory numbers. */
export async function quotaResponse(ctx: CommandContext): Promise<ImapValue[]> {
  const user = (await ctx.store.directory.getUserById(ctx.user().id)) ?? ctx.user();
  const resources: ImapValue[] = user.quotaBytes > 0 ? [atom('STORAGE'), Math.ceil(user.usedBytes / 1024), Math.floor(user.quotaBytes / 1024)] : [];
  return [atom('QUOTA'), QUOTA_ROOT, resources];
}

export const getquota: ImapCommand<'GETQUOTA'> = {
  name: 'GETQUOTA',
  states: AUTHENTICATED_STATES,
  flags: NO_FLAGS,
  async run(ctx, request) {
    if (request.root !== QUOTA_ROOT) throw no('no such quota root; the only one is ""', 'NONEXISTENT');
    await ctx.untagged(await quotaResponse(ctx));
  },
};
