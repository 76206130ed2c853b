/**
 * Composes one node: reads limits and the certificate from the store, then
 * starts the protocol services it was asked to run. Everything a node needs
 * beyond its own name and address comes from the store.
 */
import { hostname as osHostname } from 'node:os';
import { createLogger, type Logger } from './log.js';
import { isStoreError } from './store/errors.js';
import { version } from './version.js';
import { limitsFromSettings, type Limits } from './config/limits.js';
import { certificateSetting, ensureCertificate } from './net/tls.js';
import { TrustedProxies } from './net/proxy-accept.js';
import { createSmtpService } from './protocols/smtp/index.js';
import { createPop3Service } from './protocols/pop3/index.js';
import { createImapService } from './protocols/imap/index.js';
import { createHttpService } from './web/index.js';
import type { NetService, ServiceContext, TlsMaterial } from './net/service.js';
import { QueueRunner } from './outbound/runner.js';
import { startBlobCollectionSchedule } from './upkeep/blob-collection.js';
import type { DnsResolver } from './outbound/route.js';
import type { Store } from './store/types.js';
import { metrics } from './metrics/index.js';
import { timedStore } from './metrics/timed-store.js';
import { configureAutoReplies, settleAutoReplies } from './mail/vacation.js';
import type { ServiceName } from './config/services.js';

export type { ServiceName };

/** How often a node tells the registry it is alive (the registry calls a member down after 3 s of silence). */
const heartbeatIntervalMs = 1000;
/**
 * A node whose last heartbeat failed, or whose last good one is older than
 * this (the registry's staleness: the cluster calls it down then anyway),
 * counts its store as unreachable and refuses new sessions.
 */
const storeSilenceMs = 3000;

export interface NodeOptions {
  store: Store;
  /** The node's name in the cluster; also used in logs. */
  name: string;
  /** The address every service binds to. */
  address: string;
  /** Name given in greetings and Received headers. */
  hostname: string;
  /** Port per service to run; services left out are not started. 0 picks a free port. */
  ports: Partial<Record<ServiceName, number>>;
  logger?: Logger;
  /** Run the outbound queue worker (service letter Q); true unless false. */
  queue?: boolean;
  /** DNS for the queue's MX lookups; the system's unless given (tests inject one). */
  resolver?: DnsResolver;
}

export interface RunningNode {
  /** The port each started service is bound to. */
  ports: Record<ServiceName, number>;
  /** Stops accepting, ends sessions politely, resolves when every service is closed. */
  stop(): Promise<void>;
}

