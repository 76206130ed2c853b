/**
 * Address lists of From, Sender, Reply-To, To, Cc and Bcc (RFC 5322 3.4 with
 * the obsolete forms of RFC 5322 4.4: routes, empty list elements, comments
 * anywhere), turned into ENVELOPE address structures (RFC 3501 7.4.2:
 * name, source route, mailbox, host; a group is opened by (NIL NIL "name"
 * NIL) and closed by (NIL NIL NIL NIL)).
 *
 * Like Dovecot: a quoted local part is sent unquoted, a comment names an
 * address that has no display name, and a missing mailbox or host is sent as
 * "MISSING_MAILBOX" / "MISSING_DOMAIN" (a NIL host would read as a group).
 * Unlike Dovecot, parsing goes on after a syntax error instead of dropping
 * the rest of the field. One pass over the value, and at most `maxAddresses`
 * kept, so a field with 500,000 addresses (CVE-2024-23184) costs little.
 */

import { decodeWords } from './params.js';
import type { DecodedAddress, ImapValue } from './types.js';

/** One element of a parsed address list. */
export type AddressItem =
  | {
      kind: 'mailbox';
      /** Display name as written (encoded words kept); null when none. */
      name: string | null;
      /** Obsolete source route ("@a,@b"); null when none. */
      route: string | null;
      /** Local part, unquoted; null when missing. */
      mailbox: string | null;
      /** Domain; null when missing. */
      host: string | null;
    }
  | { kind: 'group'; name: string }
  | { kind: 'group-end' };

/** The result of parsing one address field. */
export interface AddressList {
  items: AddressItem[];
  /** More than the allowed number of addresses were present; the rest were dropped. */
  truncated: boolean;
}

type Token =
  | { t: 'word'; v: string; quoted: boolean; spaced: boolean }
  | { t: 'comment'; v: string }
  | { t: '<' | '>' | '@' | ',' | ';' | ':' };

const SPECIALS = new Set(['<', '>', '@', ',', ';', ':']);
const STOP = new Set(['<', '>', '@', ',', ';', ':', '(', '"', '[', ' ', '\t', '\r', '\n']);

/** Splits an address field into tokens (RFC 5322 3.2: atoms, quoted strings, comments, literals). */
function* tokens(s: string): Generator<Token> {
  let spaced = false;
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      spaced = true;
      i++;
    } else if (c === '(') {
      let depth = 0;
      let text = '';
      for (; i < s.length; i++) {
        const d = s[i]!;
        if (d === '\\' && i + 1 < s.length) {
          text += s[++i];
          continue;
        }
        if (d === '(' && depth++ === 0) continue;
        if (d === ')' && --depth === 0) {
          i++;
          break;
        }
        text += d;
      }
      spaced = true;
      yield { t: 'comment', v: text.trim() };
    } else if (c === '"') {
      let text = '';
      for (i++; i < s.length; i++) {
        const d = s[i]!;
        if (d === '"') break;
        if (d === '\\' && i + 1 < s.length) text += s[++i];
        else if (d !== '\r' && d !== '\n') text += d;
      }
      i++;
      yield { t: 'word', v: text, quoted: true, spaced };
      spaced = false;
    } else if (c === '[') {
      const end = s.indexOf(']', i);
      const stop = end === -1 ? s.length : end + 1;
      yield { t: 'word', v: s.slice(i, stop), quoted: false, spaced };
      spaced = false;
      i = stop;
    } else if (SPECIALS.has(c)) {
      yield { t: c as '<' };
      spaced = false;
      i++;
    } else {
      const start = i;
      while (i < s.length && !STOP.has(s[i]!)) i++;
      if (i === start) i++; // a stray ']' or ')' is taken as a word of its own
      yield { t: 'word', v: s.slice(start, i), quoted: false, spaced };
      spaced = false;
    }
  }
}

/** What is known of the list element being read. */
interface Entry {
  /** Words before '<' or '@' (a display name or a local part). */
  words: { v: string; quoted: boolean; spaced: boolean }[];
  comments: string[];
  angle: 'none' | 'open' | 'closed';
  name: string | null;
  route: string | null;
  inRoute: boolean;
  local: string;
  sawAt: boolean;
  domain: string;
}

function newEntry(): Entry {
  return { words: [], comments: [], angle: 'none', name: null, route: null, inRoute: false, local: '', sawAt: false, domain: '' };
}

/** Joins display-name words, one space where the field had white space. */
function phrase(words: Entry['words']): string {
  return words.map((w, i) => (i > 0 && w.spaced ? ` ${w.v}` : w.v)).join('');
}

/**
 * Parses an address field's value (unfolded, encoded words as written).
 * Never throws; what cannot be read as an address is skipped.
 */
