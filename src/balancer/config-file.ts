/**
 * The traffic manager's configuration file: static servers and pools for
 * backends that are not Rookery nodes, in the spirit of the seed's
 * clusterserver.conf (servers, pools with per-service weights such as
 * `smtp/1 pop/1`, check frequency and timeout), plus defaults for the
 * services and for nodes taken from the registry. The format is described
 * in src/balancer/README.md; every mistake is reported with its line.
 *
 *   # comment
 *   scheduler round-robin | least-connections
 *   server NAME ADDRESS [port-base N]
 *   pool NAME
 *     add SERVER SERVICE/WEIGHT[:PORT] ...
 *     check-interval-ms N | check-timeout-ms N | rise N | fall N | proxy-protocol on|off
 *   end
 *   service NAME
 *     scheduler ... | max-connections N | idle-timeout-ms N | connect-timeout-ms N
 *   end
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { allVirtualServices, virtualServiceByName, type VirtualServiceName } from './services.js';
import type { SchedulerName } from './scheduler.js';
import { memberNamePattern } from '../store/rules.js';

/** How a backend is checked: every interval, a dialogue bounded by the timeout; rise/fall results change its state. */
export interface CheckSettings {
  /** Time between two checks of one backend. */
  intervalMs: number;
  /** The longest one check may take, connection and TLS handshake included. */
  timeoutMs: number;
  /** Consecutive passed checks that bring a down backend back. */
  rise: number;
  /** Consecutive failed checks (or refused connections) that take an up backend out. */
  fall: number;
}

/** Settings of one virtual service. */
export interface ServiceSettings {
  scheduler: SchedulerName;
  /** Client connections the service carries at once; more get the busy reply. */
  maxConnections: number;
  /** A spliced connection with no byte either way for this long is closed; null: the service's default. */
  idleTimeoutMs: number | null;
  /** The longest a connection to one backend may take before the next backend is tried. */
  connectTimeoutMs: number;
}

export interface StaticServer {
  name: string;
  address: string;
  /** Its services listen on portBase + standard port; null: the traffic manager's own base. */
  portBase: number | null;
  /** Line of the definition, for messages. */
  line: number;
}

export interface StaticPoolMember {
  server: string;
  service: VirtualServiceName;
  weight: number;
  /** An explicit port, or null for the server's base + the standard port. */
  port: number | null;
  line: number;
}

export interface StaticPool {
  name: string;
  members: StaticPoolMember[];
  check: CheckSettings;
  /** Send a PROXY v2 header to these backends (off by default). */
  proxyProtocol: boolean;
}

export interface BalancerConfig {
  /** Take pools from the store's cluster registry as well (default on). */
  registry: boolean;
  /** Checks of registry nodes, and the default for pools. */
  check: CheckSettings;
  /** PROXY v2 to registry nodes, and the default for pools. */
  proxyProtocol: boolean;
  /** Defaults of every service. */
  service: ServiceSettings;
  /** Per-service overrides. */
  services: Partial<Record<VirtualServiceName, Partial<ServiceSettings>>>;
  servers: StaticServer[];
  pools: StaticPool[];
}

/** A mistake in the configuration file; the message names the file and line. */
export class BalancerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BalancerConfigError';
  }
}

export const defaultCheckSettings: CheckSettings = { intervalMs: 1000, timeoutMs: 1000, rise: 2, fall: 2 };
export const defaultServiceSettings: ServiceSettings = { scheduler: 'round-robin', maxConnections: 5000, idleTimeoutMs: null, connectTimeoutMs: 2000 };

export function defaultBalancerConfig(): BalancerConfig {
  return { registry: true, check: { ...defaultCheckSettings }, proxyProtocol: false, service: { ...defaultServiceSettings }, services: {}, servers: [], pools: [] };
}

const schedulers: Record<string, SchedulerName> = {
  'round-robin': 'round-robin', rr: 'round-robin', wrr: 'round-robin',
  'least-connections': 'least-connections', lc: 'least-connections', leastconn: 'least-connections',
};

/** Parses a scheduler name (round-robin/rr, least-connections/lc), or null. */
export function parseSchedulerName(text: string): SchedulerName | null {
  return schedulers[text.toLowerCase()] ?? null;
}

