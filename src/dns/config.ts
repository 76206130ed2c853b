/**
 * The DNS role's configuration: settings keys kept in the store (so every
 * DNS server of the cluster answers alike), each with a default and a
 * sentence. `rookery dns settings` prints them; `rookery dns set KEY VALUE`
 * changes them; the servers pick a change up within a second.
 *
 * Host names in values follow zone-file custom: a name without a trailing
 * dot is relative to each domain ("ns1" is ns1.example.org. in example.org),
 * a name with a trailing dot is absolute ("ns1.provider.net.").
 */
import { isIP } from 'node:net';
import { memberNamePattern } from '../store/rules.js';

/** One settings key of the DNS role. */
export interface DnsSettingSpec {
  key: string;
  /** The default, as text; empty when the default is computed. */
  default: string;
  /** What it means, for `rookery dns settings`. */
  description: string;
  /** Throws an Error with a human sentence when the value is not acceptable. */
  check(value: string): void;
}

/** Where the shared names (MX, smtp., imap., ...) point. */
export type TargetMode = 'nodes' | 'balancer';

/** The MX answer: every healthy node, the traffic managers, or one fixed host. */
export type MxMode = { kind: TargetMode } | { kind: 'host'; host: string };

/** The parsed configuration for all domains. */
export interface DnsConfig {
  /** TTL of every record, in seconds; also the SOA minimum (negative-caching TTL). */
  ttlSeconds: number;
  /** Name server host names, relative or absolute (see the file comment); null = one per address. */
  nsNames: string[] | null;
  /** Addresses of the name servers, for the in-zone NS names; null = discovered. */
  nsAddresses: string[] | null;
  /** The SOA RNAME (the zone's contact mailbox), relative or absolute, in DNS form. */
  soaRname: string;
  mx: MxMode;
  /** The preference every MX record carries (equal, so senders spread over them). */
  mxPreference: number;
  /** Where smtp., imap., pop3., mail. and webmail. point. */
  serviceNames: TargetMode;
  /** Per-domain node sets from dns.nodes.DOMAIN (domain -> node names). */
  nodeSets: Map<string, string[]>;
}

/** Settings key of a domain's node set. */
export function nodeSetKey(domain: string): string {
  return `dns.nodes.${domain}`;
}

/** Settings key where the SOA serial of a domain is kept ("SERIAL DIGEST"). */
export function serialKey(domain: string): string {
  return `dns.serial.${domain}`;
}

const labelPattern = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** True if every label of a (relative or absolute) host name is a valid host-name label. */
export function isHostName(name: string): boolean {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n.length === 0 || n.length > 253) return false;
  return n.toLowerCase().split('.').every((l) => labelPattern.test(l));
}

/** The absolute name (no trailing dot, lower case) of a relative or absolute setting within a domain. */
export function qualify(name: string, domain: string): string {
  const n = name.toLowerCase();
  return n.endsWith('.') ? n.slice(0, -1) : `${n}.${domain}`;
}

function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

function checkNames(value: string): void {
  for (const n of list(value)) if (!isHostName(n)) throw new Error(`"${n}" is not a host name`);
  if (list(value).length === 0) throw new Error('give at least one host name');
}

function checkAddresses(value: string): void {
  const all = list(value);
  if (all.length === 0) throw new Error('give at least one IP address');
  for (const a of all) if (!isIP(a)) throw new Error(`"${a}" is not an IP address`);
}

function checkWhole(min: number, max: number) {
  return (value: string): void => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < min || n > max) throw new Error(`"${value}" is not a whole number from ${min} to ${max}`);
  };
}

function checkRname(value: string): void {
  const local = value.includes('@') ? value.split('@')[0]! : '';
  const rest = value.includes('@') ? `${value.split('@')[1]!}.` : value;
  if (value.includes('@') && !/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,63}$/.test(local)) throw new Error(`"${value}" is not a mailbox`);
  if (!isHostName(rest)) throw new Error(`"${value}" is neither a mailbox (user@host) nor a host name`);
}

function checkMode(allowHost: boolean) {
  return (value: string): void => {
    if (value === 'nodes' || value === 'balancer') return;
    if (allowHost && isHostName(value)) return;
    throw new Error(`"${value}" must be "nodes", "balancer"${allowHost ? ' or a host name' : ''}`);
  };
}

