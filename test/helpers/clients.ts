/**
 * Runs the real clients the tests are judged by (python3's smtplib/poplib,
 * curl, swaks) as child processes, with a timeout so a hang fails the test
 * instead of stalling the suite.
 */
import { spawn } from 'node:child_process';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} timed out after ${opts.timeoutMs ?? 30000} ms; stderr: ${Buffer.concat(err).toString()}`));
    }, opts.timeoutMs ?? 30000);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.on('error', () => { /* the child may exit before reading everything */ });
    child.stdin.end(opts.input ?? '');
  });
}

/**
 * Runs a python3 script given as text. Arguments arrive in sys.argv[1:].
 * Throws with the script's stderr if it exits non-zero.
 */
export async function python(script: string, args: string[] = [], timeoutMs = 60000): Promise<string> {
  const res = await run('python3', ['-c', script, ...args], { timeoutMs });
  if (res.code !== 0) throw new Error(`python3 exited ${res.code}:\n${res.stderr}`);
  return res.stdout;
}
