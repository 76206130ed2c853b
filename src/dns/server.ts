/**
 * The DNS role: one authoritative server on UDP and TCP (RFC 1035 4.2,
 * TCP as RFC 7766 asks: length-prefixed messages, several queries per
 * connection, answered in order, idle connections closed). Bad input gets a
 * correct error answer or none; nothing a client sends can stop the server.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import { indexZone, Rcode, resolve, type IndexedZone, type Resolution } from './resolve.js';
import { encodeResponse, maxMessageBytes, parseQuery, udpLimitBytes, type QueryHeader } from './wire.js';
import { ZoneCache } from './zones.js';

/** Limits of the DNS server; each unit is in its name. */
export interface DnsLimits {
  /** Largest query accepted, in bytes: a larger UDP datagram is dropped, a larger TCP length prefix closes the connection. */
  maxQueryBytes: number;
  /** A TCP connection quiet for this long is closed (RFC 7766 6.2.3). */
  tcpIdleTimeoutMs: number;
  /** Open TCP connections at once; more are refused. */
  maxTcpConnections: number;
  /** Queries one TCP connection may have waiting for answers; reading from it pauses beyond that. */
  maxTcpPipelinedQueries: number;
  /** UDP queries waiting for the store at once; more are dropped (the client retries). */
  maxPendingUdpQueries: number;
}

export const defaultDnsLimits: DnsLimits = {
  maxQueryBytes: 4096,
  tcpIdleTimeoutMs: 10_000,
  maxTcpConnections: 256,
  maxTcpPipelinedQueries: 16,
  maxPendingUdpQueries: 1024,
};

export interface DnsServerOptions {
  store: Store;
  /** The address to listen on; also the name servers' address when nothing else is configured. */
  address: string;
  /** UDP and TCP port; 0 picks a free one (the same for both). */
  port: number;
  logger: Logger;
  /** Heartbeats older than this read as down; default the registry's 3 s. */
  staleAfterMs?: number;
  /** How long one read of the store serves answers, in milliseconds; default 1000. */
  cacheMs?: number;
  limits?: Partial<DnsLimits>;
}

export interface RunningDnsServer {
  address: string;
  /** The port bound, for UDP and TCP alike. */
  port: number;
  /** Stops listening, closes open connections, resolves when both sockets are closed. */
  close(): Promise<void>;
}

/** Starts the DNS server on address:port, UDP and TCP. */
export async function startDnsServer(opts: DnsServerOptions): Promise<RunningDnsServer> {
  const limits: DnsLimits = { ...defaultDnsLimits, ...opts.limits };
  const log = opts.logger;
  const cache = new ZoneCache(opts.store, {
    cacheMs: opts.cacheMs ?? 1000,
    logger: log,
    ownAddress: opts.address,
    ...(opts.staleAfterMs === undefined ? {} : { staleAfterMs: opts.staleAfterMs }),
  }, (set) => set.zones.map(indexZone));
  const counters = new Map<string, number>();
  const rotate = (key: string, count: number): number => {
    const n = counters.get(key) ?? 0;
    counters.set(key, (n + 1) % count);
    return n % count;
  };
  const answerer = (message: Buffer, transport: 'udp' | 'tcp') => answer(message, transport, cache, rotate, log);

  for (let attempt = 0; ; attempt++) {
    const tcp = await listenTcp(opts.address, opts.port, limits, answerer, log);
    const port = (tcp.server.address() as { port: number }).port;
    try {
      const udp = await listenUdp(opts.address, port, limits, answerer, log);
      log.info({ address: opts.address, port }, 'DNS listening on UDP and TCP');
      return {
        address: opts.address,
        port,
        async close() {
          await Promise.all([tcp.close(), new Promise<void>((done) => udp.close(() => done()))]);
        },
      };
    } catch (err) {
      await tcp.close();
      // With port 0 the free TCP port may be taken for UDP; try another.
      if (opts.port !== 0 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) throw err;
    }
  }
}

type Answerer = (message: Buffer, transport: 'udp' | 'tcp') => Promise<Buffer | null>;

function empty(rcode: number): Resolution {
  return { rcode, authoritative: false, answers: [], authorities: [], additionals: [] };
}

