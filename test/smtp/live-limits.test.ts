/**
 * Limits changed while a node runs (`rookery config set`) apply at once to
 * new sessions, without a restart: the SIZE a node announces in EHLO, the
 * recipients it takes in one transaction. The queue worker's limits say
 * they wait for the next start. Checked with Python's smtplib against a
 * node process on the embedded store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { python } from '../helpers/clients.js';
import { rookery } from '../helpers/cli.js';
import { startNodeProcess, stopNodeProcess, type NodeProcess } from '../helpers/node-process.js';
import { freePortBase } from '../helpers/ports.js';
import { tempDir } from '../helpers/temp.js';

/** EHLO's SIZE and how many of three recipients one transaction takes, as smtplib sees them. */
const probe = `
import smtplib, sys, json
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=10)
s.ehlo('client.test')
size = s.esmtp_features.get('size')
s.mail('sender@remote.test')
codes = [s.rcpt(f'r{i}@example.test')[0] for i in range(3)]
s.rset()
s.quit()
print(json.dumps({'size': size, 'rcpt': codes}))
`;

test('limits set while a node runs apply to its next sessions; the queue worker\'s wait for a restart', async () => {
  const dir = await tempDir('rookery-live-limits-');
  const s = ['--store', dir];
  let node: NodeProcess | null = null;
  try {
    assert.equal((await rookery(['domain', 'add', 'example.test', ...s])).code, 0);
    for (let i = 0; i < 3; i++) assert.equal((await rookery(['user', 'add', `r${i}@example.test`, '--password', 'pw', ...s])).code, 0);
    const base = await freePortBase();
    node = await startNodeProcess([...s, '--name', 'n1', '--address', '127.0.0.1', '--port-base', String(base), '--services', 'smtp']);
    const smtp = String(base + 25);
    const look = async () => JSON.parse(await python(probe, [smtp])) as { size: string; rcpt: number[] };
    assert.deepEqual(await look(), { size: String(25 * 1024 * 1024), rcpt: [250, 250, 250] });

    const set = await rookery(['config', 'set', 'limits.maxMessageBytes', '1000000', ...s]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /running nodes apply it at once/);
    assert.equal((await rookery(['config', 'set', 'limits.maxRecipients', '2', ...s])).code, 0);
    const deadline = Date.now() + 10_000;
    let seen = await look();
    while (seen.size !== '1000000' || seen.rcpt[2] === 250) {
      assert.ok(Date.now() < deadline, `the node still answers ${JSON.stringify(seen)} 10 s after the change`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      seen = await look();
    }
    assert.deepEqual(seen, { size: '1000000', rcpt: [250, 250, 452] }, 'SIZE 1000000, and the third recipient 452 4.5.3');

    // Put back: the defaults again, without a restart.
    assert.equal((await rookery(['config', 'reset', 'limits.maxMessageBytes', ...s])).code, 0);
    assert.equal((await rookery(['config', 'reset', 'limits.maxRecipients', ...s])).code, 0);
    for (seen = await look(); seen.rcpt[2] !== 250 || seen.size !== String(25 * 1024 * 1024); seen = await look()) {
      assert.ok(Date.now() < deadline + 10_000, `still ${JSON.stringify(seen)} after the reset`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const queue = await rookery(['config', 'set', 'limits.queueLeaseMs', '30000', ...s]);
    assert.match(queue.stdout, /nodes apply it when they next start/);
  } finally {
    if (node) await stopNodeProcess(node);
    await rm(dir, { recursive: true, force: true });
  }
});
