/**
 * Typed IMAP requests: what the parser produces from a framed command
 * (RFC 3501 section 6 and RFC 9051 section 6, with the extensions of issue 3:
 * UIDPLUS 4315, MOVE 6851, NAMESPACE 2342, ID 2971, ENABLE 5161, UNSELECT
 * 3691, SPECIAL-USE 6154, LIST-EXTENDED 5258, LIST-STATUS 5819, ESEARCH 4731
 * with SEARCHRES 5182, SASL-IR 4959, CONDSTORE/QRESYNC 7162, QUOTA 9208,
 * APPENDLIMIT 7889, UTF8=ACCEPT 6855, BINARY 3516, MULTIAPPEND 3502).
 * Values are decoded: mailbox names are Unicode strings, dates are
 * validated, flags are canonical, sequence sets are parsed. Whether a
 * request is allowed in the session's state is not decided here.
 */
import type { SequenceSet } from './sequence-set.js';

/** A calendar date as in SEARCH (`date`, RFC 3501 section 9): no time, no zone. */
export interface ImapDate {
  /** Four-digit year. */
  readonly year: number;
  /** 1-12. */
  readonly month: number;
  /** 1-31, valid for the month. */
  readonly day: number;
}

/** An APPEND `date-time` (RFC 3501 section 9): an instant and the zone it was written in. */
export interface ImapDateTime {
  /** The instant. */
  readonly date: Date;
  /** The zone offset east of UTC in minutes, as written (e.g. -420 for "-0700"). */
  readonly zoneOffsetMinutes: number;
}

/** System flags in canonical spelling (RFC 3501 section 2.3.2; \Recent cannot be set by clients). */
export type SystemFlag = '\\Answered' | '\\Flagged' | '\\Deleted' | '\\Seen' | '\\Draft';

/** A flag as sent in STORE/APPEND: a system flag (canonical case) or a keyword (as written). */
export type MessageFlag = SystemFlag | (string & {});

/** STATUS data items (RFC 3501 6.3.10, RFC 7162 HIGHESTMODSEQ, RFC 9051 SIZE/DELETED, RFC 7889 APPENDLIMIT). */
export type StatusItem = 'MESSAGES' | 'RECENT' | 'UIDNEXT' | 'UIDVALIDITY' | 'UNSEEN' | 'HIGHESTMODSEQ' | 'SIZE' | 'DELETED' | 'APPENDLIMIT';

/** A section of a message, as in BODY[section] (RFC 3501 section 6.4.5 and 9 `section-spec`). */
export interface SectionSpec {
  /** Part numbers ("1.2" is [1, 2]); empty for the whole message. */
  readonly part: readonly number[];
  /** What of the part: null for the whole part (its body when part is non-empty). */
  readonly text: 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME' | null;
  /** Header field names for HEADER.FIELDS(.NOT), upper case, in the client's order. */
  readonly fields: readonly string[];
}

/** `<offset.length>` on BODY[] and BINARY[] (RFC 3501 section 6.4.5). */
export interface PartialRange {
  /** First byte, 0-based. */
  readonly offset: number;
  /** Largest number of bytes to return (positive). */
  readonly length: number;
}

/** One FETCH data item (RFC 3501 section 6.4.5, RFC 7162 MODSEQ, RFC 3516 BINARY). */
export type FetchAttribute =
  | { readonly kind: 'FLAGS' | 'INTERNALDATE' | 'RFC822' | 'RFC822.HEADER' | 'RFC822.SIZE' | 'RFC822.TEXT' | 'ENVELOPE' | 'BODY' | 'BODYSTRUCTURE' | 'UID' | 'MODSEQ' }
  /** BODY[section]<partial> and BODY.PEEK[...]; `peek` leaves \Seen alone. */
  | { readonly kind: 'BODY[]'; readonly peek: boolean; readonly section: SectionSpec; readonly partial: PartialRange | null }
  /** BINARY[part]<partial> and BINARY.PEEK[...] (RFC 3516): the part's content, transfer encoding removed. */
  | { readonly kind: 'BINARY[]'; readonly peek: boolean; readonly part: readonly number[]; readonly partial: PartialRange | null }
  /** BINARY.SIZE[part] (RFC 3516). */
  | { readonly kind: 'BINARY.SIZE'; readonly part: readonly number[] };

