/**
 * Postfix's smtp-sink as the outbound benchmark's destination: it accepts
 * every message and throws it away, and with -c it prints a running
 * counter ("sess=S quit=Q mesg=M\r") on every event, which is read here
 * as it comes, so each message's arrival is timed in this process.
 */
import { createConnection } from 'node:net';
import { isAlive, processCpu, sleep, start, stopPid, type Spawned } from './proc.js';

export class SmtpSink {
  /** Messages received (the sink's mesg counter). */
  messages = 0;
  /** SMTP sessions opened so far (the sink's sess counter). */
  sessions = 0;
  /** process.hrtime.bigint() when each message was counted: arrivals[k] is message k + 1. */
  readonly arrivals: bigint[] = [];
  private proc: Spawned | null = null;
  private partial = '';
  private waiters: Array<{ n: number; resolve: () => void }> = [];

  constructor(private readonly exe: string, readonly address: string, readonly port: number) {}

  get pid(): number | null {
    return this.proc?.child.pid ?? null;
  }

  async start(): Promise<void> {
    // As root smtp-sink insists on dropping privileges after binding (-u).
    const user = process.getuid?.() === 0 ? ['-u', 'nobody'] : [];
    this.proc = start(this.exe, [...user, '-c', `${this.address}:${this.port}`, '1000']);
    this.proc.child.stdout?.on('data', (chunk: Buffer) => this.read(chunk.toString('latin1')));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (this.pid === null || !isAlive(this.pid) || this.proc.child.exitCode !== null) break;
      if (await this.connects()) return;
      await sleep(50);
    }
    throw new Error(`smtp-sink did not listen on ${this.address}:${this.port}: ${`${this.proc.stderr}`.trim() || 'no output'}`);
  }

  private connects(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = createConnection({ host: this.address, port: this.port });
      s.setTimeout(1_000, () => { s.destroy(); resolve(false); });
      s.on('connect', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
  }

  private read(text: string): void {
    const now = process.hrtime.bigint();
    const parts = (this.partial + text).split('\r');
    this.partial = parts.pop() ?? '';
    for (const p of parts) {
      const m = /sess=(\d+)\s+quit=\d+\s+mesg=(\d+)/.exec(p);
      if (!m) continue;
      this.sessions = Number(m[1]);
      const mesg = Number(m[2]);
      while (this.messages < mesg) {
        this.messages++;
        this.arrivals.push(now);
      }
    }
    if (this.waiters.length > 0) {
      const ready = this.waiters.filter((w) => this.messages >= w.n);
      this.waiters = this.waiters.filter((w) => this.messages < w.n);
      for (const w of ready) w.resolve();
    }
  }

  /** Resolves once `n` messages in all have arrived; rejects after `ms`. */
  waitFor(n: number, ms: number): Promise<void> {
    if (this.messages >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== entry);
        reject(new Error(`the sink received ${this.messages} of ${n} messages within ${ms / 1000}s`));
      }, ms);
      const entry = { n, resolve: () => { clearTimeout(timer); resolve(); } };
      this.waiters.push(entry);
    });
  }

  /** CPU seconds of the sink process so far. */
  cpu(): number {
    return this.pid === null ? 0 : processCpu(this.pid);
  }

  async stop(): Promise<void> {
    const pid = this.pid;
    if (pid === null) return;
    await stopPid(pid, 2_000);
    await this.proc?.exited;
    this.proc = null;
  }

  killNow(): void {
    const pid = this.pid;
    if (pid !== null) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
}
