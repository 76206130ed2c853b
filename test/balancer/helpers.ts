/**
 * What the balancer tests share: small backends that speak just enough
 * SMTP, POP3 and HTTP to pass health checks and say who they are, a client
 * that reads a greeting through the virtual port, and free loopback ports.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { createHash } from 'node:crypto';
import { parseProxyHeader, type ProxyHeader } from '../../src/net/proxy-protocol.js';
import { Balancer } from '../../src/balancer/balancer.js';
import { parseBalancerConfig } from '../../src/balancer/config-file.js';
import { specOf, type VirtualServiceName } from '../../src/balancer/services.js';
import { createLogger } from '../../src/log.js';
import type { Store } from '../../src/store/types.js';

/** A random loopback address, so parallel test files never share ports. */
export function randomLoopback(): string {
  return `127.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`;
}

function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** A port base whose base + each offset is free on the host. */
export async function freeBase(host: string, offsets: number[]): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 40000);
    const free = await Promise.all(offsets.map((o) => portFree(base + o, host)));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no free port base found');
}

export interface FakeBackendOptions {
  name: string;
  host: string;
  /** Expect a PROXY header before the protocol (parsed with our codec). */
  proxy?: boolean;
}

/** One fake server: SMTP, POP3 or HTTP/echo. */
export interface FakeServer {
  port: number;
  /** Echo connections relayed (HTTP kind only; health checks excluded). */
  relayed: number;
  /** PROXY headers received, checks included. */
  headers: ProxyHeader[];
  /** Set to make the service fail its health checks (SMTP answers 421, POP3 -ERR). */
  sick: boolean;
  /** Open connections, checks included. */
  open: Set<Socket>;
  close(): Promise<void>;
}

type Kind = 'smtp' | 'pop3' | 'http';

/**
 * Starts a fake server. The greeting names the backend, so a client can
 * tell where it landed.
 */
export async function fakeServer(kind: Kind, opts: FakeBackendOptions, port = 0): Promise<FakeServer> {
  const state: FakeServer = { port: 0, relayed: 0, headers: [], sick: false, open: new Set(), close: async () => {} };
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => socket.destroy());
    state.open.add(socket);
    socket.on('close', () => state.open.delete(socket));
    let pending = Buffer.alloc(0);
    let started = !opts.proxy;
    const begin = (rest: Buffer) => {
      started = true;
      if (kind === 'http') return httpOrEcho(socket, rest, state);
      lineServer(kind, socket, opts.name, state);
      if (rest.length > 0) socket.emit('data', rest);
    };
    if (!opts.proxy) return begin(Buffer.alloc(0));
    const onData = (chunk: Buffer) => {
      if (started) return;
      pending = Buffer.concat([pending, chunk]);
      const r = parseProxyHeader(pending);
      if (r.kind === 'incomplete') return;
      socket.off('data', onData);
      if (r.kind === 'error') { socket.destroy(); return; }
      state.headers.push(r.header);
      begin(pending.subarray(r.header.headerBytes));
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, opts.host, () => resolve());
  });
  state.port = (server.address() as { port: number }).port;
  state.close = () => new Promise<void>((resolve) => {
    for (const s of state.open) s.destroy();
    server.close(() => resolve());
  });
  return state;
}

function lineServer(kind: 'smtp' | 'pop3', socket: Socket, name: string, state: FakeServer): void {
  const ok = kind === 'smtp' ? '250' : '+OK';
  if (state.sick) {
    socket.end(kind === 'smtp' ? '421 4.3.2 sick\r\n' : '-ERR [SYS/TEMP] sick\r\n');
    return;
  }
  socket.write(kind === 'smtp' ? `220 ${name} ESMTP fake\r\n` : `+OK ${name} POP3 fake\r\n`);
  let buffered = '';
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('latin1');
    let lf: number;
    while ((lf = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, lf).replace(/\r$/, '');
      buffered = buffered.slice(lf + 1);
      const verb = line.split(' ')[0]!.toUpperCase();
      if (verb === 'QUIT') { socket.end(kind === 'smtp' ? `221 ${name} bye\r\n` : `+OK ${name} bye\r\n`); return; }
      if (verb === 'EHLO') socket.write(`250-${name}\r\n250 8BITMIME\r\n`);
      else if (verb === 'WHO') socket.write(`${ok} ${name}\r\n`);
      else socket.write(`${ok} ok\r\n`);
    }
  });
  socket.on('end', () => socket.end());
}

