/**
 * SETQUOTA (RFC 9208 section 4.1)
 *
 *     setquota = "SETQUOTA" SP quota-root-name SP setquota-list
 *
 * Quotas are set by the administrator (`rookery user ... --quota`), never
 * by the user: always NO [NOPERM].
 */
import { no } from '../errors.js';
import { AUTHENTICATED_STATES, NO_FLAGS, type ImapCommand } from '../session-context.js';

export const setquota: ImapCommand<'SETQUOTA'> = {
  name: 'SETQUOTA',
  states: AUTHENTICATED_STATES,
  flags: NO_FLAGS,
  async run() {
    throw no('quotas are set by the administrator', 'NOPERM');
  },
};
