/**
 * The record builder: from the cluster registry and the DNS configuration to
 * the records of one domain's zone. Pure: no store, no network, no clock, so
 * the live server and `rookery dns zone` give the same records and a unit
 * test can check them alone.
 *
 * The names (PigeonAir's scheme in the seeds):
 *   DOMAIN                     SOA, NS, MX (equal preference, one per healthy SMTP node)
 *   smtp. imap. pop3. mail. webmail.DOMAIN
 *                              A/AAAA of the healthy nodes running that service
 *   NAME.DOMAIN                each member's own address (the MX targets)
 *   webmailNN.DOMAIN           the "magic name" of the webmail node whose name ends in NN
 *   ns1.DOMAIN ...             the name servers' addresses, when they are inside the domain
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { Member } from '../store/types.js';
import { webmailLabel } from '../store/rules.js';
import { isHostName, qualify, type DnsConfig } from './config.js';

/** The record types the zones hold. */
export type ZoneRecordType = 'SOA' | 'NS' | 'MX' | 'A' | 'AAAA';

export interface SoaFields {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

/** One resource record; names are absolute, lower case, without the trailing dot. */
export type ZoneRecord =
  | { name: string; type: 'A' | 'AAAA' | 'NS'; ttl: number; data: string }
  | { name: string; type: 'MX'; ttl: number; data: { preference: number; exchange: string } }
  | { name: string; type: 'SOA'; ttl: number; data: SoaFields };

/** One domain's zone. */
export interface Zone {
  /** The domain, lower case, without the trailing dot. */
  origin: string;
  ttlSeconds: number;
  /** Every record, the SOA first. */
  records: ZoneRecord[];
  /** Hex digest of the records without the SOA serial: it changes exactly when the answers would. */
  digest: string;
  /** Sentences about what could not be built as configured (a name clash, a name server without an address). */
  problems: string[];
}

/**
 * The registry's service names behind each shared name. A member belongs
 * to a name when it runs at least one of them and all of those it runs are
 * healthy, so a client sent there finds whichever port it uses working.
 */
export const serviceNameTargets: Readonly<Record<string, readonly string[]>> = {
  smtp: ['smtp', 'submission', 'submissions'],
  imap: ['imap', 'imaps'],
  pop3: ['pop3', 'pop3s'],
  mail: ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s'],
  webmail: ['http', 'https'],
};

/** The SOA timers other than the serial and minimum: the RFC 1912 2.2 suggestions. */
const soaTimers = { refresh: 3600, retry: 600, expire: 1209600 };

/** True for an address a client can be sent to (not a wildcard listen address, no zone id). */
export function usableAddress(address: string): boolean {
  return isIP(address) !== 0 && address !== '0.0.0.0' && address !== '::' && !address.includes('%');
}

/**
 * A member's name as a DNS name relative to the domain: lower case, "_" as
 * "-" (a host name may not hold "_"); null when it cannot be one.
 */
export function memberLabel(name: string): string | null {
  const n = name.toLowerCase().replace(/_/g, '-');
  return !n.endsWith('.') && isHostName(n) ? n : null;
}

/**
 * The nodes that serve a domain: its node set when dns.nodes.DOMAIN is set;
 * otherwise every node that no set reserves (or every node, if the sets
 * reserve them all, so a domain is never left without servers by mistake).
 */
export function domainNodes(domain: string, members: readonly Member[], nodeSets: ReadonlyMap<string, readonly string[]>): Member[] {
  const nodes = members.filter((m) => m.role === 'node');
  const set = nodeSets.get(domain);
  if (set) {
    const names = new Set(set.map((n) => n.toLowerCase()));
    return nodes.filter((n) => names.has(n.name.toLowerCase()));
  }
  const reserved = new Set([...nodeSets.values()].flat().map((n) => n.toLowerCase()));
  const free = nodes.filter((n) => !reserved.has(n.name.toLowerCase()));
  return free.length > 0 ? free : nodes;
}

/**
 * The members to list for a set of services: those that run them and are
 * healthy. If none is, every member that runs them is listed ("fail open"):
 * an empty MX makes senders bounce mail, while a dead address only makes
 * them retry later (DESIGN.md principle 1: no mail is lost).
 */
export function healthyPool(members: readonly Member[], services: readonly string[]): Member[] {
  const running = members.filter((m) => services.some((s) => m.services[s] !== undefined));
  const healthy = running.filter((m) => m.state === 'up' && services.every((s) => m.services[s] === undefined || m.services[s]!.healthy));
  return healthy.length > 0 ? healthy : running;
}

function addressType(address: string): 'A' | 'AAAA' {
  return isIP(address) === 6 ? 'AAAA' : 'A';
}

function inZone(name: string, origin: string): boolean {
  return name === origin || name.endsWith(`.${origin}`);
}

function unique<T>(items: T[]): T[] {
  return [...new Set(items)];
}

export interface ZoneInput {
  /** The local domain. */
  domain: string;
  /** The cluster registry as read now (stale members already 'down'). */
  members: readonly Member[];
  config: DnsConfig;
  /** The answering server's own address: the name servers' address when nothing else says. */
  ownAddress?: string;
  /** The SOA serial; 0 while it is being decided (see zoneDigest). */
  serial: number;
}

/** Builds one domain's zone. Records within a name come sorted; the server rotates them per answer. */
export function buildZone(input: ZoneInput): Zone {
  const origin = input.domain.toLowerCase();
  const { config } = input;
  const ttl = config.ttlSeconds;
  const problems: string[] = [];
  const records: ZoneRecord[] = [];
  /** Owner names given out so far, so that a member named like a fixed name does not shadow it. */
  const owners = new Set<string>();
  const addAddresses = (owner: string, addresses: string[]) => {
    owners.add(owner);
    for (const a of unique(addresses).filter(usableAddress).sort()) records.push({ name: owner, type: addressType(a), ttl, data: a });
  };

  const balancers = input.members.filter((m) => m.role === 'balancer');
  const nodes = domainNodes(origin, input.members, config.nodeSets);
  const byName = (a: Member, b: Member) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

  // Name servers, and the addresses of those inside this domain.
  const discovered = input.members.filter((m) => m.state === 'up' && m.services.dns?.healthy && usableAddress(m.address)).map((m) => m.address);
  const nsAddresses = unique(config.nsAddresses ?? (discovered.length > 0 ? discovered : input.ownAddress && usableAddress(input.ownAddress) ? [input.ownAddress] : []));
  const nsNames = unique((config.nsNames ?? (nsAddresses.length > 1 ? nsAddresses.map((_, i) => `ns${i + 1}`) : ['ns1'])).map((n) => qualify(n, origin)));
  const nsRecords: ZoneRecord[] = nsNames.map((n) => ({ name: origin, type: 'NS', ttl, data: n }));
  const inZoneNs = nsNames.filter((n) => inZone(n, origin) && n !== origin);
  inZoneNs.forEach((n, i) => {
    // Paired by position when there are as many names as addresses; otherwise each name has them all.
    const addresses = inZoneNs.length === nsAddresses.length ? [nsAddresses[i]!] : nsAddresses;
    if (addresses.length === 0) problems.push(`no address is known for the name server ${n}: set dns.ns.addresses, or dns.ns to name servers outside the domain`);
    addAddresses(n, addresses);
  });

  // The shared service names, then each member's own name, then the webmail magic names.
  for (const [label, services] of Object.entries(serviceNameTargets)) {
    const owner = `${label}.${origin}`;
    if (owners.has(owner)) continue;
    const viaBalancer = config.serviceNames === 'balancer' && balancers.some((b) => services.some((s) => b.services[s] !== undefined));
    const pool = healthyPool(viaBalancer ? balancers : nodes, services);
    if (pool.length > 0) addAddresses(owner, pool.map((m) => m.address));
    else owners.add(owner);
  }
  const memberOwner = new Map<string, string>();
  for (const m of [...nodes, ...balancers].sort(byName)) {
    const label = memberLabel(m.name);
    if (label === null) {
      problems.push(`member ${m.name} has no DNS name: its name is not a valid host name`);
      continue;
    }
    if (!usableAddress(m.address)) {
      problems.push(`member ${m.name} has no DNS name: its address "${m.address}" is not an IP address clients can reach`);
      continue;
    }
    const owner = `${label}.${origin}`;
    if (owners.has(owner)) {
      problems.push(`member ${m.name} has no DNS name: ${owner} is already taken`);
      continue;
    }
    addAddresses(owner, [m.address]);
    memberOwner.set(m.name, owner);
  }
  for (const m of nodes.filter((n) => n.services.http !== undefined || n.services.https !== undefined).sort(byName)) {
    const label = webmailLabel(m.name);
    if (label === null || !usableAddress(m.address)) continue;
    const owner = `${label}.${origin}`;
    if (owners.has(owner)) {
      problems.push(`node ${m.name} has no webmail name: ${owner} is already taken`);
      continue;
    }
    addAddresses(owner, [m.address]);
  }

  // MX at the apex, all at one preference so that senders spread over them (RFC 5321 5.1).
  const mxTargets: string[] = [];
  if (config.mx.kind === 'host') {
    mxTargets.push(qualify(config.mx.host, origin));
  } else {
    const viaBalancer = config.mx.kind === 'balancer' && balancers.some((b) => b.services.smtp !== undefined);
    for (const m of healthyPool(viaBalancer ? balancers : nodes, ['smtp'])) {
      const owner = memberOwner.get(m.name);
      if (owner) mxTargets.push(owner);
    }
  }
  const mxRecords: ZoneRecord[] = unique(mxTargets).sort().map((exchange) => ({ name: origin, type: 'MX', ttl, data: { preference: config.mxPreference, exchange } }));

  const soa: ZoneRecord = {
    name: origin,
    type: 'SOA',
    ttl,
    data: { mname: nsNames[0]!, rname: qualify(config.soaRname, origin), serial: input.serial, ...soaTimers, minimum: ttl },
  };
  const ordered = [soa, ...nsRecords, ...mxRecords, ...records.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))];
  return { origin, ttlSeconds: ttl, records: ordered, digest: zoneDigest(ordered), problems };
}

