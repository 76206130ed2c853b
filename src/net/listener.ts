/**
 * The listener every hand-written protocol service shares (POP3, IMAP):
 * the PROXY header from a trusted traffic manager, the per-address
 * connection cap (on the real client's address), implicit TLS, and a
 * graceful close. The protocol only says how to refuse and how to begin a
 * session.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../log.js';
import { metrics } from '../metrics/index.js';
import { readProxyHeader, type ClientAddress } from './proxy-accept.js';
import type { ServiceContext } from './service.js';
import { upgradeToTls } from './tls-upgrade.js';

/** A connection handed to the protocol, after PROXY and TLS. */
export interface AcceptedConnection {
  /** The TCP socket as accepted (close this to be sure everything goes). */
  socket: Socket;
  /** What the protocol reads and writes: the TLS socket under implicit TLS, else `socket`. */
  stream: Socket | TLSSocket;
  secure: boolean;
  /** The real client: from a trusted PROXY header, else the socket's peer. */
  client: ClientAddress;
}

export interface ListenerOptions {
  ctx: ServiceContext;
  /** The service's name in metrics (imap, imaps, pop3, pop3s, http, https). */
  protocol: string;
  logger: Logger;
  implicitTls: boolean;
  /** How long an implicit-TLS handshake may take, read at each connection (limits change while a node runs). */
  handshakeTimeoutMs: () => number;
  /** Refuses a connection over the per-address cap, in the protocol's words (plain text only). */
  refuseTooMany(socket: Socket): void;
  /** Starts the protocol's session on an accepted connection. */
  begin(connection: AcceptedConnection): void;
}

/** How long a trusted traffic manager has to send its PROXY header. */
const proxyHeaderTimeoutMs = 10_000;

export class ServiceListener {
  private server: Server | null = null;
  private closing = false;
  private readonly perAddress = new Map<string, number>();
  /** Every accepted socket until it closes. */
  private readonly sockets = new Set<Socket>();
  /** Sockets not yet handed to a session (PROXY or TLS handshake under way). */
  private readonly pending = new Set<Socket>();

  constructor(private readonly opts: ListenerOptions) {}

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const srv = createServer((socket) => this.accept(socket));
      srv.once('error', reject);
      srv.listen(port, host, () => {
        srv.removeListener('error', reject);
        srv.on('error', (err) => this.opts.logger.error({ err }, 'listener error'));
        this.server = srv;
        const address = srv.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  }

  /**
   * Stops accepting and drops connections not yet in a session; sessions are
   * the protocol's to end. Resolves at once: net.Server's close callback
   * waits for every connection, which would hold a shutdown hostage to
   * keep-alive clients before the protocol's grace period even starts.
   */
  async stopAccepting(): Promise<void> {
    this.closing = true;
    this.server?.close();
    for (const socket of this.pending) socket.destroy();
  }

  /** Connections accepted and not yet closed (handshakes included). */
  get openConnections(): number {
    return this.sockets.size;
  }

  /** Cuts every connection still open (the end of a shutdown grace period). */
  destroyAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  private accept(socket: Socket): void {
    const { logger } = this.opts;
    socket.on('error', (err) => logger.debug({ err }, 'socket error'));
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    this.pending.add(socket);
    const protocol = this.opts.protocol;
    metrics.connections.inc({ protocol });
    metrics.connectionsOpen.inc({ protocol });
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.pending.delete(socket);
      metrics.connectionsOpen.dec({ protocol });
    });
    const peer: ClientAddress = { address: socket.remoteAddress ?? 'unknown', port: socket.remotePort ?? 0 };
    const proxies = this.opts.ctx.trustedProxies;
    let trusted = false;
    const check = proxies?.trustsFresh ? proxies.trustsFresh(socket.remoteAddress) : Promise.resolve(proxies?.trusts(socket.remoteAddress) ?? false);
    check.then((t) => {
      trusted = t;
      return t ? readProxyHeader(socket, { timeoutMs: proxyHeaderTimeoutMs }) : peer;
    }).then(
      (c) => this.admit(socket, c, trusted),
      (err: Error) => {
        logger.warn({ remote: peer.address, reason: err.message }, 'connection from a traffic manager without a usable PROXY header');
        socket.destroy();
      },
    );
  }

  /** The per-address cap, on the real client's address, then TLS, then the session. */
  private admit(socket: Socket, client: ClientAddress, pausedByProxyRead: boolean): void {
    const { ctx, logger } = this.opts;
    if (this.closing || socket.destroyed) {
      socket.destroy();
      return;
    }
    const count = this.perAddress.get(client.address) ?? 0;
    if (count >= ctx.limits.maxConnectionsPerIp) {
      logger.warn({ remote: client.address }, 'too many connections from one address');
      this.pending.delete(socket);
      // A TLS client could not read a plain-text refusal; it just sees the close.
      if (this.opts.implicitTls) socket.destroy();
      else this.opts.refuseTooMany(socket);
      return;
    }
    this.perAddress.set(client.address, count + 1);
    socket.once('close', () => {
      const n = (this.perAddress.get(client.address) ?? 1) - 1;
      if (n <= 0) this.perAddress.delete(client.address);
      else this.perAddress.set(client.address, n);
    });
    if (!this.opts.implicitTls) {
      this.pending.delete(socket);
      this.opts.begin({ socket, stream: socket, secure: false, client });
      // Reading the PROXY header left the socket paused; the session's
      // listeners are attached now, so nothing that follows is lost.
      if (pausedByProxyRead) socket.resume();
      return;
    }
    upgradeToTls(socket, ctx.tls(), { handshakeTimeoutMs: this.opts.handshakeTimeoutMs() }).then(
      (secure) => {
        this.pending.delete(socket);
        if (this.closing) secure.destroy();
        else this.opts.begin({ socket, stream: secure, secure: true, client });
      },
      (err: unknown) => {
        this.pending.delete(socket);
        logger.debug({ err, remote: client.address }, 'TLS handshake failed');
      },
    );
  }
}

/**
 * The open sessions of one service, so that close() can ask each to end
 * and wait until the last one has cleaned up (cut after a grace period).
 */
export class SessionTracker<S extends { shutdown(): void }> {
  private readonly sessions = new Set<S>();
  private onIdle: (() => void) | null = null;

  add(session: S): void {
    this.sessions.add(session);
  }

  /** Call from the session's close hook; `socket` is the accepted TCP socket under it. */
  closed(session: S, socket: Socket): void {
    this.sessions.delete(session);
    // A TLS socket's close does not always reach the socket it wraps.
    socket.destroy();
    if (this.sessions.size === 0) this.onIdle?.();
  }

  /** Stops the listener, asks every session to end, resolves when all have (or the grace ran out). */
  async closeAll(listener: ServiceListener, graceMs: number): Promise<void> {
    const stopped = listener.stopAccepting();
    const drained = new Promise<void>((resolve) => {
      if (this.sessions.size === 0) resolve();
      else this.onIdle = resolve;
    });
    for (const session of this.sessions) session.shutdown();
    const cut = setTimeout(() => listener.destroyAll(), graceMs);
    await Promise.all([stopped, drained]);
    clearTimeout(cut);
  }
}
