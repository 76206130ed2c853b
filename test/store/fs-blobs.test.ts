/**
 * The blob files themselves (src/store/fs/fs-blobs.ts): a writer keeps a
 * small message in memory and writes it once at commit, and streams a big
 * one to its temporary file as it comes; either way the file holds exactly
 * the bytes, under their SHA-256, and nothing is left in tmp/ after a
 * commit or an abort. Files are written and put in place by blob-file
 * threads: many writers at once, a failure on the thread, and a process
 * that must not be held open by them. The free-space reading SMTP asks for
 * at every MAIL FROM is taken at most once a second.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FsBlobs } from '../../src/store/fs/fs-blobs.js';
import { blobFileThreadCount, stopBlobFileThreads } from '../../src/store/fs/blob-file-threads.js';
import { isStoreError } from '../../src/store/errors.js';
import { run } from '../helpers/clients.js';
import { tempDir } from '../helpers/temp.js';

/** Runs fn with a blob store in a fresh directory, removed afterwards. */
async function withBlobs(fn: (blobs: FsBlobs, dir: string) => Promise<void>): Promise<void> {
  const dir = await tempDir('rookery-blobs-');
  try {
    const blobs = new FsBlobs(dir);
    await blobs.init();
    await fn(blobs, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function written(blobs: FsBlobs, chunks: Buffer[]): Promise<{ id: string; size: number }> {
  const w = blobs.createWriter();
  for (const c of chunks) await w.write(c);
  return w.commit();
}

test('small, empty and big messages are written whole under their hash; tmp/ is empty after commits and aborts', async () => {
  await withBlobs(async (blobs, dir) => {
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
  });
});

test('free space: one reading answers for a second, then a new one is taken', async () => {
  await withBlobs(async (blobs) => {
    const first = blobs.freeBytes();
    assert.equal(blobs.freeBytes(), first, 'asked again within the second: the same reading');
    assert.ok((await first) > 0);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const later = blobs.freeBytes();
    assert.notEqual(later, first, 'a second later: a new reading');
    assert.ok((await later) > 0);
  });
});

test('blob-file threads: 200 writers at once, every file whole, at most four threads', async () => {
  await withBlobs(async (blobs, dir) => {
    const contents = Array.from({ length: 200 }, (_, i) => Buffer.concat([Buffer.from(`Subject: ${i}\r\n\r\n`), randomBytes(i * 97)]));
    // Some written in several chunks, some of them twice at once (the same blob).
    const blobsWritten = await Promise.all([...contents, ...contents.slice(0, 20)].map((c, i) => written(blobs, i % 3 ? [c] : [c.subarray(0, 10), c.subarray(10)])));
    for (const [i, blob] of blobsWritten.entries()) {
      const data = contents[i % 200]!;
      assert.equal(blob.id, createHash('sha256').update(data).digest('hex'));
      assert.ok((await readFile(blobs.pathOf(blob.id as never))).equals(data));
    }
    const count = blobFileThreadCount();
    assert.ok(count >= 1 && count <= 4, `${count} blob-file threads`);
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
  });
});

test('blob-file threads that die under load: the writes they held fail as store errors, none hangs, and the next writes work', async () => {
  await withBlobs(async (blobs) => {
    const contents = Array.from({ length: 60 }, (_, i) => Buffer.from(`Subject: ${i}\r\n\r\n${'x'.repeat(i * 50)}\r\n`));
    await stopBlobFileThreads(); // from none: the threads this test starts are busy starting when they are stopped
    const writes = contents.map((c) => written(blobs, [c]).then((b) => ({ ok: true as const, id: b.id }), (err: unknown) => ({ ok: false as const, err })));
    while (blobFileThreadCount() === 0) await new Promise((resolve) => setImmediate(resolve));
    await stopBlobFileThreads();
    const outcomes = await Promise.all(writes);
    assert.ok(outcomes.some((o) => !o.ok), 'some writes were in flight when their thread stopped');
    for (const o of outcomes) {
      if (o.ok) continue;
      assert.ok(isStoreError(o.err, 'unavailable'), String(o.err));
      assert.match((o.err as Error).message, /blob-file thread stopped/);
    }
    // Those answered yes are whole; every one can be written (again) now.
    for (const [i, o] of outcomes.entries()) if (o.ok) assert.ok((await readFile(blobs.pathOf(o.id as never))).equals(contents[i]!));
    for (const c of contents) assert.ok((await readFile(blobs.pathOf((await written(blobs, [c])).id as never))).equals(c));
  });
});

test('a file that cannot be put in place: a store error with the reason, no temporary file left, and the next write works', async () => {
  await withBlobs(async (blobs, dir) => {
    const content = Buffer.from('Subject: blocked\r\n\r\nA file stands where its directory should be.\r\n');
    const id = createHash('sha256').update(content).digest('hex');
    await mkdir(join(dir, id.slice(0, 2)), { recursive: true });
    await writeFile(join(dir, id.slice(0, 2), id.slice(2, 4)), 'not a directory');
    await assert.rejects(written(blobs, [content]), (err: unknown) => isStoreError(err, 'unavailable') && /writing a message: .*(EEXIST|ENOTDIR)/.test((err as Error).message));
    assert.deepEqual(await readdir(join(dir, 'tmp')), [], 'the temporary file went');
    const other = await written(blobs, [Buffer.from('Subject: fine\r\n\r\n')]);
    assert.ok((await readFile(blobs.pathOf(other.id as never))).toString().startsWith('Subject: fine'));
  });
});

test('blob-file threads do not hold a process open', async () => {
  const dir = await tempDir('rookery-blobs-');
  try {
    const module = fileURLToPath(new URL('../../src/store/fs/fs-blobs.js', import.meta.url));
    const script = `const { FsBlobs } = await import(${JSON.stringify(module)});
      const blobs = new FsBlobs(${JSON.stringify(dir)}); await blobs.init();
      const w = blobs.createWriter(); await w.write(Buffer.from('Subject: one\\r\\n\\r\\n')); console.log((await w.commit()).id);`;
    const started = Date.now();
    // The threads stay 30 s after their last work in a live process; this one must end at once.
    const r = await run(process.execPath, ['--input-type=module', '-e', script], { timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), /^[0-9a-f]{64}$/);
    assert.ok(Date.now() - started < 15_000, 'the process ended without waiting for its threads');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
