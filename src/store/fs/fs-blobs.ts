/**
 * Message bodies as immutable, content-addressed files under one directory
 * (local disk or a shared mount). A blob is written to tmp/, fsynced, renamed
 * to blobs/ab/cd/<sha256>, and the directory fsynced, so once commit()
 * resolves the bytes survive a crash and a power cut. Identical content is
 * stored once and shared by every message that has it.
 *
 * Collection (src/store/blob-gc.ts) moves a blob nothing refers to into
 * trash/ before deleting it. A file's modification time is when it was last
 * written: a writer whose content is already there renames its own copy over
 * it all the same (same bytes, a fresh time), so a collection that looks at
 * the time after setting a blob aside either sees the reuse and puts the
 * blob back, or the reuser's copy went in after the move and serves.
 */
import { createHash, randomBytes } from 'node:crypto';
import { close, createReadStream, fsync, open, readFile as readFileCallback, writev } from 'node:fs';
import { mkdir, opendir, readdir, rename, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { StoreError, asStoreError } from '../errors.js';
import { installOnThread } from './blob-file-threads.js';
import type { BlobId, BlobWriter, Blobs } from '../types.js';

const blobIdPattern = /^[0-9a-f]{64}$/;
/** A temporary file untouched this long belongs to a writer that died. */
const staleTmpMs = 60 * 60 * 1000;
/**
 * A writer keeps the first bytes of a message in memory up to this size and
 * hands them whole at commit to a blob-file thread, which writes and installs
 * the file in one go: most mail is smaller. Past it, bytes go to the file as
 * they come, and only the install goes to the thread.
 */
const bufferedBytes = 256 * 1024;
/** How long one reading of the volume's free space answers freeBytes(). */
const freeBytesReuseMs = 1000;

// The callback forms on plain descriptors: each call is one trip to the
// thread pool without the FileHandle object and its bookkeeping, which
// shows at hundreds of messages a second.
const openFd = promisify(open);
const writevFd = promisify(writev);
const fsyncFd = promisify(fsync);
const closeFd = promisify(close);

async function fsyncDir(path: string): Promise<void> {
  const fd = await openFd(path, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    await closeFd(fd);
  }
}

/** Writes all of `chunks` at the descriptor's position (writev may write less than asked). */
async function writeAll(fd: number, chunks: Buffer[]): Promise<void> {
  let rest = chunks;
  while (rest.length > 0) {
    let written = (await writevFd(fd, rest)).bytesWritten;
    const left: Buffer[] = [];
    for (const chunk of rest) {
      if (written >= chunk.length) written -= chunk.length;
      else {
        left.push(written > 0 ? chunk.subarray(written) : chunk);
        written = 0;
      }
    }
    rest = left;
  }
}

export class FsBlobs implements Blobs {
  private readonly tmpDir: string;
  /** Leaf directories (ab/cd) this process made or found, and top ones (ab) whose entry it made durable. */
  private readonly madeDirs = new Set<string>();
  private readonly durableTops = new Set<string>();

  private readonly trashDir: string;
  /** trash/ exists (made once per process, on the first blob set aside). */
  private trashMade: Promise<void> | null = null;
  /** The last reading of the volume's free space (see freeBytes). */
  private freeReading: { at: number; bytes: Promise<number> } | null = null;

  constructor(private readonly root: string) {
    this.tmpDir = join(root, 'tmp');
    this.trashDir = join(root, 'trash');
  }

  /**
   * Creates the directories and sweeps temporary files left by a process
   * that died mid-write. Only old ones: another live process may be writing.
   */
  async init(): Promise<void> {
    await mkdir(this.tmpDir, { recursive: true });
    const cutoff = Date.now() - staleTmpMs;
    for (const name of await readdir(this.tmpDir)) {
      const path = join(this.tmpDir, name);
      const info = await stat(path).catch(() => null);
      if (info && info.mtimeMs < cutoff) await rm(path, { force: true }).catch(() => undefined);
    }
  }

  pathOf(id: BlobId): string {
    if (!blobIdPattern.test(id)) throw new StoreError('bad-parameters', `"${id}" is not a blob id`);
    return join(this.root, id.slice(0, 2), id.slice(2, 4), id);
  }

  createWriter(): BlobWriter {
    return new FsBlobWriter(this, join(this.tmpDir, `${Date.now()}-${randomBytes(8).toString('hex')}`));
  }

  async put(data: Buffer): Promise<{ id: BlobId; size: number }> {
    const writer = this.createWriter();
    await writer.write(data);
    return writer.commit();
  }

  async get(id: BlobId): Promise<Buffer> {
    try {
      // The callback readFile: about half the CPU of fs/promises' (no FileHandle per read),
      // which counts when FETCH or SEARCH reads thousands of small messages.
      return await new Promise<Buffer>((resolve, reject) => readFileCallback(this.pathOf(id), (err, data) => (err ? reject(err) : resolve(data))));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreError('not-found', `blob ${id} is missing`);
      throw asStoreError(err, 'reading a message');
    }
  }

  createReadStream(id: BlobId, range?: { start: number; end: number }): Readable {
    const path = this.pathOf(id);
    if (!range) return createReadStream(path);
    // fs ranges are inclusive and cannot be empty; an empty range is an ended stream.
    if (range.end <= range.start) return Readable.from([]);
    return createReadStream(path, { start: range.start, end: range.end - 1 });
  }

  /**
   * Free bytes on the blob volume. SMTP asks at every MAIL FROM; a reading
   * younger than freeBytesReuseMs answers them all (one statfs a second, not
   * one per message): the check keeps room for whole messages, and a disk
   * that fills within the second still fails the write, answered with a 4xx.
   */
  freeBytes(): Promise<number> {
    const now = Date.now();
    if (this.freeReading && now - this.freeReading.at < freeBytesReuseMs) return this.freeReading.bytes;
    const bytes = statfs(this.root).then((s) => s.bavail * s.bsize);
    this.freeReading = { at: now, bytes };
    bytes.catch(() => { if (this.freeReading?.bytes === bytes) this.freeReading = null; });
    return bytes;
  }

  /**
   * Puts a temporary file in place under its id, on a blob-file thread:
   * written there from `data` (a small message, whole), or already written,
   * fsynced and closed by the writer (a big one, streamed).
   */
  async install(tmpPath: string, id: BlobId, data?: ArrayBuffer): Promise<void> {
    const target = this.pathOf(id);
    const dir = join(target, '..');
    // A new directory's entries must be durable too, or the blob can vanish
    // with them: ab/'s entry for cd, and the root's entry for ab/ once per
    // process (whoever made ab/, it is durable after that fsync).
    const top = join(dir, '..');
    const makeDir = this.madeDirs.has(dir) ? undefined : { dir, fsync: this.durableTops.has(top) ? [top] : [top, join(top, '..')] };
    // Over any file of the same content too: no stat first (a failed call for
    // every new message), and the fresh time is what tells a collection that
    // the content is in use again.
    await installOnThread({ tmpPath, target, ...(data ? { data } : {}), ...(makeDir ? { makeDir } : {}) });
    if (makeDir) {
      this.madeDirs.add(dir);
      this.durableTops.add(top);
    }
  }

  async *listIdleSince(cutoff: Date): AsyncIterable<{ id: BlobId; size: number }> {
    const hex2 = /^[0-9a-f]{2}$/;
    for (const top of (await readdir(this.root)).filter((n) => hex2.test(n)).sort()) {
      for (const leaf of (await readdir(join(this.root, top)).catch(() => [] as string[])).filter((n) => hex2.test(n)).sort()) {
        const dir = join(this.root, top, leaf);
        const handle = await opendir(dir).catch(() => null);
        if (!handle) continue;
        for await (const entry of handle) {
          if (!entry.isFile() || !blobIdPattern.test(entry.name)) continue;
          const info = await stat(join(dir, entry.name)).catch(() => null);
          if (info && info.mtimeMs < cutoff.getTime()) yield { id: entry.name as BlobId, size: info.size };
        }
      }
    }
  }

  async setAside(id: BlobId, cutoff: Date): Promise<'set-aside' | 'reused' | 'gone'> {
    const target = this.pathOf(id);
    const aside = join(this.trashDir, id);
    await (this.trashMade ??= mkdir(this.trashDir, { recursive: true }).then(() => undefined, (err: unknown) => {
      this.trashMade = null; // tried again next time
      throw asStoreError(err, 'setting a blob aside');
    }));
    try {
      await rename(target, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
      throw asStoreError(err, 'setting a blob aside');
    }
    // Looked at after the move, on the same file: a reuse before the move shows here.
    const info = await stat(aside);
    if (info.mtimeMs >= cutoff.getTime()) {
      await this.restore(id);
      return 'reused';
    }
    return 'set-aside';
  }

  async restore(id: BlobId): Promise<void> {
    const target = this.pathOf(id);
    const aside = join(this.trashDir, id);
    if (await stat(target).then(() => true, () => false)) {
      // A writer put the same content back meanwhile: that copy serves.
      await rm(aside, { force: true });
      return;
    }
    await mkdir(join(target, '..'), { recursive: true });
    await rename(aside, target);
    await fsyncDir(join(target, '..'));
  }

  async discard(id: BlobId): Promise<void> {
    await rm(join(this.trashDir, id), { force: true });
  }

  async restoreAllSetAside(): Promise<number> {
    const names = await readdir(this.trashDir).catch(() => [] as string[]);
    let restored = 0;
    for (const name of names) {
      if (!blobIdPattern.test(name)) continue;
      await this.restore(name as BlobId);
      restored++;
    }
    return restored;
  }
}

class FsBlobWriter implements BlobWriter {
  private readonly hash = createHash('sha256');
  private size = 0;
  /** Bytes not yet written to the file. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The temporary file, once opened (at commit, or when the message outgrows the buffer). */
  private fd: Promise<number> | null = null;
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  private done = false;

  constructor(private readonly blobs: FsBlobs, private readonly tmpPath: string) {}

  write(chunk: Buffer): Promise<void> {
    if (this.done || chunk.length === 0) return Promise.resolve();
    this.hash.update(chunk);
    this.size += chunk.length;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes < bufferedBytes) return Promise.resolve();
    return this.flush();
  }

  /** Writes what is pending, after any write already under way. */
  private flush(): Promise<void> {
    const chunks = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    const fd = (this.fd ??= openFd(this.tmpPath, 'wx', 0o640));
    this.chain = this.chain.then(async () => {
      if (this.failure) return;
      try {
        await writeAll(await fd, chunks);
      } catch (err) {
        this.failure = err;
      }
    });
    return this.chain;
  }

  async commit(): Promise<{ id: BlobId; size: number }> {
    if (this.done) throw new StoreError('bad-parameters', 'this blob was already committed or aborted');
    this.done = true;
    try {
      if (this.fd === null) {
        // All in memory: the blob-file thread writes the file and puts it in place in one go.
        const id = this.hash.digest('hex') as BlobId;
        await this.blobs.install(this.tmpPath, id, this.wholeContent());
        return { id, size: this.size };
      }
      await this.flush();
      const fd = await this.fd!;
      try {
        if (this.failure) throw this.failure;
        await fsyncFd(fd);
      } finally {
        await closeFd(fd);
      }
      const id = this.hash.digest('hex') as BlobId;
      await this.blobs.install(this.tmpPath, id);
      return { id, size: this.size };
    } catch (err) {
      await rm(this.tmpPath, { force: true }).catch(() => undefined);
      throw asStoreError(err, 'writing a message');
    }
  }

  /** The pending bytes in one buffer of their own (not from Node's shared pool, and not zeroed first), to be transferred to the blob-file thread. */
  private wholeContent(): ArrayBuffer {
    const whole = Buffer.allocUnsafeSlow(this.pendingBytes);
    let at = 0;
    for (const chunk of this.pending) {
      whole.set(chunk, at);
      at += chunk.length;
    }
    this.pending = [];
    this.pendingBytes = 0;
    return whole.buffer as ArrayBuffer;
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.pending = [];
    await this.chain;
    if (this.fd) {
      await this.fd.then((fd) => closeFd(fd)).catch(() => undefined);
      await rm(this.tmpPath, { force: true }).catch(() => undefined);
    }
  }
}