/** A digest of the records with the SOA serial left out: equal digests, equal answers. */
export function zoneDigest(records: readonly ZoneRecord[]): string {
  const canonical = records.map((r) => (r.type === 'SOA' ? { ...r, data: { ...r.data, serial: 0 } } : r));
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 16);
}

/** The zone with another SOA serial (the digest stays: it leaves the serial out). */
export function withSerial(zone: Zone, serial: number): Zone {
  return {
    ...zone,
    records: zone.records.map((r) => (r.type === 'SOA' ? { ...r, data: { ...r.data, serial } } : r)),
  };
}

/**
 * The next SOA serial, YYYYMMDDnn (RFC 1912 2.2): unchanged while the
 * records are, otherwise the larger of today's first serial and the last
 * one plus one, so it only ever grows (RFC 1982 arithmetic wraps at 2^32).
 */
export function nextSerial(stored: { serial: number; digest: string } | null, digest: string, now: Date): number {
  if (stored && stored.digest === digest) return stored.serial;
  const today = Number(`${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, '0')}${String(now.getUTCDate()).padStart(2, '0')}00`);
  return Math.max(today, ((stored?.serial ?? 0) + 1) % 2 ** 32);
}

/** Parses a stored dns.serial.DOMAIN value ("SERIAL DIGEST"); null when absent or unreadable. */
export function parseStoredSerial(value: string | null | undefined): { serial: number; digest: string } | null {
  const m = /^(\d{1,10})\s+([0-9a-f]+)$/.exec(value?.trim() ?? '');
  return m && Number(m[1]) < 2 ** 32 ? { serial: Number(m[1]), digest: m[2]! } : null;
}
