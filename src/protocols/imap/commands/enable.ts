/**
 * ENABLE (RFC 5161, RFC 9051 section 6.3.1)
 *
 *     enable      = "ENABLE" 1*(SP capability)
 *     enable-data = "ENABLED" *(SP capability)
 *
 * Extensions that change what the server sends: CONDSTORE, QRESYNC
 * (RFC 7162; QRESYNC implies CONDSTORE), UTF8=ACCEPT (RFC 6855) and
 * IMAP4rev2 (RFC 9051 Appendix A: a server that announces both revisions
 * speaks IMAP4rev1 until the client enables IMAP4rev2). Unknown names are
 * ignored; only newly enabled ones are listed.
 */
import { capabilitySpelling, ENABLEABLE, type EnableableCapability } from '../capabilities.js';
import { AUTHENTICATED_STATES, NO_FLAGS, type ImapCommand } from '../session-context.js';
import { atom } from '../wire/index.js';

export const enable: ImapCommand<'ENABLE'> = {
  name: 'ENABLE',
  states: AUTHENTICATED_STATES,
  flags: NO_FLAGS,
  async run(ctx, request) {
    const advertised = new Set(ctx.capabilities().map((c) => c.toUpperCase()));
    const requested = request.capabilities.filter((name) => (ENABLEABLE as readonly string[]).includes(name) && advertised.has(name)) as EnableableCapability[];
    // Listed: what this command enabled, including CONDSTORE asked for beside QRESYNC (which implies it).
    const enabled = [...new Set(requested.filter((c) => !ctx.isEnabled(c)))];
    for (const capability of requested) ctx.enable(capability);
    await ctx.untagged([atom('ENABLED'), ...enabled.map((c) => atom(capabilitySpelling(c)))]);
  },
};
