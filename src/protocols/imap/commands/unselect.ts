/**
 * UNSELECT (RFC 3691, RFC 9051 section 6.4.2)
 *
 *     unselect = "UNSELECT"
 *
 * Leaves the selected state without expunging anything.
 */
import { type ImapCommand } from '../session-context.js';

export const unselect: ImapCommand<'UNSELECT'> = {
  name: 'UNSELECT',
  states: ['selected'],
  flags: { usesSequenceNumbers: false, breaksSequenceNumbers: true, breaksMailbox: true },
  async run(ctx) {
    ctx.setSelected(null);
  },
};
