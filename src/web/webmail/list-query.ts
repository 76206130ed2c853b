/**
 * The message list's query: which messages (search) and in what order
 * (sort), read from the page's URL.
 *
 * Searching is IMAP SEARCH's evaluator (protocols/imap/search), given a
 * criteria tree built here, so the webmail and IMAP clients find the same
 * messages the same way (folding, decoded headers, body text). The words
 * typed must all match (each a TEXT, FROM, TO, SUBJECT or BODY key);
 * a phrase in double quotes is one word.
 */
import { loadMessageIndex } from '../../mail/message-index.js';
import type { MessageRecord, Store } from '../../store/types.js';
import { CONTENT_LOADS_IN_FLIGHT, StoreMessageContent, type SessionMessage } from '../../protocols/imap/message-content.js';
import { searchMessages } from '../../protocols/imap/search/index.js';
import type { SearchKey } from '../../protocols/imap/wire/request.js';

export type SortField = 'date' | 'from' | 'subject' | 'size';
export type SearchField = 'all' | 'from' | 'to' | 'subject' | 'body';

export const sortFields: readonly SortField[] = ['date', 'from', 'subject', 'size'];
export const searchFields: ReadonlyArray<readonly [SearchField, string]> = [
  ['all', 'Everything'], ['from', 'From'], ['to', 'To'], ['subject', 'Subject'], ['body', 'Body'],
];

export interface ListQuery {
  sort: SortField;
  descending: boolean;
  /** The search text as typed; '' for none. */
  q: string;
  field: SearchField;
  unreadOnly: boolean;
  flaggedOnly: boolean;
  page: number;
}

const maxQueryChars = 200;

export function readListQuery(params: URLSearchParams): ListQuery {
  const sort = params.get('sort') as SortField | null;
  const field = params.get('in') as SearchField | null;
  return {
    sort: sort && sortFields.includes(sort) ? sort : 'date',
    // Newest first by default; names and subjects A to Z unless asked otherwise.
    descending: params.has('order') ? params.get('order') !== 'asc' : !(sort === 'from' || sort === 'subject'),
    q: (params.get('q') ?? '').trim().slice(0, maxQueryChars),
    field: field && searchFields.some(([f]) => f === field) ? field : 'all',
    unreadOnly: params.get('unread') === '1',
    flaggedOnly: params.get('flagged') === '1',
    page: Math.max(1, Math.floor(Number(params.get('page'))) || 1),
  };
}

/** The URL parameters of a query (page and defaults left out), for links that keep it. */
export function listParams(q: ListQuery, change: Partial<ListQuery> = {}): URLSearchParams {
  const v = { ...q, ...change };
  const p = new URLSearchParams();
  if (v.q) p.set('q', v.q);
  if (v.q && v.field !== 'all') p.set('in', v.field);
  if (v.unreadOnly) p.set('unread', '1');
  if (v.flaggedOnly) p.set('flagged', '1');
  if (v.sort !== 'date') p.set('sort', v.sort);
  const defaultDescending = !(v.sort === 'from' || v.sort === 'subject');
  if (v.descending !== defaultDescending) p.set('order', v.descending ? 'desc' : 'asc');
  if (v.page > 1) p.set('page', String(v.page));
  return p;
}

/** Words of the search text; "a phrase" is one word. */
export function searchWords(text: string): string[] {
  const words: string[] = [];
  for (const m of text.matchAll(/"([^"]*)"|(\S+)/g)) {
    const w = (m[1] ?? m[2] ?? '').trim();
    if (w) words.push(w);
  }
  return words.slice(0, 10);
}

const keyOf: Record<SearchField, 'TEXT' | 'FROM' | 'TO' | 'SUBJECT' | 'BODY'> = { all: 'TEXT', from: 'FROM', to: 'TO', subject: 'SUBJECT', body: 'BODY' };

/** The SEARCH criteria of a query, or null when it selects everything. */
export function criteriaOf(q: ListQuery): SearchKey | null {
  const operands: SearchKey[] = searchWords(q.q).map((value) => ({ key: keyOf[q.field], value }));
  if (q.unreadOnly) operands.push({ key: 'UNSEEN' });
  if (q.flaggedOnly) operands.push({ key: 'FLAGGED' });
  return operands.length === 0 ? null : { key: 'AND', operands };
}

/** The messages of a mailbox the query selects, in its order. */
export async function selectMessages(store: Store, records: MessageRecord[], q: ListQuery): Promise<MessageRecord[]> {
  records = [...records].sort((a, b) => a.uid - b.uid);
  const criteria = criteriaOf(q);
  const content = new StoreMessageContent(store);
  if (criteria) {
    const view: SessionMessage[] = records.map((record, i) => ({ seq: i + 1, record }));
    const last = records[records.length - 1];
    const hits = await searchMessages(criteria, view, { content, maxSeq: view.length, maxUid: last?.uid ?? 0, savedUids: null }, { charset: 'UTF-8', loadsInFlight: CONTENT_LOADS_IN_FLIGHT });
    records = hits.map((m) => m.record);
  }
  const direction = q.descending ? -1 : 1;
  // Ties (same date, same sender) keep arrival order, newest first.
  const tie = (a: MessageRecord, b: MessageRecord): number => b.uid - a.uid;
  if (q.sort === 'date') return records.sort((a, b) => direction * (a.internalDate.getTime() - b.internalDate.getTime()) || tie(a, b));
  if (q.sort === 'size') return records.sort((a, b) => direction * (a.size - b.size) || tie(a, b));
  const keys = new Map<MessageRecord, string>();
  for (const r of records) {
    const h = (await content.index(r)).headers;
    const text = q.sort === 'from' ? (h.from[0]?.name || h.from[0]?.address || '') : (h.subject ?? '').replace(/^\s*((re|fwd?|aw|wg)\s*:\s*)+/i, '');
    keys.set(r, text.trim().toLowerCase());
  }
  const collator = new Intl.Collator(undefined, { sensitivity: 'base', numeric: true });
  return records.sort((a, b) => direction * collator.compare(keys.get(a)!, keys.get(b)!) || tie(a, b));
}

/** Loads what a list row shows. */
export async function listed(store: Store, record: MessageRecord): Promise<{ from: string; to: string; subject: string }> {
  const h = (await loadMessageIndex(store, record.blobId)).headers;
  const names = (list: { name: string; address: string }[]) => list.map((a) => a.name || a.address).join(', ');
  return { from: names(h.from), to: names(h.to), subject: h.subject ?? '' };
}
