/**
 * The PostgreSQL server for the store benchmark: a throw-away database on
 * it (created, then dropped with everything in it), and what its processes
 * cost, read from /proc.
 *
 * PostgreSQL runs one process per connection, forked by the postmaster,
 * plus its background processes (WAL writer, checkpointer, ...). CPU time
 * of the whole server is the postmaster's tree, reaped children included
 * (proc.ts treeCpu); the bench database's own backends are told apart by
 * their command line ("postgres: USER DB ADDR(PORT) STATE").
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { threadCpu, threadState, treeCpu } from './proc.js';

export interface BenchDatabase {
  name: string;
  /** The libpq URL of the database (no blobs parameter). */
  url: string;
  version: string;
  dataDirectory: string | null;
  drop(): Promise<void>;
}

/** Runs one statement on the admin connection's database. */
async function admin<T extends pg.QueryResultRow>(adminUrl: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/**
 * Creates `rookery_bench_<random>` on the server of `adminUrl` (a URL to an
 * existing database, normally `postgres`, as a role allowed to create
 * databases). drop() removes it, closing any session still in it.
 */
export async function createBenchDatabase(adminUrl: string): Promise<BenchDatabase> {
  const name = `rookery_bench_${randomBytes(5).toString('hex')}`;
  const [v] = await admin<{ server_version: string }>(adminUrl, 'SHOW server_version');
  let dataDirectory: string | null = null;
  try {
    const [d] = await admin<{ data_directory: string }>(adminUrl, 'SHOW data_directory');
    dataDirectory = d?.data_directory ?? null;
  } catch { /* not a superuser: the disk of the data directory stays unknown */ }
  await admin(adminUrl, `CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    name,
    url: url.toString(),
    version: v?.server_version ?? '?',
    dataDirectory,
    async drop() {
      if (dropped) return;
      await admin(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      dropped = true;
    },
  };
}

interface PgProcess {
  pid: number;
  ppid: number;
  cmdline: string;
}

function postgresProcesses(): PgProcess[] {
  const out: PgProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      if (comm !== 'postgres') continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      out.push({ pid: Number(entry), ppid, cmdline });
    } catch { /* gone, or not ours to read */ }
  }
  return out;
}

/** The PostgreSQL server processes on this machine, for CPU sampling. */
export class PostgresProbe {
  /** Postmasters: postgres processes whose parent is not one. */
  readonly postmasters: number[];
  private backends: number[] = [];

  constructor(private readonly database: string) {
    const all = postgresProcesses();
    const pids = new Set(all.map((p) => p.pid));
    this.postmasters = all.filter((p) => !pids.has(p.ppid)).map((p) => p.pid);
    this.refresh();
  }

  /** Re-reads which backends serve the bench database (call when the nodes have connected). */
  refresh(): void {
    const tag = ` ${this.database} `;
    this.backends = postgresProcesses().filter((p) => p.cmdline.startsWith('postgres: ') && p.cmdline.includes(tag)).map((p) => p.pid);
  }

  get backendCount(): number {
    return this.backends.length;
  }

  /** CPU seconds so far of every PostgreSQL process (postmasters' trees, exited backends included). */
  cpu(): number {
    return this.postmasters.reduce((sum, pid) => sum + treeCpu(pid), 0);
  }

  /** CPU seconds so far of the bench database's living backends. */
  backendCpu(): number {
    return this.backends.reduce((sum, pid) => sum + threadCpu(pid, pid), 0);
  }

  /** Scheduler states of the bench database's backends (R, S, D, ...), one letter each. */
  backendStates(): string[] {
    const out: string[] = [];
    for (const pid of this.backends) {
      const s = threadState(pid, pid);
      if (s) out.push(s);
    }
    return out;
  }
}

/**
 * Samples pg_stat_activity (live, unlike the cumulative statistics views)
 * for the bench database's sessions every `everyMs`: what each connection
 * is doing or waiting for. Uses one connection of its own, to the admin
 * database, which it leaves out.
 */
export class ActivitySampler {
  private client: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  counts: Record<string, number> = {};
  samples = 0;

  constructor(private readonly adminUrl: string, private readonly database: string, private readonly everyMs = 50) {}

  async start(): Promise<void> {
    this.counts = {};
    this.samples = 0;
    if (!this.client) {
      const client = new pg.Client({ connectionString: this.adminUrl, connectionTimeoutMillis: 5_000 });
      client.on('error', () => { /* the sampler is best effort */ });
      await client.connect();
      this.client = client;
    }
    this.timer = setInterval(() => void this.tick(), this.everyMs);
  }

  private async tick(): Promise<void> {
    if (this.busy || !this.client) return;
    this.busy = true;
    try {
      const { rows } = await this.client.query<{ state: string | null; wait_event_type: string | null; wait_event: string | null }>(
        'SELECT state, wait_event_type, wait_event FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = $2',
        [this.database, 'client backend']);
      this.samples++;
      for (const r of rows) {
        const k = activityKind(r.state, r.wait_event_type, r.wait_event);
        this.counts[k] = (this.counts[k] ?? 0) + 1;
      }
    } catch { /* one lost sample */ } finally {
      this.busy = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async close(): Promise<void> {
    this.stop();
    const c = this.client;
    this.client = null;
    if (c) await c.end().catch(() => undefined);
  }

  /** "on average B of N sessions busy: x% ..., y% ..." over the samples since start(). */
  summary(): string {
    if (this.samples === 0) return 'no samples';
    const busyKinds = Object.entries(this.counts).filter(([k]) => k !== 'idle');
    const busy = busyKinds.reduce((a, [, n]) => a + n, 0);
    const all = busy + (this.counts.idle ?? 0);
    const parts = busyKinds.sort((a, b) => b[1] - a[1]).map(([k, n]) => `${Math.round((n / Math.max(busy, 1)) * 100)}% ${k}`);
    return `on average ${(busy / this.samples).toFixed(1)} of ${(all / this.samples).toFixed(0)} sessions in a transaction or a statement: ${parts.join(', ') || 'none'}`;
  }

  /** Average number of sessions in each kind over the samples since start(). */
  averages(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, n] of Object.entries(this.counts)) out[k] = this.samples === 0 ? 0 : n / this.samples;
    return out;
  }

  /** Share of busy session samples in one kind. */
  share(kind: string): number {
    const busy = Object.entries(this.counts).filter(([k]) => k !== 'idle').reduce((a, [, n]) => a + n, 0);
    return busy === 0 ? 0 : (this.counts[kind] ?? 0) / busy;
  }
}

export const activityKinds = {
  lock: 'waiting for a row or transaction lock',
  client: 'in a transaction, waiting for the node\'s next statement',
  wal: 'waiting for the WAL flush (commit fsync)',
  running: 'running',
} as const;

function activityKind(state: string | null, type: string | null, event: string | null): string {
  if (state === 'idle') return 'idle';
  if (state === 'idle in transaction' || (type === 'Client' && event === 'ClientRead')) return activityKinds.client;
  if (type === 'Lock') return activityKinds.lock;
  if ((type === 'IO' && (event === 'WALSync' || event === 'WALWrite')) || (type === 'LWLock' && (event === 'WALWrite' || event === 'WALInsert'))) return activityKinds.wal;
  if (type === null) return activityKinds.running;
  return `waiting on ${type}:${event}`;
}
