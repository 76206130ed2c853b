/**
 * `npm run bench -- --only store`: the store backends against each other.
 * Three Rookery nodes over one PostgreSQL database (a fresh
 * `rookery_bench_<random>` on 127.0.0.1:5432, blobs in a shared temporary
 * directory), each on its own loopback address (127.0.0.11, .12, .13),
 * against one node on the embedded SQLite store (127.0.0.14), in one run:
 *
 *   - a warm-up of 5,000 messages per node to a mailbox of its own, until
 *     V8 has compiled the nodes' code (the rates level off);
 *   - delivery: Postfix's smtp-source, 20 senders in all, 4 KB messages,
 *     one connection per message, every message durably stored before its
 *     250; on the PostgreSQL side the senders and messages are split over
 *     the three nodes' SMTP ports (three smtp-source processes at once);
 *     rounds alternate between the sides (ABBA);
 *   - the same load spread over as many mailboxes as there are senders
 *     (each sender writes to its own: the case where no two deliveries
 *     wait for one mailbox's lock), reported apart, not in the ratio;
 *   - the first load again, to a mailbox an IMAP session watches in IDLE
 *     on the side's first node (on PostgreSQL, mailbox changes are
 *     NOTIFYed only while some node watches), reported apart;
 *   - one node on each store, the same load to a mailbox of its own (the
 *     first PostgreSQL node alone, the other two idle): what a node costs
 *     with the machine to itself, against what it costs sharing two CPUs
 *     with two more nodes and PostgreSQL; reported apart, not in the ratio;
 *   - IMAP latency on the mailbox that delivery filled (a few thousand
 *     messages, plus 20 appended ones holding a marker word): SELECT INBOX,
 *     FETCH 1:* (FLAGS) and SEARCH TEXT on a fresh session, the PostgreSQL
 *     side rotating over its nodes.
 *
 * It prints every round, the medians, the ratio PostgreSQL/SQLite (target
 * for delivery: at least 1) and what the counters say limits each side:
 * CPU of the node processes and of the PostgreSQL server's processes (read
 * from /proc), the event-loop threads, the bench database's backends'
 * states, disk flushes. See bench/README.md.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapConnection } from './lib/imap-client.js';
import pg from 'pg';
import { loadArgs, recipient, runLoad } from './lib/load.js';
import { generateMessage, marker } from './lib/mailgen.js';
import { explain, machineFull, makeRun, median, medianRun, sample, type Probe, type Run } from './lib/measure.js';
import { freeBaseOn, greetingDelay } from './lib/net.js';
import { activityKinds, ActivitySampler, createBenchDatabase, PostgresProbe, type BenchDatabase } from './lib/postgres.js';
import { diskOf, findExecutable, isAlive, processCpu, run, sleep, start, stopPid, threadCpu, threadSched, threadState, type Spawned } from './lib/proc.js';

export interface StoreBenchOptions {
  repoRoot: string;
  /** Delivery rounds per side. */
  rounds: number;
  /** Messages per delivery round and side. */
  messages: number;
  /**
   * Warm-up messages per node (not reported), to a mailbox of their own: a
   * node's code runs several times slower until V8 has compiled it, which
   * takes thousands of messages per process, and the PostgreSQL side's three
   * processes each see a third of the load.
   */
  warmup: number;
  /** Concurrent SMTP senders per side (split over the nodes on the PostgreSQL side). */
  senders: number;
  /** Payload bytes per message. */
  size: number;
  /** IMAP rounds per side. */
  imapRounds: number;
  keep: boolean;
  /** A URL to an existing database on the server, as a role that may create databases. */
  adminUrl?: string;
  onCleanup(fn: () => Promise<void> | void): void;
  onExit(fn: () => void): void;
}

/** pg1: the first PostgreSQL node by itself (the "one node each" rounds). */
type SideKey = 'pg' | 'sqlite' | 'pg1';

interface BenchNode {
  name: string;
  address: string;
  proc: Spawned;
  pid: number;
}

interface Side {
  key: SideKey;
  label: string;
  /** On the PostgreSQL store: its server's CPU and activity are read too. */
  postgres: boolean;
  nodes: BenchNode[];
  /** The store location given to the CLI and to openStore. */
  location: string;
  greetingMs: number;
}

interface Delivery {
  side: SideKey;
  /** PostgreSQL side: sessions seen waiting for each kind of heavyweight lock (LockWaitSampler). */
  lockWaits: Record<string, number>;
  round: number;
  /** Spread over one mailbox per sender rather than all to one mailbox. */
  spread: boolean;
  /** PostgreSQL side: calls of rookery_deliver() (one or more messages each), from its receipts. */
  calls: number | null;
  run: Run;
  nodeCpu: number;
  pgCpu: number;
  pgBackendCpu: number;
  /** Per node: share of wall time the event-loop thread was on a CPU, and runnable but waiting for one. */
  mainOn: number[];
  mainWait: number[];
  nodeStates: Record<string, number>;
  backendStates: Record<string, number>;
  /** PostgreSQL side: pg_stat_activity of the bench database's sessions, sampled. */
  activity: string | null;
  /** Average sessions of the bench database in each pg_stat_activity kind. */
  sessions: Record<string, number>;
  lockShare: number;
  clientShare: number;
  walShare: number;
}

interface ImapRound {
  side: SideKey;
  round: number;
  node: string;
  /** Per operation: wall ms, the node's CPU ms, PostgreSQL's CPU ms (the whole server; PostgreSQL side only). */
  select: [number, number, number];
  fetch: [number, number, number];
  search: [number, number, number];
}

const pgAddresses = ['127.0.0.11', '127.0.0.12', '127.0.0.13'];
const sqliteAddress = '127.0.0.14';
const smtpOffset = 25;
const imapOffset = 143;
const password = 'bench-password';
const appended = 20;
const defaultAdminUrl = 'postgres://postgres@127.0.0.1:5432/postgres';
/** The recipient of sender i when the load is spread over mailboxes. */
const spreadRecipient = (i: number) => `spread${i + 1}@example.test`;
/** The recipient of the "one node each" rounds (its own mailbox, so the INBOX counts of the IMAP rounds stay as they are). */
const aloneRecipient = 'alone@example.test';
/** The recipient of the watched rounds, whose INBOX an IMAP session watches in IDLE. */
const watchedRecipient = 'watched@example.test';
/** The recipient of the warm-up. */
const warmupRecipient = 'warmup@example.test';
/** Warm-up messages per node and warm-up round (each round's rate is printed, to show where it levels off). */
const warmupRoundPerNode = 1000;