/** Every DNS settings key except the per-domain ones, with its default and meaning. */
export const dnsSettingSpecs: readonly DnsSettingSpec[] = [
  { key: 'dns.ttl', default: '60', description: 'TTL of every record in seconds (short, so that an outage is routed around); also the negative-caching TTL', check: checkWhole(1, 86400) },
  { key: 'dns.ns', default: '', description: 'name server host names, comma-separated (relative names are inside each domain); default ns1, ns2, ... one per name server address', check: checkNames },
  { key: 'dns.ns.addresses', default: '', description: 'addresses of the name servers, comma-separated; default the members that publish a healthy dns service, else the answering server\'s own address', check: checkAddresses },
  { key: 'dns.soa.rname', default: 'hostmaster', description: 'the zone contact in the SOA record: a mailbox (user@host) or a host name in DNS form', check: checkRname },
  { key: 'dns.mx', default: 'nodes', description: 'MX targets: "nodes" (one record per healthy SMTP node), "balancer" (the traffic managers\' names) or a host name', check: checkMode(true) },
  { key: 'dns.mx.preference', default: '10', description: 'the preference every MX record carries (all equal)', check: checkWhole(0, 65535) },
  { key: 'dns.service-names', default: 'nodes', description: 'where smtp., imap., pop3., mail. and webmail. point: "nodes" (the healthy nodes, rotated) or "balancer" (the traffic managers\' virtual addresses)', check: checkMode(false) },
];

/** Help lines for the per-domain keys, which are not in dnsSettingSpecs. */
export const dnsDomainSettingHelp = [
  { key: 'dns.nodes.DOMAIN', description: 'the nodes that serve DOMAIN, comma-separated (rookery dns nodes); nodes named in any set are reserved for those domains; empty = not set' },
  { key: 'dns.serial.DOMAIN', description: 'kept by Rookery: the SOA serial of DOMAIN (YYYYMMDDnn) and a digest of its records; the serial grows when the records change' },
];

/** Checks a value for one DNS settings key; throws an Error with a sentence if it is not acceptable. */
export function checkDnsSetting(key: string, value: string): void {
  if (key.startsWith('dns.nodes.')) {
    for (const n of list(value)) if (!memberNamePattern.test(n)) throw new Error(`"${n}" is not a node name`);
    return;
  }
  const spec = dnsSettingSpecs.find((s) => s.key === key);
  if (!spec) throw new Error(`unknown DNS setting "${key}"; "rookery dns settings" lists them`);
  spec.check(value);
}

/**
 * Parses the DNS settings out of all the store's settings. A bad value
 * (set behind the CLI's back) never stops the server: its default is used
 * and a sentence is added to `problems`.
 */
export function dnsConfigFromSettings(settings: Record<string, string>): { config: DnsConfig; problems: string[] } {
  const problems: string[] = [];
  const value = (key: string): string | null => {
    const v = settings[key]?.trim();
    if (v === undefined || v === '') return null;
    try {
      checkDnsSetting(key, v);
      return v;
    } catch (err) {
      problems.push(`setting ${key}: ${(err as Error).message}; using the default`);
      return null;
    }
  };
  const ttl = value('dns.ttl');
  const ns = value('dns.ns');
  const nsAddresses = value('dns.ns.addresses');
  const mx = value('dns.mx') ?? 'nodes';
  const nodeSets = new Map<string, string[]>();
  for (const key of Object.keys(settings)) {
    if (!key.startsWith('dns.nodes.')) continue;
    const v = value(key);
    if (v !== null) nodeSets.set(key.slice('dns.nodes.'.length).toLowerCase(), list(v));
  }
  return {
    config: {
      ttlSeconds: ttl === null ? 60 : Number(ttl),
      nsNames: ns === null ? null : list(ns),
      nsAddresses: nsAddresses === null ? null : list(nsAddresses),
      soaRname: rnameToDns(value('dns.soa.rname') ?? 'hostmaster'),
      mx: mx === 'nodes' || mx === 'balancer' ? { kind: mx } : { kind: 'host', host: mx },
      mxPreference: Number(value('dns.mx.preference') ?? 10),
      serviceNames: (value('dns.service-names') ?? 'nodes') as TargetMode,
      nodeSets,
    },
    problems,
  };
}

/**
 * A mailbox as an SOA RNAME (RFC 1035 3.3.13): "user@host" becomes
 * "user.host." with dots in the local part escaped; a host name stays.
 */
export function rnameToDns(value: string): string {
  const at = value.lastIndexOf('@');
  if (at < 0) return value;
  return `${value.slice(0, at).replace(/\./g, '\\.')}.${value.slice(at + 1)}.`;
}
