/**
 * `rookery up` runs an installation in the foreground on 127.0.0.11 (base +
 * standard ports), takes mail, and stops cleanly on SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { rookery, rookeryBin } from '../helpers/cli.js';
import { python, run } from '../helpers/clients.js';
import { tempDir } from '../helpers/temp.js';
import { freePortBase } from '../helpers/ports.js';

test('rookery up serves SMTP and POP3 on 127.0.0.11 and stops on SIGTERM', async () => {
  const dir = await tempDir('rookery-up-');
  const base = await freePortBase('127.0.0.11');
  const child = spawn(process.execPath, [rookeryBin, 'up', '--store', dir, '--port-base', String(base)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ROOKERY_LOG_LEVEL: 'warn' },
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`rookery up did not start: ${out}`)), 20000);
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('Ctrl-C stops it')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then((code) => reject(new Error(`rookery up exited with ${code}: ${out}`)));
    });
    assert.match(out, new RegExp(`SMTP \\(MX, STARTTLS\\)\\s+127\\.0\\.0\\.11:${base + 25}`));
    assert.match(out, new RegExp(`POP3 over TLS\\s+127\\.0\\.0\\.11:${base + 995}`));
    assert.match(out, /rookery domain add/, 'an empty store gets a hint on what to do first');

    assert.equal((await rookery(['domain', 'add', 'example.org', '--store', dir])).code, 0);
    assert.equal((await rookery(['user', 'add', 'me@example.org', '--password', 'secret', '--store', dir])).code, 0);
    const swaks = await run('swaks', ['--server', `127.0.0.11:${base + 25}`, '--from', 'friend@example.net', '--to', 'me@example.org',
      '--header', 'Subject: first', '--body', 'hello from swaks']);
    assert.equal(swaks.code, 0, swaks.stdout + swaks.stderr);
    const body = await python(`
import poplib, ssl, sys
p = poplib.POP3_SSL('127.0.0.11', int(sys.argv[1]), context=ssl._create_unverified_context())
p.user('me@example.org'); p.pass_('secret')
print(b'\\n'.join(p.retr(1)[1]).decode())
p.quit()
`, [String(base + 995)]);
    assert.match(body, /Subject: first/);
    assert.match(body, /hello from swaks/);

    child.kill('SIGTERM');
    assert.equal(await exited, 0, 'a clean stop exits 0');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
