/**
 * `npm run bench -- --only lb`: the cost of the traffic manager. One Rookery
 * node (SMTP and IMAP on 127.0.0.11) reached three ways in one run:
 *
 *   direct    the node itself
 *   rookery   `rookery lb --proxy-protocol` on 127.0.0.1, relaying from 127.0.0.10
 *   haproxy   a private HAProxy (Debian's haproxy) in TCP mode with
 *             send-proxy-v2 on 127.0.0.2, relaying from 127.0.0.20, which
 *             the bench registers in the store's cluster registry as a
 *             traffic manager so the node believes its PROXY headers
 *
 * and measures, alternating the order round by round:
 *
 *   - SMTP sessions per second with no message (connect, 220, EHLO, QUIT;
 *     20 clients at once): the relay's own cost, nothing else in the way;
 *   - SMTP messages per second, one connection per message, durably stored
 *     (Postfix's `smtp-source -s 20 -l 1024 -m N`);
 *   - IMAP `UID FETCH 1 BODY.PEEK[]` of a 10 MB message, MB per second.
 *
 * Prints each figure, the ratios rookery/direct and haproxy/rookery, and
 * whether the targets hold (rookery at least 0.9 of direct; HAProxy no more
 * than 1.5x better); then each relay's own CPU time per session, message
 * and 10 MB fetch, steadier than the rates on a shared machine. See
 * bench/README.md.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, hostname, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImapConnection } from './lib/imap-client.js';
import { recipient } from './lib/load.js';
import { findExecutable, processCpu, run, sleep, start, stopPid, type Spawned } from './lib/proc.js';
import { freeBaseOn } from './lib/net.js';

export interface LbBenchOptions {
  repoRoot: string;
  rounds: number;
  /** Messages per smtp-source round. */
  messages: number;
  /** SMTP sessions (no message) per round. */
  sessions: number;
  /** 10 MB fetches per round and side. */
  fetches: number;
  keep: boolean;
  onCleanup(fn: () => Promise<void> | void): void;
  onExit(fn: () => void): void;
}

type Side = 'direct' | 'rookery' | 'haproxy';

const nodeAddress = '127.0.0.11';
const lbAddress = '127.0.0.1';
const lbSource = '127.0.0.10';
const haproxyAddress = '127.0.0.2';
const haproxySource = '127.0.0.20';
const password = 'bench-password';
const bigMessageBytes = 10 * 1024 * 1024;
const concurrency = 20;

/** One SMTP session with no message: connect, greeting, EHLO, QUIT. */
function smtpSession(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.setNoDelay(true);
    let text = '';
    let step = 0;
    socket.setTimeout(10_000, () => { socket.destroy(); reject(new Error(`SMTP session on ${host}:${port} timed out at step ${step}`)); });
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      // A complete reply: its last line has a space after the code.
      if (!/(^|\r\n)\d{3} [^\r\n]*\r\n$/.test(text)) return;
      const lines = text.split('\r\n');
      const code = lines[lines.length - 2]!.slice(0, 3);
      text = '';
      if (step === 0 && code === '220') { step = 1; socket.write('EHLO bench.test\r\n'); }
      else if (step === 1 && code === '250') { step = 2; socket.write('QUIT\r\n'); }
      else if (step === 2 && code === '221') { step = 3; socket.end(); resolve(); }
      else { socket.destroy(); reject(new Error(`SMTP on ${host}:${port}: unexpected ${code} at step ${step}`)); }
    });
    socket.on('error', reject);
  });
}

/** Sessions per second with `concurrency` clients doing `total` sessions between them. */
async function sessionRate(host: string, port: number, total: number): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < total) await smtpSession(host, port);
  }));
  return total / (Number(process.hrtime.bigint() - started) / 1e9);
}

