/**
 * Child processes and Linux /proc sampling for the benchmark: spawn with
 * captured output, stop by PID with a deadline, CPU time of a process tree
 * or of one thread, machine CPU and disk counters.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Linux reports /proc CPU times in USER_HZ, which is 100 on every mainstream architecture. */
const USER_HZ = 100;

/** Keeps the last `limit` characters of a stream, so a noisy child can never fill memory or block on a full pipe. */
export class Tail {
  private text = '';
  constructor(private readonly limit = 32_768) {}
  push(chunk: Buffer | string): void {
    this.text += chunk.toString();
    if (this.text.length > this.limit) this.text = this.text.slice(-this.limit);
  }
  toString(): string {
    return this.text;
  }
}

export interface Spawned {
  child: ChildProcess;
  stdout: Tail;
  stderr: Tail;
  /** Resolves with the exit code (or 128 + signal number style null → -1) once the child has exited. */
  exited: Promise<number>;
}

export function start(command: string, args: string[], options: SpawnOptions = {}): Spawned {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  const stdout = new Tail();
  const stderr = new Tail();
  child.stdout?.on('data', (c: Buffer) => stdout.push(c));
  child.stderr?.on('data', (c: Buffer) => stderr.push(c));
  const exited = new Promise<number>((resolve) => {
    child.on('error', (err) => {
      stderr.push(`${err.message}\n`);
      resolve(-1);
    });
    child.on('close', (code) => resolve(code ?? -1));
  });
  return { child, stdout, stderr, exited };
}

/** Runs a command to completion; rejects with its output when it fails. */
export async function run(command: string, args: string[], options: SpawnOptions = {}): Promise<string> {
  const p = start(command, args, options);
  const code = await p.exited;
  if (code !== 0) {
    const out = `${p.stderr}${p.stdout}`.trim();
    throw new Error(`${command} ${args.join(' ')} exited with ${code}${out ? `: ${out}` : ''}`);
  }
  return p.stdout.toString();
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits until `pid` has exited or `ms` has passed; true when it is gone. */
export async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isAlive(pid) || isZombieOf(pid)) return true;
    await sleep(50);
  }
  return !isAlive(pid);
}

function isZombieOf(pid: number): boolean {
  const s = readStat(pid);
  return s !== null && s.state === 'Z';
}

/** SIGTERM, then SIGKILL after `graceMs`. Only ever the given PID. */
export async function stopPid(pid: number, graceMs = 10_000): Promise<void> {
  if (!isAlive(pid)) return;
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  if (await waitGone(pid, graceMs)) return;
  try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  await waitGone(pid, 2_000);
}

/** Finds an executable on PATH or in the sbin directories where Debian puts Postfix's tools. */
export function findExecutable(name: string, extraDirs: string[] = []): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin', ...extraDirs];
  for (const dir of dirs) {
    if (!dir) continue;
    const path = join(dir, name);
    try {
      if (existsSync(path) && statSync(path).isFile()) return path;
    } catch { /* unreadable: keep looking */ }
  }
  return null;
}

interface ProcStat {
  state: string;
  ppid: number;
  /** utime + stime in seconds. */
  own: number;
  /** cutime + cstime in seconds: children that have exited and been reaped. */
  children: number;
}

function parseStat(text: string): ProcStat {
  // The command name may contain spaces and parentheses; fields resume after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return {
    state: f[0]!,
    ppid: Number(f[1]),
    own: (Number(f[11]) + Number(f[12])) / USER_HZ,
    children: (Number(f[13]) + Number(f[14])) / USER_HZ,
  };
}

