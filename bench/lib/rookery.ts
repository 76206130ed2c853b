/**
 * One Rookery node for the benchmark, run as a child process with the
 * `rookery` CLI over an embedded store in a temporary directory, SMTP only.
 *
 * Rookery answers 250 to end-of-DATA only after the message file is fsynced
 * and the index row committed, so an acknowledged message is a stored one;
 * after the run, the store itself is opened to check that every message is
 * in the INBOX.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitForGreeting, waitForSmtp } from './net.js';
import { isAlive, processCpu, run, start, stopPid, threadCpu, threadSched, threadState, type SchedSample, type Spawned } from './proc.js';
import { recipient } from './load.js';

/**
 * The rookery command of the compiled tree this bench belongs to (bin/rookery.js
 * always runs dist/), so a private build (tsc --outDir dist-x) benches its own code.
 */
const rookeryEntry = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));

/** Extra Node flags for the node process, e.g. ROOKERY_BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it. */
const nodeFlags = (process.env.ROOKERY_BENCH_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '');

export const smtpPortOffset = 25;
export const imapPortOffset = 143;

/** Which services the node runs; the first is the one waited for at start. */
export type BenchService = 'smtp' | 'imap';

export class RookeryNode {
  readonly storeDir: string;
  private node: Spawned | null = null;

  constructor(private readonly repoRoot: string, readonly dir: string, readonly portBase: number, readonly service: BenchService = 'smtp') {
    this.storeDir = join(dir, 'store');
  }

  /** The port of the service the node runs (SMTP: base + 25; IMAP: base + 143). */
  get port(): number {
    return this.portBase + (this.service === 'imap' ? imapPortOffset : smtpPortOffset);
  }

  get pid(): number | null {
    return this.node?.child.pid ?? null;
  }

  /** Runs a `rookery` CLI command on this node's store. */
  cli(args: string[]): Promise<string> {
    return run(process.execPath, [rookeryEntry, ...args, '--store', this.storeDir], {
      cwd: this.repoRoot,
      env: { ...process.env, ROOKERY_LOG_LEVEL: 'warn' },
    });
  }

  /** Creates example.test and its one user (before start(), or with `prepared` false, by start()). */
  async prepare(password = 'bench-password'): Promise<void> {
    await this.cli(['domain', 'add', 'example.test']);
    await this.cli(['user', 'add', recipient, '--password', password]);
    this.prepared = true;
  }

  private prepared = false;

  async start(): Promise<void> {
    if (!this.prepared) await this.prepare();
    this.node = start(process.execPath, [
      ...nodeFlags, rookeryEntry, 'node',
      '--store', this.storeDir,
      '--address', '127.0.0.1',
      '--port-base', String(this.portBase),
      '--services', this.service,
      '--name', 'bench',
    ], { cwd: this.repoRoot, env: { ...process.env, ROOKERY_LOG_LEVEL: 'warn' } });
    const pid = this.node.child.pid;
    try {
      const alive = () => pid !== undefined && isAlive(pid) && this.node?.child.exitCode === null;
      if (this.service === 'imap') await waitForGreeting(this.port, '* OK', 30_000, alive);
      else await waitForSmtp(this.port, 30_000, alive);
    } catch (err) {
      throw new Error(`${(err as Error).message}; rookery said: ${this.output()}`);
    }
  }

  /** The last lines the node wrote, for error messages. */
  output(lines = 5): string {
    if (!this.node) return '';
    return `${this.node.stderr}${this.node.stdout}`.trim().split('\n').slice(-lines).join(' | ') || '(nothing)';
  }

  /** CPU seconds so far: the whole process (event loop, libuv pool, GC threads). */
  cpu(): number {
    return this.pid === null ? 0 : processCpu(this.pid);
  }

  /** CPU seconds so far of the event-loop (main) thread alone. */
  mainThreadCpu(): number {
    return this.pid === null ? 0 : threadCpu(this.pid, this.pid);
  }

  mainThreadSched(): SchedSample | null {
    return this.pid === null ? null : threadSched(this.pid, this.pid);
  }

  mainThreadState(): string | null {
    return this.pid === null ? null : threadState(this.pid, this.pid);
  }

  async stop(): Promise<void> {
    const node = this.node;
    if (!node || node.child.pid === undefined) return;
    await stopPid(node.child.pid, 10_000);
    await node.exited;
    this.node = null;
  }

  killNow(): void {
    const pid = this.pid;
    if (pid !== null) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }

  /** Messages in the recipient's INBOX, read from the store (call after stop()). */
  async storedMessages(): Promise<number> {
    // Loaded here so that the bench can say "Postfix is missing" without loading the store.
    const { openStore } = await import('../../src/store/open.js');
    const store = await openStore(this.storeDir);
    try {
      const user = await store.directory.getUser(recipient);
      if (!user) throw new Error(`${recipient} is not in the store`);
      const inbox = await store.mail.getMailbox(user.id, 'INBOX');
      if (!inbox) throw new Error(`${recipient} has no INBOX`);
      return (await store.mail.listMessages(inbox.id)).length;
    } finally {
      await store.close();
    }
  }
}
