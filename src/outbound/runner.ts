/**
 * The queue worker every node runs: claims due recipients from the
 * cluster-wide queue with a lease, delivers them, and records the outcome.
 *
 * - Work is grouped by destination domain; each domain gets at most
 *   limits.queueMaxConnectionsPerDestination connections from this node
 *   (limits.queueMaxConnections in all), and a connection carries up to
 *   limits.queueMaxMessagesPerConnection messages (RSET between them).
 * - Leases are renewed while work is in hand; a node that dies leaves its
 *   recipients to the others once limits.queueLeaseMs has passed. Delivery
 *   is at least once: a node killed after the remote's 250 and before the
 *   outcome was recorded makes the next worker send it again.
 * - A failure for now is retried after limits.queueFirstRetryMs, doubling
 *   each time up to limits.queueMaxRetryMs; after limits.queueLifetimeMs
 *   the recipient is bounced. A delay warning goes to the sender once, after
 *   limits.queueDelayWarningMs.
 * - Bounces (RFC 3464 DSNs) are queued with the null sender to the original
 *   sender, before the recipient is marked bounced (so a crash in between
 *   can only duplicate a bounce); a message from the null sender never gets
 *   one.
 * - The loop guard: a message with more than limits.maxReceivedHeaders
 *   Received fields, or for a domain whose route (transport or MX) leads
 *   back to a cluster address, is bounced, never passed between nodes.
 * - Recipients in the cluster's own domains are filed locally.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { Limits } from '../config/limits.js';
import type { QueuedMessage, QueuedRecipient, RecipientOutcome, Store } from '../store/types.js';
import { classifyRecipient, deliverLocal } from '../mail/deliver.js';
import { metrics } from '../metrics/index.js';
import { loadMessageIndex } from '../mail/message-index.js';
import { isStoreError } from '../store/errors.js';
import { buildDsn, statusFromReply, type DsnRecipient } from './dsn.js';
import { outgoingMessage, readMessageHead, type MessageHead } from './message-source.js';
import { routeFor, systemResolver, withoutSelf, type DnsResolver, type NextHop, type TransportTarget } from './route.js';
import { ConnectionFailure, OutboundConnection, type RecipientReply } from './smtp-client.js';
import { canonicalAddress, readSelfAddresses } from './self-addresses.js';
import { readTransportMap } from './transport-map.js';

export interface QueueRunnerOptions {
  store: Store;
  /** This node's name: the queue's origin for bounces, and part of the lease owner. */
  nodeName: string;
  /** This node's own address (part of "self" even before it is in the registry). */
  nodeAddress: string;
  /** Our name in EHLO, the DSN's Reporting-MTA. */
  hostname: string;
  limits: Limits;
  logger: Logger;
  /** DNS for MX lookups; the system's by default (tests inject one). */
  resolver?: DnsResolver;
}

/** One message's recipients in one domain, claimed by this worker. */
interface Job {
  message: QueuedMessage;
  domain: string;
  recipients: QueuedRecipient[];
}

interface Destination {
  pending: Job[];
  active: number;
}

/** What happened to one recipient in an attempt, before the retry policy applies. */
type Attempt =
  | { address: string; result: 'delivered' }
  | { address: string; result: 'failed' | 'deferred'; status: string; diagnostic: string; remote: boolean; remoteMta?: string };

/** How many claimed recipients one node holds in memory at most. */
const maxHeldRecipients = 500;

export class QueueRunner {
  readonly owner: string;
  private readonly store: Store;
  private readonly limits: Limits;
  private readonly log: Logger;
  private readonly resolver: DnsResolver;
  private readonly destinations = new Map<string, Destination>();
  private held = 0;
  /** The last look at the queue stopped because we held all we may: look again as soon as there is room. */
  private saturated = false;
  private connections = 0;
  private ticking = false;
  private again = false;
  private stopping = false;
  private timers: NodeJS.Timeout[] = [];
  private unsubscribe: (() => void) | null = null;
  private readonly workers = new Set<Promise<void>>();
  private self = new Set<string>();
  private transports = new Map<string, TransportTarget>();
  private lastError: unknown = null;

  constructor(private readonly opts: QueueRunnerOptions) {
    this.store = opts.store;
    this.limits = opts.limits;
    this.log = opts.logger.child({ service: 'queue' });
    this.resolver = opts.resolver ?? systemResolver();
    this.owner = `${opts.nodeName}:${process.pid}:${randomBytes(4).toString('hex')}`;
  }

