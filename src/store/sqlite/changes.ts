/**
 * The change feed on the embedded store. Several processes (nodes, the
 * CLI) open one database file, so a change must reach the others too:
 *
 * - Every write transaction that changes something also inserts one row
 *   per change into the `changes` table, in the same transaction, so the
 *   row exists exactly when the change does.
 * - Subscribers of the same Store object hear of a change directly after
 *   the commit.
 * - While anyone subscribes, a timer checks every pollMs (100 ms) whether
 *   another connection committed (`PRAGMA data_version`, which costs no
 *   I/O); if so it reads the new rows, skipping its own (by origin).
 * - Rows older than retentionMs are deleted now and then; a reader that
 *   fell further behind than that (or finds a gap) gets a 'resync'.
 */
import { randomBytes } from 'node:crypto';
import { decodeChange, encodeChange, Subscribers } from '../change-feed.js';
import { asStoreError } from '../errors.js';
import type { ChangeFeed, StoreChange, WatchedChange } from '../types.js';
import { prepared, writeTransaction, type Db } from './database.js';

const pollMs = 100;
const retentionMs = 60_000;
/** The table is pruned once every this many changes. */
const pruneEvery = 256;

export class SqliteChangeFeed implements ChangeFeed {
  private readonly origin = randomBytes(8).toString('hex');
  private readonly subscribers = new Subscribers((active) => (active ? this.start() : this.stop()));
  private timer: NodeJS.Timeout | null = null;
  private lastSeq = 0;
  private dataVersion = -1;
  private closed = false;

  constructor(private readonly db: Db) {}

  /**
   * Runs fn in a write transaction (BEGIN IMMEDIATE); the changes fn
   * reports with `changed` are recorded in it and told to this process's
   * subscribers once it committed.
   */
  transaction<T>(fn: (changed: (change: StoreChange) => void) => T): T {
    let pending: StoreChange[] = [];
    const result = writeTransaction(this.db, () => {
      pending = [];
      const value = fn((change) => pending.push(change));
      this.record(pending);
      return value;
    });
    if (pending.length > 0) this.subscribers.emit(pending);
    return result;
  }

  /** Inserts the change rows; inside a write transaction. */
  private record(changes: readonly StoreChange[]): void {
    if (changes.length === 0) return;
    const now = Date.now();
    const insert = prepared(this.db, 'INSERT INTO changes (origin, change, at) VALUES (?, ?, ?)');
    let seq = 0;
    for (const change of changes) seq = Number(insert.run(this.origin, encodeChange(change), now).lastInsertRowid);
    if (seq % pruneEvery < changes.length) prepared(this.db, 'DELETE FROM changes WHERE at < ?').run(now - retentionMs);
  }

  async publish(change: StoreChange): Promise<void> {
    try {
      this.transaction((changed) => changed(change));
    } catch (err) {
      throw asStoreError(err, 'publishing a change');
    }
  }

  subscribe(kinds: readonly WatchedChange[], listener: (change: StoreChange) => void): () => void {
    if (this.closed) return () => undefined;
    return this.subscribers.add(kinds, listener);
  }

  close(): void {
    this.closed = true;
    this.subscribers.clear();
    this.stop();
  }

  private start(): void {
    if (this.timer || this.closed) return;
    try {
      // From now on: what was committed before the first subscriber came is not news.
      this.lastSeq = (prepared(this.db, 'SELECT coalesce(max(seq), 0) AS s FROM changes').get() as { s: number }).s;
      this.dataVersion = this.db.pragma('data_version', { simple: true }) as number;
    } catch {
      this.lastSeq = 0;
      this.dataVersion = -1;
    }
    this.timer = setInterval(() => this.poll(), pollMs);
    this.timer.unref();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private poll(): void {
    let fresh: StoreChange[] = [];
    try {
      if (!this.db.open) return;
      const version = this.db.pragma('data_version', { simple: true }) as number;
      if (version === this.dataVersion) return;
      this.dataVersion = version;
      const rows = prepared(this.db, 'SELECT seq, origin, change FROM changes WHERE seq > ? ORDER BY seq')
        .all(this.lastSeq) as { seq: number; origin: string; change: string }[];
      if (rows.length === 0) return;
      // Rows are numbered without gaps; a gap means rows were pruned before we read them.
      if (rows[0]!.seq !== this.lastSeq + 1) fresh.push({ kind: 'resync' });
      for (const row of rows) {
        if (row.origin === this.origin) continue;
        const change = decodeChange(row.change);
        if (change) fresh.push(change);
      }
      this.lastSeq = rows[rows.length - 1]!.seq;
    } catch {
      // Busy or briefly unreadable: try again at the next tick, and say things may have been missed.
      this.dataVersion = -1;
      fresh = [];
      return;
    }
    if (fresh.length > 0) this.subscribers.emit(fresh);
  }
}
