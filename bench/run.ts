/**
 * `npm run bench`: two benchmarks, both by default, one with `--only smtp`
 * or `--only imap`. See bench/README.md.
 *
 * SMTP ingest into durable storage, Rookery vs Postfix: Postfix's
 * smtp-source sends the same load (20 concurrent sessions, 4 KB messages)
 * to a Rookery node and to a private Postfix instance delivering to a
 * Maildir, both on this machine, alternating, a few rounds each; the median
 * messages per second of each and the ratio are printed, with what the CPU
 * and disk counters suggest limits each side.
 *
 * IMAP, Rookery vs Dovecot: bench/imap.ts.
 *
 * `--only lb`, alone: the traffic manager's cost (direct, rookery lb, HAProxy): bench/lb.ts.
 *
 * `--only store`, alone: three nodes on PostgreSQL against one on SQLite: bench/store.ts.
 *
 * `--only web`, alone: the API's message list of a 10,000-message folder: bench/web.ts.
 */
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runLoad, runningLoads, loadArgs, type LoadOptions } from './lib/load.js';
import { explain, machineFull, makeRun, median, medianRun, sample, type Probe, type Run, type SideName } from './lib/measure.js';
import { freeBase, greetingDelay } from './lib/net.js';
import { PostfixInstance } from './lib/postfix.js';
import { diskOf, findExecutable, run as runCommand, stopPid, threadState } from './lib/proc.js';
import { RookeryNode, smtpPortOffset } from './lib/rookery.js';
import { runImapBench, type ImapSideName } from './imap.js';
import { runLbBench } from './lb.js';
import { runOutboundBench } from './outbound.js';
import { runStoreBench } from './store.js';
import { runWebBench } from './web.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const target = 0.5;

const usage = `usage: npm run bench -- [--only smtp|imap|rookery|postfix|dovecot[,...]] [--keep]
    SMTP: [--messages N] [--rounds N] [--warmup N] [--senders N] [--size BYTES] [--reuse-connections]
    IMAP: [--imap-rounds N] [--idle N]
    --only outbound[,rookery|postfix]: outbound to a loopback sink (bench/outbound.ts) [--rounds N] [--messages N] [--size BYTES]
    --only lb: the traffic manager's cost (bench/lb.ts) [--rounds N] [--messages N]
    --only store: 3 nodes on PostgreSQL vs 1 on SQLite (bench/store.ts) [--rounds N] [--messages N] [--warmup N per node, default 5000] [--senders N] [--size BYTES] [--imap-rounds N]
    --only web: the API's message list of a 10,000-message folder (bench/web.ts) [--rounds N] [--messages N] [--senders N (concurrent clients, default 50)]`;

type BenchName = 'smtp' | 'imap';
const onlyWords = ['smtp', 'imap', 'rookery', 'postfix', 'dovecot', 'lb', 'store', 'outbound', 'web'] as const;

interface Options {
  messages: number;
  rounds: number;
  warmup: number;
  senders: number;
  size: number;
  reuseConnections: boolean;
  only: SideName | null;
  keep: boolean;
  benches: BenchName[];
  imapSides: ImapSideName[];
  imapRounds: number;
  idle: number;
  /** `--only lb`: the traffic manager bench alone (bench/lb.ts). */
  lb: boolean;
  /** `--only outbound[,rookery|postfix]`: outbound throughput to a loopback sink (bench/outbound.ts). */
  outbound: boolean;
  /** `--only store`: PostgreSQL against SQLite, alone (bench/store.ts). */
  store: boolean;
  /** `--only web`: the API's message list, alone (bench/web.ts). */
  web: boolean;
  /** Whether --messages and --senders were given (the web bench has its own defaults). */
  given: { messages: boolean; senders: boolean };
}

function fail(message: string, code = 1): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(code);
}

