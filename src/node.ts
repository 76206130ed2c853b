/**
 * Composes one node: reads limits and the certificate from the store, then
 * starts the protocol services it was asked to run. Everything a node needs
 * beyond its own name and address comes from the store.
 */
import { hostname as osHostname } from 'node:os';
import { createLogger, type Logger } from './log.js';
import { isStoreError } from './store/errors.js';
import { version } from './version.js';
import { limitsFromSettings } from './config/limits.js';
import { ensureCertificate } from './net/tls.js';
import { TrustedProxies } from './net/proxy-accept.js';
import { createSmtpService } from './protocols/smtp/index.js';
import { createPop3Service } from './protocols/pop3/index.js';
import { createImapService } from './protocols/imap/index.js';
import type { NetService, ServiceContext, TlsMaterial } from './net/service.js';
import type { Store } from './store/types.js';
import type { ServiceName } from './config/services.js';

export type { ServiceName };

/** How often a node tells the registry it is alive (the registry calls a member down after 3 s of silence). */
const heartbeatIntervalMs = 1000;

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
  const ctx: ServiceContext = {
    store: opts.store,
    limits,
    hostname: opts.hostname,
    tls: () => tls,
    logger,
    trustedProxies,
  };

  const factories: Record<ServiceName, () => NetService> = {
    smtp: () => createSmtpService(ctx, { implicitTls: false }),
    smtps: () => createSmtpService(ctx, { implicitTls: true }),
    pop3: () => createPop3Service(ctx, { implicitTls: false }),
    pop3s: () => createPop3Service(ctx, { implicitTls: true }),
    imap: () => createImapService(ctx, { implicitTls: false }),
    imaps: () => createImapService(ctx, { implicitTls: true }),
  };

  const running: NetService[] = [];
  const ports = {} as Record<ServiceName, number>;
  try {
    for (const [name, port] of Object.entries(opts.ports) as [ServiceName, number][]) {
      const service = factories[name]();
      ports[name] = await service.listen(port, opts.address);
      running.push(service);
      logger.info({ service: name, address: opts.address, port: ports[name] }, 'listening');
    }
  } catch (err) {
    await Promise.allSettled(running.map((s) => s.close()));
    trustedProxies.stop();
    throw err;
  }

  // A certificate replaced with `rookery tls set` reaches new connections
  // without a restart.
  const certPoll = setInterval(() => {
    ensureCertificate(opts.store, opts.hostname).then((t) => { tls = t; }, (err) => logger.warn({ err }, 'could not re-read the certificate'));
  }, 30_000);
  certPoll.unref();

  // The registry is how the traffic manager, DNS and `rookery status` see
  // this node: register now, heartbeat every second with service health.
  const health = () => Object.fromEntries(Object.entries(ports).map(([s, port]) => [s, { port, healthy: !stopping }]));
  let stopping = false;
  await opts.store.cluster.register({
    name: opts.name, role: 'node', address: opts.address, host: osHostname(), pid: process.pid, version, services: health(),
  });
  const heartbeat = setInterval(() => {
    opts.store.cluster.heartbeat(opts.name, health()).catch(async (err: unknown) => {
      // Removed from the registry while running (rookery node remove): come back.
      if (isStoreError(err, 'not-found')) {
        await opts.store.cluster.register({ name: opts.name, role: 'node', address: opts.address, host: osHostname(), pid: process.pid, version, services: health() }).catch(() => undefined);
        return;
      }
      logger.warn({ err }, 'heartbeat to the store failed');
    });
  }, heartbeatIntervalMs);
  heartbeat.unref();

  return {
    ports,
    async stop() {
      stopping = true;
      clearInterval(certPoll);
      clearInterval(heartbeat);
      // Out of the pools first, so no new client is sent here while sessions end.
      await opts.store.cluster.setState(opts.name, 'draining').catch(() => undefined);
      await Promise.allSettled(running.map((s) => s.close()));
      await opts.store.cluster.setState(opts.name, 'down').catch(() => undefined);
      trustedProxies.stop();
    },
  };
}
