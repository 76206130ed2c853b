/**
 * New mail without a reload: GET /mail/events is a Server-Sent Events
 * stream per signed-in page, fed by the store's change feed (Store.changes,
 * the same notices that wake IMAP IDLE), so a delivery on any node, a flag
 * set over IMAP or a move in another tab shows in every open page.
 *
 * One feed subscription per node while anyone listens. A change names a
 * mailbox; it goes to the streams of that mailbox's owner as
 *
 *   event: mailbox   data: {"box":"INBOX"}
 *   event: resync    data: {}          (notices may have been missed)
 *
 * and the page's script (assets.ts) re-reads the page and swaps in the
 * fresh folder list and message list. A stream ends when its session does
 * (checked on every change and every keepalive).
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from '../../log.js';
import type { MailboxId, Store, StoreChange, UserId } from '../../store/types.js';
import { verifyToken } from '../tokens.js';
import type { WebSession } from './session.js';
import { beginEventStream, writeEvent } from '../events.js';

/** Owners of other users' mailboxes remembered at most. */
const maxKnownOwners = 10_000;

interface Listener {
  res: ServerResponse;
  session: WebSession;
  /** The user's mailbox ids and names, re-read when an unknown one of theirs appears. */
  boxes: Map<MailboxId, string>;
}

export interface LiveOptions {
  store: Store;
  logger: Logger;
  maxStreams: number;
  /** Streams of one session (one browser's tabs): HTTP/1.1 browsers open about 6 connections per site, and each stream holds one. */
  maxStreamsPerSession: number;
  keepaliveMs: number;
}

export class LiveUpdates {
  private readonly listeners = new Set<Listener>();
  private unsubscribe: (() => void) | null = null;
  private closed = false;
  private nextId = 1;
  /**
   * Owners of mailboxes the streams did not know, so that mail for users
   * without an open stream costs no store read per change; bounded, oldest
   * first out. (SQLite may give a deleted mailbox's id to a new one; the
   * cost is one missed live update, the page itself stays right.)
   */
  private readonly owners = new Map<MailboxId, UserId>();

  constructor(private readonly opts: LiveOptions) {}

  get size(): number {
    return this.listeners.size;
  }

  /** Turns the response into the session's stream; false when the node or the session has as many as allowed. */
  async add(res: ServerResponse, session: WebSession): Promise<boolean> {
    const ofSession = [...this.listeners].filter((l) => l.session.id === session.id).length;
    if (this.closed || this.listeners.size >= this.opts.maxStreams || ofSession >= this.opts.maxStreamsPerSession) return false;
    const boxes = await this.boxesOf(session.user.id);
    beginEventStream(res, 3000);
    const listener: Listener = { res, session, boxes };
    this.listeners.add(listener);
    const keepalive = setInterval(() => {
      void this.stillSignedIn(listener).then((ok) => { if (ok) res.write(': keepalive\n\n'); });
    }, this.opts.keepaliveMs);
    res.once('close', () => {
      clearInterval(keepalive);
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    });
    if (!this.unsubscribe) this.unsubscribe = this.opts.store.changes.subscribe(['mailbox'], (change) => this.onChange(change));
    return true;
  }

  /** Ends every stream (the service is closing). */
  close(): void {
    this.closed = true;
    for (const l of this.listeners) l.res.end();
    this.stop();
  }

  private stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  private async boxesOf(userId: UserId): Promise<Map<MailboxId, string>> {
    return new Map((await this.opts.store.mail.listMailboxes(userId)).map((b) => [b.id, b.name]));
  }

  private onChange(change: StoreChange): void {
    if (change.kind === 'resync') {
      for (const l of this.listeners) this.send(l, 'resync', {});
      return;
    }
    if (change.kind !== 'mailbox') return;
    void this.mailboxChanged(change.mailboxId).catch((err: unknown) => this.opts.logger.debug({ err }, 'webmail live update failed'));
  }

  private async mailboxChanged(id: MailboxId): Promise<void> {
    let targets = [...this.listeners].filter((l) => l.boxes.has(id));
    let name: string | undefined;
    if (targets.length === 0) {
      // A mailbox none of the streams knew: another user's, or new (created over IMAP). Whose is it?
      const known = this.owners.get(id);
      if (known !== undefined && ![...this.listeners].some((l) => l.session.user.id === known)) return;
      const box = await this.opts.store.mail.getMailboxById(id);
      if (!box) return;
      this.owners.set(id, box.userId);
      if (this.owners.size > maxKnownOwners) this.owners.delete(this.owners.keys().next().value as MailboxId);
      targets = [...this.listeners].filter((l) => l.session.user.id === box.userId);
      for (const l of targets) l.boxes = await this.boxesOf(l.session.user.id);
      name = box.name;
    }
    for (const l of targets) {
      if (!(await this.stillSignedIn(l))) continue;
      this.send(l, 'mailbox', { box: name ?? l.boxes.get(id) });
    }
  }

  /** Ends a stream whose session has been signed out or has expired. */
  private async stillSignedIn(l: Listener): Promise<boolean> {
    const token = await verifyToken(this.opts.store, l.session.text, 'session').catch(() => null);
    if (token) return true;
    l.res.end();
    return false;
  }

  private send(l: Listener, event: string, data: unknown): void {
    writeEvent(l.res, this.nextId++, event, data);
  }
}
