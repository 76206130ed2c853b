/**
 * ETRN (RFC 1985), as the ZMailer ETRN cluster does it: "ETRN domain" at
 * any node makes all of that domain's queued mail due now, whichever node
 * queued it (the queue is the cluster's, in the store), and wakes the
 * queue workers on every node through the store's change feed (they also
 * poll every limits.queuePollMs).
 *
 * Allowed from an authenticated session, or from a client address in the
 * store setting `smtp.etrnNetworks` (comma-separated CIDR blocks; loopback
 * by default). "@domain" flushes the domain and its subdomains; "#queue"
 * names are not supported (458). Not during a mail transaction (503).
 *
 * Replies (RFC 1985 section 4): 251 no messages waiting, 253 n pending
 * messages started, 458 unable to queue, 459 not allowed, 501 syntax.
 */
import { BlockList, isIP } from 'node:net';
import type { SMTPServerSession } from 'smtp-server';
import type { ServiceContext } from '../../net/service.js';

export const etrnNetworksSettingKey = 'smtp.etrnNetworks';
export const defaultEtrnNetworks = '127.0.0.0/8, ::1/128';

/** A reply to ETRN: the code and a text starting with its enhanced status code. */
export interface EtrnReply {
  code: number;
  text: string;
}

/** Parses "a.b.c.d/n, x::/n, a.b.c.d" into a BlockList; bad entries are skipped. */
export function etrnNetworks(text: string): BlockList {
  const list = new BlockList();
  for (const raw of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [address, bits] = raw.split('/') as [string, string | undefined];
    const family = isIP(address);
    if (family === 0) continue;
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, type);
    else if (/^\d+$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32)) list.addSubnet(address, Number(bits), type);
  }
  return list;
}

function allowedAddress(list: BlockList, address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const a = mapped ? mapped[1]! : address;
  const family = isIP(a);
  if (family === 0) return false;
  return list.check(a, family === 6 ? 'ipv6' : 'ipv4');
}

const domainPattern = /^(?=.{1,253}$)([a-z0-9\u0080-\uffff](?:[a-z0-9\u0080-\uffff-]{0,61}[a-z0-9\u0080-\uffff])?)(\.[a-z0-9\u0080-\uffff](?:[a-z0-9\u0080-\uffff-]{0,61}[a-z0-9\u0080-\uffff])?)*\.?$/i;

/** The ETRN policy for a service: argument, session in, reply out. */
export function etrnHandler(ctx: ServiceContext) {
  return async (argument: string, session: SMTPServerSession): Promise<EtrnReply> => {
    const arg = argument.trim();
    if (arg === '' || /\s/.test(arg)) return { code: 501, text: '5.5.4 Syntax: ETRN domain' };
    if (session.envelope?.mailFrom) return { code: 503, text: '5.5.1 ETRN is not allowed during a mail transaction' };
    if (arg.startsWith('#')) return { code: 458, text: `4.5.0 Unable to queue messages for ${arg}: queue names are not supported` };
    const subdomains = arg.startsWith('@');
    const domain = (subdomains ? arg.slice(1) : arg).toLowerCase().replace(/\.$/, '');
    if (!domainPattern.test(domain)) return { code: 501, text: '5.5.4 Syntax: ETRN domain (or @domain for its subdomains too)' };
    if (!session.user) {
      const networks = (await ctx.store.settings.get(etrnNetworksSettingKey)) ?? defaultEtrnNetworks;
      if (!allowedAddress(etrnNetworks(networks), session.remoteAddress)) {
        return { code: 459, text: `4.7.1 Node ${domain} not allowed: ETRN is accepted from authenticated sessions and the ETRN networks only` };
      }
    }
    const n = await ctx.store.queue.flush(domain, { subdomains });
    // Every node's worker hears of it at once where the store pushes changes.
    await ctx.store.changes?.publish({ kind: 'queue', domain }).catch((err: unknown) => ctx.logger.warn({ err }, 'could not announce an ETRN'));
    ctx.logger.info({ session: session.id, domain, subdomains, recipients: n }, 'ETRN');
    if (n === 0) return { code: 251, text: `2.0.0 OK, no messages waiting for node ${domain}` };
    return { code: 253, text: `2.0.0 OK, ${n} pending messages for node ${domain} started` };
  };
}
