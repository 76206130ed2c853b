/**
 * The metrics every part of a node shares, declared in one place so their
 * names and labels stay consistent. A service imports what it counts:
 *
 *   import { metrics } from '../../metrics/index.js';
 *   metrics.connections.inc({ protocol: 'imap' });
 *
 * Label `protocol` is the service name of src/config/services.ts (smtp,
 * submission, pop3, imap, http, ...). Where each is counted:
 *
 * - connections / connectionsOpen: src/net/listener.ts (IMAP, POP3, HTTP)
 *   and src/protocols/smtp/connect.ts (SMTP, submission).
 * - sessionsOpen: SMTP sessions (connect.ts), signed-in POP3 and IMAP
 *   sessions (their session.ts), HTTP event streams (src/web/events.ts).
 * - deliveries: src/mail/deliver.ts per copy filed (path local) and
 *   src/outbound/runner.ts per queue attempt outcome (path queue).
 * - authFailures: the shared login throttle (src/net/login-throttle.ts).
 * - storeLatency: the node's Store is wrapped once with timedStore()
 *   (src/metrics/timed-store.ts) in src/node.ts.
 * - the store-derived gauges are filled at scrape time (src/web/health.ts).
 */
import { MetricsRegistry } from './registry.js';

export { MetricsRegistry, Counter, Gauge, Histogram, latencyBuckets, prometheusContentType, type Labels } from './registry.js';

/** The process's registry, rendered by `/metrics`. */
export const registry = new MetricsRegistry();

export const metrics = {
  /** Connections accepted, per protocol. */
  connections: registry.counter('rookery_connections_total', 'Connections accepted, per protocol.'),
  /** Connections open now, per protocol. */
  connectionsOpen: registry.gauge('rookery_connections_open', 'Connections open now, per protocol.'),
  /** Sessions open now: SMTP sessions, signed-in IMAP and POP3 sessions, HTTP event streams; per protocol. */
  sessionsOpen: registry.gauge('rookery_sessions_open', 'Sessions open now (SMTP sessions, signed-in IMAP and POP3 sessions, HTTP event streams), per protocol.'),
  /** Copies filed into mailboxes (path local: delivered, over-quota, failed) and queue attempts per recipient (path queue: delivered, deferred, bounced). */
  deliveries: registry.counter('rookery_deliveries_total', 'Copies filed into mailboxes (path local) and queue delivery attempts per recipient (path queue), per result.'),
  /** Failed logins and refused credentials, per protocol. */
  authFailures: registry.counter('rookery_auth_failures_total', 'Failed logins and refused credentials, per protocol.'),
  /** Store calls, per interface and method, in seconds. */
  storeLatency: registry.histogram('rookery_store_call_seconds', 'Store calls, per interface and method, in seconds.'),
  /** HTTP requests answered, per method, route and status. */
  httpRequests: registry.counter('rookery_http_requests_total', 'HTTP requests answered, per method, route and status.'),
  /** HTTP request duration, per route, in seconds. */
  httpDuration: registry.histogram('rookery_http_request_seconds', 'HTTP request duration, per route, in seconds.'),
  /** Recipients in the outbound queue not yet final, per state (queued, in-flight). */
  queueDepth: registry.gauge('rookery_queue_recipients', 'Recipients in the outbound queue not yet final (cluster-wide), per state.'),
  /** Messages in the outbound queue (cluster-wide). */
  queueMessages: registry.gauge('rookery_queue_messages', 'Messages in the outbound queue (cluster-wide).'),
  /** How long a trivial store read took at the last scrape, in seconds. */
  storeProbe: registry.gauge('rookery_store_probe_seconds', 'How long a trivial store read took at the last scrape, in seconds (-1: it failed).'),
  /** Whether the store answered the last probe (1) or not (0). */
  storeUp: registry.gauge('rookery_store_up', 'Whether the store answered the last scrape\'s probe (1) or not (0).'),
  /** Directory size: domains and users. */
  directoryEntries: registry.gauge('rookery_directory_entries', 'Domains and users in the directory (cluster-wide), per kind.'),
  /** Cluster members per role and state, as the registry sees them. */
  clusterMembers: registry.gauge('rookery_cluster_members', 'Cluster members per role and state, as the registry sees them.'),
  /** When this process started, in seconds since the epoch. */
  startTime: registry.gauge('process_start_time_seconds', 'When this process started, in seconds since the epoch.'),
  /** Resident memory of this process, in bytes. */
  residentMemory: registry.gauge('process_resident_memory_bytes', 'Resident memory of this process, in bytes.'),
};

metrics.startTime.set({}, Math.round(Date.now() / 1000 - process.uptime()));
registry.addCollector(() => metrics.residentMemory.set({}, process.memoryUsage.rss()));
