/**
 * Loopback ports for the benchmark: find free ones, wait for an SMTP greeting.
 */
import { createConnection, createServer } from 'node:net';
import { sleep } from './proc.js';

/** True when nothing listens on host:port (127.0.0.1 by default) and we may bind it. */
export function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** freeBase for servers on several loopback addresses: base + offset free on every host given. */
export async function freeBaseOn(hosts: string[], offsets: number[]): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 40000);
    if (offsets.some((o) => base + o > 65535)) continue;
    const checks = hosts.flatMap((h) => offsets.map((o) => portFree(base + o, h)));
    if ((await Promise.all(checks)).every(Boolean)) return base;
  }
  throw new Error('no free port base on the bench addresses');
}

/**
 * A port base in [20000, 60000) whose base + offset is free for every
 * offset given. Random, so that parallel runs and other people's `rookery up`
 * (base 10000) are unlikely to collide; probed, so that a collision is
 * skipped.
 */
export async function freeBase(offsets: number[], avoid: number[] = []): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 40000);
    const ports = offsets.map((o) => base + o);
    if (ports.some((p) => p > 65535 || avoid.includes(p))) continue;
    let ok = true;
    for (const p of ports) {
      if (!(await portFree(p))) { ok = false; break; }
    }
    if (ok) return base;
  }
  throw new Error('could not find a free loopback port');
}

/** Resolves once 127.0.0.1:port answers with an SMTP 220 greeting; rejects after `ms`. */
export function waitForSmtp(port: number, ms: number, alive: () => boolean = () => true): Promise<void> {
  return waitForGreeting(port, '220', ms, alive);
}

/**
 * Milliseconds from connecting to receiving the 220 greeting on an idle
 * server: the median of `count` connections made one after another. With a
 * new connection per message, every message pays this once.
 */
export async function greetingDelay(port: number, count = 7, host = '127.0.0.1'): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    times.push(await new Promise<number>((resolve, reject) => {
      const startNs = process.hrtime.bigint();
      const socket = createConnection({ port, host });
      let text = '';
      socket.setTimeout(10_000, () => {
        socket.destroy();
        reject(new Error(`no greeting on port ${port} within 10 s`));
      });
      socket.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (!text.includes('\n')) return;
        const ms = Number(process.hrtime.bigint() - startNs) / 1e6;
        socket.end('QUIT\r\n');
        socket.destroy();
        resolve(ms);
      });
      socket.on('error', reject);
    }));
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** Resolves once 127.0.0.1:port sends a first line starting with `prefix` (e.g. "* OK" for IMAP); rejects after `ms`. */
export async function waitForGreeting(port: number, prefix: string, ms: number, alive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + ms;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`the server exited before it answered on port ${port}`);
    const greeting = await new Promise<string>((resolve) => {
      const socket = createConnection({ port, host: '127.0.0.1' });
      let text = '';
      const done = (value: string) => {
        socket.destroy();
        resolve(value);
      };
      socket.setTimeout(2_000, () => done(text || 'timeout'));
      socket.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (text.includes('\n')) done(text);
      });
      socket.on('error', (err) => done(err.message));
    });
    if (greeting.startsWith(prefix)) return;
    last = greeting.trim();
    await sleep(100);
  }
  throw new Error(`nothing greeted on 127.0.0.1:${port} within ${ms / 1000}s (${last})`);
}
