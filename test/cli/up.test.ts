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

test('rookery up: a cluster behind 127.0.0.1 takes mail with swaks and serves it to poplib and dig; SIGTERM stops every process', async () => {
  const dir = await tempDir('rookery-up-');
  const base = await freePortBase('127.0.0.1');
  const child = spawn(process.execPath, [rookeryBin, 'up', '--store', dir, '--port-base', String(base)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ROOKERY_LOG_LEVEL: 'warn' },
    // Its own process group, so a failed test can end the nodes with it.
    detached: true,
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
    assert.match(out, /node1\s+pid \d+\s+127\.0\.0\.11/);
    assert.match(out, /node3\s+pid \d+\s+127\.0\.0\.13/, 'three nodes by default');
    assert.match(out, new RegExp(`SMTP \\(MX, STARTTLS\\)\\s+127\\.0\\.0\\.1:${base + 25}`));
    assert.match(out, new RegExp(`POP3 over TLS\\s+127\\.0\\.0\\.1:${base + 995}`));
    assert.match(out, /rookery domain add/, 'an empty store gets a hint on what to do first');

    assert.equal((await rookery(['domain', 'add', 'example.org', '--store', dir])).code, 0);
    assert.equal((await rookery(['user', 'add', 'me@example.org', '--password', 'secret', '--store', dir])).code, 0);
    // Through the traffic manager; the pools fill as the health checks pass.
    let swaks = await run('swaks', ['--server', `127.0.0.1:${base + 25}`, '--from', 'friend@example.net', '--to', 'me@example.org',
      '--header', 'Subject: first', '--body', 'hello from swaks']);
    for (let i = 0; i < 30 && swaks.code !== 0; i++) {
      await new Promise((r) => setTimeout(r, 300));
      swaks = await run('swaks', ['--server', `127.0.0.1:${base + 25}`, '--from', 'friend@example.net', '--to', 'me@example.org',
        '--header', 'Subject: first', '--body', 'hello from swaks']);
    }
    assert.equal(swaks.code, 0, swaks.stdout + swaks.stderr);
    const direct = await run('swaks', ['--server', `127.0.0.12:${base + 25}`, '--from', 'friend@example.net', '--to', 'me@example.org',
      '--header', 'Subject: second', '--body', 'straight to node2']);
    assert.equal(direct.code, 0, direct.stdout + direct.stderr);
    const body = await python(`
import poplib, ssl, sys
p = poplib.POP3_SSL('127.0.0.1', int(sys.argv[1]), context=ssl._create_unverified_context())
p.user('me@example.org'); p.pass_('secret')
print(b'\\n'.join(p.retr(1)[1] + p.retr(2)[1]).decode())
p.quit()
`, [String(base + 995)]);
    assert.match(body, /Subject: first/);
    assert.match(body, /hello from swaks/);
    assert.match(body, /straight to node2/);
    const mx = await run('dig', ['@127.0.0.1', '-p', String(base + 53), '+short', 'example.org', 'MX']);
    assert.equal(mx.stdout.trim().split('\n').length, 3, `one MX per node: ${mx.stdout}`);

    const status = JSON.parse((await rookery(['status', '--json', '--store', dir])).stdout);
    const node1 = status.nodes.find((n: { name: string }) => n.name === 'node1');
    assert.equal(node1.state, 'up');
    assert.equal(node1.address, '127.0.0.11');
    const { connections, ...smtpHealth } = node1.services.smtp;
    assert.deepEqual(smtpHealth, { port: base + 25, healthy: true });
    assert.equal(typeof connections, 'number', 'its open connections ride along');
    const pid = Number(/node1\s+pid (\d+)/.exec(out)![1]);
    assert.equal(node1.pid, pid);

    child.kill('SIGTERM');
    assert.equal(await exited, 0, 'a clean stop exits 0');
    assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the node process is gone too');
    assert.equal(status.balancers[0].name, 'lb1');
    const after = JSON.parse((await rookery(['status', '--json', '--store', dir])).stdout);
    assert.equal(after.nodes[0].state, 'down');
  } finally {
    killGroup(child.pid!);
    await rm(dir, { recursive: true, force: true });
  }
});

test('rookery up --nodes 3: a killed node shows down, stays down, and leaves the DNS answers', async () => {
  const dir = await tempDir('rookery-up3-');
  const base = await freePortBase('127.0.0.1');
  const child = spawn(process.execPath, [rookeryBin, 'up', '--nodes', '3', '--store', dir, '--port-base', String(base)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ROOKERY_LOG_LEVEL: 'warn' },
    // Its own process group, so a failed test can end the nodes with it.
    detached: true,
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  try {
    await waitFor(() => out.includes('Ctrl-C stops it'), 30000, () => `rookery up did not start: ${out}`);
    const pids = [1, 2, 3].map((i) => Number(new RegExp(`node${i}\\s+pid (\\d+)\\s+127\\.0\\.0\\.1${i}`).exec(out)![1]));
    const status = JSON.parse((await rookery(['status', '--json', '--store', dir])).stdout);
    assert.deepEqual(status.nodes.map((n: { name: string; state: string }) => [n.name, n.state]), [['node1', 'up'], ['node2', 'up'], ['node3', 'up']]);
    await rookery(['domain', 'add', 'example.org', '--store', dir]);
    const digA = async () => (await run('dig', ['@127.0.0.1', '-p', String(base + 53), '+short', 'smtp.example.org', 'A'])).stdout.trim().split('\n').filter(Boolean).sort();
    await waitFor(async () => (await digA()).length === 3, 5000, () => 'the DNS never listed the three nodes');
    assert.deepEqual(await digA(), ['127.0.0.11', '127.0.0.12', '127.0.0.13']);

    process.kill(pids[1]!, 'SIGKILL');
    await waitFor(() => out.includes('node2'), 10000, () => 'up did not notice');
    await waitFor(async () => {
      const s = JSON.parse((await rookery(['status', '--json', '--store', dir])).stdout);
      return s.nodes.find((n: { name: string }) => n.name === 'node2').state === 'down';
    }, 10000, () => 'node2 never showed down');
    assert.match(out, /node2 \(pid \d+\) was killed by SIGKILL; it stays down/);
    const text = (await rookery(['status', '--store', dir])).stdout;
    assert.match(text, /node2\s+node\s+127\.0\.0\.12\s+\d+\s+down\s+[a-z]+\s/, text);
    assert.match(text, /node1\s+node\s+127\.0\.0\.11\s+\d+\s+up\s+[A-Z]+\s/, text);
    await waitFor(async () => (await digA()).length === 2, 5000, () => 'the dead node stayed in the DNS answers');
    assert.deepEqual(await digA(), ['127.0.0.11', '127.0.0.13']);

    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    for (const pid of [pids[0]!, pids[2]!]) assert.throws(() => process.kill(pid, 0), /ESRCH/);
  } finally {
    killGroup(child.pid!);
    await rm(dir, { recursive: true, force: true });
  }
});

/** Ends `rookery up` and every node it started, whatever state the test left them in. */
function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, message: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(message());
    await new Promise((r) => setTimeout(r, 100));
  }
}
