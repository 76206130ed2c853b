/**
 * STARTTLS (RFC 3501 section 6.2.1, RFC 9051 section 6.2.1)
 *
 *     starttls = "STARTTLS"
 *
 * Answered OK in clear text; the handshake starts right after. The session
 * throws away anything the client pipelined after the command, and the
 * client must ask for CAPABILITY again (the list changes under TLS).
 */
import { bad } from '../errors.js';
import { NO_FLAGS, type ImapCommand } from '../session-context.js';

export const starttls: ImapCommand<'STARTTLS'> = {
  name: 'STARTTLS',
  states: ['not-authenticated'],
  flags: NO_FLAGS,
  async run(ctx) {
    if (ctx.secure) throw bad('the connection is already encrypted');
    ctx.startTlsAfterReply();
    return { text: 'begin TLS negotiation now' };
  },
};
