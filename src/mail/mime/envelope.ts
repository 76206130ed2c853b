/**
 * ENVELOPE (RFC 3501 7.4.2; RFC 9051 7.5.2): date, subject, from, sender,
 * reply-to, to, cc, bcc, in-reply-to, message-id, from the header fields of
 * RFC 5322 3.6. Strings are the unfolded field values as written, encoded
 * words included (RFC 3501 leaves decoding to the client); sender and
 * reply-to default to from. Alongside, the same fields decoded for SEARCH
 * and webmail (RFC 2047 encoded words, RFC 5322 3.3 dates).
 *
 * When a field occurs more than once (RFC 5322 3.6 forbids it), strings take
 * the last occurrence and address lists join all of them, as Dovecot does.
 */

import { decodeWords } from './params.js';
import { addressesToImap, decodeAddresses, parseAddressList, type AddressItem } from './address-list.js';
import type { DecodedHeaders, ImapValue } from './types.js';

/** The field names ENVELOPE reads, lowercased. */
export const ENVELOPE_FIELDS = [
  'date',
  'subject',
  'from',
  'sender',
  'reply-to',
  'to',
  'cc',
  'bcc',
  'in-reply-to',
  'message-id',
] as const;

/** Unfolded values of a message's header fields by lowercased name, in order of appearance. */
export type FieldValues = ReadonlyMap<string, readonly string[]>;

/** What envelopeOf() computes for one message. */
export interface EnvelopeResult {
  envelope: ImapValue;
  headers: DecodedHeaders;
  /** Some address field held more addresses than allowed. */
  truncated: boolean;
}

/** Builds ENVELOPE and the decoded headers of a message from its field values. */
export function envelopeOf(fields: FieldValues, maxAddressesPerField: number): EnvelopeResult {
  let truncated = false;
  const last = (name: string): string | null => fields.get(name)?.at(-1) ?? null;
  const addresses = (name: string): AddressItem[] => {
    const items: AddressItem[] = [];
    let kept = 0;
    for (const value of fields.get(name) ?? []) {
      if (kept >= maxAddressesPerField) {
        truncated ||= value.trim() !== '';
        continue;
      }
      const list = parseAddressList(value, maxAddressesPerField - kept);
      truncated ||= list.truncated;
      for (const item of list.items) {
        if (item.kind === 'mailbox') kept++;
        items.push(item);
      }
    }
    return items;
  };

  const from = addresses('from');
  let sender = addresses('sender');
  let replyTo = addresses('reply-to');
  // RFC 3501 7.4.2: a missing (or empty) Sender or Reply-To is sent as From.
  if (sender.length === 0) sender = from;
  if (replyTo.length === 0) replyTo = from;
  const to = addresses('to');
  const cc = addresses('cc');
  const bcc = addresses('bcc');

  const date = last('date');
  const subject = last('subject');
  const messageId = last('message-id');
  const envelope: ImapValue = [
    date,
    subject,
    addressesToImap(from),
    addressesToImap(sender),
    addressesToImap(replyTo),
    addressesToImap(to),
    addressesToImap(cc),
    addressesToImap(bcc),
    last('in-reply-to'),
    messageId,
  ];
  const headers: DecodedHeaders = {
    subject: subject === null ? null : decodeWords(subject),
    from: decodeAddresses(from),
    sender: decodeAddresses(sender),
    replyTo: decodeAddresses(replyTo),
    to: decodeAddresses(to),
    cc: decodeAddresses(cc),
    bcc: decodeAddresses(bcc),
    date,
    sentDate: date === null ? null : calendarDate(date),
    sentAtMs: date === null ? null : instant(date),
    messageId,
  };
  return { envelope, headers, truncated };
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DATE = /(\d{1,2})\s*-?\s*(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s*-?\s*(\d{2,4})\b/i;

/** The "YYYY-MM-DD" of an RFC 5322 3.3 date-time, ignoring time and zone; two- and three-digit years per RFC 5322 4.3. */
export function calendarDate(value: string): string | null {
  const m = DATE.exec(value);
  if (!m) return null;
  const day = Number(m[1]);
  const month = MONTHS.indexOf(m[2]!.toLowerCase()) + 1;
  let year = Number(m[3]);
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  if (day < 1 || day > 31) return null;
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/** The instant of an RFC 5322 date-time in ms, comments removed; null when unreadable. */
function instant(value: string): number | null {
  const ms = Date.parse(value.replace(/\([^)]*\)/g, ' ').trim());
  return Number.isFinite(ms) ? ms : null;
}
