/**
 * The metrics every part of a node shares, declared in one place so their
 * names and labels stay consistent. A service imports what it counts:
 *
 *   import { metrics } from '../../metrics/index.js';
 *   metrics.connections.inc({ protocol: 'imap' });
 *
 * Label `protocol` is the service name of src/config/services.ts (smtp,
 * submission, pop3, imap, http, ...). What is wired today: everything for
 * `http`/`https` (src/web/), and the store-derived gauges (filled at scrape
 * time by src/web/metrics-collector.ts). What the other services need to
 * add (each one line at the place named):
 *
 * - connections / connectionsOpen: src/net/listener.ts `admit()` (inc, and
 *   dec on the socket's close) covers POP3 and IMAP at once; SMTP in
 *   src/protocols/smtp/connect.ts (onConnect / onClose).
 * - sessionsOpen: where a session reaches its authenticated state and ends
 *   (POP3 TRANSACTION, IMAP AUTHENTICATED, SMTP AUTH on submission).
 * - deliveries: src/mail/deliver.ts per recipient (result: delivered,
 *   over-quota, failed) and src/outbound/runner.ts per settle outcome
 *   (result: relayed, deferred, bounced).
 * - authFailures: each protocol's failed LOGIN/AUTH/PASS (IMAP session.ts,
 *   POP3 session.ts, SMTP auth.ts).
 * - storeLatency: wrap the node's Store once with `timedStore()`
 *   (src/metrics/timed-store.ts) in src/node.ts instead of per service.
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
  /** Sessions open now (authenticated, or an HTTP event stream), per protocol. */
  sessionsOpen: registry.gauge('rookery_sessions_open', 'Sessions open now (authenticated, or an HTTP event stream), per protocol.'),
  /** Messages handed on, per path (local, relay) and result. */
  deliveries: registry.counter('rookery_deliveries_total', 'Messages delivered or relayed, per path and result.'),
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