function options(): Options {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        messages: { type: 'string' },
        rounds: { type: 'string' },
        warmup: { type: 'string' },
        senders: { type: 'string' },
        size: { type: 'string' },
        'reuse-connections': { type: 'boolean' },
        only: { type: 'string' },
        keep: { type: 'boolean' },
        'imap-rounds': { type: 'string' },
        idle: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    fail(`${(err as Error).message}\n${usage}`, 2);
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const int = (name: string, text: string | undefined, fallback: number, min: number): number => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) fail(`--${name} must be a whole number of at least ${min}, not "${text}"`, 2);
    return n;
  };
  // --only takes benches (smtp, imap) and sides (rookery, postfix, dovecot), comma-separated:
  // "--only imap", "--only rookery" (both benches, Rookery alone), "--only smtp,postfix".
  const words = (values.only ?? '').split(',').map((w) => w.trim().toLowerCase()).filter((w) => w !== '');
  for (const w of words) {
    if (!(onlyWords as readonly string[]).includes(w)) fail(`--only takes ${onlyWords.join(', ')} (comma-separated), not "${w}"`, 2);
  }
  const has = (w: string) => words.includes(w);
  let benches: BenchName[] = (['smtp', 'imap'] as const).filter((b) => has(b));
  if (benches.length === 0) {
    // Sides alone pick the benches they belong to.
    benches = has('postfix') || has('dovecot') ? [...(has('postfix') ? ['smtp' as const] : []), ...(has('dovecot') ? ['imap' as const] : [])] : ['smtp', 'imap'];
  }
  const sideWords = words.filter((w) => w === 'rookery' || w === 'postfix' || w === 'dovecot');
  const only: SideName | null = sideWords.length === 0 || (has('rookery') && has('postfix')) ? null : has('rookery') ? 'rookery' : has('postfix') ? 'postfix' : null;
  const imapSides: ImapSideName[] = sideWords.length === 0 || (has('rookery') && has('dovecot')) ? ['rookery', 'dovecot'] : has('rookery') ? ['rookery'] : has('dovecot') ? ['dovecot'] : ['rookery', 'dovecot'];
  return {
    messages: int('messages', values.messages, 2000, 1),
    rounds: int('rounds', values.rounds, 3, 1),
    // The store bench's is per node, and longer: see bench/store.ts.
    warmup: int('warmup', values.warmup, has('store') ? 5000 : 200, 0),
    senders: int('senders', values.senders, 20, 1),
    size: int('size', values.size, 4096, 1),
    reuseConnections: values['reuse-connections'] ?? false,
    only,
    keep: values.keep ?? false,
    benches,
    imapSides,
    imapRounds: int('imap-rounds', values['imap-rounds'], 3, 1),
    idle: int('idle', values.idle, 2000, 0),
    lb: has('lb'),
    outbound: has('outbound'),
    store: has('store'),
    web: has('web'),
    given: { messages: values.messages !== undefined, senders: values.senders !== undefined },
  };
}

function imapPreflight(opts: Options): { dovecot: string; doveadm: string } | null {
  if (process.platform !== 'linux') fail('needs Linux (it reads /proc and runs a private Dovecot instance)');
  if (!existsSync(join(repoRoot, 'dist', 'src', 'cli', 'main.js'))) fail('Rookery is not built; run "npm run build" first');
  if (!opts.imapSides.includes('dovecot')) return null;
  const dovecot = findExecutable('dovecot');
  const doveadm = findExecutable('doveadm');
  if (!dovecot || !doveadm) fail('Dovecot is not installed (needs dovecot and doveadm; on Debian: apt-get install -y dovecot-imapd)');
  if (process.getuid?.() !== 0) fail('must run as root: a Dovecot instance starts as root and runs its mail processes as nobody');
  return { dovecot, doveadm };
}

function preflight(): { smtpSource: string; postfix: string; postconf: string } {
  if (process.platform !== 'linux') fail('needs Linux (it reads /proc and runs a private Postfix instance)');
  const postfix = findExecutable('postfix');
  const postconf = findExecutable('postconf');
  const smtpSource = findExecutable('smtp-source');
  if (!postfix || !postconf || !smtpSource) {
    fail('Postfix is not installed (needs postfix, postconf and smtp-source; on Debian: apt-get install -y postfix)');
  }
  if (process.getuid?.() !== 0) fail('must run as root: a Postfix instance only starts as root');
  if (!existsSync(join(repoRoot, 'dist', 'src', 'cli', 'main.js'))) fail('Rookery is not built; run "npm run build" first');
  return { smtpSource, postfix, postconf };
}

