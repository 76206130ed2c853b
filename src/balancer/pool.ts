/**
 * The server pool of one virtual service: its backends, each with its own
 * health (checks every interval; `fall` failures in a row take it out,
 * `rise` passes bring it back), and the scheduler that picks among the
 * healthy ones. Health is per service: a node whose SMTP fails keeps
 * serving POP3, because its POP3 is another backend in another pool.
 */
import type { Logger } from '../log.js';
import type { CheckSettings } from './config-file.js';
import { runHealthCheck, type CheckResult } from './health-check.js';
import { createScheduler, type Schedulable, type Scheduler, type SchedulerName } from './scheduler.js';
import { specOf, type VirtualServiceName } from './services.js';

/** Where a backend came from: the configuration file, or the store's cluster registry. */
export type BackendSource = 'static' | 'registry';

/** What the pool is told a backend is; the pool adds health and counts. */
export interface BackendSpec {
  service: VirtualServiceName;
  /** The server or node name, for logs and status. */
  name: string;
  address: string;
  port: number;
  weight: number;
  /** Send a PROXY v2 header on relayed connections (and LOCAL on checks). */
  proxyProtocol: boolean;
  /** Local address to connect from (the traffic manager's source address), or the system's choice. */
  sourceAddress?: string;
  check: CheckSettings;
  source: BackendSource;
}

/** The pool's view of one backend, for status output and tests. */
export interface BackendStatus {
  name: string;
  address: string;
  port: number;
  weight: number;
  source: BackendSource;
  up: boolean;
  activeConnections: number;
  /** Why the last check failed, while it is failing. */
  lastFailure: string | null;
}

export function backendKey(service: string, address: string, port: number): string {
  return `${service}@${address}:${port}`;
}

export class Backend implements Schedulable {
  readonly key: string;
  /**
   * Healthy as far as we know; every new backend is checked at once. A
   * server from the configuration file starts up (the operator declared
   * it). A node from the registry gets no client until a check has passed:
   * one that cannot take relayed connections yet (it has not read this
   * traffic manager's registration, so it would take the PROXY header for
   * commands) fails its check instead of garbling a client's session. Its
   * first pass brings it in; after that, `rise` passes in a row do.
   */
  up: boolean;
  activeConnections = 0;
  lastFailure: string | null;
  private passesInARow = 0;
  private failuresInARow = 0;
  private everPassed: boolean;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private checked: Promise<void>;
  private onFirstResult: () => void = () => undefined;

  constructor(public spec: BackendSpec, private readonly hostname: string, private readonly onChange: (b: Backend, reason: string) => void) {
    this.key = backendKey(spec.service, spec.address, spec.port);
    this.up = this.everPassed = spec.source === 'static';
    this.lastFailure = this.up ? null : 'not checked yet';
    this.checked = new Promise((resolve) => { this.onFirstResult = resolve; });
  }

  /** Resolves once the first check (or refused connection) has been counted. */
  firstResult(): Promise<void> {
    return this.checked;
  }

  get weight(): number {
    return this.spec.weight;
  }

  /** Counts one result; `fall` failures in a row take it out, `rise` passes bring it back. */
  record(result: CheckResult): void {
    this.onFirstResult();
    if (result.ok) {
      this.failuresInARow = 0;
      this.lastFailure = null;
      this.passesInARow++;
      if (!this.up && (!this.everPassed || this.passesInARow >= this.spec.check.rise)) {
        this.up = true;
        this.everPassed = true;
        this.onChange(this, `passed ${this.passesInARow} check${this.passesInARow === 1 ? '' : 's'}`);
      }
    } else {
      this.passesInARow = 0;
      this.failuresInARow++;
      this.lastFailure = result.reason;
      if (this.up && this.failuresInARow >= this.spec.check.fall) {
        this.up = false;
        this.onChange(this, result.reason);
      }
    }
  }

