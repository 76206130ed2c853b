/**
 * The signed-in user's own mail: /api/v1/mailboxes (with unread counts)
 * and /api/v1/mailboxes/{name}/messages (one page of a folder's list).
 * Always the caller's own mailboxes, whatever its role: a principal with no
 * user behind it (an admin token) has none, and no role reads another
 * user's mail here (the API is no way around the owner's password).
 *
 * Two caches in this process keep a page of a large folder cheap (the
 * bench: bench/web.ts, a 10,000-message folder):
 * - a list row's From and Subject, per blob: they come from the message's
 *   MIME index, which never changes for a blob (content-addressed);
 * - a folder's sorted message list, under the folder's state (id,
 *   UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ): every delivery, flag change and
 *   expunge moves UIDNEXT or HIGHESTMODSEQ (RFC 7162), on any node, so a
 *   cached list is used only while the folder is exactly as it was read.
 *   The mailbox row is read before the messages, so a list is never filed
 *   under a state newer than itself.
 */
import type { Mailbox, MessageRecord, User } from '../../store/types.js';
import { loadMessageIndex } from '../../mail/message-index.js';
import type { Principal } from '../auth.js';
import { ApiError } from '../errors.js';
import { everyone, ok, route, type AnyRoute, type WebContext } from '../route.js';
import { s } from '../schema.js';
import { listOf } from './schemas.js';

const addressSchema = s.named('MailAddress', s.object({
  name: s.string({ description: 'Display name, decoded (RFC 2047); empty when none.' }),
  address: s.string({ description: 'local@domain as written.' }),
}, ['name', 'address']));

const mailboxSchema = s.named('Mailbox', s.object({
  name: s.string({ description: 'Full name, "/" between levels; INBOX is upper case.', example: 'INBOX' }),
  specialUse: s.nullable(s.string({ description: 'RFC 6154 role: \\Sent, \\Drafts, \\Trash, \\Junk, \\Archive.' })),
  messages: s.integer({ minimum: 0 }),
  unread: s.integer({ minimum: 0, description: 'Messages without \\Seen.' }),
  sizeBytes: s.integer({ minimum: 0 }),
  subscribed: s.boolean(),
}, ['name', 'specialUse', 'messages', 'unread', 'sizeBytes', 'subscribed']));

const messageSummarySchema = s.named('MessageSummary', s.object({
  uid: s.integer({ minimum: 1, description: 'The IMAP UID: stable while the folder\'s uidValidity stays.' }),
  flags: s.array(s.string(), { description: 'IMAP flags and keywords, e.g. \\Seen, \\Flagged, $Forwarded.' }),
  date: s.string({ format: 'date-time', description: 'When the message arrived (IMAP INTERNALDATE).' }),
  from: s.array(addressSchema),
  subject: s.string({ description: 'Decoded; empty when the message has none.' }),
  size: s.integer({ minimum: 0, description: 'Bytes as stored (RFC822.SIZE).' }),
}, ['uid', 'flags', 'date', 'from', 'subject', 'size']));

const sortKeys = ['date', '-date', 'uid', '-uid', 'size', '-size', 'from', '-from', 'subject', '-subject'] as const;
type SortKey = (typeof sortKeys)[number];

const pageSchema = s.object({
  mailbox: s.string(),
  uidValidity: s.integer({ minimum: 1 }),
  total: s.integer({ minimum: 0, description: 'Messages in the folder.' }),
  page: s.integer({ minimum: 1 }),
  pageSize: s.integer({ minimum: 1 }),
  pages: s.integer({ minimum: 1 }),
  sort: s.enum(sortKeys),
  messages: s.array(messageSummarySchema),
}, ['mailbox', 'uidValidity', 'total', 'page', 'pageSize', 'pages', 'sort', 'messages']);

/** What a list row shows of a message, from its MIME index. */
interface Summary {
  from: { name: string; address: string }[];
  subject: string;
}

/** Rows cached per blob; bounded, the stalest first out. */
const MAX_CACHED_SUMMARIES = 50_000;
const summaries = new Map<string, Summary>();

async function summaryOf(ctx: WebContext, record: MessageRecord): Promise<Summary> {
  const cached = summaries.get(record.blobId);
  if (cached) return cached;
  const headers = (await loadMessageIndex(ctx.store, record.blobId)).headers;
  const summary = { from: headers.from.map((a) => ({ name: a.name, address: a.address })), subject: headers.subject ?? '' };
  summaries.set(record.blobId, summary);
  if (summaries.size > MAX_CACHED_SUMMARIES) summaries.delete(summaries.keys().next().value as string);
  return summary;
}

/** Loads summaries a few at a time (a sort by sender reads every message's index once, then the cache has them). */
async function summariesOf(ctx: WebContext, records: readonly MessageRecord[]): Promise<Summary[]> {
  const out: Summary[] = new Array(records.length);
  let next = 0;
  const worker = async () => {
    while (next < records.length) {
      const i = next++;
      out[i] = await summaryOf(ctx, records[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, records.length) }, worker));
  return out;
}

/** The caller's own user: a principal with no user behind it has no mail. */
async function ownUser(ctx: WebContext, p: Principal): Promise<User> {
  if (!p.subject) throw new ApiError('forbidden', 'These credentials belong to no user, so they have no mail; use a user\'s password, session or token.');
  const user = await ctx.store.directory.getUser(p.subject);
  if (!user) throw new ApiError('not-found', `There is no user ${p.subject}.`);
  return user;
}

