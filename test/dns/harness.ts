/**
 * Shared pieces of the DNS tests: a temporary store with fake cluster
 * members, the DNS server on a free loopback port, and dig (Debian's
 * dnsutils) with its answer parsed.
 */
import { rm } from 'node:fs/promises';
import { pino } from 'pino';
import { openStore } from '../../src/store/open.js';
import type { MemberRegistration, ServiceHealth, Store } from '../../src/store/types.js';
import { startDnsServer, type DnsServerOptions, type RunningDnsServer } from '../../src/dns/server.js';
import { run } from '../helpers/clients.js';
import { tempDir } from '../helpers/temp.js';

export const silent = pino({ level: 'silent' });

/** Services of a node where every one is healthy, on the standard ports of base 10000. */
export function allHealthy(): Record<string, ServiceHealth> {
  return {
    smtp: { port: 10025, healthy: true },
    submission: { port: 10587, healthy: true },
    submissions: { port: 10465, healthy: true },
    pop3: { port: 10110, healthy: true },
    pop3s: { port: 10995, healthy: true },
    imap: { port: 10143, healthy: true },
    imaps: { port: 10993, healthy: true },
    http: { port: 10080, healthy: true },
  };
}

export function nodeRegistration(name: string, address: string, services = allHealthy()): MemberRegistration {
  return { name, role: 'node', address, host: 'test-host', pid: 1, version: 'test', services };
}

export interface DnsFixture {
  store: Store;
  dir: string;
  server: RunningDnsServer;
  /** Runs dig against the server; extra arguments like "+tcp". */
  dig(name: string, type: string, ...extra: string[]): Promise<DigResult>;
  close(): Promise<void>;
}

/**
 * A fresh store with the given domains and members, and a DNS server over
 * it on 127.0.0.1. The cache is short so tests see registry changes quickly.
 */
export async function startDnsFixture(opts: {
  domains?: string[];
  members?: MemberRegistration[];
  settings?: Record<string, string>;
  server?: Partial<DnsServerOptions>;
} = {}): Promise<DnsFixture> {
  const dir = await tempDir('rookery-dns-');
  const store = await openStore(dir);
  let server: RunningDnsServer | undefined;
  try {
    for (const d of opts.domains ?? ['example.test']) await store.directory.addDomain(d);
    for (const m of opts.members ?? []) await store.cluster.register(m);
    for (const [k, v] of Object.entries(opts.settings ?? {})) await store.settings.set(k, v);
    server = await startDnsServer({ store, address: '127.0.0.1', port: 0, logger: silent, cacheMs: 50, ...opts.server });
  } catch (err) {
    await store.close();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const running = server;
  return {
    store,
    dir,
    server: running,
    dig: (name, type, ...extra) => dig(running.port, name, type, ...extra),
    async close() {
      await running.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface DigRecord {
  name: string;
  ttl: number;
  type: string;
  data: string;
}

export interface DigResult {
  status: string;
  flags: string[];
  answer: DigRecord[];
  authority: DigRecord[];
  additional: DigRecord[];
  /** Which transport dig finally used, from its ";; SERVER:" line. */
  transport: string;
  raw: string;
}

/** Parses dig's default output into the header status and flags and the record sections. */
export function parseDig(text: string): DigResult {
  const result: DigResult = { status: '', flags: [], answer: [], authority: [], additional: [], transport: '', raw: text };
  let section: 'answer' | 'authority' | 'additional' | null = null;
  for (const line of text.split('\n')) {
    const status = /status: ([A-Z]+)/.exec(line);
    if (status && line.includes('->>HEADER<<-')) result.status = status[1]!;
    const flags = /^;; flags: ([a-z ]*);/.exec(line);
    if (flags) result.flags = flags[1]!.trim().split(/\s+/).filter(Boolean);
    const server = /^;; SERVER: .*\((UDP|TCP)\)/.exec(line);
    if (server) result.transport = server[1]!;
    const heading = /^;; (ANSWER|AUTHORITY|ADDITIONAL) SECTION:/.exec(line);
    if (heading) {
      section = heading[1]!.toLowerCase() as 'answer' | 'authority' | 'additional';
      continue;
    }
    if (line.trim() === '') {
      section = null;
      continue;
    }
    if (section && !line.startsWith(';')) {
      const [name, ttl, , type, ...data] = line.split(/\s+/);
      result[section].push({ name: name!, ttl: Number(ttl), type: type!, data: data.join(' ') });
    }
  }
  return result;
}

/** Runs dig @127.0.0.1 -p PORT NAME TYPE with one try and a short timeout. */
export async function dig(port: number, name: string, type: string, ...extra: string[]): Promise<DigResult> {
  const res = await run('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=3', name, type, ...extra], { timeoutMs: 15000 });
  if (res.code !== 0) throw new Error(`dig ${name} ${type} ${extra.join(' ')} exited ${res.code}: ${res.stdout}${res.stderr}`);
  return parseDig(res.stdout);
}

/** Polls until check() is true or timeoutMs passes; returns the last value for the assertion. */
export async function eventually<T>(get: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await get();
    if (check(value) || Date.now() > until) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The data of the answer records of one type, sorted. */
export function data(result: DigResult, type?: string): string[] {
  return result.answer.filter((r) => type === undefined || r.type === type).map((r) => r.data).sort();
}
