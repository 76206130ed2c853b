/**
 * IDLE (RFC 2177, RFC 9051 section 6.3.13)
 *
 *     idle = "IDLE" CRLF "DONE"
 *
 * The server answers "+ idling" and pushes changes to the selected mailbox
 * (made by this node's sessions at once, by other nodes within
 * imapChangePollMs) until the client sends DONE.
 */
import { AUTHENTICATED_STATES, NO_FLAGS, type ImapCommand } from '../session-context.js';

export const idle: ImapCommand<'IDLE'> = {
  name: 'IDLE',
  states: AUTHENTICATED_STATES,
  flags: NO_FLAGS,
  async run(ctx) {
    await ctx.idle();
    return { text: 'IDLE terminated' };
  },
};
