/**
 * `rookery lb`: the traffic manager in the foreground, a standby for
 * another one, the keepalived configuration for two machines, and a
 * heartbeat probe (what keepalived's check script runs).
 */
import { hostname as osHostname } from 'node:os';
import { resolve } from 'node:path';
import { createLogger } from '../log.js';
import { version } from '../version.js';
import { Balancer } from '../balancer/balancer.js';
import { BalancerConfigError, defaultBalancerConfig, loadBalancerConfig, parseSchedulerName } from '../balancer/config-file.js';
import { keepalivedConfig } from '../balancer/keepalived.js';
import { parsePeerAddress, pingPeer, type PeerAddress } from '../balancer/peer.js';
import { allVirtualServices, specOf, virtualServiceByName, type VirtualServiceName } from '../balancer/services.js';
import { openStore } from '../store/open.js';
import { intOption, parse, storeLocation, UsageError } from './args.js';
import type { CommandGroup } from './command.js';
import { defaultPortBase, stopOnSignals } from './node.js';

const usage = [
  'rookery lb [--address ADDR] [--port-base N] [--name NAME] [--config FILE] [--services smtp,pop3,...] [--scheduler round-robin|least-connections] [--proxy-protocol [--source-address ADDR]]\n' +
  '           [--standby-of ADDR:PORT ...] [--heartbeat-address ADDR] [--heartbeat-port N] [--heartbeat-delay-ms N] [--max-lost-heartbeats N]',
  'rookery lb keepalived-config --address VIRTUAL_ADDR --interface IFACE [--state MASTER|BACKUP] [--priority N] [--router-id N] [--peer ADDR ...] [--auth-pass P] [--heartbeat ADDR:PORT] [--port-base N]',
  'rookery lb ping ADDR:PORT [--timeout-ms N]',
];

/** The UDP heartbeat port is base + 694 (694 is the port Linux-HA's heartbeat used). */
export const heartbeatPortOffset = 694;
const defaultHeartbeatDelayMs = 500;
const defaultMaxLostHeartbeats = 4;

function peerOption(text: string, option: string): PeerAddress {
  const peer = parsePeerAddress(text);
  if (!peer) throw new UsageError(`--${option} takes ADDRESS:PORT (e.g. 127.0.0.1:10694), not "${text}"`);
  return peer;
}

function parseVirtualServices(text: string | undefined): VirtualServiceName[] {
  if (text === undefined) return allVirtualServices;
  const out: VirtualServiceName[] = [];
  for (const word of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const s = virtualServiceByName(word);
    if (!s) throw new UsageError(`unknown service "${word}"; services: ${allVirtualServices.join(', ')}`);
    if (!out.includes(s)) out.push(s);
  }
  if (out.length === 0) throw new UsageError('--services names no service');
  return out;
}

/** A name the registry accepts: letters, digits, ".", "_", "-". */
function defaultName(standby: boolean): string {
  const host = osHostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 40) || 'host';
  return `lb-${host}${standby ? '-standby' : ''}`;
}

async function runBalancer(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    address: { type: 'string' },
    'port-base': { type: 'string' },
    name: { type: 'string' },
    config: { type: 'string' },
    services: { type: 'string' },
    scheduler: { type: 'string' },
    'proxy-protocol': { type: 'boolean' },
    'source-address': { type: 'string' },
    'standby-of': { type: 'string', multiple: true },
    'heartbeat-address': { type: 'string' },
    'heartbeat-port': { type: 'string' },
    'heartbeat-delay-ms': { type: 'string' },
    'max-lost-heartbeats': { type: 'string' },
    hostname: { type: 'string' },
  }, usage[0]!);
  if (positionals.length > 0) throw new UsageError(`unknown verb "${positionals[0]}" for lb\nusage: ${usage.join('\n       ')}`);
  const services = parseVirtualServices(values.services);
  const highestPort = Math.max(...services.map((s) => specOf(s).standardPort), heartbeatPortOffset);
  const portBase = intOption(values, 'port-base', 0, 65535 - highestPort, defaultPortBase);
  const address = values.address ?? '127.0.0.1';
  const standbyOf = (values['standby-of'] ?? []).map((t) => peerOption(t, 'standby-of'));
  const heartbeat: PeerAddress = {
    address: values['heartbeat-address'] ?? address,
    port: intOption(values, 'heartbeat-port', 1, 65535, portBase + heartbeatPortOffset),
  };
  const heartbeatDelayMs = intOption(values, 'heartbeat-delay-ms', 10, 60_000, defaultHeartbeatDelayMs);
  const maxLostHeartbeats = intOption(values, 'max-lost-heartbeats', 1, 1000, defaultMaxLostHeartbeats);
  const name = values.name ?? defaultName(standbyOf.length > 0);

  let config;
  try {
    config = values.config === undefined ? defaultBalancerConfig() : await loadBalancerConfig(values.config);
  } catch (err) {
    if (err instanceof BalancerConfigError) throw new UsageError(err.message);
    throw err;
  }
  if (values.scheduler !== undefined) {
    const s = parseSchedulerName(values.scheduler);
    if (!s) throw new UsageError(`--scheduler must be round-robin or least-connections, not "${values.scheduler}"`);
    config.service.scheduler = s;
  }
  if (values['proxy-protocol']) config.proxyProtocol = true;

  const store = await openStore(storeLocation(values));
  const logger = createLogger(name);
  let balancer: Balancer;
  try {
    balancer = await Balancer.start({
      name,
      address,
      ...(values['source-address'] ? { sourceAddress: values['source-address'] } : {}),
      portBase,
      services,
      config,
      store,
      hostname: values.hostname ?? osHostname(),
      version,
      logger,
      heartbeat,
      standbyOf,
      heartbeatDelayMs,
      maxLostHeartbeats,
      onActive: () => console.log(`lb ${name}: took over; serving ${describe()}`),
    });
  } catch (err) {
    await store.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new UsageError(`a port of base ${portBase} on ${address} (or heartbeat port ${heartbeat.port}) is in use (another rookery lb? start this one with --standby-of ${heartbeat.address}:${heartbeat.port})`);
    if (code === 'EADDRNOTAVAIL') throw new UsageError(`${address} is not an address of this machine (across machines, see "rookery lb keepalived-config")`);
    throw err;
  }
  function describe(): string {
    return `${services.map((s) => `${s} ${address}:${portBase + specOf(s).standardPort}`).join(', ')}; heartbeat ${heartbeat.address}:${heartbeat.port}`;
  }
  if (balancer.active) {
    console.log(`lb ${name} (pid ${process.pid}) active: ${describe()}`);
  } else {
    console.log(`lb ${name} (pid ${process.pid}) standing by for ${standbyOf.map((p) => `${p.address}:${p.port}`).join(', ')}; takes over after ${maxLostHeartbeats} lost heartbeats of ${heartbeatDelayMs} ms`);
  }
  stopOnSignals(async () => {
    await balancer.stop();
    await store.close();
  });
}

