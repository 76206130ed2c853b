/**
 * Threads that put blob files in place. Writing a message durably takes
 * about eight file calls (open, write, fsync, close, rename, and open,
 * fsync, close of its directory); made through Node's asynchronous fs, each
 * is a trip to the thread pool and back to the event loop, which at
 * hundreds of messages a second is a good part of a node's CPU. A blob-file
 * thread makes them all with synchronous calls, so the event loop posts one
 * message and gets one back.
 *
 * One pool per process, shared by every blob store in it (requests carry
 * absolute paths). A thread starts when a request finds every running one
 * busy, up to maxThreads (so slow fsyncs on a shared volume overlap as they
 * did in the thread pool), and ends after idleMs without work, so a quiet
 * node does not keep it. A thread holds its process open only while it has
 * a request in flight.
 */
import { Worker } from 'node:worker_threads';

/** What a blob-file thread is asked to do (see blob-file-worker.ts). */
export interface BlobFileRequest {
  seq: number;
  /** The temporary file: written here when `data` is given, else already written, fsynced and closed by the caller. */
  tmpPath: string;
  /** The whole content, transferred (not copied) to the thread. */
  data?: ArrayBuffer;
  /** The blob's place; its directory is fsynced after the rename. */
  target: string;
  /** A directory to make first, and the directories whose new entries to fsync then (parents first made). */
  makeDir?: { dir: string; fsync: string[] };
}

export interface BlobFileReply {
  seq: number;
  error?: { message: string; code?: string };
}

/** A request that could not be answered because its thread stopped (or none could start). */
export class BlobFileThreadGone extends Error {}

const maxThreads = 4;
const idleMs = 30_000;

interface Thread {
  worker: Worker;
  inFlight: Map<number, { resolve(): void; reject(err: Error): void }>;
  idleTimer: NodeJS.Timeout | null;
}

const threads = new Set<Thread>();
let nextSeq = 0;

function startThread(): Thread {
  // No flags of the process's own (a worker inherits them; some, like --input-type, stop it starting).
  const worker = new Worker(new URL('./blob-file-worker.js', import.meta.url), { execArgv: [] });
  const thread: Thread = { worker, inFlight: new Map(), idleTimer: null };
  const gone = (why: string) => {
    threads.delete(thread);
    if (thread.idleTimer) clearTimeout(thread.idleTimer);
    for (const pending of thread.inFlight.values()) pending.reject(new BlobFileThreadGone(`the blob-file thread stopped (${why})`));
    thread.inFlight.clear();
  };
  worker.on('message', (reply: BlobFileReply) => {
    const pending = thread.inFlight.get(reply.seq);
    if (!pending) return;
    thread.inFlight.delete(reply.seq);
    if (reply.error) pending.reject(Object.assign(new Error(reply.error.message), reply.error.code ? { code: reply.error.code } : {}));
    else pending.resolve();
    if (thread.inFlight.size === 0) idleFrom(thread);
  });
  worker.on('error', (err) => gone(err.message));
  worker.on('exit', (code) => gone(`exit code ${code}`));
  // Idle until asked (after the listeners: adding a 'message' listener refs the thread's port again).
  worker.unref();
  threads.add(thread);
  return thread;
}

/** No request in flight: the thread no longer holds the process open, and ends if none comes for idleMs. */
function idleFrom(thread: Thread): void {
  thread.worker.unref();
  thread.idleTimer = setTimeout(() => {
    threads.delete(thread);
    void thread.worker.terminate();
  }, idleMs);
  thread.idleTimer.unref();
}

/** An idle thread, else a new one while there are fewer than maxThreads, else the least busy. */
function pickThread(): Thread {
  let best: Thread | null = null;
  for (const t of threads) {
    if (t.inFlight.size === 0) return t;
    if (!best || t.inFlight.size < best.inFlight.size) best = t;
  }
  return best && threads.size >= maxThreads ? best : startThread();
}

/**
 * Has a blob-file thread write (from `data`, if given) and install one
 * temporary file. Rejects with the file system's error (its code kept), the
 * temporary file removed, or with BlobFileThreadGone if the thread stopped
 * first.
 */
export function installOnThread(req: Omit<BlobFileRequest, 'seq'>): Promise<void> {
  let thread: Thread;
  try {
    thread = pickThread();
  } catch (err) {
    return Promise.reject(new BlobFileThreadGone(`no blob-file thread could start (${(err as Error).message})`));
  }
  if (thread.inFlight.size === 0) {
    // Busy: the process waits for the answer (a command may have nothing else pending).
    thread.worker.ref();
    if (thread.idleTimer) clearTimeout(thread.idleTimer);
    thread.idleTimer = null;
  }
  const seq = nextSeq++;
  return new Promise<void>((resolve, reject) => {
    thread.inFlight.set(seq, { resolve, reject });
    thread.worker.postMessage({ ...req, seq }, req.data ? [req.data] : []);
  });
}

/** How many blob-file threads run now (for tests). */
export function blobFileThreadCount(): number {
  return threads.size;
}

/**
 * Ends every blob-file thread now; requests in flight reject with
 * BlobFileThreadGone (their files may or may not be in place; a retry
 * writes them again). The next request starts a thread afresh. For tests
 * of a thread dying under load.
 */
export async function stopBlobFileThreads(): Promise<void> {
  await Promise.all([...threads].map((t) => t.worker.terminate()));
}