/**
 * What the bench database's sessions wait for when they wait for a heavyweight
 * lock, sampled every 100 ms: 'object' is the lock every transaction that
 * sent a NOTIFY holds from just before its commit until the commit is
 * flushed (PostgreSQL's async.c: notifications are queued in commit order),
 * so notifying commits run one at a time across the whole database;
 * 'tuple' and 'transactionid' are row locks (one mailbox's counters).
 */
class LockWaitSampler {
  private client: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  counts: Record<string, number> = {};

  constructor(private readonly url: string, private readonly database: string) {}

  async start(): Promise<void> {
    this.counts = {};
    if (!this.client) {
      const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 5_000 });
      client.on('error', () => undefined);
      await client.connect();
      this.client = client;
    }
    const client = this.client;
    let busy = false;
    this.timer = setInterval(() => {
      if (busy) return;
      busy = true;
      client.query<{ e: string; n: number }>("SELECT wait_event AS e, count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' GROUP BY 1", [this.database])
        .then((r) => { for (const row of r.rows) this.counts[row.e] = (this.counts[row.e] ?? 0) + row.n; }, () => undefined)
        .finally(() => { busy = false; });
    }, 100);
  }

  stop(): Record<string, number> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    return { ...this.counts };
  }

  async close(): Promise<void> {
    this.stop();
    await this.client?.end().catch(() => undefined);
    this.client = null;
  }
}

/** The database's clock in ms and the delivery calls made since a time on it (the receipts rookery_deliver() leaves). */
async function deliveryCalls(url: string, sinceMs: number | null): Promise<{ nowMs: number; calls: number }> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ now: string; calls: string }>(`SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint AS now,
      (SELECT count(*) FROM delivery_receipts WHERE delivered AND created_at >= $1) AS calls`, [sinceMs ?? 0]);
    return { nowMs: Number(rows[0]!.now), calls: Number(rows[0]!.calls) };
  } finally {
    await client.end();
  }
}

/** `n` split into `parts` whole shares differing by at most one. */
function split(n: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0));
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const pct = (x: number) => `${Math.round(x * 100)}%`;
const lpad = (s: string, n: number) => s.padStart(n);

function stateShares(states: Record<string, number>): string {
  const total = Object.values(states).reduce((a, b) => a + b, 0);
  if (total === 0) return 'no samples';
  const names: Record<string, string> = { R: 'running or runnable', S: 'sleeping (idle, network or lock waits)', D: 'disk wait' };
  return Object.entries(states).sort((a, b) => b[1] - a[1]).map(([s, n]) => `${pct(n / total)} ${names[s] ?? s}`).join(', ');
}

