/**
 * /healthz and the store-derived metrics. /healthz reads this node's own
 * registry row: one store round trip that proves the store answers and
 * tells the node's state. 200 with a small JSON while the store answers;
 * 503 when it does not (or the node's heartbeat says it cannot reach it),
 * so the traffic manager's HTTP check takes the node out of the pool.
 */
import type { ServiceContext } from '../net/service.js';
import { metrics } from '../metrics/index.js';
import { version } from '../version.js';
import type { Store } from '../store/types.js';

/** How long /healthz waits for the store before calling it unreachable. */
const storeProbeTimeoutMs = 2000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e: unknown) => { clearTimeout(t); reject(e instanceof Error ? e : new Error(String(e))); });
  });
}

export interface HealthReport {
  status: 'ok' | 'unavailable';
  node: string;
  version: string;
  /** The node's state in the registry (up, draining, down), or "unknown" when the store did not say. */
  state: string;
  uptimeSeconds: number;
  store: { reachable: boolean; latencyMs: number | null };
}

export async function healthReport(ctx: ServiceContext, nodeName: string): Promise<HealthReport> {
  const started = process.hrtime.bigint();
  let state = 'unknown';
  let reachable = true;
  try {
    const me = await withTimeout(ctx.store.cluster.get(nodeName), storeProbeTimeoutMs);
    state = me?.state ?? 'unregistered';
  } catch {
    reachable = false;
  }
  const latencyMs = Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100;
  if (ctx.storeHealthy && !ctx.storeHealthy()) reachable = false;
  return {
    status: reachable ? 'ok' : 'unavailable',
    node: nodeName,
    version,
    state,
    uptimeSeconds: Math.round(process.uptime()),
    store: { reachable, latencyMs: reachable ? latencyMs : null },
  };
}

/** How long one scrape's store reads serve later scrapes (several Prometheus servers, or a reload storm). */
const collectEveryMs = 5000;

/**
 * A collector for the registry: queue depth, directory size, cluster
 * members and a store probe, read from the store at most every 5 s.
 */
export function storeCollector(store: Store): () => Promise<void> {
  let lastAt = 0;
  let pending: Promise<void> | null = null;
  const collect = async () => {
    const started = process.hrtime.bigint();
    try {
      await withTimeout(store.settings.get('tls.certificate'), storeProbeTimeoutMs);
      metrics.storeProbe.set({}, Number(process.hrtime.bigint() - started) / 1e9);
      metrics.storeUp.set({}, 1);
    } catch {
      metrics.storeProbe.set({}, -1);
      metrics.storeUp.set({}, 0);
      return;
    }
    const [queue, domains, users, members] = await Promise.all([store.queue.list(), store.directory.listDomains(), store.directory.listUsers(), store.cluster.list()]);
    const now = Date.now();
    let inFlight = 0;
    let waiting = 0;
    for (const m of queue) {
      for (const r of m.recipients) {
        if (r.leaseOwner && r.leaseExpiresAt && r.leaseExpiresAt.getTime() > now) inFlight++;
        else waiting++;
      }
    }
    metrics.queueMessages.set({}, queue.length);
    metrics.queueDepth.set({ state: 'queued' }, waiting);
    metrics.queueDepth.set({ state: 'in-flight' }, inFlight);
    metrics.directoryEntries.set({ kind: 'domain' }, domains.length);
    metrics.directoryEntries.set({ kind: 'user' }, users.length);
    metrics.clusterMembers.reset();
    for (const role of ['node', 'balancer']) for (const state of ['up', 'draining', 'down']) metrics.clusterMembers.set({ role, state }, 0);
    for (const m of members) metrics.clusterMembers.inc({ role: m.role, state: m.state });
  };
  return () => {
    if (pending) return pending;
    if (Date.now() - lastAt < collectEveryMs) return Promise.resolve();
    lastAt = Date.now();
    pending = withTimeout(collect(), storeProbeTimeoutMs * 2).catch(() => undefined).finally(() => { pending = null; });
    return pending;
  };
}
