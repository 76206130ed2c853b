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
 * Failed logins go through the node's login throttle, shared by every
 * protocol and node (src/net/login-throttle.ts): each failure's 535 is
 * delayed, by more the more failures the client's address or the account
 * had recently; an address or account over its limit gets 454 4.7.0
 * before its password is looked at; and a connection is closed with
 * 421 4.7.0 after limits.maxAuthFailures.
 * PLAIN with an authorization identity other than the authentication
 * identity is refused: nobody may log in on behalf of another user.
 */
import { plaintextAuthAllowed } from '../../net/plaintext-auth.js';
import { loginThrottleFor } from '../../net/login-throttle.js';
import type { SMTPServerAuthentication, SMTPServerAuthenticationResponse, SMTPServerSession } from 'smtp-server';
import type { ServiceContext } from '../../net/service.js';
import { replies, SmtpReply } from './replies.js';

/** SASL mechanisms announced, in order of preference. */
export const AUTH_METHODS = ['PLAIN', 'LOGIN'];

/** Whether this session may authenticate now (see the file's comment). */
export function authAllowed(session: Pick<SMTPServerSession, 'secure' | 'remoteAddress'>): boolean {
  return plaintextAuthAllowed(session.secure, session.remoteAddress);
}

/** The onAuth hook with its throttle. */
export function authHandler(ctx: ServiceContext, service = 'submission') {
  const failuresBySession = new WeakMap<SMTPServerSession, number>();
  const throttle = loginThrottleFor(ctx.store, ctx.limits, (err) => ctx.logger.warn({ err }, 'login throttle: the store is out of reach'));
  const noteFailure = (session: SMTPServerSession): number => {
    const failures = (failuresBySession.get(session) ?? 0) + 1;
    failuresBySession.set(session, failures);
    return failures;
  };

  const check = async (auth: SMTPServerAuthentication, session: SMTPServerSession): Promise<SMTPServerAuthenticationResponse> => {
    if (!authAllowed(session)) throw replies.encryptionRequired();
    const username = auth.username ?? '';
    const authzid = (auth as { authzid?: string }).authzid ?? '';
    const authcid = (auth as { authcid?: string }).authcid ?? '';
    const proxyLogin = auth.method === 'PLAIN' && authzid !== '' && authcid !== '' && authzid.toLowerCase() !== authcid.toLowerCase();
    const verdict = await throttle.check(session.remoteAddress, username);
    if (!verdict.allowed) {
      const failures = noteFailure(session);
      ctx.logger.info({ session: session.id, username, failures }, 'login refused by the throttle');
      if (failures >= ctx.limits.maxAuthFailures) throw replies.tooManyAuthFailures();
      throw new SmtpReply(454, '4.7.0', `Temporary authentication failure: ${verdict.sentence}`);
    }
    const user = proxyLogin || (auth.method !== 'PLAIN' && auth.method !== 'LOGIN') ? null : await ctx.store.directory.authenticate(username, auth.password ?? '');
    if (user) {
      ctx.logger.info({ session: session.id, user: user.address, method: auth.method }, 'authenticated');
      return { user };
    }
    const failures = noteFailure(session);
    const delay = await throttle.failed(service, session.remoteAddress, username);
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