  start(): void {
    const poll = setInterval(() => this.wake(), this.limits.queuePollMs);
    const renew = setInterval(() => {
      if (this.held === 0) return;
      this.store.queue.renewLeases(this.owner, this.limits.queueLeaseMs).catch((err: unknown) => this.log.warn({ err }, 'renewing queue leases failed'));
    }, Math.max(100, Math.floor(this.limits.queueLeaseMs / 3)));
    poll.unref();
    renew.unref();
    this.timers.push(poll, renew);
    // ETRN or `rookery queue flush` on any node reaches this one at once where the store pushes changes.
    const feed = (this.store as Partial<Store>).changes;
    if (feed && typeof feed.subscribe === 'function') {
      this.unsubscribe = feed.subscribe(['queue'], (change) => {
        if (change.kind === 'queue' || change.kind === 'resync') this.wake();
      });
    }
    this.wake();
  }

  /** Whether the last look at the queue worked (for the node's health). */
  healthy(): boolean {
    return !this.stopping && this.lastError === null;
  }

  /** Looks for due mail now (called by the poll timer, the change feed, ETRN on this node). */
  wake(): void {
    if (this.stopping) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    void this.tick().finally(() => {
      this.ticking = false;
      if (this.again && !this.stopping) {
        this.again = false;
        this.wake();
      }
    });
  }

  /** Stops claiming, lets deliveries in progress finish; recipients claimed but not started wait for their lease to lapse. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.unsubscribe?.();
    for (const d of this.destinations.values()) {
      this.held -= d.pending.reduce((n, j) => n + j.recipients.length, 0);
      d.pending = [];
    }
    await Promise.allSettled([...this.workers]);
  }

  private async tick(): Promise<void> {
    try {
      let refreshed = false;
      while (!this.stopping) {
        const room = maxHeldRecipients - this.held;
        if (room <= 0) {
          this.saturated = true;
          break;
        }
        const claimed = await this.store.queue.claim({ owner: this.owner, leaseMs: this.limits.queueLeaseMs, limit: Math.min(room, 100) });
        if (claimed.length === 0) break;
        if (!refreshed) {
          // Routes and the cluster's addresses are read once per round, so a change applies within a second.
          this.transports = await readTransportMap(this.store.settings);
          this.self = await readSelfAddresses(this.store, [this.opts.nodeAddress]);
          refreshed = true;
        }
        for (const message of claimed) {
          const byDomain = new Map<string, QueuedRecipient[]>();
          for (const r of message.recipients) {
            const list = byDomain.get(r.domain) ?? [];
            list.push(r);
            byDomain.set(r.domain, list);
          }
          for (const [domain, recipients] of byDomain) {
            this.held += recipients.length;
            const d = this.destinations.get(domain) ?? { pending: [], active: 0 };
            this.destinations.set(domain, d);
            d.pending.push({ message, domain, recipients });
          }
        }
        this.pump();
      }
      this.lastError = null;
    } catch (err) {
      this.lastError = err;
      this.log.warn({ err }, 'looking at the queue failed; trying again');
    }
  }

  /** Starts a connection worker for every destination with work, within the limits. */
  private pump(): void {
    for (const [domain, d] of this.destinations) {
      while (d.pending.length > 0 && d.active < this.limits.queueMaxConnectionsPerDestination
        && this.connections < this.limits.queueMaxConnections && !this.stopping) {
        // One worker drains a destination's backlog over one connection; more start only while the backlog is deep.
        if (d.active > 0 && d.pending.length <= d.active) break;
        d.active++;
        this.connections++;
        const work = this.destinationWorker(domain, d).catch((err: unknown) => this.log.error({ err, domain }, 'queue worker failed'))
          .finally(() => {
            d.active--;
            this.connections--;
            this.workers.delete(work);
            if (d.pending.length === 0 && d.active === 0) this.destinations.delete(domain);
            this.pump();
          });
        this.workers.add(work);
      }
    }
  }

  /** Delivers a destination's pending jobs, reusing one connection. */
  private async destinationWorker(domain: string, d: Destination): Promise<void> {
    let conn: OutboundConnection | null = null;
    let hops: NextHop[] | null = null;
    try {
      for (;;) {
        const job = d.pending.shift();
        if (!job) break;
        try {
          const result = await this.deliverJob(job, {
            connection: () => conn,
            setConnection: (c) => { conn = c; },
            hops: () => hops,
            setHops: (h) => { hops = h; },
          });
          await this.settle(job, result);
        } catch (err) {
          this.log.error({ err, id: job.message.id, domain }, 'delivery attempt failed unexpectedly; the recipients wait for their lease to lapse');
        } finally {
          this.held -= job.recipients.length;
          // With a backlog left in the queue, claim more once half the room is free rather than at the next poll.
          if (this.saturated && this.held <= maxHeldRecipients / 2) {
            this.saturated = false;
            this.wake();
          }
        }
      }
    } finally {
      (conn as OutboundConnection | null)?.close();
    }
  }

