/**
 * Pieces of the change feed (types.ts, ChangeFeed) both backends share:
 * the subscriber list of one Store object, and the wire form of a change
 * as it travels between processes (a PostgreSQL NOTIFY payload, a row of
 * the embedded store's changes table).
 */
import type { MailboxId, StoreChange } from './types.js';

/** The subscribers of one Store object. */
export class Subscribers {
  private readonly listeners = new Set<(change: StoreChange) => void>();

  constructor(
    /** Called when the first subscriber arrives and when the last leaves. */
    private readonly onActive: (active: boolean) => void = () => undefined,
  ) {}

  get size(): number {
    return this.listeners.size;
  }

  add(listener: (change: StoreChange) => void): () => void {
    // A wrapper, so one function subscribed twice is two subscriptions.
    const entry = (change: StoreChange) => listener(change);
    this.listeners.add(entry);
    if (this.listeners.size === 1) this.onActive(true);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.listeners.delete(entry);
      if (this.listeners.size === 0) this.onActive(false);
    };
  }

  /** Calls every listener with each change; a listener that throws does not stop the others. */
  emit(changes: readonly StoreChange[]): void {
    for (const change of changes) {
      for (const listener of [...this.listeners]) {
        try {
          listener(change);
        } catch {
          // A listener's bug must not break the store call that committed the change.
        }
      }
    }
  }

  clear(): void {
    const had = this.listeners.size > 0;
    this.listeners.clear();
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
