/**
 * NAMESPACE (RFC 2342, RFC 9051 section 6.3.10)
 *
 *     namespace          = "NAMESPACE"
 *     namespace-response = "*" SP "NAMESPACE" SP nstring-list SP nstring-list SP nstring-list
 *
 * One personal namespace with no prefix and "/" as separator; no other
 * users' or shared namespaces.
 */
import { SEPARATOR } from '../mailbox-names.js';
import { AUTHENTICATED_STATES, NO_FLAGS, type ImapCommand } from '../session-context.js';
import { atom } from '../wire/index.js';

export const namespace: ImapCommand<'NAMESPACE'> = {
  name: 'NAMESPACE',
  states: AUTHENTICATED_STATES,
  flags: NO_FLAGS,
  async run(ctx) {
    await ctx.untagged([atom('NAMESPACE'), [['', SEPARATOR]], null, null]);
  },
};
