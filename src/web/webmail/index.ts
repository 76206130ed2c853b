/**
 * The webmail at / on every node: server-rendered pages, no script (the
 * Content-Security-Policy allows none), plain forms that post back with
 * the session's CSRF token. Mail is read and changed through the same
 * store calls IMAP uses (updateFlags, moveMessages), so both see the same
 * state; sessions are store tokens (session.ts), so any node serves any
 * signed-in user.
 *
 *   GET  /                      sign-in form, or to the INBOX when signed in
 *   POST /login, /logout
 *   GET  /mail?box=&page=       folders with unread counts, the folder's messages newest first
 *   GET  /message?box=&uid=     reading (marks it seen)
 *   GET  /part?box=&uid=&section=  an attachment, as a download
 *   POST /flag, /delete         flag/unflag; delete to Trash
 *   GET  /compose, POST /compose  writing and sending
 *   GET  /assets/webmail.css
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../log.js';
import { loadMessageIndex } from '../../mail/message-index.js';
import type { Mailbox, MailboxId, MessageRecord, Store, Uid, User } from '../../store/types.js';
import { AuthThrottle } from '../auth.js';
import { ApiError } from '../errors.js';
import { escapeHtml, page, stylesheet, webmailCsp } from './html.js';
import { partBySection, partBytes, renderBody } from './message-view.js';
import { sendDraft, SendError } from './send.js';
import {
  cookieHeader, createSession, loginCookie, newLoginToken, readCookies, sameSecret, sessionCookie, sessionLifetimeMs, sessionOf, type WebSession,
} from './session.js';

export interface WebmailOptions {
  store: Store;
  hostname: string;
  nodeName: string;
  logger: Logger;
  /** Served over HTTPS: cookies get Secure. */
  secure: boolean;
  /** Failed sign-ins from one address within the window before it is refused. */
  maxLoginFailures: number;
  loginFailureWindowMs: number;
}

