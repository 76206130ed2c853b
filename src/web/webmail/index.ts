/**
 * The webmail at / on every node: server-rendered pages and plain forms
 * that post back with the session's CSRF token; every page works without
 * script. One small same-origin script (assets.ts) adds live updates and
 * keyboard navigation; the Content-Security-Policy allows no other.
 * Mail is read and changed through the same store calls IMAP uses
 * (updateFlags, moveMessages) and searched with IMAP's SEARCH evaluator,
 * so both see the same state; sessions are store tokens (session.ts), so
 * any node serves any signed-in user.
 *
 *   GET  /                      sign-in form, or to the INBOX when signed in
 *   POST /login, /logout
 *   GET  /mail?box=&page=&sort=&order=&q=&in=&unread=&flagged=
 *                               folders with unread counts; the folder's messages, sorted, searched, paged
 *   GET  /mail/events           live updates (Server-Sent Events, live.ts)
 *   GET  /message?box=&uid=[&images=1]
 *                               reading (marks it seen: the one change a GET makes, as in every webmail)
 *   GET  /part?box=&uid=&section=  an attachment, as a download
 *   POST /flag, /seen, /move, /delete  flag/unflag; mark unread; move; delete to Trash
 *   GET  /compose[?mode=reply|reply-all|forward&box=&uid=], POST /compose  writing and sending
 *   GET  /assets/webmail.css, /assets/webmail.js
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../log.js';
import { loadMessageIndex } from '../../mail/message-index.js';
import type { Mailbox, MailboxId, MessageRecord, Store, Uid, User } from '../../store/types.js';
import type { AuthThrottle } from '../auth.js';
import { clientScript } from './assets.js';
import { HttpFailure, readForm, type PostedForm } from '../forms.js';
import { redirect, refuseForeignOrigin, sendHtml, signedInCookies, signIn, type Headers } from '../pages.js';
import { escapeHtml, page, stylesheet, webmailCsp, csrfField, topBar } from './html.js';
import { listed, listParams, readListQuery, searchFields, selectMessages, type ListQuery, type SortField } from './list-query.js';
import { LiveUpdates } from './live.js';
import { displayedText, partBySection, partBytes, renderBody } from './message-view.js';
import { composeModeOf, composeSeed, threadOf, type ComposeMode, type ComposeSeed } from './reply.js';
import { sendDraft, SendError, type Draft, type DraftAttachment } from './send.js';
import {
  cookieHeader, loginCookie, newLoginToken, readCookies, sameSecret, sessionCookie, sessionOf, type WebSession,
} from './session.js';

export interface WebmailOptions {
  store: Store;
  hostname: string;
  nodeName: string;
  logger: Logger;
  /** Served over HTTPS: cookies get Secure. */
  secure: boolean;
  /** The node's login throttle, shared with the API, IMAP, POP3 and SMTP and (through the store) every node. */
  throttle: AuthThrottle;
  /** The node's limits in force (read at each send): a message with its attachments may not exceed maxMessageBytes. */
  limits?: { maxMessageBytes: number };
  /** Live-update streams open at once on the node. */
  maxEventStreams?: number;
  /** A comment line on a quiet live-update stream this often. */
  eventKeepaliveMs?: number;
}

export interface Webmail {
  /** Answers the request if it is one of the webmail's; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL, client: string): Promise<boolean>;
  /** Ends the live-update streams (the service is closing). */
  close(): void;
}

const pageSize = 25;
/**
 * Live-update streams of one session (a browser's tabs); more get 503, which
 * ends EventSource's retries, and those tabs work without. Four leaves a
 * browser's ~6 connections per site free for the pages themselves.
 */
const maxStreamsPerSession = 4;
const defaultMaxMessageBytes = 25 * 1024 * 1024;
const ownPaths = new Set(['/', '/login', '/logout', '/mail', '/mail/events', '/message', '/part', '/flag', '/seen', '/move', '/delete', '/compose',
  '/assets/webmail.css', '/assets/webmail.js']);

function sendPage(res: ServerResponse, status: number, html: string, headers: Headers = {}, csp = webmailCsp()): void {
  sendHtml(res, status, html, csp, headers);
}