/** Messages per second with smtp-source (one connection per message), all acknowledged. */
async function messageRate(smtpSource: string, host: string, port: number, messages: number): Promise<number> {
  const started = process.hrtime.bigint();
  await run(smtpSource, ['-s', String(concurrency), '-l', '1024', '-m', String(messages), '-M', 'client.bench.test', '-f', 'from@bench.test', '-t', recipient, `${host}:${port}`]);
  return messages / (Number(process.hrtime.bigint() - started) / 1e9);
}

/** MB/s of `UID FETCH 1 BODY.PEEK[]` (the 10 MB message): the median of `count` fetches on one session. */
async function fetchRate(host: string, port: number, count: number): Promise<number> {
  const c = await ImapConnection.open(port, host);
  try {
    await c.command(`LOGIN ${recipient} ${password}`);
    await c.command('SELECT INBOX');
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const r = await c.command('UID FETCH 1 BODY.PEEK[]', { timeoutMs: 120_000 });
      if (!/ OK/.test(r.tagged)) throw new Error(`FETCH on ${host}:${port}: ${r.tagged}`);
      times.push(r.ms);
    }
    return (bigMessageBytes / 1e6) / (median(times) / 1000);
  } finally {
    await c.logout().catch(() => c.destroy());
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Waits until host:port greets with `prefix`. */
async function waitGreeting(host: string, port: number, prefix: string, ms: number, what: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const line = await new Promise<string>((resolve) => {
      const s = connect({ host, port });
      let t = '';
      s.setTimeout(2000, () => { s.destroy(); resolve(t || 'timeout'); });
      s.on('data', (d: Buffer) => { t += d.toString('latin1'); if (t.includes('\n')) { s.destroy(); resolve(t); } });
      s.on('error', (e) => resolve(e.message));
    });
    if (line.startsWith(prefix)) return;
    if (Date.now() > deadline) throw new Error(`${host}:${port} did not greet with "${prefix}" (${line.trim()}); ${what()}`);
    await sleep(100);
  }
}

function haproxyConfig(base: number, dir: string): string {
  const relay = (name: string, offset: number) => `
frontend ${name}
    bind ${haproxyAddress}:${base + offset}
    default_backend ${name}_nodes
backend ${name}_nodes
    source ${haproxySource}
    server n1 ${nodeAddress}:${base + offset} send-proxy-v2
`;
  return `global
    maxconn 4000
    pidfile ${join(dir, 'haproxy.pid')}
defaults
    mode tcp
    timeout connect 5s
    timeout client 10m
    timeout server 10m
${relay('smtp', 25)}${relay('imap', 143)}`;
}

