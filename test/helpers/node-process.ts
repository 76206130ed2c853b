/**
 * A node as a real child process (`rookery node`), for tests that kill it.
 * Resolves once the node has printed its ready line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rookeryBin } from './cli.js';

export interface NodeProcess {
  child: ChildProcess;
  pid: number;
  /** Resolves with the exit code or signal once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

export async function startNodeProcess(args: string[], timeoutMs = 20000): Promise<NodeProcess> {
  const child = spawn(process.execPath, [rookeryBin, 'node', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ROOKERY_LOG_LEVEL: process.env.ROOKERY_LOG_LEVEL ?? 'silent' },
  });
  let err = '';
  let out = '';
  child.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node did not start within ${timeoutMs} ms: ${err}`));
    }, timeoutMs);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`node exited with ${code} before it was ready: ${err}`));
    });
  });
  return { child, pid: child.pid!, exited, stderr: () => err };
}

/** Ends a node process by PID: SIGTERM, then SIGKILL if it lingers. */
export async function stopNodeProcess(node: NodeProcess, graceMs = 5000): Promise<void> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return;
  node.child.kill('SIGTERM');
  const timer = setTimeout(() => node.child.kill('SIGKILL'), graceMs);
  await node.exited;
  clearTimeout(timer);
}