/** SEARCH RETURN options (RFC 4731 ESEARCH, RFC 5182 SAVE). */
export type SearchReturnOption = 'MIN' | 'MAX' | 'ALL' | 'COUNT' | 'SAVE';

/** SEARCH keys without arguments (RFC 3501 section 6.4.4). */
export type SearchFlagKey =
  | 'ALL'
  | 'ANSWERED'
  | 'DELETED'
  | 'DRAFT'
  | 'FLAGGED'
  | 'NEW'
  | 'OLD'
  | 'RECENT'
  | 'SEEN'
  | 'UNANSWERED'
  | 'UNDELETED'
  | 'UNDRAFT'
  | 'UNFLAGGED'
  | 'UNSEEN';

/** One SEARCH criterion; a search is an AND of these. */
export type SearchKey =
  | { readonly key: SearchFlagKey }
  | { readonly key: 'BCC' | 'BODY' | 'CC' | 'FROM' | 'SUBJECT' | 'TEXT' | 'TO'; readonly value: string }
  | { readonly key: 'HEADER'; readonly field: string; readonly value: string }
  | { readonly key: 'BEFORE' | 'ON' | 'SINCE' | 'SENTBEFORE' | 'SENTON' | 'SENTSINCE'; readonly date: ImapDate }
  | { readonly key: 'KEYWORD' | 'UNKEYWORD'; readonly flag: string }
  | { readonly key: 'LARGER' | 'SMALLER'; readonly size: number }
  /** A bare sequence set: message sequence numbers. */
  | { readonly key: 'SEQUENCE'; readonly set: SequenceSet }
  | { readonly key: 'UID'; readonly set: SequenceSet }
  /** RFC 7162 section 3.1.5; `entry` is the optional per-flag entry name and type. */
  | { readonly key: 'MODSEQ'; readonly modSeq: number; readonly entry: { readonly name: string; readonly type: 'priv' | 'shared' | 'all' } | null }
  | { readonly key: 'NOT'; readonly operand: SearchKey }
  | { readonly key: 'OR'; readonly left: SearchKey; readonly right: SearchKey }
  /** A parenthesised list, or the top level: every operand must match. */
  | { readonly key: 'AND'; readonly operands: readonly SearchKey[] };

/** LIST selection options (RFC 5258 section 3.1, RFC 6154 SPECIAL-USE). */
export interface ListSelectionOptions {
  readonly subscribed: boolean;
  readonly remote: boolean;
  readonly recursiveMatch: boolean;
  readonly specialUse: boolean;
}

/** LIST return options (RFC 5258 section 3.2, RFC 5819 STATUS, RFC 6154 SPECIAL-USE). */
export interface ListReturnOptions {
  readonly subscribed: boolean;
  readonly children: boolean;
  readonly specialUse: boolean;
  /** STATUS items to return for each listed mailbox, or null. */
  readonly status: readonly StatusItem[] | null;
}

/** QRESYNC parameters of SELECT/EXAMINE (RFC 7162 section 3.2.5). */
export interface QresyncParameters {
  /** The UIDVALIDITY the client last knew. */
  readonly uidValidity: number;
  /** The highest modseq the client knows. */
  readonly modSeq: number;
  /** UIDs the client knows, or null for all. */
  readonly knownUids: SequenceSet | null;
  /** Message numbers and their UIDs, to spot expunges cheaply, or null. */
  readonly sequenceMatch: { readonly sequences: SequenceSet; readonly uids: SequenceSet } | null;
}

/** One message of APPEND (RFC 3501 section 6.3.11, RFC 3502 MULTIAPPEND, RFC 3516, RFC 6855). */
export interface AppendMessage {
  /** Flags to set, canonical system flags and keywords. */
  readonly flags: readonly MessageFlag[];
  /** The internal date to record, or null for "now". */
  readonly internalDate: ImapDateTime | null;
  /** The message bytes. */
  readonly data: Buffer;
  /** Sent as literal8 (may contain NUL; RFC 3516). */
  readonly binary: boolean;
  /** Sent as `UTF8 (~{n} ...)` (RFC 6855 section 4). */
  readonly utf8: boolean;
}

