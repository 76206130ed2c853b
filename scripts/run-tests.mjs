#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's test
// runner. Node 20's runner takes no globs, so the files are listed here.
// Arguments narrow the run: `npm test -- pop3` runs files whose path has "pop3".
// ROOKERY_TEST_TREE=dist-x runs a private build (tsc --outDir dist-x) instead.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...find(path));
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = find(join(process.env.ROOKERY_TEST_TREE ?? 'dist', 'test')).filter((f) => filters.length === 0 || filters.some((x) => f.includes(x))).sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=180000', ...files], {
  stdio: 'inherit',
  env: { ROOKERY_LOG_LEVEL: 'silent', ...process.env },
});
process.exit(result.status ?? 1);
