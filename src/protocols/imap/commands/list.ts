/**
 * LIST (RFC 3501 section 6.3.8, RFC 9051 section 6.3.9; LIST-EXTENDED
 * RFC 5258, LIST-STATUS RFC 5819, SPECIAL-USE RFC 6154, CHILDREN RFC 3348)
 *
 *     list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]
 *     list-select-opts = "(" [list-select-option *(SP list-select-option)] ")"
 *     list-select-option = "SUBSCRIBED" / "REMOTE" / "RECURSIVEMATCH" / "SPECIAL-USE"
 *     list-return-opts = "RETURN" SP "(" [return-option *(SP return-option)] ")"
 *     return-option = "SUBSCRIBED" / "CHILDREN" / "SPECIAL-USE" / "STATUS" SP "(" status-att ... ")"
 *
 * Every mailbox gets \HasChildren or \HasNoChildren and its special use.
 * Names that are only parents of existing mailboxes (possible after a
 * RENAME or DELETE elsewhere) are listed as \Noselect (\NonExistent in an
 * extended LIST, and in every LIST once IMAP4rev2 is enabled, where
 * LIST-EXTENDED is part of the base protocol). `LIST "" ""` answers the
 * hierarchy separator.
 */
import type { Mailbox } from '../../../store/types.js';
import { ancestorsOf, compileListPattern, joinReference, SEPARATOR } from '../mailbox-names.js';
import { encodeStatus, statusValues } from '../responses.js';
import { AUTHENTICATED_STATES, NO_FLAGS, type CommandContext, type ImapCommand, type RequestOf } from '../session-context.js';
import { atom, mailboxValue, type ImapValue } from '../wire/index.js';

/** One name that may be listed. */
interface Candidate {
  name: string;
  mailbox: Mailbox | null;
  subscribed: boolean;
  hasChildren: boolean;
  /** A descendant is subscribed (RECURSIVEMATCH's CHILDINFO). */
  subscribedChild: boolean;
}

/** All names: mailboxes, their missing parents and subscribed names that do not exist. */
export function candidates(mailboxes: readonly Mailbox[], subscriptions: readonly string[]): Map<string, Candidate> {
  const byName = new Map<string, Candidate>();
  const get = (name: string): Candidate => {
    let c = byName.get(name);
    if (!c) {
      c = { name, mailbox: null, subscribed: false, hasChildren: false, subscribedChild: false };
      byName.set(name, c);
    }
    return c;
  };
  for (const mailbox of mailboxes) get(mailbox.name).mailbox = mailbox;
  for (const name of subscriptions) get(name).subscribed = true;
  for (const c of [...byName.values()]) {
    for (const ancestor of ancestorsOf(c.name)) {
      const a = get(ancestor);
      if (c.mailbox) a.hasChildren = true;
      if (c.subscribed) a.subscribedChild = true;
    }
  }
  return byName;
}

function sortNames(a: string, b: string): number {
  if (a === b) return 0;
  if (a === 'INBOX') return -1;
  if (b === 'INBOX') return 1;
  return a < b ? -1 : 1;
}

/**
 * The LIST response IMAP4rev2 sends for the mailbox a SELECT or EXAMINE
 * opens (RFC 9051 section 6.3.2: "The server MUST return a LIST response
 * with the mailbox name. The list of mailbox attributes MUST be accurate."):
 * \HasChildren or \HasNoChildren and the special use, as LIST shows them.
 * Names are never normalised here, so OLDNAME is never needed.
 */
export async function selectedListResponse(ctx: CommandContext, mailbox: Mailbox): Promise<ImapValue[]> {
  const all = await ctx.store.mail.listMailboxes(ctx.user().id);
  const hasChildren = all.some((m) => m.name.startsWith(mailbox.name + SEPARATOR));
  const attributes: ImapValue[] = [atom(hasChildren ? '\\HasChildren' : '\\HasNoChildren')];
  if (mailbox.specialUse) attributes.push(atom(mailbox.specialUse));
  return [atom('LIST'), attributes, SEPARATOR, mailboxValue(mailbox.name, ctx.encodeOptions.utf8 ?? false)];
}

export async function runList(ctx: CommandContext, request: RequestOf<'LIST'>): Promise<void> {
  const utf8 = ctx.encodeOptions.utf8 ?? false;
  const rev2 = ctx.isEnabled('IMAP4REV2');
  const { selection, returns, extended } = request;
  if (!extended && request.patterns.length === 1 && request.patterns[0] === '') {
    await ctx.untagged([atom('LIST'), [atom('\\Noselect')], SEPARATOR, '']);
    return;
  }
  const userId = ctx.user().id;
  const [mailboxes, subscriptions] = await Promise.all([ctx.store.mail.listMailboxes(userId), ctx.store.mail.listSubscriptions(userId)]);
  const all = candidates(mailboxes, subscriptions);
  const patterns = request.patterns.filter((p) => p !== '').map((p) => compileListPattern(joinReference(request.reference, p)));
  const showSubscribed = returns.subscribed || selection.subscribed;
  const names = [...all.keys()].sort(sortNames);
  for (const name of names) {
    const c = all.get(name)!;
    if (!patterns.some((p) => p.test(name))) continue;
    let childInfo = false;
    if (selection.subscribed && !c.subscribed) {
      // RECURSIVEMATCH: a parent whose descendants match is listed with CHILDINFO (RFC 5258 3.5).
      if (!(selection.recursiveMatch && c.subscribedChild)) continue;
      childInfo = true;
    }
    if (selection.specialUse && !c.mailbox?.specialUse) continue;
    // A name that is not a mailbox shows only as a parent, or as a subscription when those are asked for.
    if (!c.mailbox && !c.hasChildren && !(selection.subscribed && (c.subscribed || childInfo))) continue;
    const attributes: ImapValue[] = [];
    // RFC 5258 / RFC 9051 7.3.1: \NonExistent (which implies \Noselect) in extended LISTs and in every IMAP4rev2 LIST.
    if (!c.mailbox) attributes.push(atom(extended || rev2 ? '\\NonExistent' : '\\Noselect'));
    if (c.mailbox || c.hasChildren) attributes.push(atom(c.hasChildren ? '\\HasChildren' : '\\HasNoChildren'));
    if (showSubscribed && c.subscribed) attributes.push(atom('\\Subscribed'));
    if (c.mailbox?.specialUse) attributes.push(atom(c.mailbox.specialUse));
    const line: ImapValue[] = [atom('LIST'), attributes, SEPARATOR, mailboxValue(name, utf8)];
    if (childInfo) line.push([atom('CHILDINFO'), ['SUBSCRIBED']]);
    await ctx.untagged(line);
    if (returns.status && c.mailbox) {
      // RFC 5819: STATUS follows the mailbox's LIST line; errors are just left out.
      const counts = await ctx.store.mail.mailboxStatus(c.mailbox.id);
      await ctx.send(encodeStatus(name, statusValues(returns.status, counts, ctx.limits.maxImapLiteralBytes), utf8));
    }
  }
}

export const list: ImapCommand<'LIST'> = {
  name: 'LIST',
  states: AUTHENTICATED_STATES,
  flags: NO_FLAGS,
  run: runList,
};
