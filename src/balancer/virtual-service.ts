/**
 * One virtual service: a TCP listener on the virtual address whose
 * connections go to a backend of its pool. A backend that refuses (or does
 * not answer within the connect timeout) is skipped and the next one tried,
 * before a byte of the client's is read, so the client never notices. When
 * no backend is left, or the connection limit is reached, a plaintext
 * client gets its protocol's "try again later" and a TLS client is closed.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../log.js';
import { encodeProxyV2, unmapIPv4 } from '../net/proxy-protocol.js';
import type { ServiceSettings } from './config-file.js';
import type { Backend, ServicePool } from './pool.js';
import { specOf, type VirtualServiceName } from './services.js';
import { connectBackend, IdleSweep, keepAliveDelayMs, splice, type BackendConnection } from './splice.js';

/** How long a client that was turned away may take to read the busy reply. */
const busyLingerMs = 5000;

export class VirtualService {
  private server: Server | null = null;
  /** Client connections being connected or spliced; their count is what max-connections limits. */
  private readonly clients = new Set<Socket>();
  /** Clients turned away that are still reading their busy reply. */
  private readonly turnedAway = new Set<Socket>();
  private boundPort = 0;
  private readonly idle: IdleSweep;

  constructor(
    readonly name: VirtualServiceName,
    private readonly pool: ServicePool,
    private readonly settings: ServiceSettings,
    private readonly logger: Logger,
  ) {
    this.idle = new IdleSweep(settings.idleTimeoutMs ?? specOf(name).idleTimeoutMs);
  }

  /** The port bound, once listening. */
  get port(): number {
    return this.boundPort;
  }

  get listening(): boolean {
    return this.server !== null;
  }

  /** Client connections open now. */
  get connectionCount(): number {
    return this.clients.size;
  }

  /** Binds the listener; rejects (EADDRINUSE, EADDRNOTAVAIL) without leaving anything bound. */
  async listen(address: string, port: number): Promise<number> {
    // pauseOnConnect: no client byte is read before a backend is connected, so
    // nothing needs buffering while backends are tried. No Nagle (chatty,
    // latency-bound protocols) and keep-alive probes (long IMAP sessions),
    // set as each socket is accepted.
    const server = createServer({
      allowHalfOpen: true, pauseOnConnect: true, noDelay: true, keepAlive: true, keepAliveInitialDelay: keepAliveDelayMs,
    }, (client) => void this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: address, port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => this.logger.error({ service: this.name, err: e.message }, 'listener error'));
    this.server = server;
    this.boundPort = (server.address() as { port: number }).port;
    return this.boundPort;
  }

  private async accept(client: Socket): Promise<void> {
    // Until splice() takes over, a client error only ends this client.
    const early = () => client.destroy();
    client.on('error', early);
    if (this.clients.size >= this.settings.maxConnections) {
      this.logger.warn({ service: this.name, limit: this.settings.maxConnections }, 'connection limit reached; client turned away');
      this.turnAway(client);
      return;
    }
    this.clients.add(client);
    const tried = new Set<Backend>();
    for (;;) {
      const backend = this.pool.pick(tried);
      if (!backend) {
        this.logger.warn({ service: this.name, tried: tried.size }, 'no backend available; client turned away');
        this.clients.delete(client);
        this.turnAway(client);
        return;
      }
      tried.add(backend);
      backend.activeConnections++;
      let upstream: BackendConnection;
      try {
        upstream = await connectBackend({
          host: backend.spec.address,
          port: backend.spec.port,
          ...(backend.spec.sourceAddress ? { localAddress: backend.spec.sourceAddress } : {}),
        }, client, this.settings.connectTimeoutMs);
      } catch (e) {
        backend.activeConnections--;
        // A refusal is evidence like a failed check: enough of them take the backend out.
        backend.record({ ok: false, reason: `connect: ${(e as Error).message}` });
        this.logger.info({ service: this.name, backend: backend.spec.name, err: (e as Error).message }, 'backend refused; trying the next');
        continue;
      }
      if (client.destroyed || client.remoteAddress === undefined) {
        upstream.socket.destroy();
        backend.activeConnections--;
        this.clients.delete(client);
        return;
      }
      if (backend.spec.proxyProtocol) {
        upstream.socket.write(encodeProxyV2(
          { address: unmapIPv4(client.remoteAddress), port: client.remotePort ?? 0 },
          { address: unmapIPv4(client.localAddress ?? '0.0.0.0'), port: client.localPort ?? 0 },
        ));
      }
      client.off('error', early);
      splice(client, upstream, {
        idle: this.idle,
        onClose: () => {
          backend.activeConnections--;
          this.clients.delete(client);
        },
      });
      return;
    }
  }

  private turnAway(client: Socket): void {
    const reply = specOf(this.name).busyReply;
    if (reply === null) {
      client.destroy();
      return;
    }
    this.turnedAway.add(client);
    client.on('close', () => this.turnedAway.delete(client));
    client.setTimeout(busyLingerMs, () => client.destroy());
    client.resume(); // read and drop whatever the client sends, so its FIN is seen
    client.end(reply);
  }

  /**
   * Stops accepting at once; open connections may finish within graceMs,
   * then are cut. Resolves when every connection is gone.
   */
  async close(graceMs: number): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const c of this.turnedAway) c.destroy();
    if (this.clients.size > 0) {
      const deadline = Date.now() + graceMs;
      while (this.clients.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      for (const c of this.clients) c.destroy();
    }
    await closed;
  }
}
