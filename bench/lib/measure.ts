/**
 * What one timed run records, and what it suggests limits the server.
 */
import { cpus } from 'node:os';
import { diskSample, machineCpu, selfCpu, type DiskSample, type MachineSample, type SchedSample } from './proc.js';

export type SideName = 'rookery' | 'postfix';

export interface Sample {
  ns: bigint;
  serverCpu: number;
  mainCpu: number | null;
  mainSched: SchedSample | null;
  machine: MachineSample;
  disk: DiskSample | null;
  /** This process's CPU seconds, and its reaped children's (smtp-source). */
  benchCpu: number;
  loadCpu: number;
}

export interface Probe {
  serverCpu(): number;
  mainCpu?(): number;
  mainSched?(): SchedSample | null;
}

export function sample(probe: Probe, device: string | null): Sample {
  const self = selfCpu();
  return {
    ns: process.hrtime.bigint(),
    serverCpu: probe.serverCpu(),
    mainCpu: probe.mainCpu ? probe.mainCpu() : null,
    mainSched: probe.mainSched ? probe.mainSched() : null,
    machine: machineCpu(),
    disk: diskSample(device),
    benchCpu: self.own,
    loadCpu: self.children,
  };
}

export interface Run {
  side: SideName;
  round: number;
  messages: number;
  /** Wall time from starting smtp-source until every message was stored. */
  seconds: number;
  rate: number;
  /** Wall time until smtp-source had every 250 (for Postfix: queued, not yet in the Maildir). */
  acceptSeconds: number;
  /** Server CPU seconds (all processes and threads). */
  serverCpu: number;
  /** Rookery only: the event-loop thread's CPU and run-queue wait, seconds, and its sampled states. */
  mainCpu: number | null;
  mainWait: number | null;
  mainStates: Record<string, number> | null;
  /** Machine-wide CPU seconds (all CPUs) busy and stolen by the hypervisor. */
  machineBusy: number;
  machineSteal: number;
  /** CPU seconds of smtp-source, of this bench process, and of everything else on the machine. */
  loadCpu: number;
  benchCpu: number;
  otherCpu: number;
  flushes: number | null;
  diskBusyMs: number | null;
}

export function makeRun(side: SideName, round: number, messages: number, before: Sample, after: Sample, acceptEndNs: bigint, states: Record<string, number> | null): Run {
  const seconds = Number(after.ns - before.ns) / 1e9;
  const diskOk = before.disk !== null && after.disk !== null;
  const serverCpu = after.serverCpu - before.serverCpu;
  const loadCpu = after.loadCpu - before.loadCpu;
  const benchCpu = after.benchCpu - before.benchCpu;
  const machineBusy = after.machine.busy - before.machine.busy;
  return {
    side,
    round,
    messages,
    seconds,
    rate: messages / seconds,
    acceptSeconds: Number(acceptEndNs - before.ns) / 1e9,
    serverCpu,
    mainCpu: before.mainCpu !== null && after.mainCpu !== null ? after.mainCpu - before.mainCpu : null,
    mainWait: before.mainSched && after.mainSched ? (after.mainSched.waitNs - before.mainSched.waitNs) / 1e9 : null,
    mainStates: states,
    machineBusy,
    machineSteal: after.machine.steal - before.machine.steal,
    loadCpu,
    benchCpu,
    otherCpu: Math.max(0, machineBusy - serverCpu - loadCpu - benchCpu),
    flushes: diskOk && before.disk!.flushes >= 0 ? after.disk!.flushes - before.disk!.flushes : null,
    diskBusyMs: diskOk ? after.disk!.busyMs - before.disk!.busyMs : null,
  };
}

