/**
 * The traffic manager: one virtual service per service name on the virtual
 * address, each with its pool, filled from the configuration file's static
 * servers and, live, from the store's cluster registry (nodes that are up
 * and report the service healthy). It registers itself in the registry as a
 * 'balancer' and heartbeats its services' state every second.
 *
 * Redundancy: started with standby peers, it keeps its pools warm (checks
 * run) but binds nothing until every peer misses its heartbeats; then it
 * binds the virtual ports and answers heartbeats itself.
 */
import { hostname as osHostname } from 'node:os';
import type { Logger } from '../log.js';
import { isStoreError } from '../store/errors.js';
import type { Member, ServiceHealth, Store } from '../store/types.js';
import type { BalancerConfig, ServiceSettings } from './config-file.js';
import { HeartbeatResponder, HeartbeatWatcher, type PeerAddress } from './peer.js';
import { ServicePool, type BackendSpec, type BackendStatus } from './pool.js';
import { specOf, type VirtualServiceName } from './services.js';
import { VirtualService } from './virtual-service.js';

export interface BalancerOptions {
  /** Our member name in the registry. */
  name: string;
  /** The virtual address the services listen on. */
  address: string;
  /**
   * The local address connections to backends (and health checks) come
   * from; nodes believe PROXY headers only from a traffic manager's source
   * address, so it must differ from where direct clients connect from. The
   * system picks one when not given.
   */
  sourceAddress?: string;
  /** Services listen on portBase + standard port; static servers without their own base use it too. */
  portBase: number;
  services: VirtualServiceName[];
  config: BalancerConfig;
  /** The store whose registry gives pools and takes our registration; null: static pools only, no registration. */
  store: Store | null;
  /** The name given in health checks (EHLO, Host) and recorded as our host. */
  hostname: string;
  version: string;
  logger: Logger;
  /** Where an active traffic manager answers its standbys' heartbeats. */
  heartbeat: PeerAddress;
  /** Actives to stand by for; empty: start active. */
  standbyOf: PeerAddress[];
  /** Time between two heartbeats to the actives. */
  heartbeatDelayMs: number;
  /** Heartbeats in a row without answer before the standby takes over. */
  maxLostHeartbeats: number;
  /** Open connections may finish for this long at a clean stop (default 5000). */
  stopGraceMs?: number;
  /** How often the registry is read and our heartbeat written (default 1000). */
  registryIntervalMs?: number;
  /** Called when a standby has taken over. */
  onActive?: () => void;
}

/** One service as the traffic manager sees it, for status output and tests. */
export interface VirtualServiceStatus {
  port: number;
  listening: boolean;
  connections: number;
  backends: BackendStatus[];
}

export class Balancer {
  private readonly pools = new Map<VirtualServiceName, ServicePool>();
  private readonly virtual = new Map<VirtualServiceName, VirtualService>();
  private readonly staticSpecs: BackendSpec[];
  private registrySpecs: BackendSpec[] = [];
  private registryTimer: NodeJS.Timeout | null = null;
  private responder: HeartbeatResponder | null = null;
  private watcher: HeartbeatWatcher | null = null;
  private isActive = false;
  private stopping = false;
  private takingOver = false;

  private constructor(private readonly opts: BalancerOptions) {
    const { config } = opts;
    for (const service of opts.services) {
      const settings: ServiceSettings = { ...config.service, ...config.services[service] };
      const pool = new ServicePool(service, settings.scheduler, opts.hostname, opts.logger);
      this.pools.set(service, pool);
      this.virtual.set(service, new VirtualService(service, pool, settings, opts.logger));
    }
    this.staticSpecs = [];
    for (const pool of config.pools) {
      for (const m of pool.members) {
        if (!this.pools.has(m.service)) continue;
        const server = config.servers.find((s) => s.name === m.server)!;
        this.staticSpecs.push({
          service: m.service,
          name: server.name,
          address: server.address,
          port: m.port ?? (server.portBase ?? opts.portBase) + specOf(m.service).standardPort,
          weight: m.weight,
          proxyProtocol: pool.proxyProtocol,
          ...(opts.sourceAddress ? { sourceAddress: opts.sourceAddress } : {}),
          check: pool.check,
          source: 'static',
        });
      }
    }
  }

  /**
   * Starts the traffic manager: fills the pools, registers, and (unless it
   * stands by) binds the virtual ports. Rejects, with nothing left running,
   * if a port cannot be bound.
   */
  static async start(opts: BalancerOptions): Promise<Balancer> {
    const b = new Balancer(opts);
    try {
      // Registered before the first check: nodes believe our PROXY headers
      // once they have read the registration, and checks tell when they have.
      if (opts.store) await opts.store.cluster.register(b.registration());
      await b.readRegistry();
      b.applyPools();
      // A backend gets clients once a check passed: wait for the first round.
      await Promise.all([...b.pools.entries()].map(([service, pool]) => {
        const settings: ServiceSettings = { ...opts.config.service, ...opts.config.services[service] };
        return pool.firstChecks(Math.max(opts.config.check.timeoutMs, settings.connectTimeoutMs) + 100);
      }));
      b.registryTimer = setInterval(() => void b.registryTick(), opts.registryIntervalMs ?? 1000);
      if (opts.standbyOf.length === 0) {
        await b.becomeActive();
      } else {
        b.watcher = new HeartbeatWatcher({
          name: opts.name,
          peers: opts.standbyOf,
          heartbeatDelayMs: opts.heartbeatDelayMs,
          maxLostHeartbeats: opts.maxLostHeartbeats,
          onSilent: () => void b.takeOver(),
        });
        await b.watcher.start();
      }
      return b;
    } catch (err) {
      await b.stop();
      throw err;
    }
  }

