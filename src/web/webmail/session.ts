/**
 * Webmail sessions: the cookie carries a 'session' access token (see
 * ../tokens.ts), so the session lives in the store and is valid on every
 * node; signing out removes the row and ends it everywhere. The CSRF token
 * of a session is derived from the session's secret (a hash of it under
 * another label), so every node can check it without storing anything, and
 * a page of another origin cannot read it.
 *
 * Before sign-in there is no session: the login form uses a double-submit
 * token (a random cookie that the form must repeat).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Store, User } from '../../store/types.js';
import { administeredDomain, userPrincipal, type AuthOutcome, type Authenticator } from '../auth.js';
import { mintToken, verifyToken } from '../tokens.js';

export const sessionCookie = 'rookery_session';
export const loginCookie = 'rookery_login';
/** How long a session lasts after sign-in. */
export const sessionLifetimeMs = 12 * 3600_000;

/** Cookies of a request, first value of each name. */
export function readCookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const piece of (req.headers.cookie ?? '').split(';')) {
    const eq = piece.indexOf('=');
    if (eq <= 0) continue;
    const name = piece.slice(0, eq).trim();
    if (!out.has(name)) out.set(name, piece.slice(eq + 1).trim());
  }
  return out;
}

/** A Set-Cookie value: HttpOnly, SameSite=Lax, path /, Secure when served over HTTPS. */
export function cookieHeader(name: string, value: string, opts: { secure: boolean; maxAgeS?: number }): string {
  let c = `${name}=${value}; Path=/; HttpOnly; SameSite=Lax`;
  if (opts.maxAgeS !== undefined) c += `; Max-Age=${opts.maxAgeS}`;
  if (opts.secure) c += '; Secure';
  return c;
}

/** The CSRF token that goes with a session's token text. */
export function csrfFor(sessionText: string): string {
  return createHash('sha256').update(`rookery-csrf\0${sessionText}`, 'utf8').digest('base64url');
}

/** Constant-time comparison of two strings. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

export function newLoginToken(): string {
  return randomBytes(18).toString('base64url');
}

/** A signed-in webmail session. */
export interface WebSession {
  id: string;
  text: string;
  csrf: string;
  user: User;
}

/** Starts a session for a user who just gave the right password; returns the cookie text. */
export async function createSession(store: Store, user: User): Promise<string> {
  const { text } = await mintToken(store, {
    kind: 'session',
    role: user.role,
    domain: administeredDomain(user),
    subject: user.address,
    label: 'webmail',
    expiresAt: new Date(Date.now() + sessionLifetimeMs),
  });
  return text;
}

/** The session the request's cookie names, if it is valid and its user still enabled. */
export async function sessionOf(req: IncomingMessage, store: Store): Promise<WebSession | null> {
  const text = readCookies(req).get(sessionCookie);
  if (!text) return null;
  const token = await verifyToken(store, text, 'session');
  if (!token || !token.subject) return null;
  const user = await store.directory.getUser(token.subject);
  if (!user || !user.enabled) return null;
  return { id: token.id, text, csrf: csrfFor(text), user };
}

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The session cookie as an API authenticator: a script in the webmail or
 * console page calls the API with the cookie and the session's CSRF token in
 * an X-CSRF-Token header on every state-changing request.
 */
export class SessionCookieAuthenticator implements Authenticator {
  readonly challenge = null;

  async authenticate(req: IncomingMessage, store: Store): Promise<AuthOutcome> {
    const text = readCookies(req).get(sessionCookie);
    if (!text) return { kind: 'absent' };
    const token = await verifyToken(store, text, 'session');
    if (!token || !token.subject) return { kind: 'invalid', message: 'The session has ended; sign in again.' };
    // The user as they are now, as the pages see them: a disabled user's
    // session ends, and a changed role applies at once, not at next sign-in.
    const user = await store.directory.getUser(token.subject);
    if (!user || !user.enabled) return { kind: 'invalid', message: 'The session has ended; sign in again.' };
    if (!safeMethods.has(req.method ?? 'GET')) {
      const given = req.headers['x-csrf-token'];
      if (typeof given !== 'string' || !sameSecret(given, csrfFor(text))) {
        return { kind: 'refused', message: 'A request made with the session cookie needs the X-CSRF-Token header of the session.' };
      }
    }
    return { kind: 'ok', principal: userPrincipal(user, 'session', token.id) };
  }
}
