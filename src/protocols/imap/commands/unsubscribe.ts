/**
 * UNSUBSCRIBE (RFC 3501 section 6.3.7, RFC 9051 section 6.3.8)
 *
 *     unsubscribe = "UNSUBSCRIBE" SP mailbox
 *
 * Removing a subscription that does not exist succeeds (RFC 9051 6.3.8).
 */
import { canonicalName } from '../mailbox-names.js';
import { AUTHENTICATED_STATES, NO_FLAGS, type ImapCommand } from '../session-context.js';

export const unsubscribe: ImapCommand<'UNSUBSCRIBE'> = {
  name: 'UNSUBSCRIBE',
  states: AUTHENTICATED_STATES,
  flags: NO_FLAGS,
  async run(ctx, request) {
    await ctx.store.mail.setSubscribed(ctx.user().id, canonicalName(request.mailbox), false);
  },
};
