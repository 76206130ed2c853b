/**
 * AUTHENTICATE (RFC 3501 section 6.2.2, RFC 9051 section 6.2.2, SASL-IR
 * RFC 4959, PLAIN RFC 4616)
 *
 *     authenticate  = "AUTHENTICATE" SP auth-type [SP (base64 / "=")] *(CRLF base64)
 *     PLAIN message = [authzid] NUL authcid NUL passwd
 *
 * Only PLAIN is offered (the server holds password hashes, so challenge
 * mechanisms such as CRAM-MD5 cannot be checked). An initial response may
 * come with the command (SASL-IR); otherwise the server sends an empty
 * challenge "+ " and reads one line. "*" cancels (BAD, RFC 3501 6.2.2).
 */
import { bad, ImapError, no } from '../errors.js';
import { NO_FLAGS, type ImapCommand } from '../session-context.js';
import { atom } from '../wire/index.js';

/** Splits a PLAIN message; null when it is not three NUL-separated fields. */
export function decodePlain(message: Buffer): { authzid: string; authcid: string; password: string } | null {
  const first = message.indexOf(0);
  const second = first === -1 ? -1 : message.indexOf(0, first + 1);
  if (first === -1 || second === -1 || message.indexOf(0, second + 1) !== -1) return null;
  return {
    authzid: message.subarray(0, first).toString('utf8'),
    authcid: message.subarray(first + 1, second).toString('utf8'),
    password: message.subarray(second + 1).toString('utf8'),
  };
}

export const authenticate: ImapCommand<'AUTHENTICATE'> = {
  name: 'AUTHENTICATE',
  states: ['not-authenticated'],
  flags: NO_FLAGS,
  async run(ctx, request) {
    if (request.mechanism !== 'PLAIN') throw no(`the SASL mechanism ${request.mechanism.slice(0, 40)} is not supported; use PLAIN`, 'CANNOT');
    if (!ctx.plaintextAuthAllowed) throw new ImapError('NO', 'log in over TLS (use STARTTLS or port 993)', { name: 'PRIVACYREQUIRED' });
    const message = request.initialResponse ?? (await ctx.saslExchange(Buffer.alloc(0)));
    if (message === null) throw bad('authentication cancelled by the client');
    const plain = decodePlain(message);
    if (!plain) throw bad('the PLAIN response must be authzid NUL authcid NUL password');
    // No logging in as somebody else: an authorization identity must be the user itself.
    if (plain.authzid !== '' && plain.authzid.toLowerCase() !== plain.authcid.toLowerCase()) {
      throw no('you may not act as another user', 'AUTHORIZATIONFAILED');
    }
    const user = await ctx.login(plain.authcid, plain.password);
    return { text: `${user.address} authenticated`, code: { name: 'CAPABILITY', args: ctx.capabilities().map((c) => atom(c)) } };
  },
};
