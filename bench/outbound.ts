/**
 * `--only outbound`: outbound throughput to a loopback sink, messages per
 * second, Rookery's queue against Postfix relaying to the same sink, in one
 * run. See bench/README.md.
 *
 * The sink is Postfix's smtp-sink on 127.0.0.25 (not 127.0.0.1: Rookery's
 * loop guard treats every next hop on the node's own address as itself,
 * whatever the port). Each round fills one side's queue with N messages
 * while it cannot deliver, then lets it go and times the sink:
 *
 * - Rookery: with the node stopped, N messages are queued through the store
 *   interfaces (blobs.put + queue.enqueue, as SMTP ingest does), then
 *   `rookery node` starts and its queue worker sends them over the
 *   transport `sink.test -> 127.0.0.25:PORT`.
 * - Postfix: with `defer_transports = smtp`, smtp-source hands it N
 *   messages for u@sink.test (relay from mynetworks), which land in the
 *   deferred queue; then `defer_transports =`, `postfix reload` and
 *   `postqueue -f`; transport_maps sends sink.test to [127.0.0.25]:PORT.
 *
 * The rate is timed at the sink, from its first message of the round to
 * its Nth, so neither side's start-up counts; the time from the trigger
 * (node spawned, reload) is shown too.
 */
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeBase, portFree } from './lib/net.js';
import { PostfixInstance } from './lib/postfix.js';
import { diskOf, diskSample, findExecutable, isAlive, machineCpu, processCpu, run, sleep, start, stopPid, threadCpu, threadSched, threadState,
  type DiskSample, type MachineSample, type Spawned } from './lib/proc.js';
import { smtpPortOffset } from './lib/rookery.js';
import { SmtpSink } from './lib/sink.js';

export interface OutboundBenchOptions {
  repoRoot: string;
  rounds: number;
  messages: number;
  /** Payload bytes per message, headers not included. */
  size: number;
  senders: number;
  only: 'rookery' | 'postfix' | null;
  keep: boolean;
  onCleanup(fn: () => Promise<void>): void;
  onExit(fn: () => void): void;
}

type Side = 'rookery' | 'postfix';
const target = 0.5;
const sinkAddress = '127.0.0.25';
const sinkDomain = 'sink.test';
const sender = 'from@bench.test';
const rcpt = `u@${sinkDomain}`;

interface Point {
  ns: bigint;
  serverCpu: number;
  mainCpu: number | null;
  mainWaitNs: number | null;
  sinkCpu: number;
  machine: MachineSample;
  disk: DiskSample | null;
  self: number;
}

interface Row {
  side: Side;
  round: number;
  messages: number;
  /** Sink's first message of the round to its last. */
  seconds: number;
  rate: number;
  /** From the trigger (node spawned; postfix reload) to the last message. */
  fromTrigger: number;
  sessions: number;
  serverCpu: number;
  mainCpu: number | null;
  mainWait: number | null;
  sinkCpu: number;
  busy: number;
  others: number;
  flushes: number | null;
  /** Longest pause between two consecutive messages at the sink, ms. */
  gapMs: number;
  /** Rookery: share of samples with the event-loop thread in uninterruptible sleep (D). */
  blockedShare: number | null;
  /** The sink's session counter at the start (it counts a session when it ends, so `sessions` is filled in after the round). */
  startSessions: number;
}

const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');
const pct = (x: number) => `${Math.round(x * 100)}%`;

function selfCpu(): number {
  return processCpu(process.pid);
}

/** A deterministic message of about `size` body bytes, distinct per index (blobs are content-addressed). */
export function benchMessage(i: number, size: number): Buffer {
  const date = new Date().toUTCString().replace('GMT', '+0000');
  const head = [
    `Received: from client.bench.test (localhost [127.0.0.1]) by bench.test with ESMTP id b${i}; ${date}`,
    `From: <${sender}>`,
    `To: <${rcpt}>`,
    `Date: ${date}`,
    `Message-Id: <${i}.${process.pid}@bench.test>`,
    `Subject: outbound bench ${i}`,
    '',
    '',
  ].join('\r\n');
  const line = `${'X'.repeat(78)}\r\n`;
  let body = line.repeat(Math.floor(size / line.length));
  body += 'X'.repeat(Math.max(0, size - body.length - 2)) + '\r\n';
  return Buffer.from(head + body, 'latin1');
}

