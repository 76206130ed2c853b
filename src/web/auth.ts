/**
 * Who is calling: each request's credentials become a Principal through
 * the first authenticator that recognises them. Today: bearer tokens
 * (`Authorization: Bearer rookery_...`) and a user's own address and
 * password (`Authorization: Basic`). The web login's session cookie is
 * one more Authenticator: it reads the cookie, looks the session up with
 * verifyToken(store, text, 'session') (sessions live in the store, so
 * every node knows them and a logout ends them everywhere), and checks
 * the CSRF header on state-changing methods.
 *
 * Failed authentications go to the node's login throttle, shared with
 * IMAP, POP3 and SMTP and (through the store) with every node
 * (src/net/login-throttle.ts): they are counted per client address (the
 * real one, from the PROXY header) and per account; an address past the
 * limit gets 429 with Retry-After until its failures are forgotten,
 * whatever it sends.
 */
import type { IncomingMessage } from 'node:http';
import { domainOf } from '../store/address.js';
import type { Store, User, UserRole } from '../store/types.js';
import type { Limits } from '../config/limits.js';
import { loginThrottleFor, type LoginThrottle, type LoginVerdict } from '../net/login-throttle.js';
import { ApiError } from './errors.js';
import { verifyToken } from './tokens.js';

/** The caller, as the authorisation checks see it. */
export interface Principal {
  role: UserRole;
  /** The domain a domain-admin administers; null for other roles. */
  domain: string | null;
  /** The user acted as (always set for role 'user'); null for a token of no particular user. */
  subject: string | null;
  /** How it authenticated. */
  via: 'token' | 'password' | 'session';
  /** The token or session id, when there is one. */
  tokenId: string | null;
}

/** What an authenticator made of a request. */
export type AuthOutcome =
  /** These are not its credentials: ask the next authenticator. */
  | { kind: 'absent' }
  /** Its credentials, and they are wrong (counted as a failure). */
  | { kind: 'invalid'; message: string }
  /**
   * Its credentials are good but the request is refused (403), and not
   * counted as a failed login: a session cookie without the session's
   * CSRF header is what a forged cross-site request looks like, and
   * counting it would let any page lock its visitor's address out.
   */
  | { kind: 'refused'; message: string }
  | { kind: 'ok'; principal: Principal };

export interface Authenticator {
  /** The challenge named in WWW-Authenticate when nobody recognised the request. */
  readonly challenge: string | null;
  authenticate(req: IncomingMessage, store: Store): Promise<AuthOutcome>;
}

/** The domain a user of this role administers: their own for a domain-admin, none otherwise. */
export function administeredDomain(user: User): string | null {
  return user.role === 'domain-admin' ? domainOf(user.address) : null;
}

/** A signed-in user as a principal: the role the user has now. */
export function userPrincipal(user: User, via: Principal['via'], tokenId: string | null): Principal {
  return { role: user.role, domain: administeredDomain(user), subject: user.address, via, tokenId };
}

/** `touch()` is written at most this often per token, so a busy script does not write on every request. */
const touchEveryMs = 60_000;

export class BearerTokenAuthenticator implements Authenticator {
  readonly challenge = 'Bearer realm="rookery"';
  private readonly touched = new Map<string, number>();

  async authenticate(req: IncomingMessage, store: Store): Promise<AuthOutcome> {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) return { kind: 'absent' };
    const token = await verifyToken(store, m[1]!, 'api');
    if (!token) return { kind: 'invalid', message: 'The bearer token is not valid (unknown, revoked or expired).' };
    // A token that acts as a user stops working while that user is disabled
    // (or gone); its role stays what the admin who made it granted.
    if (token.subject !== null) {
      const user = await store.directory.getUser(token.subject);
      if (user ? !user.enabled : token.role === 'user') return { kind: 'invalid', message: `The bearer token acts as ${token.subject}, who is disabled or no longer exists.` };
    }
    const now = Date.now();
    if (now - (this.touched.get(token.id) ?? 0) > touchEveryMs) {
      this.touched.set(token.id, now);
      if (this.touched.size > 10_000) this.touched.clear();
      store.tokens.touch(token.id, new Date(now)).catch(() => undefined);
    }
    return { kind: 'ok', principal: { role: token.role, domain: token.domain, subject: token.subject, via: 'token', tokenId: token.id } };
  }
}

