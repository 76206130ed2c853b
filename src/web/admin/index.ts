/**
 * The admin console at /admin on every node: one page and one same-origin
 * script (static/console.js) that does everything through the admin API
 * with fetch and EventSource, so the API stays the single place of rules
 * and roles. The server side here only signs in (the webmail's session
 * cookie: a session is a store token, valid on every node), lets admins
 * and domain admins in, and serves the page and its two assets.
 *
 *   GET  /admin                       the console, or the sign-in form
 *   POST /admin/login, /admin/logout
 *   GET  /admin/console.js, /admin/console.css
 *
 * The page carries the session's CSRF token in a <meta> element; the script
 * sends it as X-CSRF-Token on every state-changing API call (the API's
 * SessionCookieAuthenticator refuses those without it). The page's
 * Content-Security-Policy allows scripts from the node only, no inline ones.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../log.js';
import type { Store } from '../../store/types.js';
import { AuthThrottle } from '../auth.js';
import { HttpFailure, readForm } from '../forms.js';
import { redirect, refuseForeignOrigin, sendHtml, signedInCookies, signIn, type Headers } from '../pages.js';
import { escapeHtml } from '../webmail/html.js';
import { cookieHeader, loginCookie, newLoginToken, readCookies, sameSecret, sessionCookie, sessionOf, type WebSession } from '../webmail/session.js';

export interface AdminConsoleOptions {
  store: Store;
  logger: Logger;
  /** Served over HTTPS: cookies get Secure. */
  secure: boolean;
  /** The node's login throttle (shared with the API, the webmail and the mail protocols). */
  throttle: AuthThrottle;
}

