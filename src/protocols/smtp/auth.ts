/**
 * AUTH on the submission service (RFC 4954): PLAIN (RFC 4616) and LOGIN
 * (draft-murchison-sasl-login), checked with Directory.authenticate.
 *
 * Where AUTH may be used: over TLS (STARTTLS on 587, or 465), or from a
 * loopback address; the same rule as IMAP's LOGIN (Dovecot's
 * disable_plaintext_auth = yes). A client reaching us through the traffic
 * manager is judged by the address in its PROXY header, so only clients on
 * this very machine may send a password in clear text. Elsewhere EHLO does
 * not announce AUTH before TLS, and AUTH gets 538 5.7.11 before the SASL
 * exchange begins, so no password crosses the network unencrypted
 * (server.ts holds that guard, as smtp-server has no hook before SASL).
 *
 * Failed logins are throttled two ways: each failure's 535 is delayed, by
 * more the more failures the client's address had recently (on this node;
 * a success does not wipe the record, or one valid account would let its
 * owner guess the others' passwords at full speed), and a connection is
 * closed with 421 4.7.0 after limits.maxAuthFailures.
 * PLAIN with an authorization identity other than the authentication
 * identity is refused: nobody may log in on behalf of another user.
 */
import { plaintextAuthAllowed } from '../../net/plaintext-auth.js';
import type { SMTPServerAuthentication, SMTPServerAuthenticationResponse, SMTPServerSession } from 'smtp-server';
import type { ServiceContext } from '../../net/service.js';
import { replies, SmtpReply } from './replies.js';

/** Delay before the first failed login's 535; doubled per recent failure from the same address. */
const FAILURE_DELAY_MS = 300;
/** The longest delay before a 535. */
const MAX_FAILURE_DELAY_MS = 5_000;
/** How long a failure counts against its address. */
const FAILURE_MEMORY_MS = 10 * 60_000;
/** Addresses remembered before old entries are swept. */
const MAX_REMEMBERED_ADDRESSES = 10_000;

/** SASL mechanisms announced, in order of preference. */
export const AUTH_METHODS = ['PLAIN', 'LOGIN'];

/** Whether this session may authenticate now (see the file's comment). */
export function authAllowed(session: Pick<SMTPServerSession, 'secure' | 'remoteAddress'>): boolean {
  return plaintextAuthAllowed(session.secure, session.remoteAddress);
}

/** The onAuth hook with its throttle. */
export function authHandler(ctx: ServiceContext) {
  const failuresBySession = new WeakMap<SMTPServerSession, number>();
  const recentByAddress = new Map<string, { count: number; lastAt: number }>();

  const noteFailure = (address: string): number => {
    const now = Date.now();
    if (recentByAddress.size > MAX_REMEMBERED_ADDRESSES) {
      for (const [a, e] of recentByAddress) if (now - e.lastAt > FAILURE_MEMORY_MS) recentByAddress.delete(a);
    }
    const prev = recentByAddress.get(address);
    const count = prev && now - prev.lastAt <= FAILURE_MEMORY_MS ? prev.count + 1 : 1;
    recentByAddress.set(address, { count, lastAt: now });
    return Math.min(FAILURE_DELAY_MS * 2 ** (count - 1), MAX_FAILURE_DELAY_MS);
  };

  const check = async (auth: SMTPServerAuthentication, session: SMTPServerSession): Promise<SMTPServerAuthenticationResponse> => {
    if (!authAllowed(session)) throw replies.encryptionRequired();
    const username = auth.username ?? '';
    const authzid = (auth as { authzid?: string }).authzid ?? '';
    const authcid = (auth as { authcid?: string }).authcid ?? '';
    const proxyLogin = auth.method === 'PLAIN' && authzid !== '' && authcid !== '' && authzid.toLowerCase() !== authcid.toLowerCase();
    const user = proxyLogin || (auth.method !== 'PLAIN' && auth.method !== 'LOGIN') ? null : await ctx.store.directory.authenticate(username, auth.password ?? '');
    if (user) {
      ctx.logger.info({ session: session.id, user: user.address, method: auth.method }, 'authenticated');
      return { user };
    }
    const failures = (failuresBySession.get(session) ?? 0) + 1;
    failuresBySession.set(session, failures);
    const delay = noteFailure(session.remoteAddress);
    ctx.logger.info({ session: session.id, username, failures, delayMs: delay }, 'login failed');
    await new Promise((r) => setTimeout(r, delay));
    if (failures >= ctx.limits.maxAuthFailures) throw replies.tooManyAuthFailures();
    throw proxyLogin ? replies.authzRefused() : replies.authFailed();
  };

  return (auth: SMTPServerAuthentication, session: SMTPServerSession, callback: (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void): void => {
    check(auth, session).then(
      (response) => callback(null, response),
      (err: unknown) => {
        if (err instanceof SmtpReply) return callback(err);
        ctx.logger.error({ err, session: session.id }, 'could not check a password');
        callback(replies.authTemporary());
      },
    );
  };
}
