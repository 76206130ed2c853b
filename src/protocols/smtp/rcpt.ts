/**
 * RCPT TO (RFC 5321 4.1.1.3): accept only addresses this cluster can put in
 * a mailbox now.
 *
 * - A domain that is not ours: 554 5.7.1 relay denied (this is an MX, not a
 *   relay; authenticated submission is a separate service).
 * - A local domain where nothing answers, or a disabled user: 550 5.1.1.
 * - An address whose aliases or forwards reach outside the cluster: 451
 *   4.3.2, even when it also has local users. Outbound delivery does not
 *   exist yet, and accepting the message would mean silently dropping the
 *   remote copy; a temporary reply keeps the sender's queue holding it.
 * - Quota: every local user the address expands to must have room for the
 *   SIZE the client declared (or, without SIZE, must not be full already);
 *   otherwise 452 4.2.2 or 552 5.2.2 as limits.quotaExceeded says. There is
 *   one reply per address, so an alias with one full member is refused as a
 *   whole rather than delivered to some members and dropped for another.
 * - The recipient count cap (452 4.5.3) is enforced by smtp-server's
 *   maxRecipients option before this hook runs.
 *
 * The users an accepted address resolved to are remembered for DATA.
 */
import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import type { ServiceContext } from '../../net/service.js';
import type { User } from '../../store/types.js';
import { classifyRecipient, hasRoomFor } from '../../mail/deliver.js';
import { isStoreError } from '../../store/errors.js';
import { declaredSize } from './mail.js';
import { replies, replyForError } from './replies.js';

/** RCPT TO parameters we accept (none: DSN is not announced). */
const ALLOWED_PARAMS = new Set<string>();

const resolved = new WeakMap<SMTPServerAddress, User[]>();

/** The local users an accepted recipient resolved to at RCPT time. */
export function usersOfRecipient(address: SMTPServerAddress): User[] {
  return resolved.get(address) ?? [];
}

/** The address the domain-less "postmaster" (RFC 5321 4.1.1.3) stands for. */
async function postmasterAddress(ctx: ServiceContext): Promise<string | null> {
  // Our own host name and its parents first, then the first local domain.
  const labels = ctx.hostname.toLowerCase().split('.');
  for (let i = 0; i < labels.length - 1; i++) {
    const domain = labels.slice(i).join('.');
    if (await ctx.store.directory.isLocalDomain(domain)) return `postmaster@${domain}`;
  }
  const domains = await ctx.store.directory.listDomains();
  return domains.length ? `postmaster@${domains[0]!.name}` : null;
}

/** The onRcptTo hook. */
export function rcptToHandler(ctx: ServiceContext) {
  const check = async (address: SMTPServerAddress, session: SMTPServerSession): Promise<void> => {
    for (const name of Object.keys(address.args || {})) {
      if (!ALLOWED_PARAMS.has(name)) throw replies.badParameter(name);
    }
    let target = address.address;
    if (target.toLowerCase() === 'postmaster') {
      const pm = await postmasterAddress(ctx);
      if (!pm) throw replies.unknownUser();
      target = pm;
    }
    const verdict = await classifyRecipient(ctx.store.directory, target).catch((err: unknown) => {
      // An address the directory cannot even hold (odd quoting, an overlong
      // local part) names nobody here.
      if (isStoreError(err, 'bad-parameters')) return { kind: 'unknown' as const, address: target };
      throw err;
    });
    switch (verdict.kind) {
      case 'not-local':
        throw replies.relayDenied();
      case 'unknown':
        throw replies.unknownUser();
      case 'remote':
        ctx.logger.info({ session: session.id, rcpt: verdict.address, remote: verdict.remoteTargets }, 'deferring a recipient that forwards outside the cluster');
        throw replies.remoteTargets();
      case 'local': {
        const size = declaredSize(session);
        if (verdict.users.some((u) => !hasRoomFor(u, size))) throw replies.overQuota(ctx.limits.quotaExceeded);
        resolved.set(address, verdict.users);
      }
    }
  };
  return (address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void): void => {
    check(address, session).then(
      () => callback(),
      (err: unknown) => {
        const reply = replyForError(err, ctx.limits);
        if (reply !== err) ctx.logger.error({ err, session: session.id, rcpt: address.address }, 'recipient check failed');
        callback(reply);
      },
    );
  };
}