interface Side {
  name: SideName;
  port: number;
  /** Milliseconds to the 220 greeting on the idle server, measured after the warm-up. */
  greetingMs?: number;
  probe: Probe;
  /** Called after smtp-source exits: resolves with the hrtime at which all `expected` messages are stored. */
  settle(loadEndNs: bigint, expected: number): Promise<bigint>;
  /** Called before each load: how many messages are stored already. */
  stored(): number;
  /** Rookery only: the event-loop thread's state, sampled during the run. */
  mainState?(): string | null;
}

const cleanups: Array<() => Promise<void>> = [];
const lastResort: Array<() => void> = [];
let cleaning: Promise<void> | null = null;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all([...runningLoads].map((pid) => stopPid(pid, 2_000)));
    for (const c of cleanups.reverse()) {
      try { await c(); } catch (err) { process.stderr.write(`bench: cleanup: ${(err as Error).message}\n`); }
    }
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    process.stderr.write(`\nbench: ${signal}: stopping the servers and removing the temporary files\n`);
    void cleanup().then(() => process.exit(130));
  });
}
process.on('exit', () => {
  for (const pid of runningLoads) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  for (const k of lastResort) {
    try { k(); } catch { /* best effort */ }
  }
});

async function measure(side: Side, opts: Options, smtpSource: string, round: number, messages: number, device: string | null): Promise<Run> {
  const already = side.stored();
  const load: LoadOptions = {
    smtpSource,
    port: side.port,
    messages,
    senders: opts.senders,
    size: opts.size,
    reuseConnections: opts.reuseConnections,
    timeoutMs: 120_000 + messages * 100,
  };
  const states: Record<string, number> = {};
  let sampler: NodeJS.Timeout | null = null;
  if (side.mainState) {
    const read = side.mainState.bind(side);
    sampler = setInterval(() => {
      const s = read();
      if (s) states[s] = (states[s] ?? 0) + 1;
    }, 5);
  }
  const before = sample(side.probe, device);
  try {
    const { endNs } = await runLoad(load);
    const storedNs = await side.settle(endNs, already + messages);
    const after = sample(side.probe, device);
    after.ns = storedNs;
    return makeRun(side.name, round, messages, before, after, endNs, side.mainState ? states : null);
  } finally {
    if (sampler) clearInterval(sampler);
  }
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);

const header = 'round  side        msgs   seconds     msg/s  250s msg/s  CPU ms/msg  CPUs used  others  flush/msg';

function printRun(r: Run): void {
  const cols = [
    lpad(String(r.round), 5),
    pad(r.side === 'rookery' ? 'Rookery' : 'Postfix', 8),
    lpad(String(r.messages), 6),
    lpad(fmt(r.seconds, 2), 8),
    lpad(fmt(r.rate), 8),
    lpad(fmt(r.messages / r.acceptSeconds), 10),
    lpad(fmt(r.serverCpu * 1000 / r.messages, 2), 10),
    lpad(`${Math.round(machineFull(r) * 100)}%`, 9),
    lpad(fmt(r.otherCpu / r.seconds, 2), 6),
    lpad(r.flushes === null ? '-' : fmt(r.flushes / r.messages, 2), 9),
  ];
  console.log(cols.join('  '));
}

async function main(): Promise<void> {
  const opts = options();
  if (opts.outbound) {
    await runOutboundBench({ repoRoot, rounds: opts.rounds, messages: opts.messages, size: opts.size, senders: opts.senders, only: opts.only, keep: opts.keep, onCleanup: (fn) => cleanups.push(fn), onExit: (fn) => lastResort.push(fn) });
    return;
  }
  if (opts.store) {
    await runStoreBench({ repoRoot, rounds: opts.rounds, messages: opts.messages, warmup: opts.warmup, senders: opts.senders, size: opts.size, imapRounds: opts.imapRounds, keep: opts.keep, onCleanup: (fn) => cleanups.push(async () => fn()), onExit: (fn) => lastResort.push(fn) });
    return;
  }
  if (opts.web) {
    const ok = await runWebBench({
      messages: opts.given.messages ? opts.messages : 10_000, distinct: 1000, rounds: opts.rounds, sequential: 200,
      concurrency: opts.given.senders ? opts.senders : 50, seconds: 5, keep: opts.keep,
      onCleanup: (fn) => cleanups.push(async () => fn()), onExit: (fn) => lastResort.push(fn),
    });
    if (!ok) process.exitCode = 1;
    return;
  }
  if (opts.lb) {
    const ok = await runLbBench({ repoRoot, rounds: opts.rounds, messages: opts.messages, sessions: 3000, fetches: 20, keep: opts.keep, onCleanup: (fn) => cleanups.push(async () => fn()), onExit: (fn) => lastResort.push(fn) });
    if (!ok) process.exitCode = 1;
    return;
  }
  // Both preflights first, so a missing tool fails before anything runs.
  const smtpTools = opts.benches.includes('smtp') ? preflight() : null;
  const imapTools = opts.benches.includes('imap') ? imapPreflight(opts) : undefined;
  if (smtpTools) await smtpBench(opts, smtpTools);
  if (imapTools !== undefined) {
    if (smtpTools) console.log('');
    await imapBench(opts, imapTools);
  }
}

