/**
 * The API's change notifications, as Server-Sent Events (GET
 * /api/v1/events). One hub per HTTP service: it subscribes to the store's
 * change feed once (changes made by any process on any node arrive there)
 * and, while anyone listens, polls what the feed does not carry: the
 * cluster registry (node state and health) and the queue's depth.
 *
 * Like the feed, an event says what to look at again, with a small
 * summary; clients re-read. Event names:
 *
 *   ready      on connect: { node }
 *   directory  domains, users, aliases or forwards changed: {}
 *   settings   a cluster-wide setting changed (admin only): { key }
 *   nodes      a member's state or health changed (admin only): { nodes: [...] }
 *   queue      queued mail changed or was flushed (admin only): { messages, recipients, domain? }
 *   resync     notices may have been missed: re-read everything
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import { metrics } from '../metrics/index.js';
import type { Member, Store, StoreChange } from '../store/types.js';
import type { Principal } from './auth.js';
import { statusLetters } from './cluster-status.js';

export type EventName = 'ready' | 'directory' | 'settings' | 'nodes' | 'queue' | 'resync';

/** Event names with who may receive them. */
const adminEvents = new Set<EventName>(['settings', 'nodes', 'queue']);

interface Client {
  res: ServerResponse;
  principal: Principal;
}

export interface EventHubOptions {
  store: Store;
  nodeName: string;
  logger: Logger;
  /** How often the registry is read while someone listens. */
  nodesPollMs?: number;
  /** How often the queue's depth is read while someone listens. */
  queuePollMs?: number;
  keepaliveMs: number;
  maxClients: number;
  /** The metric label of the service (http or https). */
  protocol: string;
}

/** Answers with an event stream (text/event-stream, unbuffered by proxies) and tells the client how soon to reconnect. */
export function beginEventStream(res: ServerResponse, retryMs: number): void {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    'X-Accel-Buffering': 'no',
    Connection: 'keep-alive',
  });
  res.flushHeaders();
  res.write(`retry: ${retryMs}\n\n`);
}

/** One event of a stream, its data as JSON. */
export function writeEvent(res: ServerResponse, id: number, event: string, data: unknown): void {
  res.write(`id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

export function nodeSummary(m: Member) {
  return {
    name: m.name,
    role: m.role,
    address: m.address,
    state: m.state,
    status: statusLetters(m),
    services: Object.fromEntries(Object.entries(m.services).map(([s, h]) => [s, { port: h.port, healthy: h.healthy && m.state === 'up' }])),
  };
}

export class EventHub {
  private readonly clients = new Set<Client>();
  private nextId = 1;
  private unsubscribe: (() => void) | null = null;
  private timers: NodeJS.Timeout[] = [];
  private lastNodes = '';
  private lastQueue = '';
  private closed = false;

  constructor(private readonly opts: EventHubOptions) {}

  get size(): number {
    return this.clients.size;
  }

  /** Turns the response into an event stream; false if the node has as many as it takes. */
  add(res: ServerResponse, principal: Principal): boolean {
    if (this.closed || this.clients.size >= this.opts.maxClients) return false;
    // Reconnect after 2 s; the first event tells the client to re-read what it shows.
    beginEventStream(res, 2000);
    const client: Client = { res, principal };
    this.clients.add(client);
    metrics.sessionsOpen.inc({ protocol: this.opts.protocol });
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), this.opts.keepaliveMs);
    res.once('close', () => {
      clearInterval(keepalive);
      this.clients.delete(client);
      metrics.sessionsOpen.dec({ protocol: this.opts.protocol });
      if (this.clients.size === 0) this.stop();
    });
    this.send(client, 'ready', { node: this.opts.nodeName });
    this.start();
    return true;
  }

  /** Ends every stream (the service is closing). */
  close(): void {
    this.closed = true;
    for (const c of this.clients) c.res.end();
    this.stop();
  }

  private start(): void {
    if (this.unsubscribe) return;
    this.unsubscribe = this.opts.store.changes.subscribe(['directory', 'settings', 'queue'], (change) => this.onChange(change));
    const every = (ms: number, fn: () => Promise<void>) => {
      let busy = false;
      const t = setInterval(() => {
        if (busy) return;
        busy = true;
        fn().catch((err: unknown) => this.opts.logger.debug({ err }, 'event poll failed')).finally(() => { busy = false; });
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    // The first poll only learns the current state; changes from then on are news.
    this.lastNodes = '';
    this.lastQueue = '';
    void this.pollNodes(true).catch(() => undefined);
    void this.pollQueue(undefined, true).catch(() => undefined);
    every(this.opts.nodesPollMs ?? 1000, () => this.pollNodes(false));
    every(this.opts.queuePollMs ?? 2000, () => this.pollQueue(undefined, false));
  }

  private stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  private onChange(change: StoreChange): void {
    switch (change.kind) {
      case 'directory':
        this.broadcast('directory', {});
        return;
      case 'settings':
        this.broadcast('settings', { key: change.key });
        return;
      case 'queue':
        void this.pollQueue(change.domain, true, true).catch(() => undefined);
        return;
      case 'resync':
        this.broadcast('resync', {});
        return;
      case 'mailbox':
        // Not asked for: mailbox changes are the webmail's; the admin API has nothing to show for them.
        return;
    }
  }

  private async pollNodes(quiet: boolean): Promise<void> {
    const members = await this.opts.store.cluster.list();
    const nodes = members.map(nodeSummary);
    const digest = JSON.stringify(nodes);
    if (digest === this.lastNodes) return;
    const first = this.lastNodes === '';
    this.lastNodes = digest;
    if (!quiet && !first) this.broadcast('nodes', { nodes });
  }

  private async pollQueue(domain: string | undefined, quiet: boolean, always = false): Promise<void> {
    const messages = await this.opts.store.queue.list();
    const summary = { messages: messages.length, recipients: messages.reduce((n, m) => n + m.recipients.length, 0) };
    const digest = JSON.stringify(messages.map((m) => [m.id, m.recipients.map((r) => [r.address, r.attempts, r.nextAttemptAt.getTime()])]));
    const changed = digest !== this.lastQueue;
    const first = this.lastQueue === '';
    this.lastQueue = digest;
    if (always || (!quiet && !first && changed)) this.broadcast('queue', { ...summary, ...(domain ? { domain } : {}) });
  }

  private broadcast(event: EventName, data: unknown): void {
    for (const c of this.clients) {
      if (adminEvents.has(event) && c.principal.role !== 'admin') continue;
      this.send(c, event, data);
    }
  }

  private send(c: Client, event: EventName, data: unknown): void {
    writeEvent(c.res, this.nextId++, event, data);
  }
}
