import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temporary directory; the caller removes it. */
export async function tempDir(prefix = 'rookery-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}
