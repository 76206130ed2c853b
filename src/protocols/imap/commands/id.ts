/**
 * ID (RFC 2971)
 *
 *     id = "ID" SP ( "(" [string SP nstring *(SP string SP nstring)] ")" / nil )
 *     id-response = "*" SP "ID" SP id-params-list
 *
 * The client's identification goes to the log (useful when a client
 * misbehaves); the server names itself without a version, as exposing one
 * helps nobody but an attacker.
 */
import { ANY_STATE, NO_FLAGS, type ImapCommand } from '../session-context.js';
import { atom } from '../wire/index.js';

export const id: ImapCommand<'ID'> = {
  name: 'ID',
  states: ANY_STATE,
  flags: NO_FLAGS,
  async run(ctx, request) {
    if (request.parameters) {
      const client = Object.fromEntries(request.parameters.map(([k, v]) => [k.toLowerCase().slice(0, 30), (v ?? '').slice(0, 200)]));
      ctx.log.info({ client }, 'client ID');
    }
    await ctx.untagged([atom('ID'), ['name', 'Rookery', 'vendor', 'Rookery']]);
  },
};
