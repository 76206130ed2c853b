/**
 * CREATE (RFC 3501 section 6.3.3, RFC 9051 section 6.3.4; USE RFC 6154 section 3)
 *
 *     create = "CREATE" SP mailbox [SP "(" create-param *(SP create-param) ")"]
 *     create-param = "USE" SP "(" [use-attr *(SP use-attr)] ")"
 *
 * A trailing "/" only says the name will have children and is dropped;
 * missing parents are created too (RFC 3501 6.3.3 "SHOULD create any
 * superior hierarchical names"). One special use per mailbox; more is
 * NO [USEATTR].
 */
import { isStoreError } from '../../../store/errors.js';
import type { SpecialUse } from '../../../store/types.js';
import { no } from '../errors.js';
import { ancestorsOf, SEPARATOR, validateNewMailboxName } from '../mailbox-names.js';
import { AUTHENTICATED_STATES, NO_FLAGS, type ImapCommand } from '../session-context.js';

export const create: ImapCommand<'CREATE'> = {
  name: 'CREATE',
  states: AUTHENTICATED_STATES,
  flags: NO_FLAGS,
  async run(ctx, request) {
    let name = request.mailbox;
    if (name.endsWith(SEPARATOR) && name.length > 1) name = name.slice(0, -1);
    const canonical = validateNewMailboxName(name, { utf8: ctx.encodeOptions.utf8 ?? false });
    if (canonical === 'INBOX') throw no('INBOX always exists', 'ALREADYEXISTS');
    if (request.specialUse.length > 1) throw no('a mailbox can have only one special use', 'USEATTR');
    const userId = ctx.user().id;
    for (const parent of ancestorsOf(canonical)) {
      try {
        await ctx.store.mail.createMailbox(userId, parent);
      } catch (err) {
        if (!isStoreError(err, 'exists')) throw err;
      }
    }
    await ctx.store.mail.createMailbox(userId, canonical, (request.specialUse[0] as SpecialUse | undefined) ?? null);
  },
};
