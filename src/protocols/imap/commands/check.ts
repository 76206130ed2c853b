/**
 * CHECK (RFC 3501 section 6.4.1; removed in RFC 9051, kept for IMAP4rev1 clients)
 *
 *     check = "CHECK"
 *
 * Every change is durable when its command answers OK, so there is nothing
 * to flush; like NOOP, the catch-up after it reports changes.
 */
import { NO_FLAGS, type ImapCommand } from '../session-context.js';

export const check: ImapCommand<'CHECK'> = {
  name: 'CHECK',
  states: ['selected'],
  flags: NO_FLAGS,
  async run() {},
};