function mailUrl(box: string, query?: URLSearchParams): string {
  const rest = query?.toString();
  return `/mail?box=${encodeURIComponent(box)}${rest ? `&${rest}` : ''}`;
}

function messageUrl(box: string, uid: number, extra = ''): string {
  return `/message?box=${encodeURIComponent(box)}&uid=${uid}${extra}`;
}

function displayAddress(list: { name: string; address: string }[]): string {
  return list.map((a) => (a.name ? `${a.name} <${a.address}>` : a.address)).join(', ');
}

function formatWhen(d: Date): string {
  return d.toISOString().slice(0, 16).replace('T', ' ');
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

function folderOrder(a: Mailbox, b: Mailbox): number {
  if (a.name === 'INBOX') return -1;
  if (b.name === 'INBOX') return 1;
  return a.name.localeCompare(b.name);
}

const sortLabels: Record<SortField, string> = { date: 'Received', from: 'From', subject: 'Subject', size: 'Size' };

export function createWebmail(opts: WebmailOptions): Webmail {
  const { store, logger, throttle } = opts;
  const live = new LiveUpdates({
    store, logger, maxStreams: opts.maxEventStreams ?? 1000, maxStreamsPerSession, keepaliveMs: opts.eventKeepaliveMs ?? 15_000,
  });
  const maxMessageBytes = (): number => opts.limits?.maxMessageBytes ?? defaultMaxMessageBytes;

  const loginPage = (res: ServerResponse, req: IncomingMessage, status: number, message: string | null, address = ''): void => {
    const token = readCookies(req).get(loginCookie) ?? newLoginToken();
    sendPage(res, status, page('Sign in', `<main class="login" id="main">
<h1>Sign in</h1>
${message ? `<p class="error" role="alert">${escapeHtml(message)}</p>` : ''}
<form method="post" action="/login">
<input type="hidden" name="csrf" value="${escapeHtml(token)}">
<label for="address">Address</label>
<input type="email" id="address" name="address" autocomplete="username" required value="${escapeHtml(address)}">
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<p><button type="submit">Sign in</button></p>
</form>
</main>`), { 'Set-Cookie': cookieHeader(loginCookie, token, { secure: opts.secure }) });
  };

  const folderNav = async (user: User, current: string): Promise<string> => {
    const boxes = (await store.mail.listMailboxes(user.id)).sort(folderOrder);
    const items: string[] = [];
    for (const b of boxes) {
      const { unseen } = await store.mail.mailboxStatus(b.id);
      const label = `${escapeHtml(b.name)}${unseen > 0 ? ` <span class="count">(${unseen} unread)</span>` : ''}`;
      items.push(`<li><a href="${mailUrl(b.name)}"${b.name === current ? ' aria-current="page"' : ''}>${label}</a></li>`);
    }
    return `<nav class="folders" aria-label="Folders"><ul>${items.join('')}</ul></nav>`;
  };

  const mailboxOf = async (user: User, name: string | null): Promise<Mailbox> => {
    const box = name ? await store.mail.getMailbox(user.id, name) : null;
    if (!box) throw new HttpFailure(404, `There is no folder ${name ?? ''}.`);
    return box;
  };

  const messageOf = async (box: Mailbox, uidText: string | null): Promise<MessageRecord> => {
    const uid = Number(uidText);
    if (!Number.isSafeInteger(uid) || uid <= 0) throw new HttpFailure(400, 'The message number is not valid.');
    const record = (await store.mail.listMessages(box.id)).find((m) => m.uid === uid);
    if (!record) throw new HttpFailure(404, 'That message is no longer in this folder.');
    return record;
  };

  const searchForm = (box: Mailbox, q: ListQuery): string => {
    const keep = listParams(q, { q: '', field: 'all', unreadOnly: false, flaggedOnly: false, page: 1 });
    const hidden = [`<input type="hidden" name="box" value="${escapeHtml(box.name)}">`,
      ...[...keep].map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)].join('');
    const options = searchFields.map(([f, label]) => `<option value="${f}"${q.field === f ? ' selected' : ''}>${label}</option>`).join('');
    const check = (name: string, label: string, on: boolean) =>
      `<span class="inline-check"><input type="checkbox" id="${name}" name="${name}" value="1"${on ? ' checked' : ''}><label for="${name}">${label}</label></span>`;
    const searching = q.q || q.unreadOnly || q.flaggedOnly;
    return `<form class="search" method="get" action="/mail" role="search">${hidden}
<span><label for="q">Search</label><input type="search" id="q" name="q" value="${escapeHtml(q.q)}" maxlength="200"></span>
<span><label for="in">Search in</label><select id="in" name="in">${options}</select></span>
${check('unread', 'Unread only', q.unreadOnly)} ${check('flagged', 'Flagged only', q.flaggedOnly)}
<button type="submit">Search</button>${searching ? ` <a href="${mailUrl(box.name, keep)}">Clear search</a>` : ''}
</form>`;
  };

  const listPage = async (res: ServerResponse, session: WebSession, url: URL): Promise<void> => {
    const box = await mailboxOf(session.user, url.searchParams.get('box') ?? 'INBOX');
    const q = readListQuery(url.searchParams);
    const all = await selectMessages(store, await store.mail.listMessages(box.id), q);
    const pages = Math.max(1, Math.ceil(all.length / pageSize));
    const pageNo = Math.min(pages, q.page);
    const sent = box.specialUse === '\\Sent';
    const rows: string[] = [];
    for (const m of all.slice((pageNo - 1) * pageSize, pageNo * pageSize)) {
      const shown = await listed(store, m);
      const seen = m.flags.includes('\\Seen');
      const flagged = m.flags.includes('\\Flagged');
      const who = (sent ? shown.to : shown.from) || '(nobody)';
      rows.push(`<tr${seen ? '' : ' class="unread"'}>
<td>${flagged ? '<span title="Flagged">★ Flagged</span>' : ''}${seen ? '' : ' <span>Unread</span>'}</td>
<td>${escapeHtml(who)}</td>
<td class="subject"><a class="subject" href="${messageUrl(box.name, m.uid)}">${escapeHtml(shown.subject || '(no subject)')}</a></td>
<td>${formatWhen(m.internalDate)}</td>
<td class="size">${formatSize(m.size)}</td>
</tr>`);
    }
    const header = (field: SortField): string => {
      const label = field === 'from' && sent ? 'To' : sortLabels[field];
      const current = q.sort === field;
      // The current column's link turns the order around; another column starts in its natural order.
      const href = mailUrl(box.name, current ? listParams(q, { descending: !q.descending, page: 1 }) : listParams({ ...q, page: 1, sort: field, descending: !(field === 'from' || field === 'subject') }));
      const sort = current ? ` aria-sort="${q.descending ? 'descending' : 'ascending'}"` : '';
      return `<th scope="col"${sort}><a href="${href}">${label}</a>${current ? `<span aria-hidden="true"> ${q.descending ? '▼' : '▲'}</span>` : ''}</th>`;
    };
    const pageLink = (n: number, text: string) => `<a href="${mailUrl(box.name, listParams(q, { page: n }))}">${text}</a>`;
    const pager = pages > 1
      ? `<p class="pager">${pageNo > 1 ? `${pageLink(pageNo - 1, 'Previous page')} ` : ''}Page ${pageNo} of ${pages}${pageNo < pages ? ` ${pageLink(pageNo + 1, 'Next page')}` : ''}</p>`
      : '';
    const searching = q.q || q.unreadOnly || q.flaggedOnly;
    const flash = url.searchParams.get('sent') ? '<p class="notice" role="status">Message sent.</p>'
      : url.searchParams.get('moved') ? `<p class="notice" role="status">Moved to ${escapeHtml(url.searchParams.get('moved')!)}.</p>` : '';
    sendPage(res, 200, page(box.name, `${topBar(session)}
<div class="layout">
${await folderNav(session.user, box.name)}
<main id="main">
<h1>${escapeHtml(box.name)}</h1>
${flash}
${searchForm(box, q)}
<div id="message-list">
${searching ? `<p role="status">${all.length} ${all.length === 1 ? 'message matches' : 'messages match'}.</p>` : ''}
${rows.length === 0 ? '<p>No messages.</p>' : `<table class="messages">
<thead><tr><th scope="col">State</th>${header('from')}${header('subject')}${header('date')}${header('size')}</tr></thead>
<tbody>${rows.join('\n')}</tbody>
</table>`}
${pager}
</div>
</main>
</div>`, { listUrl: mailUrl(box.name, listParams(q)) }));
  };

  const readPage = async (res: ServerResponse, session: WebSession, url: URL): Promise<void> => {
    const box = await mailboxOf(session.user, url.searchParams.get('box'));
    let record = await messageOf(box, url.searchParams.get('uid'));
    if (!record.flags.includes('\\Seen')) {
      const r = await store.mail.updateFlags(box.id, [record.uid], { operation: 'add', flags: ['\\Seen'] });
      record = r.updated[0] ?? record;
    }
    const images = url.searchParams.get('images') === '1';
    const bytes = await store.blobs.get(record.blobId);
    const index = await loadMessageIndex(store, record.blobId, bytes);
    const h = index.headers;
    const body = renderBody(bytes, index, { images });
    const flagged = record.flags.includes('\\Flagged');
    const hidden = `${csrfField(session)}<input type="hidden" name="box" value="${escapeHtml(box.name)}"><input type="hidden" name="uid" value="${record.uid}">`;
    const attachments = body.attachments.length === 0 ? '' : `<section aria-label="Attachments"><h2>Attachments</h2><ul>${body.attachments.map((a) =>
      `<li><a href="/part?box=${encodeURIComponent(box.name)}&amp;uid=${record.uid}&amp;section=${encodeURIComponent(a.section)}" download>${escapeHtml(a.fileName)}</a> (${escapeHtml(a.mediaType)}, ${a.size} bytes)</li>`).join('')}</ul></section>`;
    const row = (name: string, value: string): string => (value ? `<tr><th scope="row">${name}</th><td>${escapeHtml(value)}</td></tr>` : '');
    const others = (await store.mail.listMailboxes(session.user.id)).filter((b) => b.id !== box.id).sort(folderOrder);
    const move = others.length === 0 ? '' : `<form method="post" action="/move">${hidden}<label for="move-to">Move to</label> <select id="move-to" name="to">${others.map((b) =>
      `<option value="${escapeHtml(b.name)}">${escapeHtml(b.name)}</option>`).join('')}</select> <button type="submit">Move</button></form>`;
    const compose = (mode: ComposeMode) => `/compose?mode=${mode}&amp;box=${encodeURIComponent(box.name)}&amp;uid=${record.uid}`;
    const imageNote = images
      ? `<p class="images-note">Remote images are shown for this message. <a href="${escapeHtml(messageUrl(box.name, record.uid))}">Hide images</a></p>`
      : body.remoteImages
        ? `<p class="images-note">Remote images are blocked (they can tell the sender you read this). <a href="${escapeHtml(messageUrl(box.name, record.uid, '&images=1'))}">Show images</a></p>`
        : '';
    sendPage(res, 200, page(h.subject || '(no subject)', `${topBar(session)}
<div class="layout">
${await folderNav(session.user, box.name)}
<main id="main">
<p><a id="back-to-list" href="${escapeHtml(mailUrl(box.name))}">Back to ${escapeHtml(box.name)}</a></p>
<h1>${escapeHtml(h.subject || '(no subject)')}</h1>
<table class="headers">
${row('From', displayAddress(h.from))}${row('To', displayAddress(h.to))}${row('Cc', displayAddress(h.cc))}${row('Date', h.date ?? formatWhen(record.internalDate))}
</table>
<div class="actions">
<a href="${compose('reply')}">Reply</a>
<a href="${compose('reply-all')}">Reply all</a>
<a href="${compose('forward')}">Forward</a>
<form method="post" action="/flag">${hidden}<input type="hidden" name="flagged" value="${flagged ? '0' : '1'}"><button type="submit">${flagged ? 'Unflag' : 'Flag'}</button></form>
<form method="post" action="/seen">${hidden}<input type="hidden" name="seen" value="0"><button type="submit">Mark unread</button></form>
<form method="post" action="/delete">${hidden}<button type="submit">Delete</button></form>
${move}
</div>
${flagged ? '<p><span title="Flagged">★ Flagged</span></p>' : ''}
${imageNote}
<article class="message-body">${body.html || '<p>(This message has no text.)</p>'}</article>
${attachments}
</main>
</div>`, { listUrl: mailUrl(box.name) }), {}, webmailCsp({ remoteImages: images }));
  };

  const partDownload = async (res: ServerResponse, session: WebSession, url: URL): Promise<void> => {
    const box = await mailboxOf(session.user, url.searchParams.get('box'));
    const record = await messageOf(box, url.searchParams.get('uid'));
    const bytes = await store.blobs.get(record.blobId);
    const index = await loadMessageIndex(store, record.blobId, bytes);
    const part = partBySection(index.root, url.searchParams.get('section') ?? '');
    if (!part) throw new HttpFailure(404, 'The message has no such part.');
    const data = part.kind === 'message' ? bytes.subarray(part.bodyStart, part.bodyEnd) : partBytes(bytes, part);
    const name = part.fileName ?? `part-${part.section || '1'}`;
    const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Disposition': `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`,
      'Content-Length': String(data.length),
      'Content-Security-Policy': "default-src 'none'; sandbox",
      'Cache-Control': 'no-store',
    });
    res.end(data);
  };

  /** The message a reply or forward starts from (named by the form or URL). */
  interface Original {
    mode: ComposeMode;
    box: Mailbox;
    record: MessageRecord;
    bytes: Buffer;
    index: Awaited<ReturnType<typeof loadMessageIndex>>;
  }

  const originalOf = async (session: WebSession, params: URLSearchParams): Promise<Original | null> => {
    const mode = composeModeOf(params.get('mode'));
    if (!mode) return null;
    const box = await mailboxOf(session.user, params.get('box'));
    const record = await messageOf(box, params.get('uid'));
    const bytes = await store.blobs.get(record.blobId);
    return { mode, box, record, bytes, index: await loadMessageIndex(store, record.blobId, bytes) };
  };

  const composePage = (res: ServerResponse, session: WebSession, status: number, seed: ComposeSeed, original: Original | null, error: string | null = null, kept: Set<string> | null = null): void => {
    const originalFields = original
      ? `<input type="hidden" name="mode" value="${original.mode}"><input type="hidden" name="box" value="${escapeHtml(original.box.name)}"><input type="hidden" name="uid" value="${original.record.uid}">`
      : '';
    const carried = original?.mode === 'forward' ? renderBody(original.bytes, original.index).attachments : [];
    const carriedList = carried.length === 0 ? '' : `<fieldset><legend>Attachments of the forwarded message</legend>${carried.map((a, i) =>
      `<span class="inline-check"><input type="checkbox" id="keep-${i}" name="keep" value="${escapeHtml(a.section)}"${!kept || kept.has(a.section) ? ' checked' : ''}><label for="keep-${i}">Include ${escapeHtml(a.fileName)}</label></span>`).join(' ')}</fieldset>`;
    // The parser drops a newline right after <textarea>: one is written so a reply's leading blank lines survive.
    const heading = original ? { reply: 'Reply', 'reply-all': 'Reply to all', forward: 'Forward' }[original.mode] : 'Write a message';
    sendPage(res, status, page('Write', `${topBar(session)}
<main id="main">
<h1>${heading}</h1>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/compose" enctype="multipart/form-data">
${csrfField(session)}${originalFields}
<label for="to">To</label>
<input type="text" id="to" name="to" value="${escapeHtml(seed.to)}" autocomplete="off">
<label for="cc">Cc</label>
<input type="text" id="cc" name="cc" value="${escapeHtml(seed.cc)}" autocomplete="off">
<label for="subject">Subject</label>
<input type="text" id="subject" name="subject" value="${escapeHtml(seed.subject)}">
<label for="body">Message</label>
<textarea id="body" name="body">
${escapeHtml(seed.body)}</textarea>
<label for="attachments">Attachments</label>
<input type="file" id="attachments" name="attachments" multiple>
${carriedList}
<p><button type="submit">Send</button> <a href="/mail?box=INBOX">Cancel</a></p>
</form>
</main>`));
  };

  const composeForm = async (res: ServerResponse, session: WebSession, url: URL): Promise<void> => {
    const original = await originalOf(session, url.searchParams);
    if (!original) return composePage(res, session, 200, { to: '', cc: '', subject: '', body: '' }, null);
    const shown = renderBody(original.bytes, original.index);
    const when = original.index.headers.date ?? formatWhen(original.record.internalDate);
    const seed = composeSeed(original.mode, original.index, displayedText(original.bytes, original.index, shown.shownSections), session.user.address, when);
    composePage(res, session, 200, seed, original);
  };

  const send = async (req: IncomingMessage, res: ServerResponse, session: WebSession, client: string): Promise<void> => {
    // The multipart body holds the attachments as raw bytes; base64 in the message makes them a third larger.
    const form = await checkedForm(req, session, maxMessageBytes() + 1024 * 1024);
    const f = form.fields;
    const seed = { to: f.get('to') ?? '', cc: f.get('cc') ?? '', subject: f.get('subject') ?? '', body: f.get('body') ?? '' };
    const kept = new Set(f.getAll('keep'));
    let original: Original | null;
    try {
      original = await originalOf(session, f);
    } catch (err) {
      if (!(err instanceof HttpFailure)) throw err;
      // Moved or deleted while the reply was written: keep the text, as a new message.
      return composePage(res, session, 409, seed, null, 'The message this answers or forwards has been moved or deleted. Your text is kept below; send it as a new message.');
    }
    const draft: Draft = { ...seed, attachments: form.files.map((file): DraftAttachment => ({ ...file })) };
    if (original && original.mode !== 'forward') Object.assign(draft, threadOf(original.bytes, original.index));
    if (original?.mode === 'forward') {
      // The original's attachments, read from the store (the form only says which to keep).
      const carried: DraftAttachment[] = [];
      for (const a of renderBody(original.bytes, original.index).attachments) {
        if (!kept.has(a.section)) continue;
        const part = partBySection(original.index.root, a.section)!;
        const data = part.kind === 'message' ? original.bytes.subarray(part.bodyStart, part.bodyEnd) : partBytes(original.bytes, part);
        carried.push({ fileName: a.fileName, mediaType: a.mediaType, data: Buffer.from(data) });
      }
      draft.attachments = [...carried, ...draft.attachments!];
    }
    try {
      const r = await sendDraft(store, session.user, draft, { hostname: opts.hostname, nodeName: opts.nodeName, clientAddress: client, maxMessageBytes: maxMessageBytes() });
      logger.info({ user: session.user.address, local: r.local, queued: r.queued, attachments: draft.attachments!.length }, 'webmail message sent');
    } catch (err) {
      if (!(err instanceof SendError)) throw err;
      const again = form.files.length > 0 ? ' Choose the files to attach again.' : '';
      return composePage(res, session, 400, seed, original, err.message + again, kept);
    }
    if (original) {
      // What IMAP clients set too: the original shows as answered or forwarded everywhere.
      const flag = original.mode === 'forward' ? '$Forwarded' : '\\Answered';
      await store.mail.updateFlags(original.box.id, [original.record.uid], { operation: 'add', flags: [flag] }).catch((err: unknown) => logger.debug({ err }, 'marking the original failed'));
    }
    return redirect(res, '/mail?box=INBOX&sent=1');
  };

  /** The posted form, with the session's CSRF token checked. */
  const checkedForm = async (req: IncomingMessage, session: WebSession, multipartMaxBytes: number | null = null): Promise<PostedForm> => {
    const form = await readForm(req, multipartMaxBytes);
    if (!sameSecret(form.fields.get('csrf') ?? '', session.csrf)) throw new HttpFailure(403, 'The form is stale or came from another site; reload the page and try again.');
    return form;
  };

  /** POST /flag, /seen, /move, /delete: one message's state. */
  const changeMessage = async (req: IncomingMessage, res: ServerResponse, session: WebSession, path: string): Promise<void> => {
    const form = (await checkedForm(req, session)).fields;
    const box = await mailboxOf(session.user, form.get('box'));
    const record = await messageOf(box, form.get('uid'));
    const uids: Uid[] = [record.uid];
    switch (path) {
      case '/flag': {
        const on = form.get('flagged') === '1';
        await store.mail.updateFlags(box.id, uids, { operation: on ? 'add' : 'remove', flags: ['\\Flagged'] });
        return redirect(res, messageUrl(box.name, record.uid));
      }
      case '/seen': {
        const on = form.get('seen') === '1';
        await store.mail.updateFlags(box.id, uids, { operation: on ? 'add' : 'remove', flags: ['\\Seen'] });
        // Back to the list: showing the message again would mark it read again.
        return redirect(res, on ? messageUrl(box.name, record.uid) : mailUrl(box.name));
      }
      case '/move': {
        const target = await mailboxOf(session.user, form.get('to'));
        if (target.id !== box.id) await store.mail.moveMessages(box.id, uids, target.id as MailboxId);
        return redirect(res, `${mailUrl(box.name)}&moved=${encodeURIComponent(target.name)}`);
      }
      default: {
        const boxes = await store.mail.listMailboxes(session.user.id);
        const trash = boxes.find((b) => b.specialUse === '\\Trash') ?? boxes.find((b) => b.name === 'Trash');
        if (trash && trash.id !== box.id) await store.mail.moveMessages(box.id, uids, trash.id as MailboxId);
        else await store.mail.expunge(box.id, uids);
        return redirect(res, mailUrl(box.name));
      }
    }
  };

  const route = async (req: IncomingMessage, res: ServerResponse, url: URL, client: string): Promise<void> => {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    if (path === '/assets/webmail.css' || path === '/assets/webmail.js') {
      const css = path.endsWith('.css');
      res.writeHead(200, { 'Content-Type': css ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8', 'Cache-Control': 'public, max-age=3600' });
      res.end(css ? stylesheet : clientScript);
      return;
    }
    if (method === 'POST') refuseForeignOrigin(req);
    if (path === '/login' && method === 'POST') {
      const result = await signIn(req, client, { store, throttle, logger, where: 'webmail' });
      if (!result.ok) return loginPage(res, req, result.status, result.message, result.address);
      return redirect(res, '/mail?box=INBOX', { 'Set-Cookie': signedInCookies(result.sessionText, opts.secure) });
    }
    const session = await sessionOf(req, store);
    if (path === '/' && method === 'GET') {
      if (session) return redirect(res, '/mail?box=INBOX');
      return loginPage(res, req, 200, null);
    }
    if (!session) {
      if (method === 'GET' && path !== '/mail/events') return redirect(res, '/');
      throw new HttpFailure(401, 'You are not signed in (or the session has ended).');
    }
    if (path === '/logout' && method === 'POST') {
      await checkedForm(req, session);
      await store.tokens.remove(session.id).catch(() => undefined);
      return redirect(res, '/', { 'Set-Cookie': cookieHeader(sessionCookie, '', { secure: opts.secure, maxAgeS: 0 }) });
    }
    if (method === 'GET') {
      switch (path) {
        case '/mail':
          return listPage(res, session, url);
        case '/mail/events':
          if (!(await live.add(res, session))) throw new HttpFailure(503, 'Too many live-update streams are open; the pages still work, reload to see new mail.');
          return;
        case '/message':
          return readPage(res, session, url);
        case '/part':
          return partDownload(res, session, url);
        case '/compose':
          return composeForm(res, session, url);
      }
    }
    if (method === 'POST') {
      if (path === '/compose') return send(req, res, session, client);
      if (path === '/flag' || path === '/seen' || path === '/move' || path === '/delete') return changeMessage(req, res, session, path);
    }
    throw new HttpFailure(405, `${method} is not allowed on ${path}.`);
  };

  return {
    async handle(req, res, url, client) {
      if (!ownPaths.has(url.pathname)) return false;
      try {
        await route(req, res, url, client);
      } catch (err) {
        if (!(err instanceof HttpFailure)) throw err;
        if (res.headersSent) return true;
        sendPage(res, err.status, page('Problem', `<main id="main"><h1>That did not work</h1><p class="error" role="alert">${escapeHtml(err.message)}</p><p><a href="/">Back to the mail</a></p></main>`));
      }
      return true;
    },
    close() {
      live.close();
    },
  };
}
