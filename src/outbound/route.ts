/**
 * Where mail for a domain goes next: the transport map first (an operator's
 * route for the domain, or "*" for a smarthost, as Postfix's transport_maps
 * and relayhost), otherwise the domain's MX records per RFC 5321 section 5:
 *
 * - MX records in preference order, equal preferences shuffled (5.1);
 * - no MX records: the domain itself is the one MX, preference 0, by its
 *   A/AAAA records (the "implicit MX", 5.1);
 * - a domain that does not exist, or a null MX (RFC 7505: one MX of
 *   preference 0 and exchange "."), fails permanently;
 * - a lookup that fails for now (SERVFAIL, a timeout) is a temporary
 *   failure: the queue tries again later.
 *
 * The resolver is injected, so tests never touch the network.
 */
import { isIP } from 'node:net';
import { Resolver } from 'node:dns/promises';

/** The part of node:dns/promises the router uses. */
export interface DnsResolver {
  resolveMx(name: string): Promise<{ exchange: string; priority: number }[]>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
}

/** The system's resolver. */
export function systemResolver(): DnsResolver {
  return new Resolver();
}

/** One host to try, with its addresses in the order to try them. */
export interface NextHop {
  /** The MX or transport host name (or address), for TLS SNI and the DSN's Remote-MTA. */
  host: string;
  /** MX preference; 0 for a transport entry or the implicit MX. */
  preference: number;
  port: number;
  addresses: string[];
}

export type Route =
  | { kind: 'hops'; via: 'transport' | 'smarthost' | 'mx' | 'implicit-mx'; hops: NextHop[] }
  /** No way to deliver: `permanent` bounces, otherwise the queue retries. */
  | { kind: 'fail'; permanent: boolean; status: string; message: string };

/** A transport map target: "host", "host:port", "[address]:port" or "[v6]:port". */
export interface TransportTarget {
  host: string;
  port: number;
}