/** One message in, its answer (or null: no answer) out. Never throws. */
async function answer(message: Buffer, transport: 'udp' | 'tcp', cache: ZoneCache<IndexedZone[]>, rotate: (k: string, n: number) => number, log: Logger): Promise<Buffer | null> {
  let header: QueryHeader | null = null;
  try {
    const parsed = parseQuery(message);
    if (parsed.kind === 'drop') {
      log.debug({ transport, reason: parsed.reason }, 'DNS message dropped');
      return null;
    }
    header = parsed.kind === 'query' ? parsed.query : parsed.header;
    const limit = transport === 'tcp' ? maxMessageBytes : udpLimitBytes(parsed.kind === 'query' ? parsed.query : null);
    if (parsed.kind === 'error') {
      log.debug({ transport, reason: parsed.reason }, 'DNS query refused');
      return encodeResponse({ header, rawQuestion: parsed.rawQuestion, resolution: empty(parsed.rcode), edns: parsed.edns }, limit);
    }
    const { query } = parsed;
    let zones: IndexedZone[];
    try {
      zones = await cache.get();
    } catch (err) {
      log.error({ err }, 'the zones cannot be read from the store');
      return encodeResponse({ header, rawQuestion: query.rawQuestion, resolution: empty(Rcode.SERVFAIL), edns: query.edns !== null }, limit);
    }
    return encodeResponse({ header, rawQuestion: query.rawQuestion, resolution: resolve(query.question, zones, rotate), edns: query.edns !== null }, limit);
  } catch (err) {
    // A bug, not the client's fault: answer SERVFAIL if there is someone to answer.
    log.error({ err }, 'answering a DNS query failed');
    try {
      return header ? encodeResponse({ header, rawQuestion: null, resolution: empty(Rcode.SERVFAIL), edns: false }, 512) : null;
    } catch {
      return null;
    }
  }
}

function listenUdp(address: string, port: number, limits: DnsLimits, answerer: Answerer, log: Logger): Promise<UdpSocket> {
  const socket = createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4' });
  let pending = 0;
  socket.on('message', (message, peer) => {
    if (message.length > limits.maxQueryBytes || pending >= limits.maxPendingUdpQueries) return;
    pending++;
    void answerer(message, 'udp').then((response) => {
      if (response) {
        socket.send(response, peer.port, peer.address, (err) => {
          if (err) log.debug({ err, peer: peer.address }, 'a DNS answer could not be sent');
        });
      }
    }).finally(() => {
      pending--;
    });
  });
  return new Promise((resolveBound, reject) => {
    const onError = (err: Error) => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind(port, address, () => {
      socket.off('error', onError);
      // After binding, an error (an ICMP report on some systems) is logged; the socket stays open.
      socket.on('error', (err) => log.warn({ err }, 'DNS UDP socket error'));
      resolveBound(socket);
    });
  });
}

async function listenTcp(address: string, port: number, limits: DnsLimits, answerer: Answerer, log: Logger): Promise<{ server: Server; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  // allowHalfOpen: a client may send its queries and shut its side; the answers still go out.
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serveTcpConnection(socket, limits, answerer, log);
  });
  server.maxConnections = limits.maxTcpConnections;
  await new Promise<void>((resolveListening, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolveListening();
    });
  });
  server.on('error', (err) => log.warn({ err }, 'DNS TCP listener error'));
  return {
    server,
    close: () => new Promise<void>((done) => {
      server.close(() => done());
      for (const s of sockets) s.destroy();
    }),
  };
}

/** One TCP connection: 2-byte length, message; answers written in the order asked. */
function serveTcpConnection(socket: Socket, limits: DnsLimits, answerer: Answerer, log: Logger): void {
  let buffered: Buffer = Buffer.alloc(0);
  let waiting = 0;
  let ended = false;
  let chain: Promise<void> = Promise.resolve();
  socket.setNoDelay(true);
  socket.setTimeout(limits.tcpIdleTimeoutMs, () => socket.destroy());
  socket.on('error', (err) => log.debug({ err }, 'DNS TCP connection error'));

  const finishIfDone = () => {
    if (ended && waiting === 0 && !socket.destroyed) socket.end();
  };
  const take = () => {
    while (buffered.length >= 2 && waiting < limits.maxTcpPipelinedQueries) {
      const length = buffered.readUInt16BE(0);
      // Shorter than a header cannot be answered; longer than the limit is not buffered (CONVENTIONS: drain, never hold).
      if (length < 12 || length > limits.maxQueryBytes) {
        log.debug({ length }, 'DNS TCP length prefix out of range; closing');
        socket.destroy();
        return;
      }
      if (buffered.length < 2 + length) break;
      const message = buffered.subarray(2, 2 + length);
      buffered = buffered.subarray(2 + length);
      waiting++;
      chain = chain
        .then(() => answerer(message, 'tcp'))
        .then((response) => {
          if (response && !socket.destroyed) {
            const prefix = Buffer.alloc(2);
            prefix.writeUInt16BE(response.length);
            socket.write(Buffer.concat([prefix, response]));
          }
        })
        .finally(() => {
          waiting--;
          if (socket.isPaused() && !socket.destroyed) socket.resume();
          take();
          finishIfDone();
        });
    }
    if (waiting >= limits.maxTcpPipelinedQueries) socket.pause();
  };
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    take();
  });
  socket.on('end', () => {
    ended = true;
    finishIfDone();
  });
}