export interface AdminConsole {
  /** Answers the request if it is the console's; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL, client: string): Promise<boolean>;
}

/**
 * Scripts, styles, fetch and EventSource from the node only; no inline
 * script or style, no plugins, no framing, forms post to the node only.
 */
export const adminCsp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/**
 * The static assets, read once: they are source files (plain JavaScript and
 * CSS, no build step), found next to this module, or from a compiled tree
 * (dist-NAME/src/web/admin/) in the checkout's src/web/admin/static/.
 */
function loadAsset(name: string): Buffer {
  const candidates = [new URL(`./static/${name}`, import.meta.url), new URL(`../../../../src/web/admin/static/${name}`, import.meta.url)];
  for (const at of candidates) {
    try {
      return readFileSync(at);
    } catch { /* try the next place */ }
  }
  throw new Error(`the admin console's ${name} is missing (looked in ${candidates.map((c) => c.pathname).join(', ')})`);
}

const assets: Record<string, { type: string; body: Buffer }> = {
  '/admin/console.js': { type: 'text/javascript; charset=utf-8', body: loadAsset('console.js') },
  '/admin/console.css': { type: 'text/css; charset=utf-8', body: loadAsset('console.css') },
};

function shell(title: string, head: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Rookery admin</title>
<link rel="stylesheet" href="/admin/console.css">
${head}
</head>
<body>
${body}
</body>
</html>
`;
}

function sendPage(res: ServerResponse, status: number, html: string, headers: Headers = {}): void {
  sendHtml(res, status, html, adminCsp, headers);
}

/** The console for a signed-in admin: an empty frame the script fills from the API. */
function consolePage(session: WebSession): string {
  const u = session.user;
  return shell('Console', `<meta name="rookery-csrf" content="${escapeHtml(session.csrf)}">
<script type="module" src="/admin/console.js"></script>`, `<header class="top">
<span class="brand">Rookery admin</span>
<span class="who">${escapeHtml(u.address)} (${escapeHtml(u.role)})</span>
<form method="post" action="/admin/logout"><input type="hidden" name="csrf" value="${escapeHtml(session.csrf)}"><button type="submit">Sign out</button></form>
</header>
<nav id="sections" aria-label="Sections"></nav>
<p id="live" class="live" role="status" aria-live="polite"></p>
<main id="main" tabindex="-1"><noscript><p class="error">The console needs JavaScript (from this node only); the same operations are in the API under /api/v1.</p></noscript></main>`);
}

export function createAdminConsole(opts: AdminConsoleOptions): AdminConsole {
  const { store, logger, throttle } = opts;

  const loginPage = (res: ServerResponse, req: IncomingMessage, status: number, message: string | null, address = ''): void => {
    const token = readCookies(req).get(loginCookie) ?? newLoginToken();
    sendPage(res, status, shell('Sign in', '', `<main class="login" id="main">
<h1>Rookery admin console</h1>
${message ? `<p class="error" role="alert">${escapeHtml(message)}</p>` : ''}
<form method="post" action="/admin/login">
<input type="hidden" name="csrf" value="${escapeHtml(token)}">
<label for="address">Address</label>
<input type="email" id="address" name="address" autocomplete="username" required value="${escapeHtml(address)}">
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<p><button type="submit">Sign in</button></p>
</form>
<p>Mail itself is read at <a href="/">the webmail</a>.</p>
</main>`), { 'Set-Cookie': cookieHeader(loginCookie, token, { secure: opts.secure }) });
  };

  const route = async (req: IncomingMessage, res: ServerResponse, url: URL, client: string): Promise<void> => {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    const asset = assets[path];
    if (asset) {
      if (method !== 'GET' && method !== 'HEAD') throw new HttpFailure(405, `${method} is not allowed on ${path}.`);
      res.writeHead(200, { 'Content-Type': asset.type, 'Content-Length': String(asset.body.length), 'Cache-Control': 'no-cache' });
      res.end(method === 'HEAD' ? undefined : asset.body);
      return;
    }
    if (method === 'POST') refuseForeignOrigin(req);
    if (path === '/admin/login' && method === 'POST') {
      const result = await signIn(req, client, { store, throttle, logger, where: 'admin console' });
      if (!result.ok) return loginPage(res, req, result.status, result.message, result.address);
      return redirect(res, '/admin', { 'Set-Cookie': signedInCookies(result.sessionText, opts.secure) });
    }
    const session = await sessionOf(req, store);
    if (path === '/admin/logout' && method === 'POST') {
      if (!session) return redirect(res, '/admin');
      const form = (await readForm(req)).fields;
      if (!sameSecret(form.get('csrf') ?? '', session.csrf)) throw new HttpFailure(403, 'The form is stale or came from another site; reload the page and try again.');
      await store.tokens.remove(session.id).catch(() => undefined);
      return redirect(res, '/admin', { 'Set-Cookie': cookieHeader(sessionCookie, '', { secure: opts.secure, maxAgeS: 0 }) });
    }
    if ((path === '/admin' || path === '/admin/') && (method === 'GET' || method === 'HEAD')) {
      if (!session) return loginPage(res, req, 200, null);
      if (session.user.role !== 'admin' && session.user.role !== 'domain-admin') {
        // The API would refuse every call anyway; say so once, plainly.
        return sendPage(res, 403, shell('Not an administrator', '', `<main id="main">
<h1>Not an administrator</h1>
<p class="error" role="alert">${escapeHtml(session.user.address)} is a user account; the console is for admins and domain admins.</p>
<p><a href="/mail?box=INBOX">Go to your mail</a></p>
<form method="post" action="/admin/logout"><input type="hidden" name="csrf" value="${escapeHtml(session.csrf)}"><button type="submit">Sign out</button></form>
</main>`));
      }
      return sendPage(res, 200, consolePage(session));
    }
    if (path === '/admin' || path === '/admin/' || path === '/admin/login' || path === '/admin/logout') throw new HttpFailure(405, `${method} is not allowed on ${path}.`);
    throw new HttpFailure(404, `There is nothing at ${path}; the console is at /admin.`);
  };

  return {
    async handle(req, res, url, client) {
      if (url.pathname !== '/admin' && !url.pathname.startsWith('/admin/')) return false;
      try {
        await route(req, res, url, client);
      } catch (err) {
        if (!(err instanceof HttpFailure)) throw err;
        if (res.headersSent) return true;
        sendPage(res, err.status, shell('Problem', '', `<main id="main"><h1>That did not work</h1><p class="error" role="alert">${escapeHtml(err.message)}</p><p><a href="/admin">Back to the console</a></p></main>`));
      }
      return true;
    },
  };
}
