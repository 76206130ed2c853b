/** A traffic manager as a real child process (`rookery lb`), for cluster tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { rookeryBin } from './cli.js';

export interface LbProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  /** What it printed so far. */
  stdout(): string;
  stderr(): string;
  stop(): Promise<void>;
}

/**
 * Starts `rookery lb ARGS` and resolves once it reports itself active (or,
 * with `ready`, once its output matches that). `logLevel` sets its
 * ROOKERY_LOG_LEVEL (its JSON log lines go to stderr()).
 */
export async function startLbProcess(args: string[], timeoutMs = 20000, opts: { ready?: RegExp; logLevel?: string } = {}): Promise<LbProcess> {
  const child = spawn(process.execPath, [rookeryBin, 'lb', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ROOKERY_LOG_LEVEL: opts.logLevel ?? process.env.ROOKERY_LOG_LEVEL ?? 'silent' },
  });
  const ready = opts.ready ?? / active: /;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let out = '';
  let err = '';
  child.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
  child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`lb did not start: ${out} ${err}`));
    }, timeoutMs);
    child.stdout!.on('data', () => {
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`lb exited with ${code}: ${err}`));
    });
  });
  return {
    child,
    exited,
    stdout: () => out,
    stderr: () => err,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
      await exited;
      clearTimeout(timer);
    },
  };
}