function readStat(pid: number, tid?: number): ProcStat | null {
  try {
    const path = tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`;
    return parseStat(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

/** CPU seconds used so far by one process (all its threads) and its reaped children. */
export function processCpu(pid: number): number {
  const s = readStat(pid);
  return s ? s.own + s.children : 0;
}

/** CPU seconds used so far by one thread of a process; for Node, tid = pid is the event-loop thread. */
export function threadCpu(pid: number, tid: number): number {
  return readStat(pid, tid)?.own ?? 0;
}

/**
 * CPU seconds used so far by a process and every descendant, living or
 * reaped. Differences between two samples are the work done in between,
 * also by children that came and went (their time moves into the parent's
 * cutime/cstime when reaped).
 */
export function treeCpu(root: number): number {
  const stats = new Map<number, ProcStat>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) stats.set(Number(name), s);
  }
  let total = 0;
  const todo = [root];
  const seen = new Set<number>();
  while (todo.length > 0) {
    const pid = todo.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const s = stats.get(pid);
    if (!s) continue;
    total += s.own + s.children;
    for (const [child, cs] of stats) if (cs.ppid === pid) todo.push(child);
  }
  return total;
}

/** Every living descendant of `root` (not root itself). */
export function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) parent.set(Number(name), s.ppid);
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const pid = todo.pop()!;
    for (const [child, ppid] of parent) {
      if (ppid === pid && !out.includes(child)) {
        out.push(child);
        todo.push(child);
      }
    }
  }
  return out;
}

export interface MachineSample {
  /** Seconds of CPU time summed over all CPUs, by kind. */
  busy: number;
  idle: number;
  iowait: number;
  steal: number;
}

export function machineCpu(): MachineSample {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
  return {
    busy: (user + nice + system + irq + softirq) / USER_HZ,
    idle: idle / USER_HZ,
    iowait: iowait / USER_HZ,
    steal: steal / USER_HZ,
  };
}

export interface DiskSample {
  device: string;
  writes: number;
  /** Flush (cache-barrier) requests completed; an fsync on ext4 usually costs one or two. -1 if the kernel does not report them. */
  flushes: number;
  /** Milliseconds the device had I/O in flight (utilisation when divided by wall time). */
  busyMs: number;
}

/**
 * The whole-disk device holding `path`, as named in /proc/diskstats, or
 * null when it cannot be told (e.g. tmpfs, overlay without a block device).
 */
export function diskOf(path: string): string | null {
  try {
    const dev = statSync(path).dev;
    const major = Math.floor(dev / 256) & 0xfff;
    const minor = (dev & 0xff) | (Math.floor(dev / 4096) & 0xfff00);
    let sys = `/sys/dev/block/${major}:${minor}`;
    if (!existsSync(sys)) return null;
    if (existsSync(join(sys, 'partition'))) sys = join(sys, '..');
    const uevent = readFileSync(join(sys, 'uevent'), 'utf8');
    return /^DEVNAME=(.+)$/m.exec(uevent)?.[1] ?? null;
  } catch {
    return null;
  }
}

export function diskSample(device: string | null): DiskSample | null {
  if (device === null) return null;
  try {
    for (const line of readFileSync('/proc/diskstats', 'utf8').split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f[2] !== device) continue;
      return {
        device,
        writes: Number(f[7]),
        busyMs: Number(f[12]),
        flushes: f.length >= 20 ? Number(f[18]) : -1,
      };
    }
  } catch { /* not Linux, or no diskstats */ }
  return null;
}

export interface SchedSample {
  /** Nanoseconds on a CPU. */
  runNs: number;
  /** Nanoseconds runnable but waiting for a CPU (contention). */
  waitNs: number;
}

/** /proc/PID/task/TID/schedstat: how long a thread ran and how long it waited for a CPU. */
export function threadSched(pid: number, tid: number): SchedSample | null {
  try {
    const [run = 0, wait = 0] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    return { runNs: run, waitNs: wait };
  } catch {
    return null;
  }
}

/** One-letter scheduler state of a thread: R running/runnable, S sleeping, D uninterruptible (usually disk I/O or fsync). */
export function threadState(pid: number, tid: number): string | null {
  return readStat(pid, tid)?.state ?? null;
}

/**
 * CPU seconds of this process (own) and of its children that have exited
 * and been reaped: between two samples around one smtp-source run, the
 * latter is smtp-source's CPU time.
 */
export function selfCpu(): { own: number; children: number } {
  const s = readStat(process.pid);
  return s ? { own: s.own, children: s.children } : { own: 0, children: 0 };
}

export interface MemorySample {
  /** Resident set size in bytes (VmRSS): shared pages counted in every process that maps them. */
  rss: number;
  /** Proportional set size in bytes (Pss from smaps_rollup): shared pages divided among their users. -1 if unreadable. */
  pss: number;
}

/** VmRSS and Pss of one process, in bytes; null when it is gone. */
export function processMemory(pid: number): MemorySample | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
    let pss = -1;
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      const m = /^Pss:\s+(\d+) kB/m.exec(rollup);
      if (m) pss = Number(m[1]) * 1024;
    } catch { /* older kernel */ }
    return { rss, pss };
  } catch {
    return null;
  }
}

/** Summed VmRSS and Pss of several processes (a multi-process server), and how many were counted. */
export function processesMemory(pids: number[]): MemorySample & { processes: number } {
  let rss = 0;
  let pss = 0;
  let processes = 0;
  for (const pid of pids) {
    const m = processMemory(pid);
    if (!m) continue;
    processes++;
    rss += m.rss;
    pss = pss < 0 || m.pss < 0 ? -1 : pss + m.pss;
  }
  return { rss, pss, processes };
}
