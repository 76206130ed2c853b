/**
 * SUBSCRIBE (RFC 3501 section 6.3.6, RFC 9051 section 6.3.7)
 *
 *     subscribe = "SUBSCRIBE" SP mailbox
 *
 * A subscription is a name; it may name a mailbox that does not exist
 * (yet), as RFC 3501 allows, but it must be a valid name.
 */
import { validateNewMailboxName } from '../mailbox-names.js';
import { AUTHENTICATED_STATES, NO_FLAGS, type ImapCommand } from '../session-context.js';

export const subscribe: ImapCommand<'SUBSCRIBE'> = {
  name: 'SUBSCRIBE',
  states: AUTHENTICATED_STATES,
  flags: NO_FLAGS,
  async run(ctx, request) {
    await ctx.store.mail.setSubscribed(ctx.user().id, validateNewMailboxName(request.mailbox), true);
  },
};