/** Runs the bench; resolves true when three nodes on PostgreSQL deliver at least as fast as one on SQLite. */
export async function runStoreBench(opts: StoreBenchOptions): Promise<boolean> {
  if (process.platform !== 'linux') throw new Error('the store bench needs Linux (it reads /proc)');
  const smtpSource = findExecutable('smtp-source');
  if (!smtpSource) throw new Error('smtp-source is not installed (on Debian: apt-get install -y postfix)');
  const adminUrl = opts.adminUrl ?? process.env.ROOKERY_BENCH_PG ?? defaultAdminUrl;
  const ncpu = cpus().length;

  const root = mkdtempSync(join(tmpdir(), 'rookery-bench-store-'));
  const blobsDir = join(root, 'pg-blobs');
  const sqliteDir = join(root, 'sqlite');
  mkdirSync(blobsDir);
  const nodes: BenchNode[] = [];
  let db: BenchDatabase | null = null;
  opts.onExit(() => {
    for (const n of nodes) try { process.kill(n.pid, 'SIGKILL'); } catch { /* gone */ }
    // Last resort on a hard exit: the database goes too, if psql is at hand.
    if (db) spawnSync('psql', [adminUrl, '-qc', `DROP DATABASE IF EXISTS ${db.name} WITH (FORCE)`], { stdio: 'ignore', timeout: 10_000 });
  });
  opts.onCleanup(async () => {
    await Promise.all(nodes.map((n) => stopPid(n.pid, 10_000)));
    if (db) {
      try { await db.drop(); } catch (err) { process.stderr.write(`bench: could not drop database ${db.name}: ${(err as Error).message}\n`); }
    }
    if (opts.keep) process.stderr.write(`bench: kept ${root}\n`);
    else rmSync(root, { recursive: true, force: true });
  });

  try {
    db = await createBenchDatabase(adminUrl);
  } catch (err) {
    throw new Error(`cannot create a database with ${adminUrl} (${(err as Error).message}); PostgreSQL must listen there, or set ROOKERY_BENCH_PG`);
  }
  const pgUrl = new URL(db.url);
  pgUrl.searchParams.set('blobs', blobsDir);
  const pgLocation = pgUrl.toString();
  const env = { ...process.env, ROOKERY_LOG_LEVEL: 'warn' };
  // The rookery command of the tree this bench was compiled into (bin/rookery.js
  // would run dist/, which need not be the build under test).
  const cliMain = new URL('../src/cli/main.js', import.meta.url).href;
  // Extra Node flags for the nodes only, as bench/lib/rookery.ts takes them: ROOKERY_BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeFlags = (process.env.ROOKERY_BENCH_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '');
  const rookery = (args: string[], flags: string[] = []) => [...flags, '--input-type=module', '-e', `const { main } = await import(${JSON.stringify(cliMain)}); await main(process.argv.slice(1));`, '--', ...args];
  const cli = (location: string, args: string[]) => run(process.execPath, rookery([...args, '--store', location]), { env, cwd: opts.repoRoot });
  for (const location of [pgLocation, sqliteDir]) {
    await cli(location, ['domain', 'add', 'example.test']);
    await cli(location, ['user', 'add', recipient, '--password', password]);
  }
  // The spread load's mailboxes, one per sender (through the store: one CLI run each would take long).
  const spreadRounds = Math.min(opts.rounds, 2);
  const aloneRounds = Math.min(opts.rounds, 2);
  const watchedRounds = Math.min(opts.rounds, 2);
  for (const location of [pgLocation, sqliteDir]) {
    const { openStore } = await import('../src/store/open.js');
    const store = await openStore(location);
    try {
      for (let i = 0; i < opts.senders; i++) await store.directory.addUser({ address: spreadRecipient(i), password });
      await store.directory.addUser({ address: aloneRecipient, password });
      await store.directory.addUser({ address: warmupRecipient, password });
      await store.directory.addUser({ address: watchedRecipient, password });
    } finally {
      await store.close();
    }
  }

  const base = await freeBaseOn([...pgAddresses, sqliteAddress], [smtpOffset, imapOffset]);
  const startNode = async (name: string, address: string, location: string): Promise<BenchNode> => {
    const proc = start(process.execPath, rookery(['node', '--store', location, '--name', name, '--address', address, '--port-base', String(base), '--services', 'smtp,imap'], nodeFlags), { env, cwd: opts.repoRoot });
    const pid = proc.child.pid;
    if (pid === undefined) throw new Error(`could not start node ${name}: ${proc.stderr}`);
    const node = { name, address, proc, pid };
    nodes.push(node);
    const alive = () => isAlive(pid) && proc.child.exitCode === null;
    await waitFor(address, base + smtpOffset, '220', 30_000, alive, () => `${proc.stderr}`.trim().split('\n').slice(-5).join(' | '));
    return node;
  };
  // The three PostgreSQL nodes start one after another (the first runs the migrations).
  const pgNodes: BenchNode[] = [];
  for (let i = 0; i < pgAddresses.length; i++) pgNodes.push(await startNode(`n${i + 1}`, pgAddresses[i]!, pgLocation));
  const sqliteNode = await startNode('s1', sqliteAddress, sqliteDir);
  for (const n of nodes) await waitFor(n.address, base + imapOffset, '* OK', 30_000, () => isAlive(n.pid), () => `${n.proc.stderr}`);

  const probe = new PostgresProbe(db.name);
  const activity = new ActivitySampler(adminUrl, db.name);
  const lockWaits = new LockWaitSampler(db.url, db.name);
  opts.onCleanup(() => lockWaits.close());
  opts.onCleanup(() => activity.close());
  const sides: Side[] = [
    { key: 'pg', label: `${pgNodes.length} nodes on PostgreSQL`, postgres: true, nodes: pgNodes, location: pgLocation, greetingMs: 0 },
    { key: 'sqlite', label: '1 node on SQLite', postgres: false, nodes: [sqliteNode], location: sqliteDir, greetingMs: 0 },
  ];
  // One node each: what a node costs with the machine to itself (the other PostgreSQL nodes idle).
  const pgAlone: Side = { key: 'pg1', label: '1 node on PostgreSQL', postgres: true, nodes: [pgNodes[0]!], location: pgLocation, greetingMs: 0 };
  const aloneSides: Side[] = [pgAlone, sides[1]!];
  const labelOf = (k: SideKey) => [...sides, pgAlone].find((s) => s.key === k)!.label;
  const blobsDevice = diskOf(root);
  const pgDevice = db.dataDirectory ? diskOf(db.dataDirectory) : null;

  console.log(`Rookery store bench: ${sides[0]!.label} against ${sides[1]!.label}`);
  console.log(`machine:    ${ncpu} CPUs, Linux ${release()}, Node ${process.version}, PostgreSQL ${db.version}`);
  console.log(`PostgreSQL: database ${db.name} (created for this run, dropped after), data on ${pgDevice ?? 'an unknown device'}; blobs in ${blobsDir} on ${blobsDevice ?? 'an unknown device'}`);
  console.log(`SQLite:     ${sqliteDir} on ${blobsDevice ?? 'an unknown device'}`);
  console.log(`nodes:      ${pgNodes.map((n) => `${n.name} ${n.address}`).join(', ')} (PostgreSQL); ${sqliteNode.name} ${sqliteAddress} (SQLite); SMTP on ${base + smtpOffset}, IMAP on ${base + imapOffset}`);
  const shares = split(opts.senders, pgNodes.length);
  const load = loadArgs({ port: 0, messages: opts.messages, senders: opts.senders, size: opts.size, reuseConnections: false }).slice(0, -1).join(' ');
  console.log(`load:       smtp-source ${load} ADDR:PORT (one connection per message); PostgreSQL side: ${pgNodes.length} at once, ${shares.join('+')} senders`);
  console.log(`plan:       ${opts.warmup} warm-up messages per node, ${opts.rounds} delivery round(s) per side (ABBA), then ${opts.imapRounds} IMAP round(s) per side`);
  console.log('');

  const device = blobsDevice;
  const deliver = async (side: Side, round: number, messages: number, spread = false, to = recipient): Promise<Delivery> => {
    probe.refresh();
    const sideNodes = side.nodes;
    const nodeCpu = () => sideNodes.reduce((s, n) => s + processCpu(n.pid), 0);
    const p: Probe = {
      serverCpu: () => nodeCpu() + (side.postgres ? probe.cpu() : 0),
      mainCpu: () => sideNodes.reduce((s, n) => s + threadCpu(n.pid, n.pid), 0),
      mainSched: () => sideNodes.reduce((acc, n) => {
        const s = threadSched(n.pid, n.pid);
        return { runNs: acc.runNs + (s?.runNs ?? 0), waitNs: acc.waitNs + (s?.waitNs ?? 0) };
      }, { runNs: 0, waitNs: 0 }),
    };
    const nodeStates: Record<string, number> = {};
    const backendStates: Record<string, number> = {};
    // Thread states every 10 ms (backends every 20 ms): a few dozen small /proc reads, cheap next to the nodes.
    let tick = 0;
    const sampler = setInterval(() => {
      for (const n of sideNodes) {
        const s = threadState(n.pid, n.pid);
        if (s) nodeStates[s] = (nodeStates[s] ?? 0) + 1;
      }
      if (side.postgres && tick++ % 2 === 0) for (const s of probe.backendStates()) backendStates[s] = (backendStates[s] ?? 0) + 1;
    }, 10);
    const mainBefore = sideNodes.map((n) => ({ cpu: threadCpu(n.pid, n.pid), wait: threadSched(n.pid, n.pid)?.waitNs ?? 0 }));
    const nodeBefore = nodeCpu();
    const pgBefore = probe.cpu();
    const backendBefore = probe.backendCpu();
    if (side.postgres) {
      await activity.start();
      await lockWaits.start();
    }
    const callsBefore = side.postgres ? await deliveryCalls(db!.url, null) : null;
    const before = sample(p, device);
    try {
      // All to one mailbox: one smtp-source per node. Spread: one per sender (-s 1), each to its own mailbox, over the nodes in turn.
      const senders = split(opts.senders, sideNodes.length);
      const counts = split(messages, sideNodes.length);
      const spreadCounts = split(messages, opts.senders);
      const loads = spread
        ? spreadCounts.map((m, i) => ({ node: sideNodes[i % sideNodes.length]!, senders: 1, messages: m, to: spreadRecipient(i) }))
        : sideNodes.map((n, i) => ({ node: n, senders: senders[i]!, messages: counts[i]!, to }));
      const ends = await Promise.all(loads.map((l) => runLoad({
        smtpSource, host: l.node.address, port: base + smtpOffset, messages: l.messages, senders: l.senders, size: opts.size, reuseConnections: false, timeoutMs: 120_000 + messages * 200,
      }, l.to)));
      const endNs = ends.reduce((m, e) => (e.endNs > m ? e.endNs : m), 0n);
      const after = sample(p, device);
      after.ns = endNs;
      activity.stop();
      const r = makeRun('rookery', round, messages, before, after, endNs, nodeStates);
      const waits = side.postgres ? lockWaits.stop() : {};
      const calls = callsBefore ? (await deliveryCalls(db!.url, callsBefore.nowMs)).calls : null;
      return {
        side: side.key,
        lockWaits: waits,
        round,
        spread,
        calls,
        run: r,
        nodeCpu: nodeCpu() - nodeBefore,
        pgCpu: probe.cpu() - pgBefore,
        pgBackendCpu: probe.backendCpu() - backendBefore,
        mainOn: sideNodes.map((n, i) => (threadCpu(n.pid, n.pid) - mainBefore[i]!.cpu) / r.seconds),
        mainWait: sideNodes.map((n, i) => ((threadSched(n.pid, n.pid)?.waitNs ?? 0) - mainBefore[i]!.wait) / 1e9 / r.seconds),
        nodeStates,
        backendStates,
        activity: side.postgres ? activity.summary() : null,
        sessions: side.postgres ? activity.averages() : {},
        lockShare: side.postgres ? activity.share(activityKinds.lock) : 0,
        clientShare: side.postgres ? activity.share(activityKinds.client) : 0,
        walShare: side.postgres ? activity.share(activityKinds.wal) : 0,
      };
    } finally {
      clearInterval(sampler);
      activity.stop();
      lockWaits.stop();
    }
  };

  // Warm-up, then the greeting delay on the idle nodes.
  if (opts.warmup > 0) {
    console.log(`warm-up: ${opts.warmup} messages per node to ${warmupRecipient}, ${warmupRoundPerNode} per node a round (not reported; msg/s of each round)`);
    for (const s of sides) {
      const rates: string[] = [];
      for (let round = 1, left = opts.warmup; left > 0; round++, left -= warmupRoundPerNode) {
        const d = await deliver(s, round, Math.min(left, warmupRoundPerNode) * s.nodes.length, false, warmupRecipient);
        rates.push(fmt(d.run.rate));
      }
      console.log(`  ${s.label.padEnd(22)}  ${rates.join('  ')}`);
    }
  }
  for (const s of sides) s.greetingMs = median(await Promise.all(s.nodes.map((n) => greetingDelay(base + smtpOffset, 7, n.address))));
  console.log(`greeting: ${sides.map((s) => `${s.label} ${s.greetingMs.toFixed(1)} ms`).join(', ')} from connect to the 220 (idle, median of 7)`);
  console.log('');

  const header = 'round  side                    msgs  seconds    msg/s  node CPU ms/msg  pg CPU ms/msg  CPUs used  others  flush/msg  msgs/call';
  console.log('delivery, all to one mailbox (the ratio)');
  console.log(header);
  const deliveries: Delivery[] = [];
  const printDelivery = (d: Delivery) => {
    const r = d.run;
    console.log([
      lpad(String(d.round), 5),
      labelOf(d.side).padEnd(22),
      lpad(String(r.messages), 5),
      lpad(fmt(r.seconds, 2), 7),
      lpad(fmt(r.rate), 7),
      lpad(fmt(d.nodeCpu * 1000 / r.messages, 2), 15),
      lpad(fmt(d.pgCpu * 1000 / r.messages, 2), 13),
      lpad(pct(machineFull(r)), 9),
      lpad(fmt(r.otherCpu / r.seconds, 2), 6),
      lpad(r.flushes === null ? '-' : fmt(r.flushes / r.messages, 2), 9),
      lpad(d.calls ? fmt(r.messages / d.calls, 2) : '-', 9),
    ].join('  '));
  };
  for (let round = 1; round <= opts.rounds; round++) {
    const order = round % 2 === 1 ? sides : [...sides].reverse();
    for (const s of order) {
      const d = await deliver(s, round, opts.messages);
      deliveries.push(d);
      printDelivery(d);
    }
  }
  console.log('');
  console.log(`delivery, spread: each of the ${opts.senders} senders to its own mailbox (not in the ratio)`);
  console.log(header);
  for (let round = 1; round <= spreadRounds; round++) {
    const order = round % 2 === 1 ? sides : [...sides].reverse();
    for (const s of order) {
      const d = await deliver(s, round, opts.messages, true);
      deliveries.push(d);
      printDelivery(d);
    }
  }
  console.log('');
  console.log(`delivery, watched (not in the ratio): as the first rounds, to ${watchedRecipient}, whose INBOX an IMAP session on the side's first node watches in IDLE`);
  console.log(`(on PostgreSQL every delivery is then NOTIFYed, and that node tells the session of the other nodes' deliveries)`);
  console.log(header);
  const watched: Delivery[] = [];
  for (let round = 1; round <= watchedRounds; round++) {
    const order = round % 2 === 1 ? sides : [...sides].reverse();
    for (const s of order) {
      const watcher = await ImapConnection.open(base + imapOffset, s.nodes[0]!.address);
      try {
        await watcher.command(`LOGIN ${watchedRecipient} ${password}`);
        await watcher.command('SELECT INBOX');
        await watcher.idle();
        const d = await deliver(s, round, opts.messages, false, watchedRecipient);
        watched.push(d);
        printDelivery(d);
        // The session must have been told of every one of them.
        const expected = round * opts.messages;
        for (let told = 0; told < expected;) {
          const line = await watcher.nextLine(10_000);
          const exists = /^\* (\d+) EXISTS/.exec(line);
          if (exists) told = Number(exists[1]);
        }
      } finally {
        watcher.destroy();
      }
    }
  }
  console.log('');
  console.log(`delivery, one node on each store (not in the ratio): what a node costs with the machine to itself, the other PostgreSQL nodes idle; to ${aloneRecipient}`);
  console.log(header);
  const alone: Delivery[] = [];
  for (let round = 1; round <= aloneRounds; round++) {
    const order = round % 2 === 1 ? aloneSides : [...aloneSides].reverse();
    for (const s of order) {
      const d = await deliver(s, round, opts.messages, false, aloneRecipient);
      alone.push(d);
      printDelivery(d);
    }
  }
  console.log('');

  // IMAP: 20 messages holding the marker word, appended through the first node of each side.
  const total = opts.rounds * opts.messages + appended;
  for (const s of sides) {
    const c = await ImapConnection.open(base + imapOffset, s.nodes[0]!.address);
    try {
      await c.command(`LOGIN ${recipient} ${password}`);
      for (let i = 0; i < appended; i++) {
        const text = generateMessage('store', i, { bodyBytes: 2048, markEvery: 1 }).bytes.toString('latin1');
        await c.command(`APPEND INBOX {${Buffer.byteLength(text, 'latin1')}+}\r\n${text}`);
      }
    } finally {
      await c.logout();
    }
  }

  const imapRound = async (side: Side, round: number): Promise<ImapRound> => {
    const node = side.nodes[round % side.nodes.length]!;
    const pgCpu = () => (side.postgres ? probe.cpu() : 0);
    const c = await ImapConnection.open(base + imapOffset, node.address);
    try {
      await c.command(`LOGIN ${recipient} ${password}`);
      const timed = async (command: string, keep?: (line: string) => boolean) => {
        const node0 = processCpu(node.pid);
        const pg0 = pgCpu();
        const r = await c.command(command, { keep, timeoutMs: 600_000 });
        return { r, node: (processCpu(node.pid) - node0) * 1000, pg: (pgCpu() - pg0) * 1000 };
      };
      const sel = await timed('SELECT INBOX', (l) => / EXISTS$/.test(l));
      const exists = Number(/^\* (\d+) EXISTS/.exec(sel.r.kept[0] ?? '')?.[1] ?? -1);
      if (exists !== total) throw new Error(`${side.label}: SELECT INBOX on ${node.name} says ${exists} messages, expected ${total}`);
      const fetch = await timed('FETCH 1:* (FLAGS)');
      if (fetch.r.untagged !== total) throw new Error(`${side.label}: FETCH 1:* (FLAGS) on ${node.name} gave ${fetch.r.untagged} responses, expected ${total}`);
      const search = await timed(`SEARCH TEXT ${marker}`, (l) => l.startsWith('* SEARCH'));
      const hits = (search.r.kept[0] ?? '').split(' ').slice(2).filter((w) => w !== '').length;
      if (hits !== appended) throw new Error(`${side.label}: SEARCH TEXT ${marker} on ${node.name} found ${hits}, expected ${appended}`);
      return {
        side: side.key, round, node: node.name,
        select: [sel.r.ms, sel.node, sel.pg], fetch: [fetch.r.ms, fetch.node, fetch.pg], search: [search.r.ms, search.node, search.pg],
      };
    } finally {
      await c.logout();
    }
  };

  console.log(`IMAP on the INBOX (${total} messages, ${appended} holding "${marker}"), fresh session each round: wall ms (node CPU ms + PostgreSQL CPU ms)`);
  console.log('round  side                    node  SELECT INBOX       FETCH 1:* (FLAGS)   SEARCH TEXT');
  const cell = (x: [number, number, number]) => `${fmt(x[0], 0)} (${fmt(x[1], 0)}${x[2] > 0 ? ` + ${fmt(x[2], 0)}` : ''})`.padEnd(18);
  const imapRounds: ImapRound[] = [];
  for (const s of sides) await imapRound(s, 0);
  for (let round = 1; round <= opts.imapRounds; round++) {
    const order = round % 2 === 1 ? sides : [...sides].reverse();
    for (const s of order) {
      const r = await imapRound(s, round);
      imapRounds.push(r);
      console.log(`${lpad(String(round), 5)}  ${s.label.padEnd(22)}  ${r.node.padEnd(4)}  ${cell(r.select)}  ${cell(r.fetch)}  ${cell(r.search)}`);
    }
  }
  console.log('');

  // Every acknowledged message must be in each store; counted with the nodes stopped.
  await Promise.all(nodes.map(async (n) => { await stopPid(n.pid, 10_000); await n.proc.exited; }));
  nodes.length = 0;
  const verified: string[] = [];
  for (const s of sides) {
    const held = await storedMessages(s.location);
    if (held !== total) throw new Error(`${s.label}: ${total} messages acknowledged or appended, but the store holds ${held} in the INBOX`);
    const spreadHeld = await storedMessages(s.location, Array.from({ length: opts.senders }, (_, i) => spreadRecipient(i)));
    if (spreadHeld !== spreadRounds * opts.messages) throw new Error(`${s.label}: ${spreadRounds * opts.messages} messages acknowledged to the spread mailboxes, but they hold ${spreadHeld}`);
    const aloneHeld = await storedMessages(s.location, [aloneRecipient]);
    if (aloneHeld !== aloneRounds * opts.messages) throw new Error(`${s.label}: ${aloneRounds * opts.messages} messages acknowledged in the one-node rounds, but ${aloneRecipient} holds ${aloneHeld}`);
    const warmupHeld = await storedMessages(s.location, [warmupRecipient]);
    if (warmupHeld !== opts.warmup * s.nodes.length) throw new Error(`${s.label}: ${opts.warmup * s.nodes.length} warm-up messages acknowledged, but ${warmupRecipient} holds ${warmupHeld}`);
    const watchedHeld = await storedMessages(s.location, [watchedRecipient]);
    if (watchedHeld !== watchedRounds * opts.messages) throw new Error(`${s.label}: ${watchedRounds * opts.messages} messages acknowledged in the watched rounds, but ${watchedRecipient} holds ${watchedHeld}`);
    verified.push(`${s.label}: ${held} + ${spreadHeld} spread + ${watchedHeld} watched + ${aloneHeld} one node each + ${warmupHeld} warm-up`);
  }
  console.log(`verified: every acknowledged message is in its store (${verified.join('; ')})`);
  console.log('');

  // Summary.
  const of = (k: SideKey, spread = false) => deliveries.filter((d) => d.side === k && d.spread === spread);
  /** The median rate of one side's rounds of a kind. */
  const medianRate = (runs: Delivery[]) => median(runs.map((d) => d.run.rate));
  /** The round of median rate among one side's rounds. */
  const medianOf = (runs: Delivery[]) => runs.find((d) => d.run === medianRun(runs.map((r) => r.run)))!;
  const medianDelivery = (k: SideKey, spread = false) => medianOf(of(k, spread));
  /** Server CPU per message of a delivery: the nodes', and PostgreSQL's on that side. */
  const cpuPerMessage = (d: Delivery) => ({ node: d.nodeCpu * 1000 / d.run.messages, pg: (d.side === 'sqlite' ? 0 : d.pgCpu) * 1000 / d.run.messages });
  /** A line of the medians table for one side's rounds of a kind. */
  const medianLine = (label: string, runs: Delivery[]) => {
    const d = medianOf(runs);
    const c = cpuPerMessage(d);
    console.log(`${label.padEnd(40)}  ${lpad(fmt(medianRate(runs)), 7)}   ${`${fmt(c.node + c.pg, 2)} (${fmt(c.node, 2)} + ${d.side === 'sqlite' ? '0' : fmt(c.pg, 2)})`.padEnd(36)}  ${d.calls ? fmt(d.run.messages / d.calls, 2) : '-'}`);
  };
  const rate = (k: SideKey, spread = false) => medianRate(of(k, spread));
  const pgRate = rate('pg');
  const sqliteRate = rate('sqlite');
  console.log(`medians                                    msg/s   server CPU ms/msg (node + postgres)   msgs/call`);
  for (const spread of [false, true]) {
    for (const s of sides) medianLine(`${s.label}, ${spread ? `${opts.senders} mailboxes` : 'one mailbox'}`, of(s.key, spread));
  }
  const watchedOf = (k: SideKey) => watched.filter((d) => d.side === k);
  for (const s of sides) medianLine(`${s.label}, watched`, watchedOf(s.key));
  const aloneOf = (k: SideKey) => alone.filter((d) => d.side === k);
  const aloneMedian = (k: SideKey) => medianOf(aloneOf(k));
  for (const k of ['pg1', 'sqlite'] as const) medianLine(`${labelOf(k)}, one node each`, aloneOf(k));
  const imapOf = (k: SideKey, op: 'select' | 'fetch' | 'search') => median(imapRounds.filter((r) => r.side === k).map((r) => r[op][0]));
  console.log('');
  console.log(`IMAP medians, wall ms            PostgreSQL    SQLite   PostgreSQL/SQLite`);
  for (const [op, name] of [['select', 'SELECT INBOX'], ['fetch', 'FETCH 1:* (FLAGS)'], ['search', 'SEARCH TEXT']] as const) {
    const a = imapOf('pg', op);
    const b = imapOf('sqlite', op);
    console.log(`${`${name}, ${total} msgs`.padEnd(30)}  ${lpad(fmt(a, 0), 10)}  ${lpad(fmt(b, 0), 8)}   ${lpad(fmt(a / b, 2), 17)}`);
  }
  console.log('');
  console.log('limited by:');
  const sqliteMedian = medianDelivery('sqlite');
  console.log(`- ${sides[1]!.label}: ${explain(sqliteMedian.run, { senders: opts.senders, reuseConnections: false, greetingMs: sides[1]!.greetingMs })}`);
  console.log(`- ${sides[0]!.label}: ${explainPg(medianDelivery('pg'), sqliteMedian, { senders: opts.senders, greetingMs: sides[0]!.greetingMs, nodes: pgNodes.length, backends: probe.backendCount })}`);
  console.log(`- spread over ${opts.senders} mailboxes, ${sides[0]!.label}: ${explainPg(medianDelivery('pg', true), medianDelivery('sqlite', true), { senders: opts.senders, greetingMs: sides[0]!.greetingMs, nodes: pgNodes.length, backends: probe.backendCount })}`);
  {
    const one = cpuPerMessage(aloneMedian('pg1'));
    const lite = cpuPerMessage(aloneMedian('sqlite'));
    const three = cpuPerMessage(medianDelivery('pg'));
    const own = one.node / lite.node;
    const verdict = own <= 1.15
      ? 'by itself a node costs about the same on either store, so the rest is what sharing the CPUs costs'
      : `by itself a PostgreSQL node already costs ${fmt((own - 1) * 100, 0)}% more than the SQLite node`;
    console.log(`- one node each: a PostgreSQL node by itself costs ${fmt(one.node, 2)} ms of node CPU per message against the SQLite node's ${fmt(lite.node, 2)} (plus PostgreSQL's ${fmt(one.pg, 2)}); ` +
      `with ${pgNodes.length} nodes sharing ${ncpu} CPUs with PostgreSQL, ${fmt(three.node, 2)} (plus ${fmt(three.pg, 2)}): ${verdict}.`);
  }
  for (const s of sides) {
    const parts = (['select', 'fetch', 'search'] as const).map((op) => {
      const rs = imapRounds.filter((r) => r.side === s.key);
      const wall = median(rs.map((r) => r[op][0]));
      const node = median(rs.map((r) => r[op][1]));
      const pgc = median(rs.map((r) => r[op][2]));
      const busy = (node + pgc) / wall;
      const name = op === 'select' ? 'SELECT' : op === 'fetch' ? 'FETCH FLAGS' : 'SEARCH TEXT';
      return `${name} ${fmt(wall, 0)} ms, node CPU ${fmt(node, 0)} ms${s.key === 'pg' ? ` + PostgreSQL ${fmt(pgc, 0)} ms` : ''} (${busy >= 0.75 ? 'CPU-bound' : 'mostly waiting: round trips, disk or a busy machine'})`;
    });
    console.log(`- IMAP, ${s.label}: ${parts.join('; ')}.`);
  }
  console.log('  SEARCH TEXT reads every message\'s blob (files on both sides) and its stored MIME index (in-process on SQLite;');
  console.log('  on PostgreSQL the loads a command keeps in flight are read with one query, then kept in the node\'s cache).');
  console.log('');
  const ratio = pgRate / sqliteRate;
  const met = ratio >= 1;
  console.log(`ratio delivery PostgreSQL (3 nodes) / SQLite (1 node), watched by an IMAP session in IDLE (not the target's measure): ${(medianRate(watchedOf('pg')) / medianRate(watchedOf('sqlite'))).toFixed(2)}`);
  console.log(`ratio delivery PostgreSQL (3 nodes) / SQLite (1 node), spread over ${opts.senders} mailboxes (not the target's measure): ${(rate('pg', true) / rate('sqlite', true)).toFixed(2)}`);
  console.log(`ratio delivery PostgreSQL (3 nodes) / SQLite (1 node), all to one mailbox: ${ratio.toFixed(2)}  (target >= 1: ${met ? 'met' : 'NOT met'})`);
  return met;
}