export function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** The run whose rate is the median (the lower middle one for an even count). */
export function medianRun(runs: Run[]): Run {
  const sorted = [...runs].sort((a, b) => a.rate - b.rate);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

/** Fraction of all CPUs' time that was busy or stolen by the hypervisor during the run. */
export function machineFull(r: Run): number {
  return (r.machineBusy + r.machineSteal) / (r.seconds * cpus().length);
}

/**
 * A short reading of the counters for one run: which resource ran out
 * first, as far as these counters can tell.
 */
export interface Context {
  senders: number;
  reuseConnections: boolean;
  /** Milliseconds from connect to the 220 greeting on the idle server. */
  greetingMs: number;
}

export function explain(r: Run, c: Context): string {
  const ncpu = cpus().length;
  const full = machineFull(r);
  const steal = r.machineSteal / (r.seconds * ncpu);
  const cores = (s: number) => (s / r.seconds).toFixed(2);
  const facts: string[] = [
    `${(r.serverCpu * 1000 / r.messages).toFixed(2)} ms server CPU per message (${cores(r.serverCpu)} cores)`,
    `CPUs ${pct(full)} in use of ${ncpu} (server ${cores(r.serverCpu)}, smtp-source ${cores(r.loadCpu)}, other processes ${cores(r.otherCpu)}${steal >= 0.02 ? `, hypervisor steal ${cores(r.machineSteal)}` : ''} cores)`,
  ];
  if (r.flushes !== null) facts.push(`${(r.flushes / r.messages).toFixed(2)} disk flushes per message`);
  const diskUtil = r.diskBusyMs !== null ? r.diskBusyMs / (r.seconds * 1000) : null;
  if (diskUtil !== null) facts.push(`disk busy ${pct(Math.min(diskUtil, 1))}`);

  // Little's law: each of the senders spends senders / rate seconds per message.
  const sessionMs = (c.senders / r.rate) * 1000;
  facts.unshift(`${sessionMs.toFixed(1)} ms per message per sender, of which ${c.greetingMs.toFixed(1)} ms waiting for the 220 greeting${c.reuseConnections ? ' (once per connection)' : ''}`);
  const greetingBound = !c.reuseConnections && c.greetingMs >= 0.4 * sessionMs;
  const greetingVerdict = `greeting delay: the 220 comes ${c.greetingMs.toFixed(0)} ms after connect, and with a new connection per message that alone caps ${c.senders} senders at ${Math.round((c.senders * 1000) / c.greetingMs)} msg/s`;

  let verdict: string;
  if (greetingBound) {
    verdict = greetingVerdict;
    if (r.mainCpu !== null) {
      const onCpu = r.mainCpu / r.seconds;
      const waitCpu = (r.mainWait ?? 0) / r.seconds;
      facts.push(`event-loop thread on a CPU ${pct(onCpu)} of the time, runnable but waiting for a CPU ${pct(waitCpu)}`);
    }
  } else if (r.mainCpu !== null) {
    const onCpu = r.mainCpu / r.seconds;
    const waitCpu = (r.mainWait ?? 0) / r.seconds;
    const states = r.mainStates ?? {};
    const total = Object.values(states).reduce((a, b) => a + b, 0) || 1;
    const inD = (states.D ?? 0) / total;
    facts.push(`event-loop thread on a CPU ${pct(onCpu)} of the time, runnable but waiting for a CPU ${pct(waitCpu)}, in uninterruptible (disk) sleep in ${pct(inD)} of samples`);
    if (onCpu + waitCpu >= 0.85 && waitCpu < 0.25) verdict = 'CPU: the single event-loop thread is saturated';
    else if (onCpu + waitCpu >= 0.6 && full >= 0.9) verdict = 'CPU: the machine is saturated and the event-loop thread is mostly running or queued for a CPU';
    else if (inD >= 0.25) verdict = 'fsync: the event-loop thread blocks in disk waits';
    else if (full >= 0.9) verdict = 'CPU: the machine is saturated';
    else if (diskUtil !== null && diskUtil >= 0.8) verdict = 'disk: the device is busy nearly all the time';
    else verdict = 'latency: neither CPU nor disk is saturated; per-message waits (fsync, commit, round-trips) bound the rate';
  } else {
    if (full >= 0.9) verdict = 'CPU: the machine is saturated';
    else if (diskUtil !== null && diskUtil >= 0.8) verdict = 'disk: the device is busy nearly all the time';
    else verdict = 'latency: neither CPU nor disk is saturated; per-message hand-offs between processes and fsync waits bound the rate';
  }
  return `${verdict}. ${facts.join('; ')}.`;
}