  /** Starts checking now and then every interval. */
  startChecks(): void {
    const spec = specOf(this.spec.service);
    const tick = async () => {
      this.timer = null;
      if (this.stopped) return;
      const started = Date.now();
      const result = await runHealthCheck({
        address: this.spec.address,
        port: this.spec.port,
        protocol: spec.check,
        tls: spec.tls,
        proxyProtocol: this.spec.proxyProtocol,
        ...(this.spec.sourceAddress ? { sourceAddress: this.spec.sourceAddress } : {}),
        hostname: this.hostname,
      }, this.spec.check.timeoutMs);
      if (this.stopped) return;
      this.record(result);
      const wait = Math.max(0, this.spec.check.intervalMs - (Date.now() - started));
      this.timer = setTimeout(() => void tick(), wait);
      // The listeners keep the process alive; a pending check must not.
      this.timer.unref();
    };
    void tick();
  }

  stopChecks(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  status(): BackendStatus {
    return {
      name: this.spec.name,
      address: this.spec.address,
      port: this.spec.port,
      weight: this.spec.weight,
      source: this.spec.source,
      up: this.up,
      activeConnections: this.activeConnections,
      lastFailure: this.lastFailure,
    };
  }
}

export class ServicePool {
  private readonly backends = new Map<string, Backend>();
  private readonly scheduler: Scheduler;

  constructor(readonly service: VirtualServiceName, scheduler: SchedulerName, private readonly hostname: string, private readonly logger: Logger) {
    this.scheduler = createScheduler(scheduler);
  }

  /**
   * Makes the pool hold exactly these backends: new ones are added (up, and
   * checked at once), gone ones stop being checked and get no new
   * connections (their open connections carry on), kept ones keep their
   * health and counts but take the new weight and settings.
   */
  update(specs: readonly BackendSpec[]): void {
    const wanted = new Map(specs.map((s) => [backendKey(s.service, s.address, s.port), s]));
    for (const [key, backend] of this.backends) {
      if (!wanted.has(key)) {
        backend.stopChecks();
        this.backends.delete(key);
        this.logger.info({ service: this.service, backend: backend.spec.name, at: `${backend.spec.address}:${backend.spec.port}` }, 'backend left the pool');
      }
    }
    for (const [key, spec] of wanted) {
      const existing = this.backends.get(key);
      if (existing) {
        existing.spec = spec;
        continue;
      }
      const backend = new Backend(spec, this.hostname, (b, reason) => {
        this.logger.warn({ service: this.service, backend: b.spec.name, at: `${b.spec.address}:${b.spec.port}`, reason }, b.up ? 'backend up' : 'backend down');
      });
      this.backends.set(key, backend);
      this.logger.info({ service: this.service, backend: spec.name, at: `${spec.address}:${spec.port}`, source: spec.source }, 'backend joined the pool');
      backend.startChecks();
    }
  }

  /** The healthy backend for the next connection, leaving out those already tried; null if none is left. */
  pick(tried: ReadonlySet<Backend>): Backend | null {
    const candidates: Backend[] = [];
    for (const b of this.backends.values()) if (b.up && !tried.has(b)) candidates.push(b);
    return this.scheduler.pick(candidates);
  }

  /** True when at least one backend is healthy. */
  get healthy(): boolean {
    for (const b of this.backends.values()) if (b.up) return true;
    return false;
  }

  status(): BackendStatus[] {
    return [...this.backends.values()].map((b) => b.status());
  }

  /**
   * Resolves once every backend has had its first check, or after waitMs:
   * a traffic manager that starts with healthy backends serves at once.
   */
  async firstChecks(waitMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...this.backends.values()].map((b) => b.firstResult())),
      new Promise<void>((resolve) => { timer = setTimeout(resolve, waitMs); }),
    ]);
    clearTimeout(timer);
  }

  /** Stops every check (at shutdown). */
  close(): void {
    for (const b of this.backends.values()) b.stopChecks();
    this.backends.clear();
  }
}