/** Every request the wire layer understands; `command` is upper case. */
export type ImapRequestBody =
  | { readonly command: 'CAPABILITY' | 'NOOP' | 'LOGOUT' | 'STARTTLS' | 'CHECK' | 'CLOSE' | 'UNSELECT' | 'NAMESPACE' | 'IDLE' }
  /** EXPUNGE, or UID EXPUNGE (RFC 4315) when `uids` is set. */
  | { readonly command: 'EXPUNGE'; readonly uids: SequenceSet | null }
  /** `initialResponse` is the decoded SASL-IR (RFC 4959; "=" is an empty one), or null. */
  | { readonly command: 'AUTHENTICATE'; readonly mechanism: string; readonly initialResponse: Buffer | null }
  | { readonly command: 'LOGIN'; readonly username: string; readonly password: string }
  | { readonly command: 'SELECT' | 'EXAMINE'; readonly mailbox: string; readonly condstore: boolean; readonly qresync: QresyncParameters | null }
  /** `specialUse` from `CREATE name (USE (\Drafts))` (RFC 6154 section 3). */
  | { readonly command: 'CREATE'; readonly mailbox: string; readonly specialUse: readonly string[] }
  | { readonly command: 'DELETE' | 'SUBSCRIBE' | 'UNSUBSCRIBE'; readonly mailbox: string }
  | { readonly command: 'RENAME'; readonly from: string; readonly to: string }
  /**
   * LIST. `extended` is true when any RFC 5258 syntax was used (selection or
   * return options, or several patterns), which changes what the reply shows.
   */
  | {
      readonly command: 'LIST';
      readonly reference: string;
      readonly patterns: readonly string[];
      readonly selection: ListSelectionOptions;
      readonly returns: ListReturnOptions;
      readonly extended: boolean;
    }
  | { readonly command: 'LSUB'; readonly reference: string; readonly pattern: string }
  | { readonly command: 'STATUS'; readonly mailbox: string; readonly items: readonly StatusItem[] }
  | { readonly command: 'APPEND'; readonly mailbox: string; readonly messages: readonly AppendMessage[] }
  /**
   * SEARCH. `returnOptions` is null for a plain SEARCH (untagged SEARCH reply)
   * and a list for ESEARCH (an empty RETURN () means ALL, RFC 4731 section 3.1).
   */
  | {
      readonly command: 'SEARCH';
      readonly uid: boolean;
      readonly charset: string | null;
      readonly returnOptions: readonly SearchReturnOption[] | null;
      readonly criteria: SearchKey & { readonly key: 'AND' };
    }
  /**
   * FETCH. Macros (ALL, FAST, FULL) are expanded into `attributes`; `macro`
   * says which was used. `changedSince` and `vanished` are RFC 7162 modifiers.
   */
  | {
      readonly command: 'FETCH';
      readonly uid: boolean;
      readonly sequenceSet: SequenceSet;
      readonly attributes: readonly FetchAttribute[];
      readonly macro: 'ALL' | 'FAST' | 'FULL' | null;
      readonly changedSince: number | null;
      readonly vanished: boolean;
    }
  /** STORE: replace (`set`), add or remove flags; `unchangedSince` is RFC 7162's modifier. */
  | {
      readonly command: 'STORE';
      readonly uid: boolean;
      readonly sequenceSet: SequenceSet;
      readonly unchangedSince: number | null;
      readonly action: 'set' | 'add' | 'remove';
      readonly silent: boolean;
      readonly flags: readonly MessageFlag[];
    }
  | { readonly command: 'COPY' | 'MOVE'; readonly uid: boolean; readonly sequenceSet: SequenceSet; readonly mailbox: string }
  /** ENABLE capability names, upper case (RFC 5161). */
  | { readonly command: 'ENABLE'; readonly capabilities: readonly string[] }
  /** ID field/value pairs in the client's order, or null for `ID NIL` (RFC 2971). */
  | { readonly command: 'ID'; readonly parameters: ReadonlyArray<readonly [string, string | null]> | null }
  | { readonly command: 'GETQUOTA'; readonly root: string }
  | { readonly command: 'GETQUOTAROOT'; readonly mailbox: string }
  /** SETQUOTA resource limits, resource names upper case (RFC 9208 section 4.3). */
  | { readonly command: 'SETQUOTA'; readonly root: string; readonly limits: ReadonlyArray<{ readonly resource: string; readonly limit: number }> };

/** A parsed request: the tag and the command with its arguments. */
export type ImapRequest = ImapRequestBody & {
  /** The client's tag, echoed in the tagged reply. */
  readonly tag: string;
};

/** The upper-case command names the parser knows. */
export type ImapCommandName = ImapRequestBody['command'];