export function parseAddressList(value: string, maxAddresses: number): AddressList {
  const items: AddressItem[] = [];
  let count = 0;
  let inGroup = false;
  let truncated = false;
  let e = newEntry();

  const finish = (): void => {
    const entry = e;
    e = newEntry();
    let item: AddressItem | null = null;
    if (entry.angle !== 'none') {
      item = {
        kind: 'mailbox',
        name: entry.name || null,
        route: entry.route || null,
        mailbox: entry.local || null,
        host: entry.domain || null,
      };
    } else if (entry.sawAt) {
      item = {
        kind: 'mailbox',
        name: entry.comments.at(-1) || null,
        route: null,
        mailbox: entry.local || null,
        host: entry.domain || null,
      };
    } else if (entry.words.length === 1 && !entry.words[0]!.quoted) {
      item = { kind: 'mailbox', name: entry.comments.at(-1) || null, route: null, mailbox: entry.words[0]!.v, host: null };
    } else if (entry.words.length > 0) {
      item = { kind: 'mailbox', name: phrase(entry.words), route: null, mailbox: null, host: null };
    }
    if (item) {
      if (count >= maxAddresses) {
        truncated = true;
        return;
      }
      count++;
      items.push(item);
    }
  };

  for (const tok of tokens(value)) {
    if (truncated) break;
    switch (tok.t) {
      case 'comment':
        e.comments.push(tok.v);
        break;
      case 'word':
        if (e.angle === 'open') {
          if (e.inRoute) e.route += tok.v;
          else if (e.sawAt) e.domain += tok.v;
          else e.local += tok.v;
        } else if (e.angle === 'closed') {
          // Text after "<addr>" is junk; ignore it.
        } else if (e.sawAt) {
          if (e.domain !== '' && tok.spaced && !e.domain.endsWith('.') && !tok.v.startsWith('.')) {
            // "a@b c@d": a missing comma; the word starts the next address.
            finish();
            e.words.push({ v: tok.v, quoted: tok.quoted, spaced: false });
          } else {
            e.domain += tok.v;
          }
        } else {
          e.words.push({ v: tok.v, quoted: tok.quoted, spaced: tok.spaced });
        }
        break;
      case '<':
        if (e.angle === 'none') {
          e.name = phrase(e.words);
          e.words = [];
          e.local = '';
          e.domain = '';
          e.sawAt = false;
          e.angle = 'open';
        }
        break;
      case '>':
        if (e.angle === 'open') e.angle = 'closed';
        break;
      case '@':
        if (e.angle === 'open' && !e.sawAt && e.local === '' && (e.route === null || e.inRoute)) {
          // An obsolete source route: <@a,@b:user@host> (RFC 5322 4.4).
          e.inRoute = true;
          e.route = (e.route ?? '') + '@';
        } else if (e.angle === 'open') {
          e.sawAt = true;
        } else if (e.angle === 'none' && !e.sawAt) {
          e.sawAt = true;
          e.local = e.words.map((w) => w.v).join('');
          e.words = [];
        }
        break;
      case ',':
        if (e.angle === 'open' && e.inRoute) e.route += ',';
        else if (e.angle !== 'open') finish();
        break;
      case ':':
        if (e.angle === 'open') {
          if (e.inRoute) e.inRoute = false;
        } else if (e.angle === 'none' && !e.sawAt && !inGroup) {
          items.push({ kind: 'group', name: phrase(e.words) });
          inGroup = true;
          e = newEntry();
        }
        break;
      case ';':
        finish();
        if (inGroup) {
          items.push({ kind: 'group-end' });
          inGroup = false;
        }
        break;
    }
  }
  if (!truncated) finish();
  if (inGroup) items.push({ kind: 'group-end' });
  return { items, truncated };
}

/** The ENVELOPE form of an address list: a list of address structures, or NIL when empty. */
export function addressesToImap(items: readonly AddressItem[]): ImapValue {
  if (items.length === 0) return null;
  return items.map((a): ImapValue => {
    switch (a.kind) {
      case 'group':
        return [null, null, a.name, null];
      case 'group-end':
        return [null, null, null, null];
      case 'mailbox':
        return [a.name, a.route, a.mailbox ?? 'MISSING_MAILBOX', a.host ?? 'MISSING_DOMAIN'];
    }
  });
}

/** The mailboxes of a list (group members included, groups themselves left out), decoded for people. */
export function decodeAddresses(items: readonly AddressItem[]): DecodedAddress[] {
  const out: DecodedAddress[] = [];
  for (const a of items) {
    if (a.kind !== 'mailbox') continue;
    const name = a.name === null ? '' : decodeWords(a.name);
    const address = a.mailbox === null ? '' : a.host === null ? a.mailbox : `${a.mailbox}@${a.host}`;
    out.push({ name, address });
  }
  return out;
}
