/**
 * LSUB (RFC 3501 section 6.3.9; deprecated by RFC 9051 in favour of
 * LIST (SUBSCRIBED), kept for IMAP4rev1 clients)
 *
 *     lsub = "LSUB" SP mailbox SP list-mailbox
 *
 * Subscribed names matching the pattern. When "%" stops at a level whose
 * name is not subscribed but has subscribed children, that level is
 * listed with \Noselect (RFC 3501 6.3.9).
 */
import { compileListPattern, joinReference, SEPARATOR } from '../mailbox-names.js';
import { AUTHENTICATED_STATES, NO_FLAGS, type ImapCommand } from '../session-context.js';
import { atom, mailboxValue } from '../wire/index.js';

export const lsub: ImapCommand<'LSUB'> = {
  name: 'LSUB',
  states: AUTHENTICATED_STATES,
  flags: NO_FLAGS,
  async run(ctx, request) {
    const utf8 = ctx.encodeOptions.utf8 ?? false;
    if (request.pattern === '') {
      await ctx.untagged([atom('LSUB'), [atom('\\Noselect')], SEPARATOR, '']);
      return;
    }
    const pattern = compileListPattern(joinReference(request.reference, request.pattern));
    const subscribed = new Set(await ctx.store.mail.listSubscriptions(ctx.user().id));
    const out = new Map<string, boolean>();
    for (const name of subscribed) {
      if (pattern.test(name)) out.set(name, true);
      const levels = name.split(SEPARATOR);
      for (let i = 1; i < levels.length; i++) {
        const parent = levels.slice(0, i).join(SEPARATOR);
        if (!subscribed.has(parent) && pattern.test(parent) && !out.has(parent)) out.set(parent, false);
      }
    }
    for (const name of [...out.keys()].sort()) {
      await ctx.untagged([atom('LSUB'), out.get(name) ? [] : [atom('\\Noselect')], SEPARATOR, mailboxValue(name, utf8)]);
    }
  },
};
