/**
 * LOGOUT (RFC 3501 section 6.1.3, RFC 9051 section 6.1.3)
 *
 *     logout = "LOGOUT"
 *
 * The server sends `* BYE`, then the tagged OK, then closes the connection.
 */
import { ANY_STATE, NO_FLAGS, type ImapCommand } from '../session-context.js';

export const logout: ImapCommand<'LOGOUT'> = {
  name: 'LOGOUT',
  states: ANY_STATE,
  flags: { ...NO_FLAGS, breaksMailbox: true },
  async run(ctx) {
    await ctx.untaggedStatus('BYE', `${ctx.hostname} logging out`);
    ctx.logout();
  },
};
