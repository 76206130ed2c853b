/**
 * A copy of something small that every delivery asks about and that
 * rarely changes (the local domains, who has a vacation switched on), kept
 * in the process while the change feed is live, so the question costs no
 * round trip.
 *
 * Correct across nodes: the changes that can make the copy wrong are
 * announced on the feed by whoever commits them (another node, the command
 * line), and such a notice, or a 'resync', drops it. While LISTEN is not in
 * effect notices are missed, so the copy is not used at all (get() is null,
 * the caller asks PostgreSQL); the 'resync' of the next LISTEN drops it. A
 * read that a notice overtakes is answered but not kept.
 */
import type { WatchedChange } from '../types.js';
import type { PgChangeFeed } from './changes.js';

export class FeedCache<T> {
  private value: T | null = null;
  private loading: Promise<T> | null = null;
  /** Bumped by every notice that drops the copy. */
  private generation = 0;
  private watching = false;

  constructor(
    private readonly feed: PgChangeFeed | null,
    /** The kinds of change that can make the copy wrong (a 'resync' always drops it). */
    private readonly kinds: readonly WatchedChange[],
    private readonly load: () => Promise<T>,
  ) {}

  /** The copy (read first if needed), or null while the feed cannot keep it current. */
  get(): Promise<T> | null {
    const feed = this.feed;
    // Only a feed something else already listens on: a process that never
    // subscribes (a command-line command) must not open a LISTEN connection for this.
    if (!feed || !feed.live) return null;
    if (!this.watching) {
      this.watching = true;
      feed.subscribe(this.kinds, () => {
        this.generation++;
        this.value = null;
        this.loading = null;
      });
    }
    if (this.value !== null) return Promise.resolve(this.value);
    if (!this.loading) {
      const generation = this.generation;
      const loading = this.load().then((value) => {
        // A notice during the read may be about a change the read did not see.
        if (generation === this.generation && feed.live) this.value = value;
        return value;
      });
      const forget = () => {
        if (this.loading === loading) this.loading = null;
      };
      loading.then(forget, forget);
      this.loading = loading;
    }
    return this.loading;
  }
}
