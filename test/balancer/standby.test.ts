/**
 * Redundant traffic managers on one machine, as real `rookery lb`
 * processes: the standby heartbeats the active; when the active is killed
 * with SIGKILL it binds the virtual ports within 5 seconds and clients
 * carry on. Also the command's one-line errors, `lb ping` and
 * `lb keepalived-config`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../helpers/clients.js';
import { tempDir } from '../helpers/temp.js';
import { backendOf, fakeServer, freeBase, greet, randomLoopback, waitFor } from './helpers.js';

const lbMain = fileURLToPath(new URL('./lb-main.js', import.meta.url));
const env = { ...process.env, ROOKERY_LOG_LEVEL: process.env.ROOKERY_LOG_LEVEL ?? 'silent' };

interface LbProcess { child: ChildProcess; out: () => string; exited: Promise<number | null> }

async function startLb(args: string[], readyText: string): Promise<LbProcess> {
  const child = spawn(process.execPath, [lbMain, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await waitFor(() => {
    if (child.exitCode !== null) throw new Error(`rookery lb exited ${child.exitCode}: ${err}`);
    return out.includes(readyText);
  }, 15000, `rookery lb did not print "${readyText}": ${err}`);
  return { child, out: () => out, exited };
}

test('the standby takes the virtual ports within 5 s of the active being killed', async () => {
  const dir = await tempDir('rookery-lb-standby-');
  const host = randomLoopback();
  const backend = await fakeServer('smtp', { name: 'mx1', host });
  const conf = join(dir, 'lb.conf');
  await writeFile(conf, `server mx1 ${host}\npool mail\n  add mx1 smtp/1:${backend.port}\nend\n`);
  const vip = randomLoopback();
  const base = await freeBase(vip, [25, 694]);
  const common = ['--store', join(dir, 'store'), '--address', vip, '--port-base', String(base), '--services', 'smtp', '--config', conf];
  const procs: LbProcess[] = [];
  try {
    const active = await startLb([...common, '--name', 'lb-a'], 'active:');
    procs.push(active);
    const standby = await startLb([...common, '--name', 'lb-b', '--standby-of', `${vip}:${base + 694}`, '--heartbeat-delay-ms', '500', '--max-lost-heartbeats', '4'], 'standing by');
    procs.push(standby);
    assert.equal(backendOf((await greet(vip, base + 25)).greeting), 'mx1');

    const ping = await run(process.execPath, [lbMain, 'ping', `${vip}:${base + 694}`]);
    assert.equal(ping.code, 0, ping.stderr);

    // Quiet for a while: the standby hears the active and stays put.
    await new Promise((r) => setTimeout(r, 2500));
    assert.doesNotMatch(standby.out(), /took over/);

    active.child.kill('SIGKILL');
    await active.exited;
    const killedAt = Date.now();
    await waitFor(async () => {
      try { return backendOf((await greet(vip, base + 25)).greeting) === 'mx1'; } catch { return false; }
    }, 5000, 'the standby did not take over');
    assert.ok(Date.now() - killedAt <= 5000, `took ${Date.now() - killedAt} ms`);
    assert.match(standby.out(), /lb lb-b: took over; serving smtp /);
    // The new active answers heartbeats now.
    assert.equal((await run(process.execPath, [lbMain, 'ping', `${vip}:${base + 694}`])).code, 0);

    standby.child.kill('SIGTERM');
    assert.equal(await standby.exited, 0, 'a clean stop exits 0');
  } finally {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await backend.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('mistakes are one line and exit 2; ping of nobody exits 1', async () => {
  const dir = await tempDir('rookery-lb-cli-');
  try {
    const conf = join(dir, 'bad.conf');
    await writeFile(conf, 'server a 127.0.0.1\npool p\n  add a smtp/1 imap4/x\nend\n');
    const cases: [string[], RegExp][] = [
      [['--config', conf, '--store', dir], /^rookery: .*bad\.conf line 3: "imap4\/x" is not SERVICE\/WEIGHT or SERVICE\/WEIGHT:PORT\n$/],
      [['--config', join(dir, 'missing.conf'), '--store', dir], /^rookery: cannot read the configuration file .*missing\.conf: no such file\n$/],
      [['--services', 'smtp,gopher', '--store', dir], /^rookery: unknown service "gopher"; services: smtp, submission, submissions/],
      [['--standby-of', 'nowhere', '--store', dir], /^rookery: --standby-of takes ADDRESS:PORT/],
      [['--port-base', '65000', '--store', dir], /^rookery: --port-base must be a whole number from 0 to /],
      [['--scheduler', 'random', '--store', dir], /^rookery: --scheduler must be round-robin or least-connections/],
      [['keepalived-config', '--address', '192.0.2.10'], /^rookery: give the virtual address and the interface/],
    ];
    for (const [args, message] of cases) {
      const r = await run(process.execPath, [lbMain, ...args], { env });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const host = randomLoopback();
    const port = await freeBase(host, [0]);
    const ping = await run(process.execPath, [lbMain, 'ping', `${host}:${port}`, '--timeout-ms', '300'], { env });
    assert.equal(ping.code, 1);
    assert.match(ping.stderr, /^rookery: no active traffic manager answered at .* within 300 ms\n$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('keepalived-config prints a VRRP instance for the virtual address with the heartbeat check', async () => {
  const r = await run(process.execPath, [lbMain, 'keepalived-config', '--address', '192.0.2.10', '--interface', 'eth0', '--state', 'master',
    '--peer', '192.0.2.12', '--auth-pass', 's3cret', '--port-base', '10000'], { env });
  assert.equal(r.code, 0, r.stderr);
  const conf = r.stdout;
  assert.match(conf, /vrrp_instance rookery_lb \{\n    state MASTER\n    interface eth0\n    virtual_router_id 51\n    priority 150\n/);
  assert.match(conf, /virtual_ipaddress \{\n        192\.0\.2\.10\/32 dev eth0\n    \}/);
  assert.match(conf, /unicast_peer \{\n        192\.0\.2\.12\n    \}/);
  assert.match(conf, /auth_pass s3cret/);
  assert.match(conf, /script ".* lb ping 127\.0\.0\.1:10694"/);
  assert.match(conf, /track_script \{\n        chk_rookery_lb\n    \}/);
  // Braces balance: keepalived would refuse the file otherwise.
  assert.equal((conf.match(/\{/g) ?? []).length, (conf.match(/\}/g) ?? []).length);
});