function countFiles(dir: string): number {
  let n = 0;
  let entries: string[];
  try { entries = readdirSync(dir); } catch { return 0; }
  for (const e of entries) {
    const p = join(dir, e);
    try {
      if (statSync(p).isDirectory()) n += countFiles(p);
      else n++;
    } catch { /* gone meanwhile */ }
  }
  return n;
}

function gapMs(arrivals: bigint[]): number {
  let max = 0n;
  for (let i = 1; i < arrivals.length; i++) {
    const d = arrivals[i]! - arrivals[i - 1]!;
    if (d > max) max = d;
  }
  return Number(max) / 1e6;
}

export async function runOutboundBench(o: OutboundBenchOptions): Promise<boolean> {
  if (process.platform !== 'linux') throw new Error('needs Linux (it reads /proc)');
  const tools = {
    postfix: findExecutable('postfix'),
    postconf: findExecutable('postconf'),
    postqueue: findExecutable('postqueue'),
    smtpSource: findExecutable('smtp-source'),
    smtpSink: findExecutable('smtp-sink'),
  };
  const missing = Object.entries(tools).filter(([, v]) => v === null).map(([k]) => k);
  if (missing.length > 0) throw new Error(`Postfix's tools are missing (${missing.join(', ')}); on Debian: apt-get install -y postfix`);
  const wantPostfix = o.only !== 'rookery';
  const wantRookery = o.only !== 'postfix';
  if (wantPostfix && process.getuid?.() !== 0) throw new Error('must run as root: a Postfix instance only starts as root');
  const pfTools = { postfix: tools.postfix!, postconf: tools.postconf! };

  const root = mkdtempSync(join(tmpdir(), 'rookery-bench-outbound-'));
  chmodSync(root, 0o755);
  o.onCleanup(async () => {
    if (o.keep) process.stderr.write(`bench: kept ${root}\n`);
    else rmSync(root, { recursive: true, force: true });
  });
  const device = diskOf(root);
  const postfixVersion = (await run(tools.postconf!, ['-h', '-d', 'mail_version']).catch(() => '?')).trim();

  // The sink.
  let sinkPort = 0;
  for (let i = 0; i < 100 && sinkPort === 0; i++) {
    const p = 20000 + Math.floor(Math.random() * 40000);
    if (await portFree(p, sinkAddress)) sinkPort = p;
  }
  if (sinkPort === 0) throw new Error(`no free port on ${sinkAddress}`);
  const sink = new SmtpSink(tools.smtpSink!, sinkAddress, sinkPort);
  o.onCleanup(() => sink.stop());
  o.onExit(() => sink.killNow());
  await sink.start();

  // Postfix: the private instance, relaying sink.test to the sink, deferring until told.
  let postfix: PostfixInstance | null = null;
  const postconf = (setting: string) => run(tools.postconf!, ['-c', postfix!.configDir, '-e', setting]);
  const reload = () => run(tools.postfix!, ['-c', postfix!.configDir, 'reload']);
  if (wantPostfix) {
    const port = await freeBase([0], [sinkPort]);
    postfix = new PostfixInstance(pfTools, join(root, 'postfix'), port);
    const pf = postfix;
    o.onCleanup(() => pf.stop());
    o.onExit(() => pf.killNow());
    await pf.start();
    writeFileSync(join(pf.configDir, 'transport'), `${sinkDomain} smtp:[${sinkAddress}]:${sinkPort}\n`);
    await postconf(`transport_maps = texthash:${join(pf.configDir, 'transport')}`);
    await postconf('defer_transports = smtp');
    await reload();
    await sleep(1_000);
  }

  // Rookery: a store with the transport; the node runs only while it delivers.
  const storeDir = join(root, 'rookery', 'store');
  let base = 0;
  let node: Spawned | null = null;
  const bin = join(o.repoRoot, 'bin', 'rookery.js');
  const env = { ...process.env, ROOKERY_LOG_LEVEL: 'warn' };
  const stopNode = async () => {
    const n = node;
    if (!n || n.child.pid === undefined) return;
    await stopPid(n.child.pid, 10_000);
    await n.exited;
    node = null;
  };
  if (wantRookery) {
    base = await freeBase([smtpPortOffset], [sinkPort, ...(postfix ? [postfix.port] : [])]);
    await run(process.execPath, [bin, 'transport', 'add', sinkDomain, `${sinkAddress}:${sinkPort}`, '--store', storeDir], { cwd: o.repoRoot, env });
    o.onCleanup(stopNode);
    o.onExit(() => {
      const pid = node?.child.pid;
      if (pid !== undefined) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    });
  }

  const ncpu = cpus().length;
  console.log('Rookery vs Postfix: outbound throughput to a loopback sink');
  console.log(`sink:    smtp-sink -c ${sinkAddress}:${sinkPort} 1000 (accepts and discards); recipients ${rcpt}`);
  console.log(`plan:    per round and side, ${o.messages} queued messages of ${o.size} body bytes released at once; ${o.rounds} round(s) per side, alternating; medians reported`);
  console.log(`machine: ${ncpu} CPUs, Linux ${release()}, Node ${process.version}, Postfix ${postfixVersion}, storage ${root} on ${device ?? 'an unknown device'}`);
  if (postfix) {
    const v = (await run(tools.postconf!, ['-c', postfix.configDir, '-x', '-h', 'smtp_destination_concurrency_limit', 'initial_destination_concurrency', 'smtp_connection_cache_on_demand'])).trim().split('\n');
    console.log(`         Postfix: smtp_destination_concurrency_limit ${v[0]}, initial_destination_concurrency ${v[1]}, smtp_connection_cache_on_demand ${v[2]} (defaults)`);
  }
  if (wantRookery) {
    const { defaultLimits } = await import('../src/config/limits.js');
    const l = defaultLimits();
    console.log(`         Rookery: limits.queueMaxConnectionsPerDestination ${l.queueMaxConnectionsPerDestination}, queueMaxConnections ${l.queueMaxConnections}, queueMaxMessagesPerConnection ${l.queueMaxMessagesPerConnection}, queuePollMs ${l.queuePollMs} (defaults)`);
  }
  if (postfix) console.log(`         Postfix smtpd on 127.0.0.1:${postfix.port}, transport_maps ${sinkDomain} -> smtp:[${sinkAddress}]:${sinkPort}`);
  if (wantRookery) console.log(`         Rookery node on 127.0.0.1 (port base ${base}), transport ${sinkDomain} -> ${sinkAddress}:${sinkPort}`);
  console.log('');

  const point = (serverCpu: () => number, pid: number | null): Point => {
    const s = sink.cpu();
    return {
      ns: process.hrtime.bigint(),
      serverCpu: serverCpu(),
      mainCpu: pid === null ? null : threadCpu(pid, pid),
      mainWaitNs: pid === null ? null : threadSched(pid, pid)?.waitNs ?? null,
      sinkCpu: s,
      machine: machineCpu(),
      disk: diskSample(device),
      self: selfCpu(),
    };
  };

  /** Times the sink from its first new message to its `n`th; `trigger` starts the side. */
  const timed = async (side: Side, round: number, trigger: () => Promise<{ serverCpu: () => number; pid: number | null }>): Promise<Row> => {
    const startCount = sink.messages;
    const startSessions = sink.sessions;
    const triggerNs = process.hrtime.bigint();
    const probe = await trigger();
    const limitMs = 60_000 + o.messages * 50;
    await sink.waitFor(startCount + 1, limitMs);
    const a = point(probe.serverCpu, probe.pid);
    // Rookery: the event-loop thread's state every 5 ms (D: blocked in the kernel, usually an fsync).
    const states: Record<string, number> = {};
    const pid = probe.pid;
    const sampler = pid === null ? null : setInterval(() => {
      const st = threadState(pid, pid);
      if (st) states[st] = (states[st] ?? 0) + 1;
    }, 5);
    try {
      await sink.waitFor(startCount + o.messages, limitMs);
    } finally {
      if (sampler) clearInterval(sampler);
    }
    const b = point(probe.serverCpu, probe.pid);
    const samples = Object.values(states).reduce((x, y) => x + y, 0);
    const arrivals = sink.arrivals.slice(startCount, startCount + o.messages);
    const first = arrivals[0]!;
    const last = arrivals[arrivals.length - 1]!;
    const seconds = Number(last - first) / 1e9;
    const window = Number(b.ns - a.ns) / 1e9;
    const serverCpu = b.serverCpu - a.serverCpu;
    const sinkCpu = b.sinkCpu - a.sinkCpu;
    const busy = (b.machine.busy + b.machine.steal) - (a.machine.busy + a.machine.steal);
    return {
      side,
      round,
      messages: o.messages,
      seconds,
      rate: (o.messages - 1) / seconds,
      fromTrigger: Number(last - triggerNs) / 1e9,
      sessions: 0,
      startSessions,
      serverCpu,
      mainCpu: a.mainCpu !== null && b.mainCpu !== null ? b.mainCpu - a.mainCpu : null,
      mainWait: a.mainWaitNs !== null && b.mainWaitNs !== null ? (b.mainWaitNs - a.mainWaitNs) / 1e9 : null,
      sinkCpu,
      busy: busy / (window * ncpu),
      others: Math.max(0, busy - serverCpu - sinkCpu - (b.self - a.self)) / window,
      flushes: a.disk && b.disk && a.disk.flushes >= 0 ? b.disk.flushes - a.disk.flushes : null,
      gapMs: gapMs(arrivals),
      blockedShare: samples > 0 ? (states.D ?? 0) / samples : null,
    };
  };

  let injected = 0;
  const rookeryRound = async (round: number): Promise<Row> => {
    // Queue N messages with the node stopped, as SMTP ingest would (durable blob, then the queue rows).
    const { openStore } = await import('../src/store/open.js');
    const store = await openStore(storeDir);
    try {
      let next = 0;
      const worker = async () => {
        while (next < o.messages) {
          const i = injected + next++;
          const blob = await store.blobs.put(benchMessage(i, o.size));
          await store.queue.enqueue({ sender, blobId: blob.id, size: blob.size, recipients: [rcpt], origin: 'out1' });
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
      injected += o.messages;
      const queued = (await store.queue.list()).length;
      if (queued !== o.messages) throw new Error(`Rookery's queue holds ${queued} messages, not ${o.messages}`);
    } finally {
      await store.close();
    }
    const row = await timed('rookery', round, async () => {
      node = start(process.execPath, [bin, 'node', '--store', storeDir, '--address', '127.0.0.1', '--port-base', String(base),
        '--services', 'smtp', '--name', 'out1'], { cwd: o.repoRoot, env });
      const pid = node.child.pid ?? null;
      return { serverCpu: () => (pid === null ? 0 : processCpu(pid)), pid };
    });
    const n = node as Spawned | null;
    if (n && n.child.pid !== undefined && !isAlive(n.child.pid)) throw new Error(`the Rookery node exited: ${`${n.stderr}${n.stdout}`.trim()}`);
    await stopNode();
    row.sessions = sink.sessions - row.startSessions;
    const check = await openStore(storeDir);
    try {
      const left = await check.queue.list();
      if (left.length > 0) {
        const r = left[0]!.recipients[0];
        throw new Error(`Rookery's queue still holds ${left.length} messages after the sink got all ${o.messages} (e.g. ${r?.address}: ${r?.lastError || 'no error'})`);
      }
    } finally {
      await check.close();
    }
    return row;
  };

  const postfixRound = async (round: number): Promise<Row> => {
    const pf = postfix!;
    const q = (d: string) => countFiles(join(pf.queueDir, d));
    // Fill: smtp-source hands Postfix N messages, which wait in the deferred queue (defer_transports = smtp).
    const feed = start(tools.smtpSource!, ['-s', String(o.senders), '-l', String(o.size), '-m', String(o.messages), '-M', 'client.bench.test',
      '-f', sender, '-t', rcpt, `127.0.0.1:${pf.port}`]);
    const code = await feed.exited;
    if (code !== 0) throw new Error(`smtp-source exited with ${code}: ${`${feed.stderr}${feed.stdout}`.trim().split('\n').slice(-3).join(' | ')}`);
    const deadline = Date.now() + 60_000 + o.messages * 20;
    while (q('deferred') < o.messages || q('incoming') + q('active') + q('maildrop') > 0) {
      if (Date.now() > deadline) throw new Error(`Postfix's deferred queue holds ${q('deferred')} of ${o.messages}; log: ${pf.logTail()}`);
      await sleep(50);
    }
    const row = await timed('postfix', round, async () => {
      await postconf('defer_transports =');
      await reload();
      await run(tools.postqueue!, ['-c', pf.configDir, '-f']);
      return { serverCpu: () => pf.cpu(), pid: null };
    });
    // Every message gone from Postfix's queue, then back to deferring for the next round.
    const drained = Date.now() + 30_000;
    while (q('deferred') + q('active') + q('incoming') > 0) {
      if (Date.now() > drained) throw new Error(`Postfix's queue still holds ${q('deferred') + q('active') + q('incoming')} messages after the sink got all ${o.messages}`);
      await sleep(50);
    }
    await postconf('defer_transports = smtp');
    await reload();
    // Cached connections close after smtp_connection_cache_time_limit (2 s); the sink counts a session when it ends.
    await sleep(2_500);
    row.sessions = sink.sessions - row.startSessions;
    return row;
  };

  const header = 'round  side       msgs  seconds    msg/s  from start  conns  msgs/conn  CPU ms/msg  server cores  loop thread  sink cores  CPUs used  others  flush/msg  longest gap';
  console.log(header);
  const rows: Row[] = [];
  const print = (r: Row) => {
    console.log([
      String(r.round).padStart(5),
      (r.side === 'rookery' ? 'Rookery' : 'Postfix').padEnd(8),
      String(r.messages).padStart(6),
      fmt(r.seconds, 2).padStart(7),
      fmt(r.rate).padStart(8),
      `${fmt(r.fromTrigger, 2)} s`.padStart(10),
      String(r.sessions).padStart(5),
      fmt(r.messages / Math.max(1, r.sessions)).padStart(9),
      fmt((r.serverCpu * 1000) / r.messages, 2).padStart(10),
      fmt(r.serverCpu / r.seconds, 2).padStart(12),
      (r.mainCpu === null ? '-' : `${pct(r.mainCpu / r.seconds)}+${pct((r.mainWait ?? 0) / r.seconds)}q`).padStart(11),
      fmt(r.sinkCpu / r.seconds, 2).padStart(10),
      pct(r.busy).padStart(9),
      fmt(r.others, 2).padStart(6),
      (r.flushes === null ? '-' : fmt(r.flushes / r.messages, 2)).padStart(9),
      `${fmt(r.gapMs, 0)} ms`.padStart(11),
    ].join('  '));
  };
  for (let round = 1; round <= o.rounds; round++) {
    const order: Side[] = round % 2 === 1 ? ['postfix', 'rookery'] : ['rookery', 'postfix'];
    for (const side of order) {
      if (side === 'postfix' && !wantPostfix) continue;
      if (side === 'rookery' && !wantRookery) continue;
      const r = side === 'postfix' ? await postfixRound(round) : await rookeryRound(round);
      rows.push(r);
      print(r);
    }
  }

  const total = rows.length * o.messages;
  if (sink.messages !== total) throw new Error(`the sink received ${sink.messages} messages, not the ${total} sent (duplicates?)`);
  console.log('');
  console.log('seconds, msg/s: at the sink, from the side\'s first message of the round to its last; from start: from spawning the');
  console.log('  node (Rookery) or `postfix reload` + `postqueue -f` (Postfix) to the last message. conns: SMTP sessions the sink saw.');
  console.log('CPU ms/msg, server cores: Rookery\'s node process (all threads) / Postfix\'s master and all children; loop thread: Rookery\'s');
  console.log('  event-loop thread on a CPU + queued for one (q). CPUs used: busy or stolen share of all CPUs; others: cores used by');
  console.log('  processes other than the server, the sink and the bench. longest gap: longest pause between two messages at the sink.');
  console.log(`verified: the sink got all ${total} messages exactly; both queues were empty after each round.`);
  console.log('');

  const median = (v: number[]) => {
    const s = [...v].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const medianRow = (side: Side) => {
    const s = rows.filter((r) => r.side === side).sort((a, b) => a.rate - b.rate);
    return s[Math.floor((s.length - 1) / 2)]!;
  };
  console.log('median         msg/s');
  const rk = rows.filter((r) => r.side === 'rookery');
  const pf = rows.filter((r) => r.side === 'postfix');
  if (rk.length > 0) console.log(`Rookery     ${fmt(median(rk.map((r) => r.rate))).padStart(8)}   limited by ${explainRookery(medianRow('rookery'), ncpu)}`);
  if (pf.length > 0) console.log(`Postfix     ${fmt(median(pf.map((r) => r.rate))).padStart(8)}   limited by ${explainPostfix(medianRow('postfix'), ncpu)}`);
  if (rk.length > 0 && pf.length > 0) {
    const ratio = median(rk.map((r) => r.rate)) / median(pf.map((r) => r.rate));
    console.log('');
    console.log(`ratio Rookery/Postfix: ${ratio.toFixed(2)}  (target >= ${target}: ${ratio >= target ? 'met' : 'NOT met'})`);
  }
  return true;
}

function common(r: Row, ncpu: number): string[] {
  return [
    `${r.sessions} connection(s) for ${r.messages} messages`,
    `${fmt((r.serverCpu * 1000) / r.messages, 2)} ms server CPU per message (${fmt(r.serverCpu / r.seconds, 2)} cores)`,
    `CPUs ${pct(r.busy)} in use of ${ncpu} (sink ${fmt(r.sinkCpu / r.seconds, 2)}, other processes ${fmt(r.others, 2)} cores)`,
    ...(r.flushes === null ? [] : [`${fmt(r.flushes / r.messages, 2)} disk flushes per message`]),
    `longest pause at the sink ${fmt(r.gapMs, 0)} ms`,
  ];
}

function explainRookery(r: Row, ncpu: number): string {
  const on = (r.mainCpu ?? 0) / r.seconds;
  const wait = (r.mainWait ?? 0) / r.seconds;
  const facts = [...common(r, ncpu), `event-loop thread on a CPU ${pct(on)}, queued for one ${pct(wait)}, blocked in the kernel (D, fsync) in ${pct(r.blockedShare ?? 0)} of samples`];
  let verdict: string;
  if (r.gapMs >= 500) verdict = 'idle gaps: the worker stops between batches of claimed mail and waits for the next queue poll';
  else if (on + wait >= 0.85 && wait < 0.25) verdict = 'CPU: the single event-loop thread is saturated';
  else if (r.busy >= 0.9) verdict = 'CPU: the machine is saturated';
  else verdict = `latency: neither CPU is saturated; each of the few connections waits for one message's round trips, fsyncs and commits before the next`;
  return `${verdict}. ${facts.join('; ')}.`;
}

function explainPostfix(r: Row, ncpu: number): string {
  const facts = common(r, ncpu);
  let verdict: string;
  if (r.sinkCpu / r.seconds >= 0.85) verdict = 'the sink: smtp-sink (one process) is saturated';
  else if (r.busy >= 0.9) verdict = 'CPU: the machine is saturated (qmgr, smtp clients, the sink and the bench share it)';
  else verdict = 'latency: per-message hand-offs between qmgr and the smtp clients and their queue-file updates bound the rate';
  return `${verdict}. ${facts.join('; ')}.`;
}