/** Waits until host:port greets with `prefix`. */
async function waitFor(host: string, port: number, prefix: string, ms: number, alive: () => boolean, output: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`the node on ${host} exited: ${output()}`);
    last = await new Promise<string>((resolve) => {
      const s = connect({ host, port });
      let t = '';
      s.setTimeout(2_000, () => { s.destroy(); resolve(t || 'timeout'); });
      s.on('data', (d: Buffer) => { t += d.toString('latin1'); if (t.includes('\n')) { s.destroy(); resolve(t); } });
      s.on('error', (e) => resolve(e.message));
    });
    if (last.startsWith(prefix)) return;
    await sleep(100);
  }
  throw new Error(`${host}:${port} did not greet with "${prefix}" within ${ms / 1000} s (${last.trim()}): ${output()}`);
}

/** Messages in the recipients' INBOXes (by default the one-mailbox recipient's), read from the store. */
async function storedMessages(location: string, recipients: string[] = [recipient]): Promise<number> {
  const { openStore } = await import('../src/store/open.js');
  const store = await openStore(location);
  try {
    let held = 0;
    for (const address of recipients) {
      const user = await store.directory.getUser(address);
      if (!user) throw new Error(`${address} is not in the store`);
      const inbox = await store.mail.getMailbox(user.id, 'INBOX');
      if (!inbox) throw new Error(`${address} has no INBOX`);
      held += (await store.mail.listMessages(inbox.id)).length;
    }
    return held;
  } finally {
    await store.close();
  }
}