  /** True once it serves the virtual ports. */
  get active(): boolean {
    return this.isActive;
  }

  /** Every service: its port, whether it listens, its connections and its pool. */
  status(): Record<string, VirtualServiceStatus> {
    const out: Record<string, VirtualServiceStatus> = {};
    for (const [name, vs] of this.virtual) {
      out[name] = { port: this.portOf(name), listening: vs.listening, connections: vs.connectionCount, backends: this.pools.get(name)!.status() };
    }
    return out;
  }

  private portOf(service: VirtualServiceName): number {
    return this.opts.portBase + specOf(service).standardPort;
  }

  private async becomeActive(): Promise<void> {
    const bound: VirtualService[] = [];
    const responder = new HeartbeatResponder(this.opts.name);
    try {
      for (const [name, vs] of this.virtual) {
        await vs.listen(this.opts.address, this.portOf(name));
        bound.push(vs);
      }
      await responder.listen(this.opts.heartbeat);
    } catch (err) {
      await Promise.all(bound.map((vs) => vs.close(0)));
      throw err;
    }
    this.responder = responder;
    this.isActive = true;
  }

  private async takeOver(): Promise<void> {
    if (this.isActive || this.takingOver || this.stopping) return;
    this.takingOver = true;
    try {
      await this.becomeActive();
      if (this.stopping) return;
      this.opts.logger.warn({ peers: this.opts.standbyOf }, 'the active traffic manager is silent; this standby took over');
      await this.watcher?.stop();
      this.watcher = null;
      await this.heartbeatToStore();
      this.opts.onActive?.();
    } catch (err) {
      // Most likely the active still holds the ports (its heartbeats were lost): keep standing by.
      this.opts.logger.warn({ err: (err as Error).message }, 'could not take over; still standing by');
    } finally {
      this.takingOver = false;
    }
  }

  private registration() {
    return {
      name: this.opts.name,
      role: 'balancer' as const,
      address: this.opts.address,
      ...(this.opts.sourceAddress ? { sourceAddress: this.opts.sourceAddress } : {}),
      // The machine, for `rookery status` to tell local processes; hostname is the name in checks.
      host: osHostname(),
      pid: process.pid,
      version: this.opts.version,
      services: this.serviceHealth(),
    };
  }

  /** A service is healthy while we serve its port and its pool has a healthy backend. */
  private serviceHealth(): Record<string, ServiceHealth> {
    const out: Record<string, ServiceHealth> = {};
    for (const [name, vs] of this.virtual) out[name] = { port: this.portOf(name), healthy: this.isActive && vs.listening && this.pools.get(name)!.healthy };
    return out;
  }

  private async readRegistry(): Promise<void> {
    const { store, config } = this.opts;
    if (!store || !config.registry) return;
    let members: Member[];
    try {
      members = await store.cluster.list();
    } catch (err) {
      // An unreachable store must not empty the pools: keep serving what we knew.
      this.opts.logger.warn({ err: (err as Error).message }, 'cannot read the cluster registry; keeping the pools as they were');
      return;
    }
    const specs: BackendSpec[] = [];
    for (const m of members) {
      if (m.role !== 'node' || m.state !== 'up') continue;
      for (const service of this.pools.keys()) {
        const health = m.services[service];
        if (!health?.healthy) continue;
        specs.push({
          service, name: m.name, address: m.address, port: health.port, weight: 1, proxyProtocol: config.proxyProtocol,
          ...(this.opts.sourceAddress ? { sourceAddress: this.opts.sourceAddress } : {}),
          check: config.check, source: 'registry',
        });
      }
    }
    this.registrySpecs = specs;
  }

  private applyPools(): void {
    for (const [service, pool] of this.pools) {
      const specs = this.staticSpecs.filter((s) => s.service === service);
      const keys = new Set(specs.map((s) => `${s.address}:${s.port}`));
      // A node that is also in the configuration file keeps the file's weight and settings.
      for (const s of this.registrySpecs) if (s.service === service && !keys.has(`${s.address}:${s.port}`)) specs.push(s);
      pool.update(specs);
    }
  }

  private async heartbeatToStore(): Promise<void> {
    const store = this.opts.store;
    if (!store) return;
    try {
      await store.cluster.heartbeat(this.opts.name, this.serviceHealth());
    } catch (err) {
      if (isStoreError(err) && err.category === 'not-found') {
        // Someone removed us (rookery status cleanup?): register again.
        await store.cluster.register(this.registration()).catch(() => {});
      } else {
        this.opts.logger.warn({ err: (err as Error).message }, 'cannot record a heartbeat in the registry');
      }
    }
  }

  private async registryTick(): Promise<void> {
    if (this.stopping) return;
    await this.readRegistry();
    if (this.stopping) return;
    this.applyPools();
    await this.heartbeatToStore();
  }

  /**
   * Stops cleanly: no new connections, open ones may finish within the
   * grace time, checks stop, and the registry records us as 'down'.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.registryTimer) clearInterval(this.registryTimer);
    this.registryTimer = null;
    await this.watcher?.stop();
    await this.responder?.close();
    const grace = this.opts.stopGraceMs ?? 5000;
    await Promise.all([...this.virtual.values()].map((vs) => vs.close(grace)));
    for (const pool of this.pools.values()) pool.close();
    this.isActive = false;
    if (this.opts.store) await this.opts.store.cluster.setState(this.opts.name, 'down').catch(() => {});
  }
}