const hostnamePattern = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const namePattern = memberNamePattern;

/** Parses the text of a configuration file; `source` names it in messages. */
export function parseBalancerConfig(text: string, source = 'configuration'): BalancerConfig {
  const config = defaultBalancerConfig();
  let lineNo = 0;
  const err = (message: string) => new BalancerConfigError(`${source} line ${lineNo}: ${message}`);

  const int = (token: string | undefined, what: string, min: number, max: number): number => {
    if (token === undefined) throw err(`${what} needs a value`);
    if (!/^\d+$/.test(token) || Number(token) < min || Number(token) > max) throw err(`${what} must be a whole number from ${min} to ${max}, not "${token}"`);
    return Number(token);
  };
  const onOff = (token: string | undefined, what: string): boolean => {
    if (token === 'on' || token === 'yes' || token === 'true') return true;
    if (token === 'off' || token === 'no' || token === 'false') return false;
    throw err(`${what} must be on or off, not "${token ?? ''}"`);
  };
  const service = (token: string): VirtualServiceName => {
    const s = virtualServiceByName(token);
    if (!s) throw err(`unknown service "${token}"; services: ${allVirtualServices.join(', ')}`);
    return s;
  };
  /** Directives shared by the top level (defaults) and pools: sets the field and says whether it was one. */
  const checkDirective = (words: string[], check: Partial<CheckSettings>): boolean => {
    const [key, value, extra] = words;
    const fields: Record<string, [keyof CheckSettings, number, number]> = {
      'check-interval-ms': ['intervalMs', 100, 3_600_000],
      'check-timeout-ms': ['timeoutMs', 50, 600_000],
      rise: ['rise', 1, 100],
      fall: ['fall', 1, 100],
    };
    const field = fields[key ?? ''];
    if (!field) return false;
    if (extra !== undefined) throw err(`${key} takes one value`);
    check[field[0]] = int(value, key!, field[1], field[2]);
    return true;
  };
  const serviceDirective = (words: string[], settings: Partial<ServiceSettings>): boolean => {
    const [key, value, extra] = words;
    switch (key) {
      case 'scheduler': {
        const s = value === undefined ? null : parseSchedulerName(value);
        if (!s) throw err(`scheduler must be round-robin or least-connections, not "${value ?? ''}"`);
        settings.scheduler = s;
        break;
      }
      case 'max-connections': settings.maxConnections = int(value, key, 1, 1_000_000); break;
      case 'idle-timeout-ms': settings.idleTimeoutMs = int(value, key, 1000, 86_400_000); break;
      case 'connect-timeout-ms': settings.connectTimeoutMs = int(value, key, 50, 600_000); break;
      default: return false;
    }
    if (extra !== undefined) throw err(`${key} takes one value`);
    return true;
  };

  type Block = { kind: 'top' } | { kind: 'pool'; pool: StaticPool; line: number } | { kind: 'service'; name: VirtualServiceName; line: number };
  let block: Block = { kind: 'top' };
  const poolsWithOwnProxy = new Set<StaticPool>();
  const poolsWithOwnCheck = new Map<StaticPool, Partial<CheckSettings>>();

  for (const raw of text.split(/\r?\n/)) {
    lineNo++;
    const words = raw.replace(/#.*$/, '').trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) continue;
    const [key] = words as [string, ...string[]];

    if (block.kind === 'pool') {
      const pool = block.pool;
      if (key === 'end') { block = { kind: 'top' }; continue; }
      if (key === 'add') {
        const [, server, ...entries] = words;
        if (!server || entries.length === 0) throw err('write "add SERVER SERVICE/WEIGHT ...", e.g. "add serv1 smtp/1 pop3/1"');
        for (const entry of entries) {
          const m = /^([^/:]+)(?:\/(\d+))?(?::(\d+))?$/.exec(entry);
          if (!m) throw err(`"${entry}" is not SERVICE/WEIGHT or SERVICE/WEIGHT:PORT`);
          const weight = m[2] === undefined ? 1 : int(m[2], `the weight in "${entry}"`, 1, 1000);
          const port = m[3] === undefined ? null : int(m[3], `the port in "${entry}"`, 1, 65535);
          pool.members.push({ server, service: service(m[1]!), weight, port, line: lineNo });
        }
        continue;
      }
      if (key === 'proxy-protocol') { pool.proxyProtocol = onOff(words[1], key); poolsWithOwnProxy.add(pool); continue; }
      const own = poolsWithOwnCheck.get(pool) ?? {};
      poolsWithOwnCheck.set(pool, own);
      if (checkDirective(words, own)) continue;
      throw err(`"${key}" is not allowed in a pool (add, check-interval-ms, check-timeout-ms, rise, fall, proxy-protocol, end)`);
    }

    if (block.kind === 'service') {
      if (key === 'end') { block = { kind: 'top' }; continue; }
      const settings = (config.services[block.name] ??= {});
      if (serviceDirective(words, settings)) continue;
      throw err(`"${key}" is not allowed in a service (scheduler, max-connections, idle-timeout-ms, connect-timeout-ms, end)`);
    }

    switch (key) {
      case 'registry': config.registry = onOff(words[1], key); continue;
      case 'proxy-protocol': config.proxyProtocol = onOff(words[1], key); continue;
      case 'server': {
        const [, name, address, opt, value, extra] = words;
        if (!name || !address) throw err('write "server NAME ADDRESS [port-base N]"');
        if (!namePattern.test(name)) throw err(`"${name}" is not a server name (letters, digits, ".", "_", "-")`);
        if (config.servers.some((s) => s.name === name)) throw err(`server "${name}" is defined twice`);
        if (isIP(address) === 0 && !hostnamePattern.test(address)) throw err(`"${address}" is neither an IP address nor a host name`);
        let portBase: number | null = null;
        if (opt !== undefined) {
          if (opt !== 'port-base' || extra !== undefined) throw err('write "server NAME ADDRESS [port-base N]"');
          portBase = int(value, 'port-base', 0, 65535 - 25);
        }
        config.servers.push({ name, address, portBase, line: lineNo });
        continue;
      }
      case 'pool': {
        const [, name, extra] = words;
        if (!name || extra !== undefined) throw err('write "pool NAME" and end the pool with "end"');
        if (config.pools.some((p) => p.name === name)) throw err(`pool "${name}" is defined twice`);
        const pool: StaticPool = { name, members: [], check: { ...defaultCheckSettings }, proxyProtocol: false };
        config.pools.push(pool);
        block = { kind: 'pool', pool, line: lineNo };
        continue;
      }
      case 'service': {
        const [, name, extra] = words;
        if (!name || extra !== undefined) throw err('write "service NAME" and end the block with "end"');
        block = { kind: 'service', name: service(name), line: lineNo };
        continue;
      }
      case 'end': throw err('"end" without a pool or service to end');
      case 'add': throw err('"add" belongs inside a pool ("pool NAME" ... "end")');
    }
    if (checkDirective(words, config.check)) continue;
    if (serviceDirective(words, config.service)) continue;
    throw err(`unknown directive "${key}"`);
  }
  if (block.kind !== 'top') {
    lineNo = block.line;
    throw err(`${block.kind} is not closed with "end"`);
  }

  // Pools inherit the top-level defaults wherever they did not set their own,
  // whatever the order of the lines.
  for (const pool of config.pools) {
    pool.check = { ...config.check, ...poolsWithOwnCheck.get(pool) };
    if (!poolsWithOwnProxy.has(pool)) pool.proxyProtocol = config.proxyProtocol;
  }
  const seen = new Map<string, string>();
  for (const pool of config.pools) {
    for (const m of pool.members) {
      lineNo = m.line;
      if (!config.servers.some((s) => s.name === m.server)) throw err(`pool "${pool.name}" adds server "${m.server}", which no "server" line defines`);
      const key = `${m.server}/${m.service}`;
      if (seen.has(key)) throw err(`server "${m.server}" serves ${m.service} twice (pools "${seen.get(key)}" and "${pool.name}")`);
      seen.set(key, pool.name);
    }
  }
  return config;
}

/** Reads and parses a configuration file; a missing file is a one-line error. */
export async function loadBalancerConfig(path: string): Promise<BalancerConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new BalancerConfigError(`cannot read the configuration file ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  return parseBalancerConfig(text, path);
}
