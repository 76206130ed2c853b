/**
 * The load: Postfix's smtp-source, the same command line against both sides.
 */
import { start, stopPid } from './proc.js';

export interface LoadOptions {
  smtpSource: string;
  port: number;
  messages: number;
  senders: number;
  /** Payload bytes per message, headers not included (smtp-source -l). */
  size: number;
  /** Send every message of a session over one connection (smtp-source -d). */
  reuseConnections: boolean;
  /** Give up (and kill smtp-source) after this long. */
  timeoutMs: number;
  /** The server's address (default 127.0.0.1). */
  host?: string;
}

export const sender = 'from@bench.test';
export const recipient = 'u@example.test';

export function loadArgs(o: Omit<LoadOptions, 'smtpSource' | 'timeoutMs'>): string[] {
  return [
    '-s', String(o.senders),
    '-l', String(o.size),
    '-m', String(o.messages),
    ...(o.reuseConnections ? ['-d'] : []),
    '-M', 'client.bench.test',
    '-f', sender,
    '-t', recipient,
    `${o.host ?? '127.0.0.1'}:${o.port}`,
  ];
}

/** PIDs of smtp-source processes still running, so that an interrupted bench can stop them. */
export const runningLoads = new Set<number>();

export interface LoadResult {
  /** process.hrtime.bigint() when smtp-source was started and when it exited. */
  startNs: bigint;
  endNs: bigint;
}

/**
 * Runs smtp-source once. It exits 0 only when every message got a 2xx
 * (without -A it aborts on the first other reply), so success means every
 * message was acknowledged. `to` replaces the recipient (-t) loadArgs gives.
 */
export async function runLoad(o: LoadOptions, to?: string): Promise<LoadResult> {
  const args = loadArgs(o);
  if (to !== undefined) args[args.indexOf('-t') + 1] = to;
  const startNs = process.hrtime.bigint();
  const p = start(o.smtpSource, args);
  const pid = p.child.pid;
  if (pid !== undefined) runningLoads.add(pid);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    if (pid !== undefined) void stopPid(pid, 2_000);
  }, o.timeoutMs);
  const code = await p.exited;
  const endNs = process.hrtime.bigint();
  if (pid !== undefined) runningLoads.delete(pid);
  clearTimeout(timer);
  if (timedOut) throw new Error(`smtp-source did not finish within ${o.timeoutMs / 1000}s`);
  if (code !== 0) {
    const out = `${p.stderr}${p.stdout}`.trim().split('\n').slice(-5).join(' | ');
    throw new Error(`smtp-source exited with ${code}: ${out || 'no output'}`);
  }
  return { startNs, endNs };
}