function runKeepalivedConfig(args: string[]): void {
  const { values } = parse(args, {
    address: { type: 'string' },
    interface: { type: 'string' },
    state: { type: 'string' },
    priority: { type: 'string' },
    'router-id': { type: 'string' },
    'advert-int': { type: 'string' },
    peer: { type: 'string', multiple: true },
    'auth-pass': { type: 'string' },
    heartbeat: { type: 'string' },
    'port-base': { type: 'string' },
  }, usage[1]!);
  if (values.address === undefined || values.interface === undefined) throw new UsageError(`give the virtual address and the interface that carries it\nusage: ${usage[1]}`);
  const state = (values.state ?? 'BACKUP').toUpperCase();
  if (state !== 'MASTER' && state !== 'BACKUP') throw new UsageError(`--state must be MASTER or BACKUP, not "${values.state}"`);
  const portBase = intOption(values, 'port-base', 0, 65535 - heartbeatPortOffset, defaultPortBase);
  const heartbeat = values.heartbeat === undefined ? { address: '127.0.0.1', port: portBase + heartbeatPortOffset } : peerOption(values.heartbeat, 'heartbeat');
  const script = resolve(process.argv[1] ?? 'rookery');
  try {
    process.stdout.write(keepalivedConfig({
      virtualAddress: values.address,
      interface: values.interface,
      state,
      priority: intOption(values, 'priority', 1, 254, state === 'MASTER' ? 150 : 100),
      routerId: intOption(values, 'router-id', 1, 255, 51),
      advertIntervalS: intOption(values, 'advert-int', 1, 255, 1),
      unicastPeers: values.peer ?? [],
      ...(values['auth-pass'] === undefined ? {} : { authPass: values['auth-pass'] }),
      checkCommand: `${process.execPath} ${script} lb ping ${heartbeat.address.includes(':') ? `[${heartbeat.address}]` : heartbeat.address}:${heartbeat.port}`,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

async function runPing(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { 'timeout-ms': { type: 'string' } }, usage[2]!);
  if (positionals.length !== 1) throw new UsageError(`give one ADDRESS:PORT\nusage: ${usage[2]}`);
  const peer = peerOption(positionals[0]!, 'ping');
  const timeoutMs = intOption(values, 'timeout-ms', 10, 60_000, 1000);
  if (await pingPeer(peer, timeoutMs)) {
    console.log(`active traffic manager at ${positionals[0]}`);
  } else {
    process.stderr.write(`rookery: no active traffic manager answered at ${positionals[0]} within ${timeoutMs} ms\n`);
    process.exitCode = 1;
  }
}

/** The `rookery lb` command group. */
export const lbCommand: CommandGroup = {
  name: 'lb',
  summary: 'run the traffic manager (or a standby) in front of the nodes, in the foreground',
  usage,
  async run(args) {
    const [verb, ...rest] = args;
    if (verb === 'keepalived-config') return runKeepalivedConfig(rest);
    if (verb === 'ping') return runPing(rest);
    return runBalancer(args);
  },
};