/**
 * HTTP health check or echo: "GET /healthz" gets 200; anything else is
 * echoed back byte for byte, and when the client half-closes, the server
 * sends "sha256=<hex of what it got>\n" and ends.
 */
function httpOrEcho(socket: Socket, first: Buffer, state: FakeServer): void {
  let head = first;
  let decided = false;
  const hash = createHash('sha256');
  const decide = (chunk: Buffer) => {
    if (decided) return;
    head = Buffer.concat([head, chunk]);
    if (head.length < 12) return;
    decided = true;
    socket.off('data', decide);
    if (head.subarray(0, 12).toString('latin1') === 'GET /healthz') {
      socket.end(state.sick ? 'HTTP/1.1 503 Sick\r\nContent-Length: 0\r\n\r\n' : 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n');
      return;
    }
    state.relayed++;
    hash.update(head);
    socket.write(head);
    socket.on('data', (c: Buffer) => {
      hash.update(c);
      // Respect the writer's backpressure: pause reading while the echo is queued.
      if (!socket.write(c)) { socket.pause(); socket.once('drain', () => socket.resume()); }
    });
    socket.on('end', () => socket.end(`sha256=${hash.digest('hex')}\n`));
  };
  socket.on('data', decide);
  if (first.length > 0) decide(Buffer.alloc(0));
}

/** Connects, reads the greeting line, optionally says QUIT; returns the greeting and the socket. */
export function greet(host: string, port: number, opts: { keepOpen?: boolean; localAddress?: string } = {}): Promise<{ greeting: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    let buffered = '';
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no greeting from ${host}:${port} within 5 s`)); }, 5000);
    socket.on('error', (e) => { clearTimeout(timer); reject(e); });
    socket.on('data', (c: Buffer) => {
      buffered += c.toString('latin1');
      const lf = buffered.indexOf('\n');
      if (lf < 0) return;
      clearTimeout(timer);
      socket.removeAllListeners('data');
      const greeting = buffered.slice(0, lf).replace(/\r$/, '');
      if (!opts.keepOpen) socket.end('QUIT\r\n');
      resolve({ greeting, socket });
    });
    socket.on('end', () => { clearTimeout(timer); reject(new Error(`closed without a greeting: "${buffered}"`)); });
  });
}

/** The backend name in a fake greeting ("220 NAME ESMTP fake", "+OK NAME POP3 fake"). */
export function backendOf(greeting: string): string {
  return greeting.split(' ')[1]!;
}

/** Waits until check() is true, polling; throws with the message after timeoutMs. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, message: string): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`${message} (waited ${timeoutMs} ms)`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---------------------------------------------------------------- an in-process traffic manager


export interface TestLb {
  balancer: Balancer;
  host: string;
  base: number;
  port(service: VirtualServiceName): number;
}

/** Starts a Balancer on a random loopback address with the given configuration text. */
export async function startTestLb(configText: string, services: VirtualServiceName[], opts: { store?: Store; name?: string } = {}): Promise<TestLb> {
  process.env.ROOKERY_LOG_LEVEL ??= 'silent';
  const host = randomLoopback();
  const base = await freeBase(host, [...services.map((s) => specOf(s).standardPort), 694]);
  const balancer = await Balancer.start({
    name: opts.name ?? 'lb-test',
    address: host,
    portBase: base,
    services,
    config: parseBalancerConfig(configText, 'test.conf'),
    store: opts.store ?? null,
    hostname: 'lb.test',
    version: 'test',
    logger: createLogger('lb-test'),
    heartbeat: { address: host, port: base + 694 },
    standbyOf: [],
    heartbeatDelayMs: 500,
    maxLostHeartbeats: 4,
    stopGraceMs: 200,
  });
  return { balancer, host, base, port: (s) => base + specOf(s).standardPort };
}

/** True when the traffic manager sees the named backend of a service as up (or down). */
export function backendUp(lb: TestLb, service: VirtualServiceName, name: string): boolean | undefined {
  return lb.balancer.status()[service]?.backends.find((b) => b.name === name)?.up;
}