/** Parses a transport target; throws an Error with a sentence when it is not one. */
export function parseTransportTarget(text: string): TransportTarget {
  const t = text.trim();
  let host: string;
  let port = 25;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (bracket) {
    host = bracket[1]!;
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else if (isIP(t) === 6) {
    host = t;
  } else {
    const m = /^([A-Za-z0-9.-]+)(?::(\d+))?$/.exec(t);
    if (!m) throw new Error(`"${text}" is not HOST, HOST:PORT or [ADDRESS]:PORT`);
    host = m[1]!;
    if (m[2] !== undefined) port = Number(m[2]);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`"${text}" has no valid port (1 to 65535)`);
  if (host === '' || (bracket && isIP(host) === 0)) throw new Error(`"${text}" names no host`);
  return { host: host.toLowerCase(), port };
}

/** DNS error codes that mean "ask again later", not "there is no such thing". */
const temporaryDnsCodes = new Set(['ESERVFAIL', 'ETIMEOUT', 'ECONNREFUSED', 'EREFUSED', 'ECANCELLED', 'EAI_AGAIN', 'EOF', 'ECONNRESET', 'EFORMERR', 'EBADRESP']);

function dnsCode(err: unknown): string {
  return String((err as { code?: unknown } | null)?.code ?? '');
}

/** Addresses of a host name (A first, then AAAA); an address is its own. Throws on a temporary failure. */
export async function hostAddresses(host: string, resolver: DnsResolver): Promise<string[]> {
  if (isIP(host)) return [host];
  const results = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
  const out: string[] = [];
  let temporary: unknown = null;
  for (const r of results) {
    if (r.status === 'fulfilled') out.push(...r.value);
    else if (temporaryDnsCodes.has(dnsCode(r.reason))) temporary = r.reason;
  }
  if (out.length === 0 && temporary !== null) throw temporary;
  return out;
}

function shuffle<T>(items: T[], random: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** MX hosts of a domain per RFC 5321 5.1 and RFC 7505, each with its addresses. */
export async function resolveMx(domain: string, resolver: DnsResolver, random: () => number = Math.random): Promise<Route> {
  if (domain.startsWith('[') && domain.endsWith(']')) {
    // An address literal (RFC 5321 4.1.3): deliver straight to it.
    const literal = domain.slice(1, -1).replace(/^IPv6:/i, '');
    if (!isIP(literal)) return { kind: 'fail', permanent: true, status: '5.1.2', message: `${domain} is not a valid address literal` };
    return { kind: 'hops', via: 'implicit-mx', hops: [{ host: literal, preference: 0, port: 25, addresses: [literal] }] };
  }
  let records: { exchange: string; priority: number }[];
  try {
    records = await resolver.resolveMx(domain);
  } catch (err) {
    const code = dnsCode(err);
    if (code === 'ENOTFOUND') return { kind: 'fail', permanent: true, status: '5.1.2', message: `the domain ${domain} does not exist (DNS: NXDOMAIN)` };
    if (code === 'ENODATA') records = [];
    else return { kind: 'fail', permanent: false, status: '4.4.3', message: `DNS lookup of the MX records of ${domain} failed for now (${code || (err as Error).message})` };
  }
  const isNull = (r: { exchange: string }) => r.exchange === '' || r.exchange === '.';
  if (records.length === 1 && isNull(records[0]!) ) {
    return { kind: 'fail', permanent: true, status: '5.1.10', message: `${domain} does not accept mail (null MX, RFC 7505)` };
  }
  records = records.filter((r) => !isNull(r));
  let via: 'mx' | 'implicit-mx' = 'mx';
  if (records.length === 0) {
    records = [{ exchange: domain, priority: 0 }];
    via = 'implicit-mx';
  }
  // Preference order; equal preferences in random order to spread the load (5.1).
  const byPref = new Map<number, string[]>();
  for (const r of records) {
    const list = byPref.get(r.priority) ?? [];
    list.push(r.exchange.replace(/\.$/, '').toLowerCase());
    byPref.set(r.priority, list);
  }
  const ordered = [...byPref.keys()].sort((a, b) => a - b).flatMap((p) => shuffle([...new Set(byPref.get(p)!)], random).map((host) => ({ host, preference: p })));
  const hops: NextHop[] = [];
  let temporary: unknown = null;
  for (const { host, preference } of ordered) {
    try {
      const addresses = await hostAddresses(host, resolver);
      if (addresses.length > 0) hops.push({ host, preference, port: 25, addresses });
    } catch (err) {
      temporary = err;
    }
  }
  if (hops.length > 0) return { kind: 'hops', via, hops };
  if (temporary !== null) {
    return { kind: 'fail', permanent: false, status: '4.4.3', message: `DNS lookup of the mail hosts of ${domain} failed for now (${dnsCode(temporary)})` };
  }
  return via === 'implicit-mx'
    ? { kind: 'fail', permanent: true, status: '5.1.2', message: `${domain} has no MX and no address records` }
    : { kind: 'fail', permanent: false, status: '4.4.4', message: `no MX host of ${domain} has an address` };
}

/** The route for a domain: its transport map entry, the smarthost ("*"), or its MX records. */
export async function routeFor(domain: string, transports: ReadonlyMap<string, TransportTarget>, resolver: DnsResolver,
  random: () => number = Math.random): Promise<Route> {
  const own = transports.get(domain);
  const target = own ?? transports.get('*');
  if (target) {
    let addresses: string[];
    try {
      addresses = await hostAddresses(target.host, resolver);
    } catch (err) {
      return { kind: 'fail', permanent: false, status: '4.4.3', message: `DNS lookup of the transport host ${target.host} failed for now (${dnsCode(err)})` };
    }
    if (addresses.length === 0) return { kind: 'fail', permanent: false, status: '4.4.4', message: `the transport host ${target.host} has no address` };
    return { kind: 'hops', via: own ? 'transport' : 'smarthost', hops: [{ host: target.host, preference: 0, port: target.port, addresses }] };
  }
  return resolveMx(domain, resolver, random);
}

/**
 * RFC 5321 5.1: if this cluster is among the MX hosts, only hosts more
 * preferred than its best entry may be tried (the others would hand the
 * mail back). Returns the hops left, and whether self was found; none
 * left with self found is a mail loop. A transport entry that points at
 * self is always a loop.
 */
export function withoutSelf(hops: NextHop[], isSelf: (address: string) => boolean): { hops: NextHop[]; selfFound: boolean } {
  let best = Infinity;
  for (const h of hops) if (h.addresses.some(isSelf)) best = Math.min(best, h.preference);
  if (best === Infinity) return { hops, selfFound: false };
  return { hops: hops.filter((h) => h.preference < best), selfFound: true };
}