  private async deliverJob(job: Job, c: {
    connection(): OutboundConnection | null; setConnection(c: OutboundConnection | null): void;
    hops(): NextHop[] | null; setHops(h: NextHop[]): void;
  }): Promise<Attempt[]> {
    const { message, domain, recipients } = job;
    const all = (result: 'failed' | 'deferred', status: string, diagnostic: string, remote = false, remoteMta?: string): Attempt[] =>
      recipients.map((r) => ({ address: r.address, result, status, diagnostic, remote, ...(remoteMta ? { remoteMta } : {}) }));

    let head: MessageHead;
    try {
      head = await readMessageHead(this.store.blobs, message.blobId, message.size);
    } catch (err) {
      if (isStoreError(err, 'not-found')) return all('failed', '5.3.0', 'the queued message file is missing');
      return all('deferred', '4.3.0', `reading the queued message failed: ${(err as Error).message}`);
    }
    if (head.receivedCount > this.limits.maxReceivedHeaders) {
      return all('failed', '5.4.6', `mail loop: the message has ${head.receivedCount} Received headers (more than ${this.limits.maxReceivedHeaders})`);
    }
    if (await this.store.directory.isLocalDomain(domain)) return this.deliverHere(job);

    let hops = c.hops();
    if (!hops) {
      const route = await routeFor(domain, this.transports, this.resolver);
      if (route.kind === 'fail') return all(route.permanent ? 'failed' : 'deferred', route.status, route.message);
      const kept = withoutSelf(route.hops, (a) => this.self.has(canonicalAddress(a)));
      if (kept.hops.length === 0) return all('failed', '5.4.6', `mail for ${domain} loops back to myself`);
      hops = kept.hops;
      c.setHops(hops);
    }

    let conn = c.connection();
    if (conn && (!conn.usable || conn.sent >= this.limits.queueMaxMessagesPerConnection || !(await conn.reset()))) {
      conn.close();
      conn = null;
      c.setConnection(null);
    }
    if (!conn) {
      let last: ConnectionFailure | null = null;
      for (const hop of hops) {
        try {
          conn = await OutboundConnection.open(hop, {
            name: this.opts.hostname,
            connectTimeoutMs: this.limits.outboundConnectTimeoutMs,
            commandTimeoutMs: this.limits.outboundCommandTimeoutMs,
          });
          break;
        } catch (err) {
          last = err as ConnectionFailure;
        }
      }
      if (!conn) {
        const words = last?.reply ?? last?.message ?? `no mail host of ${domain} could be reached`;
        return all('deferred', last?.reply ? statusFromReply(last.reply, false).replace(/^5/, '4') : '4.4.1', words, last?.reply != null);
      }
      c.setConnection(conn);
    }

    let replies: RecipientReply[];
    try {
      replies = await conn.send(message.sender, recipients.map((r) => r.address), outgoingMessage(this.store.blobs, message.blobId, message.size, head), message.size);
    } catch (err) {
      c.setConnection(null);
      const f = err as ConnectionFailure;
      return all('deferred', '4.4.2', f.reply ?? f.message, f.reply !== null, conn.hop.host);
    }
    const byAddress = new Map(replies.map((r) => [r.address, r]));
    return recipients.map((r): Attempt => {
      const reply = byAddress.get(r.address);
      if (!reply) return { address: r.address, result: 'deferred', status: '4.4.2', diagnostic: 'the remote server gave no reply for this recipient', remote: false };
      if (reply.code >= 200 && reply.code < 300) return { address: r.address, result: 'delivered' };
      const permanent = reply.code >= 500;
      return { address: r.address, result: permanent ? 'failed' : 'deferred', status: statusFromReply(reply.reply, permanent), diagnostic: reply.reply, remote: true, remoteMta: conn!.hop.host };
    });
  }

  /** Files recipients of a local domain into their mailboxes (bounces to local senders come this way). */
  private async deliverHere(job: Job): Promise<Attempt[]> {
    const out: Attempt[] = [];
    for (const r of job.recipients) {
      try {
        const verdict = await classifyRecipient(this.store.directory, r.address);
        if (verdict.kind === 'unknown' || verdict.kind === 'not-local') {
          out.push({ address: r.address, result: 'failed', status: '5.1.1', diagnostic: `${r.address}: no such user here`, remote: false });
          continue;
        }
        if (verdict.users.length > 0) {
          await deliverLocal(this.store, { blob: { id: job.message.blobId, size: job.message.size }, userIds: verdict.users.map((u) => u.id) });
        }
        if (verdict.kind === 'remote') {
          await this.store.queue.enqueue({ sender: job.message.sender, blobId: job.message.blobId, size: job.message.size, recipients: verdict.remoteTargets, origin: this.opts.nodeName });
        }
        out.push({ address: r.address, result: 'delivered' });
      } catch (err) {
        const overQuota = isStoreError(err, 'over-quota');
        const permanent = overQuota && this.limits.quotaExceeded === 'permanent';
        out.push({ address: r.address, result: permanent ? 'failed' : 'deferred', status: overQuota ? (permanent ? '5.2.2' : '4.2.2') : '4.3.0',
          diagnostic: overQuota ? `${r.address}: mailbox full` : `local delivery failed: ${(err as Error).message}`, remote: false });
      }
    }
    await loadMessageIndex(this.store, job.message.blobId).catch(() => undefined);
    return out;
  }

