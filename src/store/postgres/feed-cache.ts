/**
 * Copies of things that every delivery asks about and that rarely change
 * (the local domains, who has a vacation switched on, what a recipient
 * address resolves to), kept in the process while the change feed is live,
 * so the question costs no round trip.
 *
 * Correct across nodes: the changes that can make a copy wrong are
 * announced on the feed by whoever commits them (another node, the command
 * line), and such a notice, or a 'resync', drops every copy. While LISTEN
 * is not in effect notices are missed, so the copies are not used at all
 * (get() is null, the caller asks PostgreSQL); the 'resync' of the next
 * LISTEN drops them. A read that a notice overtakes is answered but not kept.
 */
import type { WatchedChange } from '../types.js';
import type { PgChangeFeed } from './changes.js';

/** Copies by key, at most `maxEntries` of them (the oldest go first). */
export class FeedCacheMap<K, T> {
  private readonly values = new Map<K, T>();
  private readonly loading = new Map<K, Promise<T>>();
  /** Bumped by every notice that drops the copies. */
  private generation = 0;
  private watching = false;

  constructor(
    private readonly feed: PgChangeFeed | null,
    /** The kinds of change that can make a copy wrong (a 'resync' always drops them). */
    private readonly kinds: readonly WatchedChange[],
    private readonly load: (key: K) => Promise<T>,
    private readonly opts: {
      maxEntries: number;
      /** Whether a value read may be kept (one that goes stale without a notice must not). */
      keep?: (value: T) => boolean;
    },
  ) {}

  /** The copy for `key` (read first if needed), or null while the feed cannot keep it current. */
  get(key: K): Promise<T> | null {
    const feed = this.feed;
    // Only a feed something else already listens on: a process that never
    // subscribes (a command-line command) must not open a LISTEN connection for this.
    if (!feed || !feed.live) return null;
    if (!this.watching) {
      this.watching = true;
      feed.subscribe(this.kinds, () => {
        this.generation++;
        this.values.clear();
        this.loading.clear();
      });
    }
    if (this.values.has(key)) return Promise.resolve(this.values.get(key) as T);
    let loading = this.loading.get(key);
    if (!loading) {
      const generation = this.generation;
      const started = this.load(key).then((value) => {
        // A notice during the read may be about a change the read did not see.
        if (generation === this.generation && feed.live && (this.opts.keep?.(value) ?? true)) this.store(key, value);
        return value;
      });
      const forget = () => {
        if (this.loading.get(key) === started) this.loading.delete(key);
      };
      started.then(forget, forget);
      this.loading.set(key, started);
      loading = started;
    }
    return loading;
  }

  private store(key: K, value: T): void {
    if (this.values.size >= this.opts.maxEntries) {
      const oldest = this.values.keys().next();
      if (!oldest.done) this.values.delete(oldest.value);
    }
    this.values.set(key, value);
  }
}

/** One copy (a FeedCacheMap of one key). */
export class FeedCache<T> {
  private readonly copy: FeedCacheMap<null, T>;

  constructor(feed: PgChangeFeed | null, kinds: readonly WatchedChange[], load: () => Promise<T>) {
    this.copy = new FeedCacheMap(feed, kinds, load, { maxEntries: 1 });
  }

  /** The copy (read first if needed), or null while the feed cannot keep it current. */
  get(): Promise<T> | null {
    return this.copy.get(null);
  }
}
