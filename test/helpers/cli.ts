/** Runs the real rookery command (bin/rookery.js) as a child process. */
import { fileURLToPath } from 'node:url';
import { run, type RunResult } from './clients.js';

export const rookeryBin = fileURLToPath(new URL('../../../bin/rookery.js', import.meta.url));

export function rookery(args: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return run(process.execPath, [rookeryBin, ...args], { timeoutMs: 30000, ...opts });
}
