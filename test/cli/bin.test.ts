import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { run } from '../helpers/clients.js';
import { version } from '../../src/version.js';

// The front door the README gives (`npx rookery`): bin/rookery.js loading the
// build in dist/. Other tests start the entry of their own compiled tree.
test('bin/rookery.js runs the built command', async (t) => {
  const bin = fileURLToPath(new URL('../../../bin/rookery.js', import.meta.url));
  const distEntry = fileURLToPath(new URL('../../../dist/src/cli/main.js', import.meta.url));
  const { existsSync } = await import('node:fs');
  if (!existsSync(distEntry)) {
    t.skip('dist/ is not built (this is a private build tree)');
    return;
  }
  const result = await run(process.execPath, [bin, '--version']);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout.trim(), `rookery ${version}`);
});