/** Runs the bench; resolves true when both targets hold. */
export async function runLbBench(opts: LbBenchOptions): Promise<boolean> {
  if (process.platform !== 'linux') throw new Error('the lb bench needs Linux');
  const smtpSource = findExecutable('smtp-source');
  if (!smtpSource) throw new Error('smtp-source is not installed (on Debian: apt-get install -y postfix)');
  const haproxy = findExecutable('haproxy');
  if (!haproxy) console.log('haproxy is not installed (on Debian: apt-get install -y haproxy): the HAProxy side is left out');

  const dir = mkdtempSync(join(tmpdir(), 'rookery-bench-lb-'));
  const store = join(dir, 'store');
  const children: Spawned[] = [];
  opts.onExit(() => { for (const c of children) if (c.child.pid) try { process.kill(c.child.pid, 'SIGKILL'); } catch { /* gone */ } });
  opts.onCleanup(async () => {
    for (const c of children.reverse()) if (c.child.pid) await stopPid(c.child.pid, 10_000);
    if (opts.keep) process.stderr.write(`bench: kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  });
  // This compiled tree's own entry (bin/rookery.js would load dist/), so a private build measures its own code.
  const entry = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
  const rookery = (args: string[]) => [entry, ...args];
  const env = { ...process.env, ROOKERY_LOG_LEVEL: 'warn' };
  const cli = (args: string[]) => run(process.execPath, rookery([...args, '--store', store]), { env });

  const base = await freeBaseOn([nodeAddress, lbAddress, haproxyAddress], [25, 110, 143, 465, 587, 993, 995, 694]);
  await cli(['domain', 'add', 'example.test']);
  await cli(['user', 'add', recipient, '--password', password]);
  if (haproxy) {
    // The node believes PROXY headers only from the registry's traffic managers.
    const { openStore } = await import('../src/store/open.js');
    const s = await openStore(store);
    try {
      await s.cluster.register({ name: 'haproxy-bench', role: 'balancer', address: haproxyAddress, sourceAddress: haproxySource, host: hostname(), pid: process.pid, version: 'haproxy', services: {} });
    } finally {
      await s.close();
    }
  }

  const node = start(process.execPath, rookery(['node', '--store', store, '--name', 'n1', '--address', nodeAddress, '--port-base', String(base), '--services', 'smtp,imap']), { env });
  children.push(node);
  await waitGreeting(nodeAddress, base + 25, '220', 30_000, () => `${node.stderr}`);
  // ROOKERY_BENCH_LB_CPU_PROF=DIR: the traffic manager writes a V8 CPU profile there when it stops.
  const profileDir = process.env.ROOKERY_BENCH_LB_CPU_PROF;
  const lb = start(process.execPath, [...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []), ...rookery(['lb', '--store', store, '--name', 'lb-bench', '--address', lbAddress, '--port-base', String(base), '--services', 'smtp,imap',
    '--proxy-protocol', '--source-address', lbSource])], { env });
  children.push(lb);
  await waitGreeting(lbAddress, base + 25, '220', 30_000, () => `${lb.stderr}`);
  await waitGreeting(lbAddress, base + 143, '* OK', 30_000, () => `${lb.stderr}`);
  const sides: Side[] = ['direct', 'rookery'];
  // The relay process of each side, whose CPU time is read around every phase.
  const relayPid: Record<Side, number | undefined> = { direct: undefined, rookery: lb.child.pid, haproxy: undefined };
  let haproxyVersion = '';
  if (haproxy) {
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(cfg, haproxyConfig(base, dir));
    haproxyVersion = (await run(haproxy, ['-v'])).split('\n')[0]!.trim();
    const hp = start(haproxy, ['-db', '-f', cfg]);
    children.push(hp);
    relayPid.haproxy = hp.child.pid;
    await waitGreeting(haproxyAddress, base + 25, '220', 10_000, () => `${hp.stderr}`);
    sides.push('haproxy');
  }
  const where: Record<Side, string> = { direct: nodeAddress, rookery: lbAddress, haproxy: haproxyAddress };

  console.log(`lb bench: ${cpus().length} CPUs, Linux ${release()}, Node ${process.version}${haproxyVersion ? `, ${haproxyVersion}` : ''}; store ${dir}`);
  console.log(`node ${nodeAddress}:${base}+, rookery lb ${lbAddress} (PROXY v2 from ${lbSource})${haproxy ? `, haproxy ${haproxyAddress} (send-proxy-v2 from ${haproxySource})` : ''}`);

  // The 10 MB message, first, so it is UID 1.
  await run(smtpSource, ['-s', '1', '-l', String(bigMessageBytes), '-m', '1', '-M', 'client.bench.test', '-f', 'from@bench.test', '-t', recipient, `${nodeAddress}:${base + 25}`]);
  // Warm-up, every side.
  for (const side of sides) {
    await sessionRate(where[side], base + 25, 200);
    await messageRate(smtpSource, where[side], base + 25, 100);
    await fetchRate(where[side], base + 143, 1);
  }

  type Phase = 'sessions' | 'messages' | 'fetch';
  const empty = () => ({ sessions: [] as number[], messages: [] as number[], fetch: [] as number[] });
  const results: Record<Side, Record<Phase, number[]>> = { direct: empty(), rookery: empty(), haproxy: empty() };
  // The relay's CPU milliseconds per unit of work (per session, per message, per 10 MB fetch):
  // what it costs whatever the other processes on the machine are doing.
  const relayMs: Record<Side, Record<Phase, number[]>> = { direct: empty(), rookery: empty(), haproxy: empty() };
  const units: Record<Phase, number> = { sessions: opts.sessions, messages: opts.messages, fetch: opts.fetches };
  const measured = async (side: Side, phase: Phase, work: () => Promise<number>): Promise<number> => {
    const pid = relayPid[side];
    const before = pid === undefined ? 0 : processCpu(pid);
    const rate = await work();
    if (pid !== undefined) relayMs[side][phase].push(((processCpu(pid) - before) * 1000) / units[phase]);
    results[side][phase].push(rate);
    return rate;
  };
  console.log('round  side      sessions/s  messages/s  FETCH 10MB MB/s');
  for (let r = 0; r < opts.rounds; r++) {
    // Rotate the order, so no side always goes first.
    const order = sides.map((_, i) => sides[(i + r) % sides.length]!);
    for (const side of order) {
      const sessions = await measured(side, 'sessions', () => sessionRate(where[side], base + 25, opts.sessions));
      const messages = await measured(side, 'messages', () => messageRate(smtpSource, where[side], base + 25, opts.messages));
      const fetch = await measured(side, 'fetch', () => fetchRate(where[side], base + 143, opts.fetches));
      console.log(`${String(r + 1).padStart(5)}  ${side.padEnd(8)}  ${sessions.toFixed(0).padStart(10)}  ${messages.toFixed(0).padStart(10)}  ${fetch.toFixed(0).padStart(15)}`);
    }
  }

  const m = (side: Side, k: Phase) => median(results[side][k]);
  console.log('');
  // haproxy/direct: what a relay in C costs on this machine, the yardstick for lb/direct.
  console.log(`medians of ${opts.rounds} rounds         direct   rookery lb${haproxy ? '   haproxy   lb/direct   haproxy/lb   haproxy/direct' : '   lb/direct'}`);
  let ok = true;
  for (const [k, label] of [['sessions', 'SMTP sessions/s (no mail)'], ['messages', 'SMTP messages/s (stored)'], ['fetch', 'IMAP FETCH 10 MB, MB/s']] as const) {
    const d = m('direct', k);
    const l = m('rookery', k);
    const h = haproxy ? m('haproxy', k) : NaN;
    const vsDirect = l / d;
    const vsHaproxy = h / l;
    if (vsDirect < 0.9) ok = false;
    if (haproxy && vsHaproxy > 1.5) ok = false;
    console.log(`${label.padEnd(27)} ${d.toFixed(0).padStart(8)}   ${l.toFixed(0).padStart(10)}${haproxy ? `   ${h.toFixed(0).padStart(7)}   ${vsDirect.toFixed(2).padStart(9)}   ${vsHaproxy.toFixed(2).padStart(10)}   ${(h / d).toFixed(2).padStart(14)}` : `   ${vsDirect.toFixed(2).padStart(9)}`}`);
  }
  console.log('');
  console.log(`relay CPU, ms (medians)      rookery lb${haproxy ? '   haproxy   lb/haproxy' : ''}`);
  for (const [k, label] of [['sessions', 'per SMTP session'], ['messages', 'per SMTP message'], ['fetch', 'per 10 MB FETCH']] as const) {
    const l = median(relayMs.rookery[k]);
    const h = haproxy ? median(relayMs.haproxy[k]) : NaN;
    console.log(`${label.padEnd(27)} ${l.toFixed(3).padStart(10)}${haproxy ? `   ${h.toFixed(3).padStart(7)}   ${(l / h).toFixed(2).padStart(10)}` : ''}`);
  }
  console.log(`target: rookery lb at least 0.90 of direct${haproxy ? ' and HAProxy no more than 1.50x the rookery lb' : ''}: ${ok ? 'met' : 'NOT met'}`);
  return ok;
}
