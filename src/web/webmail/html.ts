/** Small helpers for the server-rendered webmail pages. */
import type { WebSession } from './session.js';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * The webmail's Content-Security-Policy: script only from the node (the one
 * small file, assets.ts; no inline script, no eval), styles and images from
 * the node only, connections (the live-update stream) to the node only,
 * forms post to the node only, no framing. Mail content that slipped past
 * the sanitiser still cannot run or load anything from elsewhere. With
 * `remoteImages` (the reader pressed "Show images" on that one message)
 * images may come from anywhere over http or https, on that page only.
 */
export function webmailCsp(opts: { remoteImages?: boolean } = {}): string {
  const img = opts.remoteImages ? "img-src 'self' https: http:" : "img-src 'self'";
  return `default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; ${img}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`;
}

/** A whole page around `body`; `listUrl` is the message list the live updates re-read (signed-in pages). */
export function page(title: string, body: string, opts: { listUrl?: string } = {}): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Rookery</title>
<link rel="stylesheet" href="/assets/webmail.css">
<script src="/assets/webmail.js" defer></script>
</head>
<body${opts.listUrl ? ` data-list-url="${escapeHtml(opts.listUrl)}"` : ''}>
${body}
</body>
</html>
`;
}

/** The stylesheet, served by the node at /assets/webmail.css. */
export const stylesheet = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.4 system-ui,sans-serif;color:#222;background:#fafafa}
a{color:#0645ad}
header.top{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;justify-content:space-between;padding:.5rem 1rem;background:#234;color:#fff}
header.top a{color:#fff}
header.top form{margin:0}
.layout{display:flex;flex-wrap:wrap}
nav.folders{flex:0 0 14rem;padding:.5rem 1rem;border-right:1px solid #ddd}
nav.folders ul{list-style:none;margin:0;padding:0}
nav.folders li{padding:.25rem 0}
main{flex:1 1 20rem;padding:.5rem 1rem;min-width:0}
table.messages{width:100%;border-collapse:collapse}
table.messages td,table.messages th{padding:.4rem;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
tr.unread td{font-weight:bold}
table.messages td{overflow-wrap:anywhere}
table.messages tr:focus-within{background:#e8eefc}
table.messages th a{text-decoration:none}
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,textarea:focus-visible{outline:3px solid #f90;outline-offset:1px}
.skip{position:absolute;left:-999px}.skip:focus{left:.5rem;top:.5rem;background:#fff;color:#000;padding:.25rem;z-index:1}
form.search{display:flex;flex-wrap:wrap;gap:.25rem .75rem;align-items:end;margin:.5rem 0}
form.search label{margin:0}
form.search input[type=search]{width:14rem;max-width:100%}
.inline-check{display:inline-flex;gap:.25rem;align-items:center}
.headers th{text-align:left;padding-right:.5rem;vertical-align:top}
.headers td{overflow-wrap:anywhere}
.images-note{background:#ffd;padding:.35rem .5rem;border:1px solid #eeb}
.message-body img{max-width:100%;height:auto}
select,input[type=search],input[type=file]{font:inherit;max-width:100%}
.message-body pre{white-space:pre-wrap;word-wrap:break-word;font:inherit}
.message-body .html{border:1px solid #ddd;padding:.5rem;overflow:auto}
.blocked-image{color:#777;font-style:italic}
.actions{display:flex;flex-wrap:wrap;gap:.5rem;margin:.5rem 0}
.actions form{margin:0}
button{font:inherit;padding:.35rem .8rem}
label{display:block;margin-top:.5rem}
input[type=text],input[type=email],input[type=password],input[type=search],textarea{width:100%;max-width:40rem;font:inherit;padding:.35rem}
textarea{min-height:12rem}
.error{color:#a00}
.notice{color:#060}
.login{max-width:24rem;margin:3rem auto;padding:1rem}
@media (max-width:40rem){nav.folders{flex:1 1 100%;border-right:0;border-bottom:1px solid #ddd}nav.folders li{display:inline-block;margin-right:1rem}
table.messages thead tr{display:flex;flex-wrap:wrap;gap:0 .5rem}table.messages th{border:0}table.messages tr{display:block;border-bottom:1px solid #ddd;padding:.25rem 0}
table.messages td{display:inline;border:0;padding:.1rem .3rem}table.messages td.subject{display:block}table.messages td.size{display:none}
main{padding:.5rem}}
`;

/** A hidden field with the session's CSRF token, for every form that changes something. */
export function csrfField(session: WebSession): string {
  return `<input type="hidden" name="csrf" value="${escapeHtml(session.csrf)}">`;
}

/** The bar at the top of every signed-in page (webmail and settings); `current` marks the page the user is on. */
export function topBar(session: WebSession, current: 'mail' | 'settings' = 'mail'): string {
  const here = (page: string) => (page === current ? ' aria-current="page"' : '');
  return `<a class="skip" href="#main">Skip to the content</a>
<header class="top">
<a href="/mail?box=INBOX"${here('mail')}>Rookery mail</a>
<span>${escapeHtml(session.user.address)}</span>
<a href="/compose">Write</a>
<a href="/settings"${here('settings')}>Settings</a>
<form method="post" action="/logout">${csrfField(session)}<button type="submit">Sign out</button></form>
</header>`;
}