export async function startNode(opts: NodeOptions): Promise<RunningNode> {
  const logger = opts.logger ?? createLogger(opts.name);
  const settings = await opts.store.settings.all();
  const limits = limitsFromSettings(settings);
  let tls: TlsMaterial = await ensureCertificate(opts.store, opts.hostname);
  // Traffic managers in the registry send a PROXY header naming the client.
  const trustedProxies = new TrustedProxies(opts.store.cluster);
  await trustedProxies.start();
  // Store health, learnt from the heartbeat (every second): a node whose
  // store cannot be written greets new clients with "try again later"
  // instead of accepting mail it could not keep.
  let storeOkAt = Date.now();
  let storeFailing = false;
  const storeHealthy = (): boolean => !storeFailing && Date.now() - storeOkAt <= storeSilenceMs;
  // Every service's store calls are timed into rookery_store_call_seconds.
  const store = timedStore(opts.store, metrics.storeLatency);
  // Vacation replies queued here name this node as their origin.
  configureAutoReplies({ nodeName: opts.name, logger: logger.child({ component: 'vacation' }) });
  const ctx: ServiceContext = {
    store,
    limits,
    hostname: opts.hostname,
    tls: () => tls,
    logger,
    trustedProxies,
    storeHealthy,
  };

  const factories: Record<ServiceName, () => NetService> = {
    smtp: () => createSmtpService(ctx, { mode: 'mx', implicitTls: false }),
    submission: () => createSmtpService(ctx, { mode: 'submission', implicitTls: false }),
    submissions: () => createSmtpService(ctx, { mode: 'submission', implicitTls: true }),
    pop3: () => createPop3Service(ctx, { implicitTls: false }),
    pop3s: () => createPop3Service(ctx, { implicitTls: true }),
    imap: () => createImapService(ctx, { implicitTls: false }),
    imaps: () => createImapService(ctx, { implicitTls: true }),
    http: () => createHttpService(ctx, { implicitTls: false, nodeName: opts.name }),
    https: () => createHttpService(ctx, { implicitTls: true, nodeName: opts.name }),
  };

  const running: NetService[] = [];
  const byName = new Map<ServiceName, NetService>();
  const ports = {} as Record<ServiceName, number>;
  try {
    for (const [name, port] of Object.entries(opts.ports) as [ServiceName, number][]) {
      const service = factories[name]();
      ports[name] = await service.listen(port, opts.address);
      running.push(service);
      byName.set(name, service);
      logger.info({ service: name, address: opts.address, port: ports[name] }, 'listening');
    }
  } catch (err) {
    await Promise.allSettled(running.map((s) => s.close()));
    trustedProxies.stop();
    throw err;
  }

  // A certificate replaced with `rookery tls set`, and limits changed with
  // `rookery config set` or the API, reach new connections without a
  // restart: at once through the store's change feed (on every node), and
  // every 30 s in case a notice was lost.
  const rereadCertificate = () => {
    ensureCertificate(opts.store, opts.hostname).then((t) => { tls = t; }, (err) => logger.warn({ err }, 'could not re-read the certificate'));
  };
  // Limits: the shared object is updated in place, and services bring up to
  // date what they copied from it. The queue worker keeps the copy it
  // started with (its timers and leases; those limits say atRestart).
  const rereadLimits = () => {
    opts.store.settings.all().then((all) => {
      const fresh = limitsFromSettings(all);
      const changed = (Object.keys(fresh) as (keyof Limits)[]).filter((name) => fresh[name] !== limits[name]);
      if (changed.length === 0) return;
      Object.assign(limits, fresh);
      for (const service of running) service.applyLimits?.();
      logger.info({ changed: Object.fromEntries(changed.map((name) => [name, fresh[name]])) }, 'limits changed');
    }, (err: unknown) => logger.warn({ err }, 'could not re-read the limits'));
  };
  const settingsPoll = setInterval(() => {
    rereadCertificate();
    rereadLimits();
  }, 30_000);
  settingsPoll.unref();
  const stopSettingsWatch = opts.store.changes.subscribe(['settings'], (change) => {
    if ((change.kind === 'settings' && change.key === certificateSetting) || change.kind === 'resync') rereadCertificate();
    if ((change.kind === 'settings' && change.key.startsWith('limits.')) || change.kind === 'resync') rereadLimits();
  });

  // The registry is how the traffic manager, DNS and `rookery status` see
  // this node: register now, heartbeat every second with service health.
  // The queue worker: registered as the "queue" service with port 0 (it listens on nothing).
  const queue = opts.queue === false ? null
    : new QueueRunner({ store, nodeName: opts.name, nodeAddress: opts.address, hostname: opts.hostname, limits: { ...limits }, logger, ...(opts.resolver ? { resolver: opts.resolver } : {}) });
  queue?.start();
  const health = () => ({
    // Open connections ride along, for the console's cluster map.
    ...Object.fromEntries(Object.entries(ports).map(([s, port]) => {
      const open = byName.get(s as ServiceName)?.openConnections?.();
      return [s, { port, healthy: !stopping, ...(open === undefined ? {} : { connections: open }) }];
    })),
    ...(queue ? { queue: { port: 0, healthy: !stopping && queue.healthy() } } : {}),
  });
  let stopping = false;
  await opts.store.cluster.register({
    name: opts.name, role: 'node', address: opts.address, host: osHostname(), pid: process.pid, version, services: health(),
  });
  storeOkAt = Date.now();
  const storeAnswered = () => {
    storeOkAt = Date.now();
    if (storeFailing) logger.warn('the store answers again; taking new sessions');
    storeFailing = false;
  };
  const storeFailed = (err: unknown) => {
    if (!storeFailing) logger.error({ err }, 'heartbeat to the store failed; refusing new sessions until it answers');
    storeFailing = true;
  };
  // One heartbeat at a time: while one hangs, the last success ages and
  // storeHealthy() turns false on its own.
  let heartbeatPending = false;
  const heartbeat = setInterval(() => {
    if (heartbeatPending) return;
    heartbeatPending = true;
    opts.store.cluster.heartbeat(opts.name, health()).then(storeAnswered, async (err: unknown) => {
      // Removed from the registry while running (rookery node remove): come back.
      if (isStoreError(err, 'not-found')) {
        await opts.store.cluster.register({ name: opts.name, role: 'node', address: opts.address, host: osHostname(), pid: process.pid, version, services: health() }).then(storeAnswered, storeFailed);
        return;
      }
      storeFailed(err);
    }).finally(() => { heartbeatPending = false; });
  }, heartbeatIntervalMs);
  heartbeat.unref();
  // Bodies of deleted mail: one node of the cluster at a time, every limits.blobCollectionHours.
  const blobCollection = startBlobCollectionSchedule({ store: opts.store, nodeName: opts.name, limits, logger: logger.child({ component: 'blob-collection' }) });

  return {
    ports,
    async stop() {
      stopping = true;
      clearInterval(settingsPoll);
      stopSettingsWatch();
      clearInterval(heartbeat);
      // Out of the pools first, so no new client is sent here while sessions end.
      await opts.store.cluster.setState(opts.name, 'draining').catch(() => undefined);
      await Promise.allSettled([...running.map((s) => s.close()), queue?.stop(), blobCollection.stop()]);
      // Auto-replies for mail already acknowledged are queued before the node goes.
      await settleAutoReplies();
      await opts.store.cluster.setState(opts.name, 'down').catch(() => undefined);
      trustedProxies.stop();
    },
  };
}
