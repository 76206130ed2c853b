/**
 * GETQUOTAROOT (RFC 9208 section 4.3)
 *
 *     getquotaroot = "GETQUOTAROOT" SP mailbox
 *     quotaroot-response = "QUOTAROOT" SP mailbox *(SP quota-root-name)
 *
 * Every mailbox of a user shares the root "" (see getquota.ts).
 */
import { requireMailbox } from '../session-helpers.js';
import { AUTHENTICATED_STATES, NO_FLAGS, type ImapCommand } from '../session-context.js';
import { atom, mailboxValue } from '../wire/index.js';
import { QUOTA_ROOT, quotaResponse } from './getquota.js';

export const getquotaroot: ImapCommand<'GETQUOTAROOT'> = {
  name: 'GETQUOTAROOT',
  states: AUTHENTICATED_STATES,
  flags: NO_FLAGS,
  async run(ctx, request) {
    const mailbox = await requireMailbox(ctx, request.mailbox);
    await ctx.untagged([atom('QUOTAROOT'), mailboxValue(mailbox.name, ctx.encodeOptions.utf8 ?? false), QUOTA_ROOT]);
    await ctx.untagged(await quotaResponse(ctx));
  },
};
