/**
 * Principle 1: a node killed at any instant loses nothing it acknowledged.
 * 200 messages go to a node over 5 connections; the node is SIGKILLed
 * while they flow; after a restart every acknowledged message is in the
 * INBOX exactly once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import nodemailer from 'nodemailer';
import { rookery } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';
import { freePortBase } from '../helpers/ports.js';
import { startNodeProcess, stopNodeProcess, type NodeProcess } from '../helpers/node-process.js';
import { openStore } from '../../src/store/open.js';

const total = 200;
const killAfterAcks = 70;

test('SIGKILL in the middle of 200 deliveries loses no acknowledged message and duplicates none', async () => {
  const dir = await tempDir('rookery-kill-');
  let node: NodeProcess | null = null;
  try {
    await rookery(['domain', 'add', 'example.test', '--store', dir]);
    await rookery(['user', 'add', 'rcpt@example.test', '--password', 'pw', '--store', dir]);
    const base = await freePortBase();
    const nodeArgs = ['--store', dir, '--address', '127.0.0.1', '--port-base', String(base), '--services', 'smtp', '--name', 'victim'];
    node = await startNodeProcess(nodeArgs);
    const victim = node;

    const transport = nodemailer.createTransport({
      host: '127.0.0.1', port: base + 25, secure: false, ignoreTLS: true, pool: true, maxConnections: 5, maxMessages: Infinity,
      connectionTimeout: 5000, socketTimeout: 5000,
    });
    const acked = new Set<string>();
    let failed = 0;
    const sends = Array.from({ length: total }, (_, i) => {
      const id = `msg-${i}`;
      return transport.sendMail({
        from: 'sender@remote.test',
        to: 'rcpt@example.test',
        subject: id,
        messageId: `<${id}@remote.test>`,
        text: `body of ${id}\n`.repeat(50),
      }).then(() => {
        acked.add(id);
        if (acked.size === killAfterAcks) victim.child.kill('SIGKILL');
      }, () => {
        failed++;
      });
    });
    await Promise.all(sends);
    transport.close();
    await victim.exited;
    assert.ok(acked.size >= killAfterAcks, `at least ${killAfterAcks} acknowledged before the kill`);
    assert.ok(failed > 0, 'the kill interrupted some deliveries');

    // Restart on the same store: it must come up cleanly after the crash.
    node = await startNodeProcess(nodeArgs);
    await stopNodeProcess(node);
    node = null;

    const store = await openStore(dir);
    try {
      const user = (await store.directory.getUser('rcpt@example.test'))!;
      const inbox = (await store.mail.getMailbox(user.id, 'INBOX'))!;
      const messages = await store.mail.listMessages(inbox.id);
      const counts = new Map<string, number>();
      let bytes = 0;
      for (const m of messages) {
        const text = (await store.blobs.get(m.blobId)).toString('utf8');
        const id = /^Subject: (msg-\d+)\r$/m.exec(text)?.[1];
        assert.ok(id, 'every stored message is one of ours and readable');
        counts.set(id, (counts.get(id) ?? 0) + 1);
        bytes += m.size;
      }
      for (const id of acked) assert.equal(counts.get(id), 1, `${id} was acknowledged and must be stored exactly once`);
      for (const [id, n] of counts) assert.equal(n, 1, `${id} stored ${n} times`);
      assert.equal((await store.directory.getUser('rcpt@example.test'))!.usedBytes, bytes, 'quota usage matches what is stored');
    } finally {
      await store.close();
    }
  } finally {
    if (node) await stopNodeProcess(node);
    await rm(dir, { recursive: true, force: true });
  }
});