  /** Applies the retry policy, sends DSNs, and records the outcomes. */
  private async settle(job: Job, attempts: Attempt[]): Promise<void> {
    const { message } = job;
    const now = Date.now();
    const age = now - message.createdAt.getTime();
    const byAddress = new Map(job.recipients.map((r) => [r.address, r]));
    const outcomes: RecipientOutcome[] = [];
    const failed: DsnRecipient[] = [];
    const delayed: DsnRecipient[] = [];
    for (const a of attempts) {
      if (a.result === 'delivered') {
        outcomes.push({ address: a.address, outcome: 'delivered' });
        continue;
      }
      const words = a.diagnostic;
      const dsn = { address: a.address, status: a.status, diagnostic: words, remote: a.remote, ...(a.remoteMta ? { remoteMta: a.remoteMta } : {}), lastAttempt: new Date(now) };
      if (a.result === 'failed' || age >= this.limits.queueLifetimeMs) {
        const expired = a.result !== 'failed';
        const reason = expired ? `gave up after ${Math.round(age / 60000)} minutes; the last attempt said: ${words}` : words;
        outcomes.push({ address: a.address, outcome: 'bounced', error: reason });
        failed.push({ ...dsn, action: 'failed', status: expired ? '4.4.7' : a.status, diagnostic: expired ? reason : words });
        continue;
      }
      const previous = byAddress.get(a.address)?.attempts ?? 0;
      const retryInMs = Math.min(this.limits.queueFirstRetryMs * 2 ** Math.min(previous, 30), this.limits.queueMaxRetryMs);
      const warn = message.sender !== '' && !(byAddress.get(a.address)?.delayWarned ?? false) && age >= this.limits.queueDelayWarningMs;
      if (warn) delayed.push({ ...dsn, action: 'delayed', willRetryUntil: new Date(message.createdAt.getTime() + this.limits.queueLifetimeMs) });
      outcomes.push({ address: a.address, outcome: 'deferred', error: words, retryInMs, ...(warn ? { delayWarned: true } : {}) });
    }
    // The DSN is queued before the outcome is recorded: a crash in between repeats it, never loses it.
    for (const group of [failed, delayed]) {
      if (group.length === 0) continue;
      if (message.sender === '') {
        this.log.info({ id: message.id, recipients: group.map((r) => r.address) }, 'not sending a DSN for a message from the null sender');
        continue;
      }
      await this.sendDsn(message, group);
    }
    const { removed } = await this.store.queue.settle(message.id, this.owner, outcomes);
    for (const o of outcomes) {
      metrics.deliveries.inc({ path: 'queue', result: o.outcome });
      this.log.info({ id: message.id, rcpt: o.address, outcome: o.outcome, ...(o.outcome !== 'delivered' ? { error: o.error } : {}) }, 'delivery attempt');
    }
    if (removed) this.log.info({ id: message.id }, 'message done; removed from the queue (its blob stays)');
  }

  private async sendDsn(message: QueuedMessage, recipients: DsnRecipient[]): Promise<void> {
    const head = await readMessageHead(this.store.blobs, message.blobId, message.size).catch(() => ({ header: Buffer.alloc(0), receivedCount: 0 }));
    const dsn = buildDsn({
      reportingMta: this.opts.hostname,
      originalSender: message.sender,
      queueId: message.id,
      arrivalDate: message.createdAt,
      recipients,
      originalHeader: head.header,
    });
    // Return-Path for a local final delivery; stripped when the DSN leaves the cluster.
    const blob = await this.store.blobs.put(Buffer.concat([Buffer.from('Return-Path: <>\r\n'), dsn]));
    const id = await this.store.queue.enqueue({ sender: '', blobId: blob.id, size: blob.size, recipients: [message.sender], origin: this.opts.nodeName });
    this.log.info({ id: message.id, dsn: id, to: message.sender, action: recipients[0]!.action }, 'delivery status notification queued');
  }
}
