/**
 * The blob files themselves (src/store/fs/fs-blobs.ts): a writer keeps a
 * small message in memory and writes it once at commit, and streams a big
 * one to its temporary file as it comes; either way the file holds exactly
 * the bytes, under their SHA-256, and nothing is left in tmp/ after a
 * commit or an abort. The free-space reading SMTP asks for at every MAIL
 * FROM is taken at most once a second.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { FsBlobs } from '../../src/store/fs/fs-blobs.js';
import { tempDir } from '../helpers/temp.js';

async function written(blobs: FsBlobs, chunks: Buffer[]): Promise<{ id: string; size: number }> {
  const w = blobs.createWriter();
  for (const c of chunks) await w.write(c);
  return w.commit();
}

test('small, empty and big messages are written whole under their hash; tmp/ is empty after commits and aborts', async () => {
  const dir = await tempDir('rookery-blobs-');
  try {
    const blobs = new FsBlobs(dir);
    await blobs.init();
    const small = [Buffer.from('Subject: small\r\n\r\n'), randomBytes(4000)];
    // 3 MB in 64 KB chunks: past the in-memory part, so most of it streams to the file.
    const big = Array.from({ length: 48 }, () => randomBytes(64 * 1024));
    for (const chunks of [small, [], big, [Buffer.alloc(0), Buffer.from('x')]]) {
      const data = Buffer.concat(chunks);
      const blob = await written(blobs, chunks);
      assert.equal(blob.id, createHash('sha256').update(data).digest('hex'));
      assert.equal(blob.size, data.length);
      assert.ok((await readFile(blobs.pathOf(blob.id as never))).equals(data), `the file holds the ${data.length} bytes`);
    }
    // The same content again: the same blob, its file replaced by the new copy (the
    // fresh time is what tells a blob collection that the content is in use again).
    const smallPath = blobs.pathOf(createHash('sha256').update(Buffer.concat(small)).digest('hex') as never);
    await utimes(smallPath, new Date(0), new Date(0));
    assert.equal((await written(blobs, small)).id, createHash('sha256').update(Buffer.concat(small)).digest('hex'));
    assert.ok((await stat(smallPath)).mtimeMs > Date.now() - 60_000, 'the file is the new copy, with a fresh time');
    assert.ok((await readFile(smallPath)).equals(Buffer.concat(small)));

    // Aborted before and after the in-memory part filled up.
    for (const chunks of [small, big]) {
      const w = blobs.createWriter();
      for (const c of chunks) await w.write(c);
      await w.abort();
    }
    assert.deepEqual(await readdir(join(dir, 'tmp')), [], 'no temporary file is left behind');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('free space: one reading answers for a second, then a new one is taken', async () => {
  const dir = await tempDir('rookery-blobs-');
  try {
    const blobs = new FsBlobs(dir);
    await blobs.init();
    const first = blobs.freeBytes();
    assert.equal(blobs.freeBytes(), first, 'asked again within the second: the same reading');
    assert.ok((await first) > 0);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const later = blobs.freeBytes();
    assert.notEqual(later, first, 'a second later: a new reading');
    assert.ok((await later) > 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
