/**
 * A blob-file thread (see blob-file-threads.ts): runs each request's file
 * steps one after another with synchronous calls, so a message's whole
 * write costs the node's event loop one message to this thread and one
 * back, instead of a thread-pool trip for each of about eight calls.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { parentPort } from 'node:worker_threads';
import type { BlobFileReply, BlobFileRequest } from './blob-file-threads.js';

function fsyncDir(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes `data` to a new file at `path` and makes it durable. */
function writeDurably(path: string, data: Uint8Array): void {
  const fd = openSync(path, 'wx', 0o640);
  try {
    for (let at = 0; at < data.length;) at += writeSync(fd, data, at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function install(req: BlobFileRequest): void {
  try {
    if (req.data) writeDurably(req.tmpPath, new Uint8Array(req.data));
    if (req.makeDir) {
      mkdirSync(req.makeDir.dir, { recursive: true });
      for (const dir of req.makeDir.fsync) fsyncDir(dir);
    }
    renameSync(req.tmpPath, req.target);
    fsyncDir(dirname(req.target));
  } catch (err) {
    // The temporary file is not left behind (the caller's abort would not know it is not in place).
    try { unlinkSync(req.tmpPath); } catch { /* never made, or already gone */ }
    throw err;
  }
}

parentPort!.on('message', (req: BlobFileRequest) => {
  let reply: BlobFileReply;
  try {
    install(req);
    reply = { seq: req.seq };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    reply = { seq: req.seq, error: { message: e.message ?? String(err), ...(e.code ? { code: e.code } : {}) } };
  }
  parentPort!.postMessage(reply);
});
