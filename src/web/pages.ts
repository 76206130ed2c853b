/**
 * What the server-rendered pages (webmail, self-care, the admin console)
 * share: answering with a page or a redirect, refusing posts from other
 * sites, and signing in with the form every one of them shows. Each keeps
 * its own page frame and Content-Security-Policy.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { Store, User } from '../store/types.js';
import type { AuthThrottle } from './auth.js';
import { ApiError } from './errors.js';
import { HttpFailure, readForm } from './forms.js';
import { cookieHeader, createSession, loginCookie, readCookies, sameSecret, sessionCookie, sessionLifetimeMs } from './webmail/session.js';

export type Headers = Record<string, string | string[]>;

/** An HTML page, never cached, never framed, under the given policy. */
export function sendHtml(res: ServerResponse, status: number, html: string, csp: string, headers: Headers = {}): void {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': csp,
    'Cache-Control': 'no-store',
    'X-Frame-Options': 'DENY',
    ...headers,
  });
  res.end(html);
}

/** 303 See Other: after a post, the browser fetches the next page with GET. */
export function redirect(res: ServerResponse, location: string, headers: Headers = {}): void {
  res.writeHead(303, { Location: location, 'Cache-Control': 'no-store', ...headers });
  res.end();
}

/**
 * A cross-site post names its origin; ours must match the host asked for
 * (on top of the CSRF token every form carries).
 */
export function refuseForeignOrigin(req: IncomingMessage): void {
  const origin = req.headers.origin;
  if (!origin || origin === 'null') return;
  let host = '';
  try {
    host = new URL(origin).host;
  } catch { /* unreadable: refused below */ }
  if (host !== req.headers.host) throw new HttpFailure(403, 'The form came from another site.');
}

/** The Set-Cookie values after a sign-in: the session, and the sign-in form's token gone. */
export function signedInCookies(sessionText: string, secure: boolean): string[] {
  return [
    cookieHeader(sessionCookie, sessionText, { secure, maxAgeS: Math.floor(sessionLifetimeMs / 1000) }),
    cookieHeader(loginCookie, '', { secure, maxAgeS: 0 }),
  ];
}

export type SignInResult =
  | { ok: true; user: User; sessionText: string }
  /** The form is shown again with this status and sentence, the address kept. */
  | { ok: false; status: 401 | 403 | 429; message: string; address: string };

/**
 * Checks a posted sign-in form (address, password, and the double-submit
 * token of the login cookie) under the shared login throttle, and opens a
 * session. `where` names the page in the log.
 */
export async function signIn(req: IncomingMessage, client: string, deps: { store: Store; throttle: AuthThrottle; logger: Logger; where: string }): Promise<SignInResult> {
  const { store, throttle, logger, where } = deps;
  const refused = (err: unknown, address: string): SignInResult => {
    if (err instanceof ApiError) return { ok: false, status: 429, message: err.message, address };
    throw err;
  };
  // An address already refused gets nothing else looked at.
  try {
    await throttle.admit(client);
  } catch (err) {
    return refused(err, '');
  }
  const form = (await readForm(req)).fields;
  if (!sameSecret(form.get('csrf') ?? '', readCookies(req).get(loginCookie) ?? '')) {
    return { ok: false, status: 403, message: 'The sign-in form expired; please try again.', address: '' };
  }
  const address = (form.get('address') ?? '').trim();
  try {
    if (address) await throttle.admit(client, address);
  } catch (err) {
    return refused(err, address);
  }
  const user = address ? await store.directory.authenticate(address, form.get('password') ?? '') : null;
  if (!user) {
    await throttle.fail(client, address);
    logger.info({ client, address }, `${where} sign-in failed`);
    return { ok: false, status: 401, message: 'The address or password is wrong.', address };
  }
  logger.info({ client, user: user.address, role: user.role }, `${where} sign-in`);
  return { ok: true, user, sessionText: await createSession(store, user) };
}
