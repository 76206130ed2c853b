/**
 * LOGIN (RFC 3501 section 6.2.3, RFC 9051 section 6.2.3)
 *
 *     login    = "LOGIN" SP userid SP password
 *     userid   = astring
 *     password = astring
 *
 * Refused with NO [PRIVACYREQUIRED] where the capability list says
 * LOGINDISABLED (plain text, not loopback). The OK carries the new
 * capability list (RFC 3501 7.1: [CAPABILITY ...]).
 */
import { NO_FLAGS, type ImapCommand } from '../session-context.js';
import { atom } from '../wire/index.js';

export const login: ImapCommand<'LOGIN'> = {
  name: 'LOGIN',
  states: ['not-authenticated'],
  flags: NO_FLAGS,
  async run(ctx, request) {
    const user = await ctx.login(request.username, request.password);
    return { text: `${user.address} logged in`, code: { name: 'CAPABILITY', args: ctx.capabilities().map((c) => atom(c)) } };
  },
};
