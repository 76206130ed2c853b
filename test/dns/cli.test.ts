/**
 * The `rookery dns` command: the zone export loads in BIND's
 * named-checkzone, node sets and settings change it, mistakes are one line,
 * and `rookery dns` serves dig on base+53 until SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../../src/store/open.js';
import { rookery, rookeryBin } from '../helpers/cli.js';
import { run } from '../helpers/clients.js';
import { tempDir } from '../helpers/temp.js';
import { data, dig, nodeRegistration } from './harness.js';

async function checkZone(dir: string, domain: string, text: string) {
  const file = join(dir, `${domain}.zone`);
  await writeFile(file, text);
  return run('named-checkzone', [domain, file], { timeoutMs: 10000 });
}

/** A port base whose base+53 is free on 127.0.0.1 for both TCP and UDP. */
async function freeDnsBase(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 40000);
    const tcpFree = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(base + 53, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const s = createSocket('udp4');
      s.once('error', () => { s.close(); resolve(false); });
      s.bind(base + 53, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (tcpFree && udpFree) return base;
  }
  throw new Error('no free DNS port found');
}

describe('rookery dns', () => {
  let dir: string;
  const store = () => ['--store', dir];

  before(async () => {
    dir = await tempDir('rookery-dns-cli-');
    const s = await openStore(dir);
    await s.directory.addDomain('example.test');
    await s.directory.addDomain('big.test');
    await s.cluster.register(nodeRegistration('node1', '127.0.0.11'));
    await s.cluster.register(nodeRegistration('node2', '127.0.0.12'));
    await s.close();
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('refuses to export a zone whose name server has no address, in one line', async () => {
    const r = await rookery(['dns', 'zone', 'example.test', ...store()]);
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /no address is known for the name server ns1\.example\.test.*dns\.ns\.addresses/);
  });

  it('exports a zone that named-checkzone loads, with a serial that moves only with the records', async () => {
    assert.equal((await rookery(['dns', 'set', 'dns.ns.addresses', '127.0.0.1', ...store()])).code, 0);
    const first = await rookery(['dns', 'zone', 'EXAMPLE.test.', ...store()]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^\$ORIGIN example\.test\.$/m);
    assert.match(first.stdout, /^\$TTL 60$/m);
    assert.match(first.stdout, /^@\s+IN MX\s+10 node1\.example\.test\.$/m);
    const check = await checkZone(dir, 'example.test', first.stdout);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    const serial = /loaded serial (\d+)/.exec(check.stdout)![1]!;
    assert.match(serial, /^\d{10}$/);

    const again = await checkZone(dir, 'example.test', (await rookery(['dns', 'zone', 'example.test', ...store()])).stdout);
    assert.equal(/loaded serial (\d+)/.exec(again.stdout)![1], serial, 'same records, same serial');

    assert.equal((await rookery(['dns', 'set', 'dns.ttl', '30', ...store()])).code, 0);
    const changed = await rookery(['dns', 'zone', 'example.test', ...store()]);
    assert.match(changed.stdout, /^\$TTL 30$/m);
    const loaded = await checkZone(dir, 'example.test', changed.stdout);
    assert.equal(loaded.code, 0, loaded.stdout);
    assert.ok(Number(/loaded serial (\d+)/.exec(loaded.stdout)![1]) > Number(serial), 'the serial grew');
  });

  it('sets, shows and clears a domain\'s node set', async () => {
    const set = await rookery(['dns', 'nodes', 'big.test', 'node2,node9', ...store()]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /not registered \(yet\): node9/);
    const shown = JSON.parse((await rookery(['dns', 'nodes', 'big.test', '--json', ...store()])).stdout);
    assert.deepEqual(shown.nodeSet, ['node2', 'node9']);
    assert.deepEqual(shown.nodes.map((n: { name: string }) => n.name), ['node2']);
    const zone = await rookery(['dns', 'zone', 'big.test', ...store()]);
    assert.deepEqual(zone.stdout.split('\n').filter((l) => / IN MX /.test(l)).map((l) => l.split(/\s+/).at(-1)), ['node2.big.test.']);
    const other = await rookery(['dns', 'zone', 'example.test', ...store()]);
    assert.deepEqual(other.stdout.split('\n').filter((l) => / IN MX /.test(l)).map((l) => l.split(/\s+/).at(-1)), ['node1.example.test.'], 'node2 is reserved for big.test');
    assert.equal((await checkZone(dir, 'big.test', zone.stdout)).code, 0);
    const settings = await rookery(['dns', 'settings', ...store()]);
    assert.match(settings.stdout, /dns\.nodes\.big\.test\s+node2,node9/);
    assert.equal((await rookery(['dns', 'nodes', 'big.test', '--clear', ...store()])).code, 0);
    assert.equal(JSON.parse((await rookery(['dns', 'nodes', 'big.test', '--json', ...store()])).stdout).nodeSet, null);
  });

  it('says what is wrong in one line', async () => {
    const cases: [string[], RegExp][] = [
      [['dns', 'zone', 'nosuch.test'], /nosuch\.test is not a local domain/],
      [['dns', 'zone'], /missing argument/],
      [['dns', 'nodes', 'big.test', 'bad name!'], /"bad name!" is not a node name/],
      [['dns', 'set', 'dns.ttl', 'soon'], /"soon" is not a whole number/],
      [['dns', 'set', 'dns.bogus', '1'], /unknown DNS setting "dns\.bogus"/],
      [['dns', 'set', 'dns.serial.big.test', '1'], /kept by Rookery/],
      [['dns', 'frobnicate'], /unknown verb "frobnicate"/],
      [['dns', '--port-base', 'x'], /--port-base must be a whole number/],
    ];
    for (const [args, message] of cases) {
      const r = await rookery([...args, ...store()]);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, message, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });

  it('serves on base+53, UDP and TCP, and stops on SIGTERM', async () => {
    const base = await freeDnsBase();
    const child = spawn(process.execPath, [rookeryBin, 'dns', '--port-base', String(base), ...store()], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ROOKERY_LOG_LEVEL: 'warn' },
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      let out = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`rookery dns did not start: ${out}`)), 10000);
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('UDP and TCP')) {
            clearTimeout(timer);
            resolve();
          }
        });
        void exited.then((code) => reject(new Error(`rookery dns exited with ${code}: ${out}`)));
      });
      assert.match(out, new RegExp(`on 127\\.0\\.0\\.1 port ${base + 53}`));
      assert.deepEqual(data(await dig(base + 53, 'example.test', 'MX')), ['10 node1.example.test.', '10 node2.example.test.']);
      assert.deepEqual(data(await dig(base + 53, 'node2.example.test', 'A', '+tcp')), ['127.0.0.12']);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
