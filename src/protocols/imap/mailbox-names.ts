/**
 * Mailbox name policy (RFC 3501 section 5.1, RFC 9051 section 5.1, RFC 6855
 * section 3). Names reach this module already decoded (modified UTF-7 or,
 * with UTF8=ACCEPT, UTF-8) into Unicode strings. The hierarchy separator is
 * "/". A name the store keeps must have no empty levels, no control
 * characters (modified UTF-7 can decode to a TAB or a C1 control), no
 * wildcards, no "." or ".." levels, and a bounded length, so nothing
 * surprising ever reaches a backend, a log line or a file system.
 */
import { bad, ImapError } from './errors.js';

/** The hierarchy separator Rookery uses. */
export const SEPARATOR = '/';

/** Longest mailbox name, in UTF-8 bytes. */
export const MAX_MAILBOX_NAME_BYTES = 1024;
/** Deepest hierarchy. */
export const MAX_MAILBOX_LEVELS = 32;

/**
 * Normalises INBOX: the whole name and a leading "INBOX/" compare
 * case-insensitively (RFC 3501 section 5.1, as Dovecot treats its INBOX's
 * children), so "inbox/Work" is "INBOX/Work".
 */
export function canonicalName(name: string): string {
  if (name.toUpperCase() === 'INBOX') return 'INBOX';
  if (name.length > 6 && name.slice(0, 6).toUpperCase() === 'INBOX/') return 'INBOX/' + name.slice(6);
  return name;
}

/** Why a name is not acceptable, or null when it is. */
export function mailboxNameProblem(name: string): string | null {
  if (name.length === 0) return 'the mailbox name is empty';
  if (Buffer.byteLength(name, 'utf8') > MAX_MAILBOX_NAME_BYTES) return `the mailbox name is longer than ${MAX_MAILBOX_NAME_BYTES} bytes`;
  // C0, DEL and C1 controls; U+2028/2029 split lines in some logs and clients.
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(name)) return 'the mailbox name contains a control character';
  if (/[*%]/.test(name)) return 'the mailbox name contains a wildcard character (* or %)';
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(name)) return 'the mailbox name is not valid Unicode';
  const levels = name.split(SEPARATOR);
  if (levels.length > MAX_MAILBOX_LEVELS) return `the mailbox hierarchy is deeper than ${MAX_MAILBOX_LEVELS} levels`;
  for (const level of levels) {
    if (level.length === 0) return 'the mailbox name has an empty hierarchy level (leading, trailing or doubled "/")';
    if (level === '.' || level === '..') return 'the mailbox name has a "." or ".." level';
  }
  return null;
}

/**
 * Checks a name a client wants to create or rename to, returning its
 * canonical form. With `utf8` (the client sent the name as UTF-8: UTF8=ACCEPT
 * or IMAP4rev2), the name must also be Net-Unicode, i.e. in Unicode
 * normalization form C (RFC 9051 section 5.1 "MUST prohibit the creation of
 * 8-bit mailbox names that do not comply with Net-Unicode", RFC 6855
 * section 3); Rookery refuses other forms rather than normalising them, so
 * one name never has two spellings.
 * @throws ImapError NO [CANNOT] with the reason.
 */
export function validateNewMailboxName(name: string, options: { utf8?: boolean } = {}): string {
  const problem = mailboxNameProblem(name);
  if (problem) throw new ImapError('NO', problem, { name: 'CANNOT' });
  if (options.utf8 && name.normalize('NFC') !== name) {
    throw new ImapError('NO', 'the mailbox name is not in Unicode normalization form C (Net-Unicode, RFC 5198)', { name: 'CANNOT' });
  }
  return canonicalName(name);
}

/**
 * Checks a name that must name an existing mailbox; an invalid one cannot
 * exist, so it is NONEXISTENT rather than a syntax error.
 */
export function validateExistingMailboxName(name: string): string {
  if (mailboxNameProblem(name)) throw new ImapError('NO', 'no such mailbox', { name: 'NONEXISTENT' });
  return canonicalName(name);
}

/** The names of every ancestor of `name`, outermost first ("a/b/c" -> ["a", "a/b"]). */
export function ancestorsOf(name: string): string[] {
  const levels = name.split(SEPARATOR);
  const out: string[] = [];
  for (let i = 1; i < levels.length; i++) out.push(levels.slice(0, i).join(SEPARATOR));
  return out;
}

/** The parent of a name, or null at the top level. */
export function parentOf(name: string): string | null {
  const i = name.lastIndexOf(SEPARATOR);
  return i === -1 ? null : name.slice(0, i);
}

/**
 * Compiles a LIST pattern (RFC 3501 section 6.3.8): "*" matches anything,
 * "%" anything but the separator. Matching is case-sensitive except for a
 * leading INBOX, which is case-insensitive (the name it matches is canonical).
 */
export function compileListPattern(pattern: string): RegExp {
  let canonical = pattern;
  if (/^inbox($|\/)/i.test(pattern)) canonical = 'INBOX' + pattern.slice(5);
  let source = '';
  for (const ch of canonical) {
    if (ch === '*') source += '.*';
    else if (ch === '%') source += '[^/]*';
    else source += ch.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

/**
 * Joins a LIST reference and pattern. RFC 3501 section 6.3.8 leaves the
 * interpretation to the server; like Dovecot, the reference is a plain
 * prefix ("Work/" + "%" is "Work/%").
 */
export function joinReference(reference: string, pattern: string): string {
  return reference + pattern;
}

/** Refuses a mailbox name that is only valid as a pattern. */
export function requirePlainName(name: string): void {
  if (/[*%]/.test(name)) throw bad('wildcards are only allowed in LIST and LSUB patterns');
}