/** A user's own address and password, for scripts and self-care (its role is the user's role). */
export class PasswordAuthenticator implements Authenticator {
  readonly challenge = 'Basic realm="rookery", charset="UTF-8"';

  async authenticate(req: IncomingMessage, store: Store): Promise<AuthOutcome> {
    const header = req.headers.authorization ?? '';
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (!m) return { kind: 'absent' };
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return { kind: 'invalid', message: 'The Basic credentials are not address:password.' };
    const user = await store.directory.authenticate(decoded.slice(0, colon), decoded.slice(colon + 1));
    if (!user) return { kind: 'invalid', message: 'The address or password is wrong.' };
    return { kind: 'ok', principal: userPrincipal(user, 'password', null) };
  }
}

/**
 * The web's side of the shared login throttle: a refusal becomes 429 with
 * Retry-After. HTTP failures are answered at once (a request is no session
 * to slow down); the count and the refusal are the protection.
 */
export class AuthThrottle {
  constructor(private readonly throttle: LoginThrottle, private readonly protocol: string) {}

  /**
   * Throws 429 if the address (or the account, for an address that has
   * failed) is refused; up to date with every node's failures.
   */
  async admit(address: string, account = ''): Promise<void> {
    refuse(await this.throttle.check(address, account));
  }

  /** Counts a failure against the address and, when known, the account; never rejects. */
  async fail(address: string, account = ''): Promise<void> {
    await this.throttle.failed(this.protocol, address, account);
  }
}

function refuse(verdict: LoginVerdict): void {
  if (verdict.allowed) return;
  const retry = Math.max(1, Math.ceil(verdict.retryAfterMs / 1000));
  throw new ApiError('too-many-requests', `${verdict.sentence[0]!.toUpperCase()}${verdict.sentence.slice(1)}.`, undefined, { 'Retry-After': String(retry) });
}

/** The web's throttle for a store (http or https: the protocol of the metrics), on the node's shared one. */
export function webAuthThrottle(store: Store, protocol: string, limits: Partial<Limits> = {}): AuthThrottle {
  return new AuthThrottle(loginThrottleFor(store, limits), protocol);
}

/** The user name of Basic credentials, '' when there are none (the account the throttle checks). */
function basicAccount(req: IncomingMessage): string {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!m) return '';
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon > 0 ? decoded.slice(0, colon) : '';
}

/**
 * Authenticates a request: the principal, or null when no credentials
 * were given. Throws 401 for wrong credentials and 429 for a throttled
 * address (every failure is counted, and the auth-failure metric with it).
 */
export async function authenticate(
  req: IncomingMessage, store: Store, authenticators: readonly Authenticator[], throttle: AuthThrottle, clientAddress: string,
): Promise<Principal | null> {
  const account = basicAccount(req);
  await throttle.admit(clientAddress, account);
  for (const a of authenticators) {
    const outcome = await a.authenticate(req, store);
    if (outcome.kind === 'absent') continue;
    if (outcome.kind === 'ok') return outcome.principal;
    if (outcome.kind === 'refused') throw new ApiError('forbidden', outcome.message);
    await throttle.fail(clientAddress, account);
    throw new ApiError('unauthenticated', outcome.message, undefined, challenges(authenticators));
  }
  return null;
}

export function challenges(authenticators: readonly Authenticator[]): Record<string, string> {
  const list = authenticators.map((a) => a.challenge).filter((c): c is string => c !== null);
  return list.length > 0 ? { 'WWW-Authenticate': list.join(', ') } : {};
}

// ---------------------------------------------------------------- authorisation

/** Whether the principal administers the domain (admin: every domain). */
export function administers(p: Principal, domain: string): boolean {
  return p.role === 'admin' || (p.role === 'domain-admin' && p.domain === domain.toLowerCase());
}

/** Throws 403 unless the principal administers the domain. */
export function requireDomain(p: Principal, domain: string): void {
  if (!administers(p, domain)) throw new ApiError('forbidden', `Your role (${p.role}) does not administer ${domain.toLowerCase()}.`);
}

/** Throws 403 unless the principal administers the address's domain or is that user. */
export function requireSelfOrDomain(p: Principal, address: string): void {
  const a = address.toLowerCase();
  if (p.subject === a) return;
  requireDomain(p, domainOf(a));
}
