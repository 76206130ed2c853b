/**
 * CAPABILITY (RFC 3501 section 6.1.1, RFC 9051 section 6.1.1)
 *
 *     capability = "CAPABILITY"
 *     response   = "*" SP "CAPABILITY" SP capability-data
 */
import { ANY_STATE, NO_FLAGS, type ImapCommand } from '../session-context.js';
import { atom } from '../wire/index.js';

export const capability: ImapCommand<'CAPABILITY'> = {
  name: 'CAPABILITY',
  states: ANY_STATE,
  flags: NO_FLAGS,
  async run(ctx) {
    await ctx.untagged([atom('CAPABILITY'), ...ctx.capabilities().map((c) => atom(c))]);
  },
};
