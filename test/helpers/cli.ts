/**
 * Runs the real rookery command as a child process: the entry of the tree
 * these tests were compiled into (bin/rookery.js does the same for dist/).
 */
import { fileURLToPath } from 'node:url';
import { run, type RunResult } from './clients.js';

export const rookeryBin = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));

export function rookery(args: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return run(process.execPath, [rookeryBin, ...args], { timeoutMs: 30000, ...opts });
}
