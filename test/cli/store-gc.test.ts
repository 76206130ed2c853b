/**
 * `rookery store gc`: a dry run counts, a real run deletes the message
 * bodies nothing refers to and keeps the ones a mailbox holds; --last
 * tells what the nodes' own collections last did; bad options are a
 * one-line usage error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { rookery } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';
import { openStore } from '../../src/store/open.js';
import type { BlobId, Store } from '../../src/store/types.js';
import { collectionTurnSetting } from '../../src/upkeep/blob-collection.js';

test('rookery store gc deletes unreferenced message bodies, after a dry run that deletes nothing', async () => {
  const dir = await tempDir('rookery-gc-');
  const s = ['--store', dir];
  let store: Store | null = null;
  try {
    assert.equal((await rookery(['domain', 'add', 'example.org', ...s])).code, 0);
    assert.equal((await rookery(['user', 'add', 'me@example.org', '--password', 'secret', ...s])).code, 0);
    store = await openStore(dir);
    const user = (await store.directory.getUser('me@example.org'))!;
    const filed = await store.blobs.put(Buffer.from('Subject: filed\r\n\r\nkeep me\r\n'));
    await store.mail.deliver({ blobId: filed.id, size: filed.size, internalDate: new Date(), targets: [{ userId: user.id }], onOverQuota: 'fail' });
    const stray = await store.blobs.put(Buffer.from('Subject: stray\r\n\r\nnobody files me\r\n'));
    await store.close();
    store = null;
    const present = async (id: BlobId) => {
      const st = await openStore(dir);
      try {
        return await st.blobs.get(id).then(() => true, () => false);
      } finally {
        await st.close();
      }
    };

    const dry = await rookery(['store', 'gc', '--min-age-hours', '0', '--dry-run', ...s]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /2 blob\(s\) older than 0 h, 1 of them unreferenced; nothing deleted/);
    assert.ok(await present(stray.id));

    const young = await rookery(['store', 'gc', ...s]);
    assert.match(young.stdout, /^0 blob\(s\) older than 24 h; removed 0/, 'a day by default: fresh blobs stay');

    const real = await rookery(['store', 'gc', '--min-age-hours', '0', '--settle-seconds', '0', ...s]);
    assert.equal(real.code, 0, real.stderr);
    assert.match(real.stdout, /removed 1 unreferenced/);
    assert.deepEqual([await present(filed.id), await present(stray.id)], [true, false]);

    // What the nodes' own collections last did (src/upkeep/blob-collection.ts keeps it in the store).
    assert.match((await rookery(['store', 'gc', '--last', ...s])).stdout, /^no node has collected blobs yet/);
    const st = await openStore(dir);
    try {
      const result = { examined: 7, unreferenced: 3, removed: 3, removedBytes: 3 * 1_048_576, keptAfterAll: 0, restoredFromEarlierRun: 0 };
      await st.settings.set(collectionTurnSetting, JSON.stringify({ node: 'n2', startedAt: '2026-11-22T03:00:00.000Z', finishedAt: '2026-11-22T03:01:05.000Z', result }));
    } finally {
      await st.close();
    }
    const last = await rookery(['store', 'gc', '--last', ...s]);
    assert.equal(last.code, 0, last.stderr);
    assert.match(last.stdout, /^last collection: node n2, started 2026-11-22T03:00:00.000Z, finished 2026-11-22T03:01:05.000Z: 7 blob\(s\) older than 24 h; removed 3 unreferenced \(3.0 MB\)/);
    assert.equal((await rookery(['store', 'gc', '--last', '--dry-run', ...s])).code, 2, '--last takes no other option');

    const bad = await rookery(['store', 'gc', '--min-age-hours', 'soon', ...s]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--min-age-hours must be a whole number/);
  } finally {
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  }
});
