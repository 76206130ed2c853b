/**
 * Several processes (nodes, the CLI) open one embedded store at once:
 * three writers delivering into one mailbox get distinct UIDs, and every
 * message and byte of quota is accounted for.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { run } from '../helpers/clients.js';
import { tempDir } from '../helpers/temp.js';
import { openStore } from '../../src/store/open.js';

const worker = fileURLToPath(new URL('./fixtures/deliver-worker.js', import.meta.url));

test('three processes delivering to one mailbox at once: unique UIDs, nothing lost', async () => {
  const dir = await tempDir('rookery-mp-');
  try {
    const store = await openStore(dir);
    await store.directory.addDomain('example.test');
    await store.directory.addUser({ address: 'shared@example.test', password: 'x' });
    const perWorker = 60;
    const results = await Promise.all(['a', 'b', 'c'].map((tag) =>
      run(process.execPath, [worker, dir, String(perWorker), 'shared@example.test', tag], { timeoutMs: 60000 })));
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const user = (await store.directory.getUser('shared@example.test'))!;
    const inbox = (await store.mail.getMailbox(user.id, 'INBOX'))!;
    const messages = await store.mail.listMessages(inbox.id);
    assert.equal(messages.length, 3 * perWorker);
    assert.deepEqual(messages.map((m) => m.uid), Array.from({ length: 3 * perWorker }, (_, i) => i + 1));
    assert.equal(new Set(messages.map((m) => m.modSeq)).size, messages.length, 'every change has its own modseq');
    assert.equal(inbox.uidNext, 3 * perWorker + 1);
    assert.equal(user.usedBytes, messages.reduce((n, m) => n + m.size, 0));
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