/** Sorted lists of recently listed folders, by folder state; bounded by the records they hold. */
const MAX_CACHED_RECORDS = 200_000;
const folderLists = new Map<string, { records: MessageRecord[]; orders: Map<SortKey, MessageRecord[]> }>();
let cachedRecords = 0;

async function folderList(ctx: WebContext, box: Mailbox, sort: SortKey): Promise<MessageRecord[]> {
  const state = `${box.id}/${box.uidValidity}/${box.uidNext}/${box.highestModSeq}`;
  let entry = folderLists.get(state);
  if (!entry) {
    const records = await ctx.store.mail.listMessages(box.id);
    entry = { records, orders: new Map() };
    folderLists.set(state, entry);
    cachedRecords += records.length;
    // The stalest first out (a Map iterates in insertion order); a folder's older states go this way too.
    while (cachedRecords > MAX_CACHED_RECORDS && folderLists.size > 1) {
      const [oldest, old] = folderLists.entries().next().value as [string, { records: MessageRecord[] }];
      folderLists.delete(oldest);
      cachedRecords -= old.records.length;
    }
  } else {
    // Used again: move it to the fresh end.
    folderLists.delete(state);
    folderLists.set(state, entry);
  }
  let order = entry.orders.get(sort);
  if (!order) {
    order = await sorted(ctx, [...entry.records], sort);
    entry.orders.set(sort, order);
  }
  return order;
}

async function sorted(ctx: WebContext, records: MessageRecord[], sort: SortKey): Promise<MessageRecord[]> {
  const descending = sort.startsWith('-');
  const field = descending ? sort.slice(1) : sort;
  const direction = descending ? -1 : 1;
  // Ties keep arrival order, newest first.
  const tie = (a: MessageRecord, b: MessageRecord): number => b.uid - a.uid;
  if (field === 'uid') return records.sort((a, b) => direction * (a.uid - b.uid));
  if (field === 'date') return records.sort((a, b) => direction * (a.internalDate.getTime() - b.internalDate.getTime()) || tie(a, b));
  if (field === 'size') return records.sort((a, b) => direction * (a.size - b.size) || tie(a, b));
  const rows = await summariesOf(ctx, records);
  const keys = new Map<MessageRecord, string>();
  records.forEach((r, i) => {
    const row = rows[i]!;
    const text = field === 'from' ? (row.from[0]?.name || row.from[0]?.address || '') : row.subject.replace(/^\s*((re|fwd?|aw|wg)\s*:\s*)+/i, '');
    keys.set(r, text.trim().toLowerCase());
  });
  const collator = new Intl.Collator(undefined, { sensitivity: 'base', numeric: true });
  return records.sort((a, b) => direction * collator.compare(keys.get(a)!, keys.get(b)!) || tie(a, b));
}

export const mailRoutes: AnyRoute[] = [
  route({
    method: 'GET', path: '/api/v1/mailboxes', operationId: 'listMailboxes', tag: 'Mail', access: everyone,
    summary: 'Your own mailboxes, with their message and unread counts.',
    success: { status: 200, description: 'The mailboxes, INBOX first, then by name.', schema: listOf('mailboxes', mailboxSchema) },
    errors: [],
    async handler({ ctx, principal }) {
      const user = await ownUser(ctx, principal);
      const boxes = (await ctx.store.mail.listMailboxes(user.id))
        .sort((a, b) => (a.name === 'INBOX' ? -1 : b.name === 'INBOX' ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const mailboxes = await Promise.all(boxes.map(async (b) => {
        const status = await ctx.store.mail.mailboxStatus(b.id);
        return { name: b.name, specialUse: b.specialUse, messages: status.messages, unread: status.unseen, sizeBytes: status.sizeBytes, subscribed: b.subscribed };
      }));
      return ok({ mailboxes });
    },
  }),
  route({
    method: 'GET', path: '/api/v1/mailboxes/{name}/messages', operationId: 'listMessages', tag: 'Mail', access: everyone,
    summary: 'One page of the messages of one of your mailboxes.',
    params: s.object({ name: s.string({ description: 'The mailbox\'s full name, percent-encoded ("/" as %2F).' }) }, ['name']),
    query: s.object({
      page: s.integer({ minimum: 1, description: 'Which page, from 1 (default 1); past the last is an empty page.' }),
      pageSize: s.integer({ minimum: 1, maximum: 500, description: 'Messages per page (default 50).' }),
      sort: s.enum(sortKeys, { description: 'Order: date, uid, size, from or subject; "-" first for descending (default -date, newest first).' }),
    }),
    success: { status: 200, description: 'The page, with the folder\'s total.', schema: pageSchema },
    errors: ['not-found'],
    async handler({ ctx, principal, params, query }) {
      const user = await ownUser(ctx, principal);
      const box = await ctx.store.mail.getMailbox(user.id, params.name);
      if (!box) throw new ApiError('not-found', `You have no mailbox ${params.name}.`);
      const page = query.page ?? 1;
      const pageSize = query.pageSize ?? 50;
      const sort: SortKey = query.sort ?? '-date';
      const all = await folderList(ctx, box, sort);
      const slice = all.slice((page - 1) * pageSize, page * pageSize);
      const rows = await summariesOf(ctx, slice);
      return ok({
        mailbox: box.name,
        uidValidity: box.uidValidity,
        total: all.length,
        page,
        pageSize,
        pages: Math.max(1, Math.ceil(all.length / pageSize)),
        sort,
        messages: slice.map((m, i) => ({
          uid: m.uid, flags: m.flags, date: m.internalDate.toISOString(), from: rows[i]!.from, subject: rows[i]!.subject, size: m.size,
        })),
      });
    },
  }),
];
