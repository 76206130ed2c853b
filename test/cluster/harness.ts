/**
 * A whole cluster for the failure tests, as real processes on loopback:
 * N nodes (`rookery node`, node i on 127.0.0.(10+i), named n1, n2, ...) and
 * one traffic manager (`rookery lb --proxy-protocol --source-address
 * 127.0.0.10`, pools from the registry) on the virtual address 127.0.0.1,
 * all on one store and one random port base. Everything is ended by PID.
 */
import { rm } from 'node:fs/promises';
import { rookery } from '../helpers/cli.js';
import { startLbProcess, type LbProcess } from '../helpers/lb-process.js';
import { startNodeProcess, stopNodeProcess, type NodeProcess } from '../helpers/node-process.js';
import { freePortBaseOn } from '../helpers/ports.js';
import { tempDir } from '../helpers/temp.js';
import type { ServiceName } from '../../src/config/services.js';

export const virtualAddress = '127.0.0.1';
export const balancerSource = '127.0.0.10';
/** The heartbeat port of a traffic manager is base + 694. */
export const heartbeatOffset = 694;

export interface ClusterNode {
  name: string;
  address: string;
  proc: NodeProcess | null;
}

export interface Cluster {
  /** The store location every member was given. */
  store: string;
  base: number;
  services: ServiceName[];
  nodes: ClusterNode[];
  lb: LbProcess | null;
  /** The arguments the traffic manager was started with (to start a standby or a replacement). */
  lbArgs(name: string): string[];
  /** Starts node i (1-based) again after it was stopped or killed. */
  startNode(i: number): Promise<void>;
  /** Ends every process it started and removes the store directory it made. */
  stop(): Promise<void>;
}

export interface ClusterOptions {
  nodes: number;
  services: ServiceName[];
  /** A store location (e.g. a postgres:// URL); default a fresh temp directory, removed at stop(). */
  store?: string;
  /** Start no traffic manager. */
  noLb?: boolean;
  /** The store location node i (1-based) is given; default the cluster's. */
  nodeStore?: (i: number) => string;
}

/** Polls until check() is true; resolves with the time it took, rejects after timeoutMs. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, message: string, everyMs = 100): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`${message} (waited ${timeoutMs} ms)`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const ownDir = opts.store === undefined ? await tempDir('rookery-cluster-') : null;
  const store = opts.store ?? ownDir!;
  const addresses = Array.from({ length: opts.nodes }, (_, i) => `127.0.0.${11 + i}`);
  const base = await freePortBaseOn([virtualAddress, ...addresses], [heartbeatOffset]);
  const nodes: ClusterNode[] = addresses.map((address, i) => ({ name: `n${i + 1}`, address, proc: null }));
  const services = opts.services;
  const lbArgs = (name: string) => ['--store', store, '--address', virtualAddress, '--port-base', String(base), '--services', services.join(','),
    '--proxy-protocol', '--source-address', balancerSource, '--name', name];
  const cluster: Cluster = {
    store,
    base,
    services,
    nodes,
    lb: null,
    lbArgs,
    async startNode(i: number) {
      const node = nodes[i - 1]!;
      node.proc = await startNodeProcess(['--store', opts.nodeStore?.(i) ?? store, '--name', node.name, '--address', node.address, '--port-base', String(base), '--services', services.join(',')]);
    },
    async stop() {
      await cluster.lb?.stop();
      await Promise.all(nodes.map((n) => (n.proc ? stopNodeProcess(n.proc) : undefined)));
      if (ownDir) await rm(ownDir, { recursive: true, force: true });
    },
  };
  try {
    for (const args of [['domain', 'add', 'example.org'], ['user', 'add', 'me@example.org', '--password', 'secret']]) {
      const res = await rookery([...args, '--store', store]);
      if (res.code !== 0) throw new Error(`rookery ${args.join(' ')}: ${res.stderr}`);
    }
    // Every start settles before a failure is thrown, so stop() ends all that did start.
    const started = await Promise.allSettled(nodes.map((_, i) => cluster.startNode(i + 1)));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    if (!opts.noLb) {
      const lb = cluster.lb = await startLbProcess(lbArgs('lb1'), 20000, { logLevel: 'info' });
      await waitUntilInPools(lb, nodes.map((n) => n.name), services);
    }
    return cluster;
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

/**
 * Waits until the traffic manager has every one of these nodes in the pool
 * of every one of these services (its "backend up" log lines; it runs at
 * log level info for this).
 */
export async function waitUntilInPools(lb: LbProcess, names: string[], services: string[], timeoutMs = 10000): Promise<void> {
  await waitFor(() => {
    const up = new Set(logLines(lb.stderr()).filter((l) => l.msg === 'backend up').map((l) => `${String(l.service)}/${String(l.backend)}`));
    return names.every((n) => services.every((s) => up.has(`${s}/${n}`)));
  }, timeoutMs, `the traffic manager did not take ${names.join(', ')} into its pools`);
}

/** `rookery status --json`, parsed. */
export async function statusJson(store: string): Promise<{ nodes: Array<{ name: string; state: string; pid?: number; services: Record<string, { port: number; healthy: boolean }> }>; balancers: Array<{ name: string; state: string }> }> {
  const res = await rookery(['status', '--json', '--store', store]);
  if (res.code !== 0) throw new Error(`rookery status: ${res.stderr}`);
  return JSON.parse(res.stdout);
}

/** One pino line of a process's log. */
export interface LogLine { time: number; msg: string; [key: string]: unknown }

export function logLines(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try { out.push(JSON.parse(line) as LogLine); } catch { /* a partial line */ }
  }
  return out;
}