async function imapBench(opts: Options, tools: { dovecot: string; doveadm: string } | null): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'rookery-bench-imap-'));
  // Dovecot's processes run as other users and must reach their directories.
  chmodSync(root, 0o755);
  cleanups.push(async () => {
    if (opts.keep) process.stderr.write(`bench: kept ${root}\n`);
    else rmSync(root, { recursive: true, force: true });
  });
  console.log(`machine: ${cpus().length} CPUs, Linux ${release()}, Node ${process.version}, storage ${root} on ${diskOf(root) ?? 'an unknown device'}`);
  await runImapBench({
    repoRoot,
    root,
    sides: opts.imapSides,
    rounds: opts.imapRounds,
    idle: opts.idle,
    tools,
    onCleanup: (fn) => cleanups.push(fn),
    onExit: (fn) => lastResort.push(fn),
  });
}

async function smtpBench(opts: Options, tools: { smtpSource: string; postfix: string; postconf: string }): Promise<void> {
  const ncpu = cpus().length;
  const postfixVersion = (await runCommand(tools.postconf, ['-h', '-d', 'mail_version']).catch(() => '?')).trim();

  const root = mkdtempSync(join(tmpdir(), 'rookery-bench-'));
  // Postfix's daemons and virtual(8) run as unprivileged users and must reach their directories.
  chmodSync(root, 0o755);
  cleanups.push(async () => {
    if (opts.keep) process.stderr.write(`bench: kept ${root}\n`);
    else rmSync(root, { recursive: true, force: true });
  });
  const device = diskOf(root);

  const sides: Side[] = [];
  const wantPostfix = opts.only !== 'rookery';
  const wantRookery = opts.only !== 'postfix';

  let postfix: PostfixInstance | null = null;
  if (wantPostfix) {
    const port = await freeBase([0]);
    postfix = new PostfixInstance(tools, join(root, 'postfix'), port);
    const pf = postfix;
    cleanups.push(() => pf.stop());
    lastResort.push(() => pf.killNow());
    await pf.start();
    sides.push({
      name: 'postfix',
      port,
      probe: { serverCpu: () => pf.cpu() },
      stored: () => pf.delivered(),
      // 250 means queued (fsynced); stored means the Maildir file is in new/.
      settle: (_end, expected) => pf.waitDelivered(expected, 60_000 + opts.messages * 20),
    });
  }

  let rookery: RookeryNode | null = null;
  if (wantRookery) {
    const base = await freeBase([smtpPortOffset], postfix ? [postfix.port] : []);
    rookery = new RookeryNode(repoRoot, join(root, 'rookery'), base);
    const rk = rookery;
    cleanups.push(() => rk.stop());
    lastResort.push(() => rk.killNow());
    await rk.start();
    let acknowledged = 0;
    sides.push({
      name: 'rookery',
      port: rk.port,
      probe: { serverCpu: () => rk.cpu(), mainCpu: () => rk.mainThreadCpu(), mainSched: () => rk.mainThreadSched() },
      // 250 means stored: the blob is fsynced and the index row committed before Rookery answers.
      stored: () => acknowledged,
      settle: async (end, expected) => {
        acknowledged = expected;
        return end;
      },
      mainState: () => (rk.pid === null ? null : threadState(rk.pid, rk.pid)),
    });
  }

  const load = loadArgs({ port: 0, messages: opts.messages, senders: opts.senders, size: opts.size, reuseConnections: opts.reuseConnections }).slice(0, -1).join(' ');
  console.log('Rookery vs Postfix: SMTP ingest into durable storage');
  console.log(`load:    smtp-source ${load} 127.0.0.1:PORT  (${opts.reuseConnections ? 'connections reused' : 'one connection per message'})`);
  console.log(`plan:    ${opts.warmup} warm-up messages per side, then ${opts.rounds} round(s) per side, alternating; medians reported`);
  console.log(`machine: ${ncpu} CPUs, Linux ${release()}, Node ${process.version}, Postfix ${postfixVersion}, storage ${root} on ${device ?? 'an unknown device'}`);
  for (const s of sides) console.log(`         ${s.name === 'rookery' ? 'Rookery' : 'Postfix'} on 127.0.0.1:${s.port}`);
  console.log('');

  if (opts.warmup > 0) {
    for (const s of sides) await measure(s, opts, tools.smtpSource, 0, opts.warmup, device);
  }
  for (const s of sides) s.greetingMs = await greetingDelay(s.port);
  console.log(`greeting: ${sides.map((s) => `${s.name === 'rookery' ? 'Rookery' : 'Postfix'} ${s.greetingMs!.toFixed(1)} ms`).join(', ')} from connect to the 220 (idle server, median of 7)`);
  console.log('');

  console.log(header);
  const runs: Run[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    // ABBA order, so that a slow drift of the machine does not favour one side.
    const order = round % 2 === 1 ? sides : [...sides].reverse();
    for (const s of order) {
      const r = await measure(s, opts, tools.smtpSource, round, opts.messages, device);
      runs.push(r);
      printRun(r);
    }
  }

  // Every acknowledged message must be in the store; checked with the node stopped.
  let verified = '';
  if (rookery) {
    const expected = opts.warmup + opts.rounds * opts.messages;
    await rookery.stop();
    const stored = await rookery.storedMessages();
    if (stored !== expected) throw new Error(`Rookery acknowledged ${expected} messages but its store holds ${stored} in the INBOX`);
    verified += `Rookery store holds all ${stored} acknowledged messages. `;
  }
  if (postfix) {
    const expected = opts.warmup + opts.rounds * opts.messages;
    const delivered = postfix.delivered();
    if (delivered !== expected) throw new Error(`Postfix accepted ${expected} messages but its Maildir holds ${delivered}`);
    verified += `Postfix Maildir holds all ${delivered} accepted messages.`;
  }

  console.log('');
  console.log('msg/s: from starting smtp-source until every message is stored (Rookery: its 250, given after fsync and commit;');
  console.log('       Postfix: the file in Maildir/new, written by virtual(8) with fsync). 250s msg/s: until the last 250.');
  console.log('CPU ms/msg: the server\'s own CPU (Rookery: the node process; Postfix: master and all its children).');
  console.log('CPUs used: busy or stolen share of all CPUs; others: cores used by processes other than server, smtp-source and bench.');
  console.log(`verified: ${verified.trim()}`);
  console.log('');
  const byName = (n: SideName) => runs.filter((r) => r.side === n);
  const rk = byName('rookery');
  const pf = byName('postfix');
  console.log('median         msg/s');
  const context = (n: SideName) => ({ senders: opts.senders, reuseConnections: opts.reuseConnections, greetingMs: sides.find((s) => s.name === n)?.greetingMs ?? 0 });
  if (rk.length > 0) console.log(`Rookery     ${lpad(fmt(median(rk.map((r) => r.rate))), 8)}   limited by ${explain(medianRun(rk), context('rookery'))}`);
  if (pf.length > 0) console.log(`Postfix     ${lpad(fmt(median(pf.map((r) => r.rate))), 8)}   limited by ${explain(medianRun(pf), context('postfix'))}`);
  if (rk.length > 0 && pf.length > 0) {
    const ratio = median(rk.map((r) => r.rate)) / median(pf.map((r) => r.rate));
    console.log('');
    console.log(`ratio Rookery/Postfix: ${ratio.toFixed(2)}  (target >= ${target}: ${ratio >= target ? 'met' : 'NOT met'})`);
  }
}

main().then(
  async () => {
    await cleanup();
  },
  async (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    await cleanup();
    process.exit(1);
  },
);
