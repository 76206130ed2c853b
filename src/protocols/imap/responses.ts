/**
 * Untagged responses more than one command sends: the catch-up updates
 * (RFC 3501 7.4.1 EXPUNGE, 7.3.1 EXISTS, 7.4.2 FETCH; RFC 7162 3.2.10
 * VANISHED), STATUS data (RFC 3501 7.2.4, also in LIST-STATUS) and the
 * mailbox's FLAGS/PERMANENTFLAGS.
 */
import type { MailboxStatus } from '../../store/types.js';
import type { MailboxUpdates } from './selected-mailbox.js';
import { SYSTEM_FLAGS } from './selected-mailbox.js';
import { atom, encodeFetch, encodeUntagged, flagListValue, mailboxValue, sequenceSetValue, type ImapValue, type StatusItem } from './wire/index.js';

/** How the client reads updates. */
export interface UpdateEncoding {
  /** QRESYNC is enabled: VANISHED instead of EXPUNGE (RFC 7162 3.2.10). */
  readonly qresync: boolean;
  /** CONDSTORE is enabled: FETCH updates carry MODSEQ (RFC 7162 3.1.4). */
  readonly condstore: boolean;
  readonly utf8: boolean;
}

/** Encodes a catch-up's untagged responses, in order. */
export function encodeUpdates(updates: MailboxUpdates, how: UpdateEncoding): Buffer[] {
  const out: Buffer[] = [];
  if (updates.expungedUids.length > 0) {
    if (how.qresync) out.push(...encodeUntagged([atom('VANISHED'), sequenceSetValue(updates.expungedUids, { sort: true })]));
    else for (const seq of updates.expungedSeqs) out.push(Buffer.from(`* ${seq} EXPUNGE\r\n`));
  }
  if (updates.exists !== null) out.push(Buffer.from(`* ${updates.exists} EXISTS\r\n`));
  for (const { seq, record } of updates.changed) {
    // UID is always given in unsolicited FETCH: it costs little and clients that track UIDs need it.
    const items: Array<readonly [string, ImapValue]> = [['UID', record.uid], ['FLAGS', flagListValue(record.flags)]];
    if (how.condstore) items.push(['MODSEQ', [record.modSeq]]);
    out.push(...encodeFetch(seq, items, { utf8: how.utf8 }));
  }
  return out;
}

/** The value list of a STATUS response for the items asked, in the client's order. */
export function statusValues(items: readonly StatusItem[], status: MailboxStatus, appendLimitBytes: number): ImapValue[] {
  const out: ImapValue[] = [];
  for (const item of items) {
    let value: number;
    switch (item) {
      case 'MESSAGES':
        value = status.messages;
        break;
      case 'RECENT':
        // \Recent is not kept (RFC 9051 dropped it); no message is ever recent.
        value = 0;
        break;
      case 'UIDNEXT':
        value = status.uidNext;
        break;
      case 'UIDVALIDITY':
        value = status.uidValidity;
        break;
      case 'UNSEEN':
        value = status.unseen;
        break;
      case 'HIGHESTMODSEQ':
        value = status.highestModSeq;
        break;
      case 'SIZE':
        value = status.sizeBytes;
        break;
      case 'DELETED':
        value = status.deleted;
        break;
      case 'APPENDLIMIT':
        value = appendLimitBytes;
        break;
    }
    out.push(atom(item), value);
  }
  return out;
}

/** `* STATUS name (items)`. */
export function encodeStatus(name: string, values: ImapValue[], utf8: boolean): Buffer[] {
  return encodeUntagged([atom('STATUS'), mailboxValue(name, utf8), values], { utf8 });
}

/** `* FLAGS (...)` for a mailbox: the system flags and the keywords in use. */
export function flagsResponse(keywords: readonly string[]): ImapValue[] {
  return [atom('FLAGS'), flagListValue([...SYSTEM_FLAGS, ...keywords])];
}

/** PERMANENTFLAGS: every flag can be kept, and new keywords may be made (`\*`). */
export function permanentFlagsValue(keywords: readonly string[], readOnly: boolean): ImapValue[] {
  return readOnly ? [] : flagListValue([...SYSTEM_FLAGS, ...keywords, '\\*']);
}
