/**
 * Pieces of the change feed (types.ts, ChangeFeed) both backends share:
 * the subscriber list of one Store object, and the wire form of a change
 * as it travels between processes (a PostgreSQL NOTIFY payload, a row of
 * the embedded store's changes table).
 */
import type { MailboxId, StoreChange, WatchedChange } from './types.js';

interface Subscriber {
  kinds: ReadonlySet<WatchedChange>;
  listener: (change: StoreChange) => void;
}

/** The subscribers of one Store object, each with the kinds of change it asked for. */
export class Subscribers {
  private readonly listeners = new Set<Subscriber>();
  /** How many subscribers watch each kind. */
  private readonly watchers = new Map<WatchedChange, number>();

  constructor(
    /** Called when the first subscriber arrives and when the last leaves. */
    private readonly onActive: (active: boolean) => void = () => undefined,
    /** Called when the first subscriber of a kind arrives and when its last leaves. */
    private readonly onWatch: (kind: WatchedChange, watched: boolean) => void = () => undefined,
  ) {}

  get size(): number {
    return this.listeners.size;
  }

  /** Whether any subscriber watches this kind. */
  watches(kind: WatchedChange): boolean {
    return (this.watchers.get(kind) ?? 0) > 0;
  }

  add(kinds: readonly WatchedChange[], listener: (change: StoreChange) => void): () => void {
    // An entry of its own, so one function subscribed twice is two subscriptions.
    const entry: Subscriber = { kinds: new Set(kinds), listener };
    this.listeners.add(entry);
    if (this.listeners.size === 1) this.onActive(true);
    for (const kind of entry.kinds) this.count(kind, 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.listeners.delete(entry);
      for (const kind of entry.kinds) this.count(kind, -1);
      if (this.listeners.size === 0) this.onActive(false);
    };
  }

  private count(kind: WatchedChange, by: 1 | -1): void {
    const n = (this.watchers.get(kind) ?? 0) + by;
    this.watchers.set(kind, n);
    if (n === 1 && by === 1) this.onWatch(kind, true);
    else if (n === 0) this.onWatch(kind, false);
  }

  /** Calls each listener with each change of a kind it asked for, and with every 'resync'. */
  emit(changes: readonly StoreChange[]): void {
    for (const change of changes) this.deliver(change, (entry) => change.kind === 'resync' || entry.kinds.has(change.kind));
  }

  /** A 'resync' for the watchers of one kind only (notices of that kind may have been missed). */
  resync(kind: WatchedChange): void {
    this.deliver({ kind: 'resync' }, (entry) => entry.kinds.has(kind));
  }

  /** Calls the listeners `to` picks; a listener that throws does not stop the others. */
  private deliver(change: StoreChange, to: (entry: Subscriber) => boolean): void {
    for (const entry of [...this.listeners]) {
      if (!to(entry)) continue;
      try {
        entry.listener(change);
      } catch {
        // A listener's bug must not break the store call that committed the change.
      }
    }
  }

  clear(): void {
    const had = this.listeners.size > 0;
    this.listeners.clear();
    for (const [kind, n] of this.watchers) if (n > 0) this.onWatch(kind, false);
    this.watchers.clear();
    if (had) this.onActive(false);
  }
}

/** A change as text: small JSON, well under PostgreSQL's 8000-byte NOTIFY limit. */
export function encodeChange(change: StoreChange): string {
  return JSON.stringify(change);
}

/** Reads a change back; anything malformed (another version's notice) is null and ignored. */
export function decodeChange(text: string): StoreChange | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  switch (o.kind) {
    case 'mailbox':
      return Number.isSafeInteger(o.mailboxId) ? { kind: 'mailbox', mailboxId: o.mailboxId as MailboxId } : null;
    case 'directory':
      return { kind: 'directory' };
    case 'settings':
      return typeof o.key === 'string' ? { kind: 'settings', key: o.key } : null;
    case 'queue':
      return typeof o.domain === 'string' ? { kind: 'queue', domain: o.domain } : { kind: 'queue' };
    case 'resync':
      return { kind: 'resync' };
    default:
      return null;
  }
}

/** Mailbox changes for a list of ids, each once. */
export function mailboxChanges(ids: Iterable<number>): StoreChange[] {
  return [...new Set(ids)].map((id) => ({ kind: 'mailbox', mailboxId: id as MailboxId }));
}
