/**
 * RCPT TO (RFC 5321 4.1.1.3): accept only addresses this cluster can take
 * responsibility for now, and remember what each one means for DATA: the
 * local users who get an INBOX copy and the addresses outside the cluster
 * that get a queued copy.
 *
 * On the MX (mode 'mx'):
 * - A domain that is not ours: 554 5.7.1 relay denied (this is an MX, not a
 *   relay; authenticated submission is a separate service).
 * - A local domain where nothing answers, or a disabled user: 550 5.1.1.
 * - An address whose aliases or forwards reach outside the cluster: its
 *   local users get their copy, its remote targets one queued copy whose
 *   envelope sender is rewritten with SRS (data.ts) so SPF at the far end
 *   passes.
 * - An SRS address of ours (SRS0=...@our-domain, a bounce coming back to a
 *   forwarded message's sender): reversed, and the original address gets
 *   the mail (queued, or delivered here if it is local); a forged or
 *   expired one gets 550 5.1.1.
 *
 * On submission (mode 'submission', after AUTH, see mail.ts): any domain is
 * accepted; a non-local address is queued as it is.
 *
 * Both:
 * - Quota: every local user the address expands to must have room for the
 *   SIZE the client declared (or, without SIZE, must not be full already);
 *   otherwise 452 4.2.2 or 552 5.2.2 as limits.quotaExceeded says. There is
 *   one reply per address, so an alias with one full member is refused as a
 *   whole rather than delivered to some members and dropped for another.
 * - The recipient count cap (452 4.5.3) is enforced by smtp-server's
 *   maxRecipients option before this hook runs.
 */
import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import type { ServiceContext } from '../../net/service.js';
import type { User } from '../../store/types.js';
import { classifyRecipient, hasRoomFor, type RecipientVerdict } from '../../mail/deliver.js';
import { clusterSrs, isSrsLocalPart } from '../../mail/srs.js';
import { domainOf, splitAddress } from '../../mail/address.js';
import { isStoreError } from '../../store/errors.js';
import { declaredSize } from './mail.js';
import { replies, replyForError } from './replies.js';
import type { SmtpMode } from './index.js';

/** RCPT TO parameters we accept (none: DSN is not announced). */
const ALLOWED_PARAMS = new Set<string>();

/** What an accepted recipient stands for. */
export interface RecipientPlan {
  /** Local users who get a copy in their INBOX. */
  users: User[];
  /** Addresses outside the cluster that get the queued copy. */
  remote: string[];
  /**
   * The domain of ours the mail is forwarded from, for the SRS sender of
   * the queued copy (MX only; null when nothing is forwarded, and on
   * submission, whose senders are ours already).
   */
  forwardedFrom: string | null;
}

const plans = new WeakMap<SMTPServerAddress, RecipientPlan>();

/** What an accepted recipient resolved to at RCPT time. */
export function planOfRecipient(address: SMTPServerAddress): RecipientPlan {
  return plans.get(address) ?? { users: [], remote: [], forwardedFrom: null };
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

/** Classifies an address; an address the directory cannot even hold (odd quoting, an overlong local part) names nobody here. */
async function classify(ctx: ServiceContext, target: string): Promise<RecipientVerdict> {
  return classifyRecipient(ctx.store.directory, target).catch((err: unknown) => {
    if (isStoreError(err, 'bad-parameters')) return { kind: 'unknown' as const, address: target };
    throw err;
  });
}

/** The address an SRS address of ours stands for; 550 when it is forged or expired. */
async function reverseSrs(ctx: ServiceContext, session: SMTPServerSession, target: string): Promise<string> {
  const srs = await clusterSrs(ctx.store.settings);
  const result = srs.reverse(target);
  if (result.ok) return result.address;
  ctx.logger.info({ session: session.id, rcpt: target, reason: result.reason }, 'refused an SRS address');
  throw result.reason === 'expired' ? replies.srsExpired() : replies.srsForged();
}

/** The onRcptTo hook. */
export function rcptToHandler(ctx: ServiceContext, mode: SmtpMode) {
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
    const forwardedFrom = domainOf(target);
    const local = splitAddress(target)?.local ?? '';
    let reversed = false;
    if (isSrsLocalPart(local) && forwardedFrom && (await ctx.store.directory.isLocalDomain(forwardedFrom))) {
      target = await reverseSrs(ctx, session, target);
      reversed = true;
    }
    const verdict = await classify(ctx, target);
    let plan: RecipientPlan;
    switch (verdict.kind) {
      case 'not-local':
        // On the MX, only a reversed SRS address may lead outside (the
        // original sender of a forwarded message, getting its bounce).
        if (mode === 'mx' && !reversed) throw replies.relayDenied();
        if (!splitAddress(verdict.address)) throw replies.unknownUser();
        plan = { users: [], remote: [verdict.address], forwardedFrom: null };
        break;
      case 'unknown':
        throw replies.unknownUser();
      case 'remote':
        plan = { users: verdict.users, remote: verdict.remoteTargets, forwardedFrom: null };
        break;
      case 'local':
        plan = { users: verdict.users, remote: [], forwardedFrom: null };
    }
    if (mode === 'mx' && plan.remote.length > 0) plan.forwardedFrom = forwardedFrom;
    const size = declaredSize(session);
    if (plan.users.some((u) => !hasRoomFor(u, size))) throw replies.overQuota(ctx.limits.quotaExceeded);
    if (plan.remote.length > 0) {
      ctx.logger.info({ session: session.id, rcpt: address.address, remote: plan.remote }, 'recipient leads outside the cluster; a copy will be queued');
    }
    plans.set(address, plan);
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