export interface Webmail {
  /** Answers the request if it is one of the webmail's; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL, client: string): Promise<boolean>;
}

const pageSize = 25;
const maxFormBytes = 1024 * 1024;
const ownPaths = new Set(['/', '/login', '/logout', '/mail', '/message', '/part', '/flag', '/delete', '/compose', '/assets/webmail.css']);

class HttpFailure extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new HttpFailure(415, 'Forms are sent as application/x-www-form-urlencoded.');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxFormBytes) throw new HttpFailure(413, 'The form is too large.');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function sendPage(res: ServerResponse, status: number, html: string, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': webmailCsp,
    'Cache-Control': 'no-store',
    'X-Frame-Options': 'DENY',
    ...headers,
  });
  res.end(html);
}

function redirect(res: ServerResponse, location: string, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(303, { Location: location, 'Cache-Control': 'no-store', ...headers });
  res.end();
}

function mailUrl(box: string, pageNo = 1): string {
  return `/mail?box=${encodeURIComponent(box)}${pageNo > 1 ? `&page=${pageNo}` : ''}`;
}

function messageUrl(box: string, uid: number): string {
  return `/message?box=${encodeURIComponent(box)}&uid=${uid}`;
}

function displayAddress(list: { name: string; address: string }[]): string {
  return list.map((a) => (a.name ? `${a.name} <${a.address}>` : a.address)).join(', ');
}

function formatWhen(d: Date): string {
  return d.toISOString().slice(0, 16).replace('T', ' ');
}

function folderOrder(a: Mailbox, b: Mailbox): number {
  if (a.name === 'INBOX') return -1;
  if (b.name === 'INBOX') return 1;
  return a.name.localeCompare(b.name);
}

/** A hidden CSRF field. */
function csrfField(session: WebSession): string {
  return `<input type="hidden" name="csrf" value="${escapeHtml(session.csrf)}">`;
}

function topBar(session: WebSession): string {
  return `<header class="top">
<a href="/mail?box=INBOX">Rookery mail</a>
<span>${escapeHtml(session.user.address)}</span>
<a href="/compose">Write</a>
<form method="post" action="/logout">${csrfField(session)}<button type="submit">Sign out</button></form>
</header>`;
}

export function createWebmail(opts: WebmailOptions): Webmail {
  const { store, logger } = opts;
  const throttle = new AuthThrottle(opts.maxLoginFailures, opts.loginFailureWindowMs);

  const loginPage = (res: ServerResponse, req: IncomingMessage, status: number, message: string | null, address = ''): void => {
    const token = readCookies(req).get(loginCookie) ?? newLoginToken();
    sendPage(res, status, page('Sign in', `<main class="login">
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

  const listPage = async (res: ServerResponse, session: WebSession, url: URL): Promise<void> => {
    const box = await mailboxOf(session.user, url.searchParams.get('box') ?? 'INBOX');
    const all = (await store.mail.listMessages(box.id)).sort((a, b) => b.uid - a.uid);
    const pages = Math.max(1, Math.ceil(all.length / pageSize));
    const pageNo = Math.min(pages, Math.max(1, Number(url.searchParams.get('page')) || 1));
    const rows: string[] = [];
    for (const m of all.slice((pageNo - 1) * pageSize, pageNo * pageSize)) {
      const index = await loadMessageIndex(store, m.blobId);
      const seen = m.flags.includes('\\Seen');
      const flagged = m.flags.includes('\\Flagged');
      const from = displayAddress(box.specialUse === '\\Sent' ? index.headers.to : index.headers.from) || '(nobody)';
      rows.push(`<tr${seen ? '' : ' class="unread"'}>
<td>${flagged ? '<span title="Flagged">★ Flagged</span>' : ''}${seen ? '' : ' <span>Unread</span>'}</td>
<td>${escapeHtml(from)}</td>
<td><a href="${messageUrl(box.name, m.uid)}">${escapeHtml(index.headers.subject || '(no subject)')}</a></td>
<td>${formatWhen(m.internalDate)}</td>
</tr>`);
    }
    const pager = pages > 1
      ? `<p class="pager">${pageNo > 1 ? `<a href="${mailUrl(box.name, pageNo - 1)}">Newer</a> ` : ''}Page ${pageNo} of ${pages}${pageNo < pages ? ` <a href="${mailUrl(box.name, pageNo + 1)}">Older</a>` : ''}</p>`
      : '';
    const flash = url.searchParams.get('sent') ? '<p class="notice" role="status">Message sent.</p>' : '';
    sendPage(res, 200, page(box.name, `${topBar(session)}
<div class="layout">
${await folderNav(session.user, box.name)}
<main>
<h1>${escapeHtml(box.name)}</h1>
${flash}
${rows.length === 0 ? '<p>No messages.</p>' : `<table class="messages">
<thead><tr><th>State</th><th>${box.specialUse === '\\Sent' ? 'To' : 'From'}</th><th>Subject</th><th>Received</th></tr></thead>
<tbody>${rows.join('\n')}</tbody>
</table>`}
${pager}
</main>
</div>`));
  };

  const readPage = async (res: ServerResponse, session: WebSession, url: URL): Promise<void> => {
    const box = await mailboxOf(session.user, url.searchParams.get('box'));
    let record = await messageOf(box, url.searchParams.get('uid'));
    if (!record.flags.includes('\\Seen')) {
      const r = await store.mail.updateFlags(box.id, [record.uid], { operation: 'add', flags: ['\\Seen'] });
      record = r.updated[0] ?? record;
    }
    const bytes = await store.blobs.get(record.blobId);
    const index = await loadMessageIndex(store, record.blobId, bytes);
    const h = index.headers;
    const body = renderBody(bytes, index);
    const flagged = record.flags.includes('\\Flagged');
    const hidden = `${csrfField(session)}<input type="hidden" name="box" value="${escapeHtml(box.name)}"><input type="hidden" name="uid" value="${record.uid}">`;
    const attachments = body.attachments.length === 0 ? '' : `<section aria-label="Attachments"><h2>Attachments</h2><ul>${body.attachments.map((a) =>
      `<li><a href="/part?box=${encodeURIComponent(box.name)}&amp;uid=${record.uid}&amp;section=${encodeURIComponent(a.section)}" download>${escapeHtml(a.fileName)}</a> (${escapeHtml(a.mediaType)}, ${a.size} bytes)</li>`).join('')}</ul></section>`;
    const row = (name: string, value: string): string => (value ? `<tr><th scope="row">${name}</th><td>${escapeHtml(value)}</td></tr>` : '');
    sendPage(res, 200, page(h.subject || '(no subject)', `${topBar(session)}
<div class="layout">
${await folderNav(session.user, box.name)}
<main>
<p><a href="${mailUrl(box.name)}">Back to ${escapeHtml(box.name)}</a></p>
<h1>${escapeHtml(h.subject || '(no subject)')}</h1>
<table class="headers">
${row('From', displayAddress(h.from))}${row('To', displayAddress(h.to))}${row('Cc', displayAddress(h.cc))}${row('Date', h.date ?? formatWhen(record.internalDate))}
</table>
<div class="actions">
<form method="post" action="/flag">${hidden}<input type="hidden" name="flagged" value="${flagged ? '0' : '1'}"><button type="submit">${flagged ? 'Unflag' : 'Flag'}</button></form>
<form method="post" action="/delete">${hidden}<button type="submit">Delete</button></form>
</div>
${flagged ? '<p><span title="Flagged">★ Flagged</span></p>' : ''}
<article class="message-body">${body.html || '<p>(This message has no text.)</p>'}</article>
${attachments}
</main>
</div>`));
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

  const composePage = (res: ServerResponse, session: WebSession, status: number, draft = { to: '', cc: '', subject: '', body: '' }, error: string | null = null): void => {
    sendPage(res, status, page('Write', `${topBar(session)}
<main>
<h1>Write a message</h1>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/compose">
${csrfField(session)}
<label for="to">To</label>
<input type="text" id="to" name="to" value="${escapeHtml(draft.to)}" autocomplete="off">
<label for="cc">Cc</label>
<input type="text" id="cc" name="cc" value="${escapeHtml(draft.cc)}" autocomplete="off">
<label for="subject">Subject</label>
<input type="text" id="subject" name="subject" value="${escapeHtml(draft.subject)}">
<label for="body">Message</label>
<textarea id="body" name="body">${escapeHtml(draft.body)}</textarea>
<p><button type="submit">Send</button> <a href="/mail?box=INBOX">Cancel</a></p>
</form>
</main>`));
  };

  /** The session, with the CSRF token checked for a form post. */
  const checkedForm = async (req: IncomingMessage, session: WebSession): Promise<URLSearchParams> => {
    const form = await readForm(req);
    if (!sameSecret(form.get('csrf') ?? '', session.csrf)) throw new HttpFailure(403, 'The form is stale or came from another site; reload the page and try again.');
    return form;
  };

  const route = async (req: IncomingMessage, res: ServerResponse, url: URL, client: string): Promise<void> => {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    if (path === '/assets/webmail.css') {
      res.writeHead(200, { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'public, max-age=3600' });
      res.end(stylesheet);
      return;
    }
    if (method === 'POST') {
      // A cross-site post shows its origin; ours must match the host asked for.
      const origin = req.headers.origin;
      if (origin && origin !== 'null') {
        let host = '';
        try { host = new URL(origin).host; } catch { /* unreadable: refused below */ }
        if (host !== req.headers.host) throw new HttpFailure(403, 'The form came from another site.');
      }
    }
    if (path === '/login' && method === 'POST') {
      try {
        throttle.check(client);
      } catch (err) {
        if (err instanceof ApiError) return loginPage(res, req, 429, err.message);
        throw err;
      }
      const form = await readForm(req);
      const expected = readCookies(req).get(loginCookie) ?? '';
      if (!sameSecret(form.get('csrf') ?? '', expected)) return loginPage(res, req, 403, 'The sign-in form expired; please try again.');
      const address = (form.get('address') ?? '').trim();
      const user = address ? await store.directory.authenticate(address, form.get('password') ?? '') : null;
      if (!user) {
        throttle.fail(client);
        logger.info({ client, address }, 'webmail sign-in failed');
        return loginPage(res, req, 401, 'The address or password is wrong.', address);
      }
      const text = await createSession(store, user);
      logger.info({ client, user: user.address }, 'webmail sign-in');
      return redirect(res, '/mail?box=INBOX', {
        'Set-Cookie': [
          cookieHeader(sessionCookie, text, { secure: opts.secure, maxAgeS: Math.floor(sessionLifetimeMs / 1000) }),
          cookieHeader(loginCookie, '', { secure: opts.secure, maxAgeS: 0 }),
        ],
      });
    }
    const session = await sessionOf(req, store);
    if (path === '/' && method === 'GET') {
      if (session) return redirect(res, '/mail?box=INBOX');
      return loginPage(res, req, 200, null);
    }
    if (!session) {
      if (method === 'GET') return redirect(res, '/');
      throw new HttpFailure(401, 'You are not signed in (or the session has ended).');
    }
    if (path === '/logout' && method === 'POST') {
      await checkedForm(req, session);
      await store.tokens.remove(session.id).catch(() => undefined);
      return redirect(res, '/', { 'Set-Cookie': cookieHeader(sessionCookie, '', { secure: opts.secure, maxAgeS: 0 }) });
    }
    if (path === '/mail' && method === 'GET') return listPage(res, session, url);
    if (path === '/message' && method === 'GET') return readPage(res, session, url);
    if (path === '/part' && method === 'GET') return partDownload(res, session, url);
    if (path === '/compose' && method === 'GET') return composePage(res, session, 200);
    if (path === '/compose' && method === 'POST') {
      const form = await checkedForm(req, session);
      const draft = { to: form.get('to') ?? '', cc: form.get('cc') ?? '', subject: form.get('subject') ?? '', body: form.get('body') ?? '' };
      try {
        const r = await sendDraft(store, session.user, draft, { hostname: opts.hostname, nodeName: opts.nodeName, clientAddress: client });
        logger.info({ user: session.user.address, local: r.local, queued: r.queued }, 'webmail message sent');
      } catch (err) {
        if (err instanceof SendError) return composePage(res, session, 400, draft, err.message);
        throw err;
      }
      return redirect(res, '/mail?box=INBOX&sent=1');
    }
    if ((path === '/flag' || path === '/delete') && method === 'POST') {
      const form = await checkedForm(req, session);
      const box = await mailboxOf(session.user, form.get('box'));
      const record = await messageOf(box, form.get('uid'));
      const uids: Uid[] = [record.uid];
      if (path === '/flag') {
        const on = form.get('flagged') === '1';
        await store.mail.updateFlags(box.id, uids, { operation: on ? 'add' : 'remove', flags: ['\\Flagged'] });
        return redirect(res, messageUrl(box.name, record.uid));
      }
      const boxes = await store.mail.listMailboxes(session.user.id);
      const trash = boxes.find((b) => b.specialUse === '\\Trash') ?? boxes.find((b) => b.name === 'Trash');
      if (trash && trash.id !== box.id) await store.mail.moveMessages(box.id, uids, trash.id as MailboxId);
      else await store.mail.expunge(box.id, uids);
      return redirect(res, mailUrl(box.name));
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
        sendPage(res, err.status, page('Problem', `<main><h1>That did not work</h1><p class="error" role="alert">${escapeHtml(err.message)}</p><p><a href="/">Back to the mail</a></p></main>`));
      }
      return true;
    },
  };
}
