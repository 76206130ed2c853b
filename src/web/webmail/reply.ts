/**
 * Reply, reply to all and forward: what the compose form starts with, and
 * the thread fields the sent message carries (RFC 5322 3.6.4: In-Reply-To
 * is the answered Message-ID, References the answered message's References,
 * or its In-Reply-To when it has none, followed by its Message-ID).
 *
 * The thread fields and forwarded attachments are always taken from the
 * original in the store when the message is sent, never from the form, so
 * a tampered form cannot forge them.
 */
import { headerFieldValues, sectionRange, type DecodedAddress, type MimeIndex } from '../../mail/mime/index.js';

/** Addresses are compared case-insensitively, as the directory stores them (store/address.ts). */
function sameAddress(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}

export type ComposeMode = 'reply' | 'reply-all' | 'forward';

export function composeModeOf(value: string | null): ComposeMode | null {
  return value === 'reply' || value === 'reply-all' || value === 'forward' ? value : null;
}

/** What the compose form is filled with. */
export interface ComposeSeed {
  to: string;
  cc: string;
  subject: string;
  body: string;
}

const msgIdPattern = /<[^<>\s@]+@[^<>\s@]+>/g;

/** The thread fields of a reply to the message of `index`. */
export function threadOf(message: Buffer, index: MimeIndex): { inReplyTo: string | null; references: string[] } {
  const range = sectionRange(index, [], 'HEADER');
  const header = range ? message.subarray(range.start, range.end) : Buffer.alloc(0);
  const idsOf = (field: string): string[] => headerFieldValues(header, field).flatMap((v) => v.match(msgIdPattern) ?? []);
  const own = (index.headers.messageId ?? '').match(msgIdPattern)?.[0] ?? null;
  let references = idsOf('references');
  if (references.length === 0) references = idsOf('in-reply-to').slice(0, 1);
  if (own) references.push(own);
  // Long threads: keep the first and the latest ids, as mail clients do, so the field stays small.
  if (references.length > 20) references = [references[0]!, ...references.slice(-19)];
  return { inReplyTo: own, references };
}

function listed(addresses: DecodedAddress[]): string {
  return addresses.map((a) => (a.name ? `${/[",<>@;:]/.test(a.name) ? JSON.stringify(a.name) : a.name} <${a.address}>` : a.address)).join(', ');
}

function prefixed(prefix: string, subject: string): string {
  return new RegExp(`^${prefix}:`, 'i').test(subject.trim()) ? subject.trim() : `${prefix}: ${subject.trim()}`;
}

/** The form's contents for replying to or forwarding a message whose displayed text is `text`. */
export function composeSeed(mode: ComposeMode, index: MimeIndex, text: string, self: string, when: string): ComposeSeed {
  const h = index.headers;
  const subject = h.subject ?? '';
  const author = listed(h.from) || '(unknown sender)';
  if (mode === 'forward') {
    const lines = ['', '', '---------- Forwarded message ----------', `From: ${author}`, `Date: ${when}`, `Subject: ${subject}`];
    if (h.to.length) lines.push(`To: ${listed(h.to)}`);
    if (h.cc.length) lines.push(`Cc: ${listed(h.cc)}`);
    lines.push('', text);
    return { to: '', cc: '', subject: prefixed('Fwd', subject), body: lines.join('\n') };
  }
  const replyTo = h.replyTo.length ? h.replyTo : h.from;
  const seen = new Set<string>();
  const pick = (list: DecodedAddress[]): DecodedAddress[] => list.filter((a) => {
    const key = a.address.toLowerCase();
    if (!a.address.includes('@') || seen.has(key) || sameAddress(a.address, self)) return false;
    seen.add(key);
    return true;
  });
  // Replying to one's own message (from Sent) goes to its recipients, not back to oneself.
  const ownMessage = replyTo.length > 0 && replyTo.every((a) => sameAddress(a.address, self));
  const to = pick(ownMessage ? h.to : replyTo);
  const cc = mode === 'reply-all' ? pick([...(ownMessage ? [] : h.to), ...h.cc]) : [];
  const quoted = text.split('\n').map((l) => (l.startsWith('>') ? `>${l}` : `> ${l}`).trimEnd()).join('\n');
  return {
    to: listed(to),
    cc: listed(cc),
    subject: prefixed('Re', subject),
    body: `\n\nOn ${when}, ${author} wrote:\n${quoted}\n`,
  };
}
