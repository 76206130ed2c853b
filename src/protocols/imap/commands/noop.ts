/**
 * NOOP (RFC 3501 section 6.1.2, RFC 9051 section 6.1.2)
 *
 *     noop = "NOOP"
 *
 * Does nothing itself; the dispatcher's catch-up after every command sends
 * what changed in the selected mailbox (EXISTS, EXPUNGE, FETCH FLAGS), which
 * is why clients poll with it.
 */
import { ANY_STATE, NO_FLAGS, type ImapCommand } from '../session-context.js';

export const noop: ImapCommand<'NOOP'> = {
  name: 'NOOP',
  states: ANY_STATE,
  flags: NO_FLAGS,
  async run() {},
};