/**
 * What limits the PostgreSQL side: the same counters as explain() gives the
 * single node, but over three node processes and the PostgreSQL server, and
 * set against the SQLite side's CPU cost per message, since on a machine
 * with few cores the CPU per message sets the ceiling.
 */
function explainPg(d: Delivery, sqlite: Delivery, c: { senders: number; greetingMs: number; nodes: number; backends: number }): string {
  const r = d.run;
  const ncpu = cpus().length;
  const full = machineFull(r);
  const cores = (s: number) => (s / r.seconds).toFixed(2);
  const perMsg = (s: number, n: number) => (s * 1000 / n).toFixed(2);
  const serverMs = (d.nodeCpu + d.pgCpu) * 1000 / r.messages;
  const sqliteMs = sqlite.nodeCpu * 1000 / sqlite.run.messages;
  const allMs = (x: Delivery, server: number) => (server + x.run.loadCpu + x.run.benchCpu) * 1000 / x.run.messages;
  const pgCeiling = (ncpu * 1000) / allMs(d, d.nodeCpu + d.pgCpu);
  const sqliteCeiling = (ncpu * 1000) / allMs(sqlite, sqlite.nodeCpu);
  const sessionMs = (c.senders / r.rate) * 1000;
  const nodeTotal = Object.values(d.nodeStates).reduce((a, b) => a + b, 0) || 1;
  const nodeInD = (d.nodeStates.D ?? 0) / nodeTotal;
  const backendTotal = Object.values(d.backendStates).reduce((a, b) => a + b, 0);
  const backendInD = backendTotal === 0 ? 0 : (d.backendStates.D ?? 0) / backendTotal;
  const diskUtil = r.diskBusyMs !== null ? r.diskBusyMs / (r.seconds * 1000) : null;
  const facts = [
    `${sessionMs.toFixed(1)} ms per message per sender, of which ${c.greetingMs.toFixed(1)} ms waiting for the 220 greeting`,
    `${serverMs.toFixed(2)} ms server CPU per message: nodes ${perMsg(d.nodeCpu, r.messages)}, PostgreSQL ${perMsg(d.pgCpu, r.messages)} (the whole server, other databases' sessions included; the bench database's ${c.backends} backends alone ${perMsg(d.pgBackendCpu, r.messages)}), against ${sqliteMs.toFixed(2)} ms on the SQLite node`,
    `CPUs ${pct(full)} in use of ${ncpu} (nodes ${cores(d.nodeCpu)}, PostgreSQL ${cores(d.pgCpu)}, smtp-source ${cores(r.loadCpu)}, bench ${cores(r.benchCpu)}, other processes ${cores(r.otherCpu)} cores)`,
    `at these costs (server, smtp-source and bench) ${ncpu} CPUs cap this side at ~${Math.round(pgCeiling)} msg/s and the SQLite side at ~${Math.round(sqliteCeiling)} msg/s`,
    `event-loop threads on a CPU ${d.mainOn.map(pct).join('/')} of the time, runnable but waiting for a CPU ${d.mainWait.map(pct).join('/')}, in disk sleep in ${pct(nodeInD)} of samples`,
    `bench backends' process states sampled: ${stateShares(d.backendStates)}`,
    `pg_stat_activity sampled every 50 ms: ${d.activity ?? 'no samples'}`,
  ];
  if (r.flushes !== null) facts.push(`${(r.flushes / r.messages).toFixed(2)} disk flushes per message`);
  if (diskUtil !== null) facts.push(`disk busy ${pct(Math.min(diskUtil, 1))}`);
  const lockWaiting = d.sessions[activityKinds.lock] ?? 0;
  const perCall = d.calls ? r.messages / d.calls : 1;
  const holdMs = (1000 * r.seconds) / (d.calls || r.messages);
  const holderKinds = [[activityKinds.wal, 'waiting for the WAL flush'], [activityKinds.running, 'running (or runnable)']] as const;
  const holderTotal = holderKinds.reduce((a, [k]) => a + (d.sessions[k] ?? 0), 0);
  const waitsSeen = Object.values(d.lockWaits).reduce((a, b) => a + b, 0);
  const notifyShare = waitsSeen === 0 ? 0 : (d.lockWaits.object ?? 0) / waitsSeen;
  const rowShare = waitsSeen === 0 ? 0 : ((d.lockWaits.tuple ?? 0) + (d.lockWaits.transactionid ?? 0)) / waitsSeen;
  if (waitsSeen > 0) facts.push(`lock waits sampled: ${pct(notifyShare)} on the NOTIFY commit lock, ${pct(rowShare)} on row locks`);
  const holder = holderTotal > 0 ? `of which the holder spends ${holderKinds.map(([k, what]) => `${pct((d.sessions[k] ?? 0) / holderTotal)} ${what}`).join(', ')}` : 'split unknown';
  let verdict: string;
  if (d.lockShare >= 0.5 && lockWaiting >= 2 && notifyShare >= 0.5) {
    verdict = `the NOTIFY commit lock: every delivery call NOTIFYs the change feed inside its transaction, and PostgreSQL lets one notifying transaction commit at a time in a database, holding that lock through its commit's WAL flush (notifications must queue in commit order); so calls commit one at a time across all nodes and all mailboxes, with no group commit (on average ${lockWaiting.toFixed(1)} sessions queued on it); the rate is messages per call (${perCall.toFixed(1)}) / the time a call holds it, ~${holdMs.toFixed(1)} ms, ${holder}`;
  } else if (d.lockShare >= 0.5 && lockWaiting >= 2) {
    verdict = `row locks: a delivery call (rookery_deliver(), one statement) locks the mailbox's user and mailbox rows (quota, UIDNEXT, MODSEQ) until its commit is flushed, so calls to one mailbox run one at a time across the ${c.nodes} nodes (on average ${lockWaiting.toFixed(1)} sessions queued on the lock); a node sends the deliveries that queued behind its call in flight together in its next (${perCall.toFixed(1)} messages per call), so the rate is messages per call / the time a call holds the lock, ~${holdMs.toFixed(1)} ms, ${holder}; the next backend in the queue must then get a CPU, and on ${ncpu} CPUs runnable processes wait (the nodes' event loops ${d.mainWait.map(pct).join('/')} of the time)`;
  } else if (full >= 0.9) {
    const noisy = r.otherCpu / r.seconds >= 0.3 ? ` (${cores(r.otherCpu)} cores of it taken by other processes on this shared machine)` : '';
    verdict = `CPU: the machine is saturated${noisy}; of the bench's own processes the nodes use ${cores(d.nodeCpu)} cores and PostgreSQL ${cores(d.pgCpu)}; every message costs ${serverMs.toFixed(2)} ms of server CPU here against ${sqliteMs.toFixed(2)} ms on SQLite, so more nodes cannot go faster on ${ncpu} cores`;
  } else if (d.mainOn.some((x, i) => x + d.mainWait[i]! >= 0.85 && d.mainWait[i]! < 0.25)) verdict = 'CPU: an event-loop thread is saturated';
  else if (backendInD >= 0.25 || nodeInD >= 0.25) verdict = 'fsync: commits and blob writes wait for the disk';
  else if (diskUtil !== null && diskUtil >= 0.8) verdict = 'disk: the device is busy nearly all the time';
  else verdict = 'latency: neither CPU nor disk is saturated; per-message round-trips to PostgreSQL, commits and fsyncs bound the rate';
  // Inside PostgreSQL: what the sessions that were doing something waited for.
  let inside = '';
  if (d.lockShare >= 0.5 && lockWaiting >= 2) inside = '';
  else if (d.lockShare >= 0.3) inside = ` Inside PostgreSQL, ${pct(d.lockShare)} of the busy session time is lock waits (${pct(notifyShare)} of them on the NOTIFY commit lock, which lets one notifying transaction commit at a time; ${pct(rowShare)} on row locks, which let one call at a time change a mailbox's counters; ${perCall.toFixed(1)} messages per call).`;
  else if (d.clientShare >= 0.4) inside = ` Inside PostgreSQL, ${pct(d.clientShare)} of the busy session time is open transactions waiting for the node's next statement: round trips between the nodes (short of CPU) and the server.`;
  else if (d.walShare >= 0.3) inside = ` Inside PostgreSQL, ${pct(d.walShare)} of the busy session time is waiting for WAL flushes at COMMIT.`;
  return `${verdict}. ${facts.join('; ')}.${inside}`;
}
