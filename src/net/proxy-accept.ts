/**
 * The receiving side of the PROXY protocol for every service: a connection
 * from a trusted traffic manager starts with a PROXY header (v2, or v1)
 * naming the real client; anything else is read as the protocol itself. A
 * header is only believed from trusted addresses, or any client could
 * claim to be anyone.
 */
import type { Socket } from 'node:net';
import { defaultMaxProxyHeaderBytes, parseProxyHeader, unmapIPv4 } from './proxy-protocol.js';
import type { ClusterRegistry } from '../store/types.js';

/** The client a connection stands for: its own peer, or the one a trusted PROXY header named. */
export interface ClientAddress {
  address: string;
  port: number;
}

/**
 * Reads the PROXY header at the start of a connection. Resolves with the
 * client it names, or with the socket's own peer for a LOCAL header (the
 * traffic manager's health checks). Rejects on a malformed or overlong
 * header, or when none arrives within timeoutMs; the caller closes the
 * socket then. Bytes after the header are put back for the protocol.
 */
export function readProxyHeader(socket: Socket, opts: { timeoutMs: number; maxHeaderBytes?: number }): Promise<ClientAddress> {
  const maxHeaderBytes = opts.maxHeaderBytes ?? defaultMaxProxyHeaderBytes;
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    let done = false;
    const finish = (err: Error | null, client?: ClientAddress) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      if (err) reject(err);
      else resolve(client!);
    };
    const onData = (chunk: Buffer) => {
      if (done) return;
      buffered = Buffer.concat([buffered, chunk]);
      const result = parseProxyHeader(buffered, { maxHeaderBytes });
      if (result.kind === 'incomplete') {
        if (buffered.length > maxHeaderBytes) finish(new Error('the PROXY header is too long'));
        return;
      }
      if (result.kind === 'error') {
        finish(new Error(`bad PROXY header: ${result.error.message}`));
        return;
      }
      const rest = buffered.subarray(result.header.headerBytes);
      const source = result.header.command === 'proxy' ? result.header.source : null;
      // Stop listening (and pause) before putting bytes back: unshifting
      // into a flowing stream would hand them straight back to this handler.
      finish(null, source
        ? { address: unmapIPv4(source.address), port: source.port }
        : { address: unmapIPv4(socket.remoteAddress ?? 'unknown'), port: socket.remotePort ?? 0 });
      if (rest.length > 0) socket.unshift(rest);
    };
    const onClose = () => finish(new Error('the connection closed before its PROXY header'));
    const timer = setTimeout(() => finish(new Error('no PROXY header in time')), opts.timeoutMs);
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

/**
 * The addresses whose PROXY headers are believed: every traffic manager in
 * the cluster registry, refreshed in the background. Only those, so a
 * client cannot pass itself off as another address.
 */
/** How old the list of traffic managers may be when an unknown peer connects. */
const freshEnoughMs = 250;

export class TrustedProxies {
  private addresses = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private refreshedAt = 0;
  private refreshing: Promise<void> | null = null;

  constructor(private readonly registry: ClusterRegistry, private readonly refreshMs = 2000) {}

  /** Reads the registry now and then every refreshMs. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Whether connections from this peer address start with a PROXY header. */
  trusts(address: string | undefined): boolean {
    return address !== undefined && this.addresses.has(unmapIPv4(address));
  }

  /**
   * Like trusts(), but a peer not (yet) trusted makes the list be read again
   * first when it is older than a quarter second: a traffic manager that
   * just registered is believed from its first connection, not after the
   * next background refresh. At most four reads a second.
   */
  async trustsFresh(address: string | undefined): Promise<boolean> {
    if (this.trusts(address) || address === undefined) return this.trusts(address);
    if (Date.now() - this.refreshedAt > freshEnoughMs) await this.refresh();
    return this.trusts(address);
  }

  private refresh(): Promise<void> {
    // One read at a time; callers arriving meanwhile share it.
    this.refreshing ??= this.read().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async read(): Promise<void> {
    try {
      const members = await this.registry.list({ staleAfterMs: Number.MAX_SAFE_INTEGER });
      this.addresses = new Set(members.filter((m) => m.role === 'balancer').map((m) => unmapIPv4(m.sourceAddress ?? m.address)));
      this.refreshedAt = Date.now();
    } catch {
      // Keep the last list: an unreachable store must not turn trusted
      // traffic managers into clients (or the other way round).
    }
  }
}
