/**
 * The node that queued a message is killed with SIGKILL in the middle of
 * delivering it: another node takes the recipient over once the lease has
 * lapsed and delivers it. At least once: the sink may see it twice, never
 * zero times.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { openStore } from '../../src/store/open.js';
import { addTransport } from '../../src/outbound/transport-map.js';
import { tempDir } from '../helpers/temp.js';
import { freePortBase } from '../helpers/ports.js';
import { startNodeProcess, stopNodeProcess, type NodeProcess } from '../helpers/node-process.js';
import { Sink, randomLoopback } from './sink.js';

test('a node killed mid-delivery leaves its recipient to another node after the lease lapses', async () => {
  const dir = await tempDir('rookery-outbound-kill-');
  const store = await openStore(dir);
  const sink = new Sink(randomLoopback());
  const children: NodeProcess[] = [];
  try {
    await sink.start();
    sink.dataDelayMs = 4000;
    await store.settings.set('limits.queuePollMs', '100');
    await store.settings.set('limits.queueLeaseMs', '1500');
    await store.settings.set('limits.queueFirstRetryMs', '300');
    await addTransport(store.settings, 'far.test', `${sink.host}:${sink.port}`);

    const start = async (name: string) => {
      const address = randomLoopback();
      const node = await startNodeProcess(['--store', dir, '--name', name, '--address', address, '--port-base', String(await freePortBase(address)), '--services', 'smtp']);
      children.push(node);
      return node;
    };
    const node1 = await start('node1');
    const blob = await store.blobs.put(Buffer.from('From: a@example.test\r\nTo: b@far.test\r\nSubject: survive\r\n\r\nkill me\r\n'));
    const id = await store.queue.enqueue({ sender: 'a@example.test', blobId: blob.id, size: blob.size, recipients: ['b@far.test'], origin: 'node1' });

    // node1 claims it and is in the middle of DATA (the sink answers after 4 s).
    for (let i = 0; ; i++) {
      const m = await store.queue.get(id);
      if (m?.recipients[0]?.leaseOwner?.startsWith('node1:') && sink.connections > 0) break;
      if (i > 200) throw new Error('node1 never started delivering');
      await sleep(50);
    }
    await sleep(500);
    node1.child.kill('SIGKILL');
    await node1.exited;
    sink.dataDelayMs = 0;

    const killedAt = Date.now();
    await start('node2');
    for (let i = 0; ; i++) {
      if ((await store.queue.get(id)) === null) break;
      if (i > 300) throw new Error(`not delivered after the kill: ${JSON.stringify(await store.queue.get(id))}`);
      await sleep(50);
    }
    await sleep(4500); // let the killed node's half-done transaction finish at the sink, if it does
    const copies = sink.received.filter((r) => r.to.includes('b@far.test'));
    assert.ok(copies.length >= 1 && copies.length <= 2, `delivered ${copies.length} times`);
    assert.ok(copies.some((c) => /kill me/.test(c.data.toString())));
    assert.ok(Date.now() - killedAt >= 1000, 'taken over only after the lease lapsed');
    assert.deepEqual(await store.queue.list(), []);
  } finally {
    for (const c of children) await stopNodeProcess(c);
    await sink.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
