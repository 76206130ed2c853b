/**
 * The change feed on PostgreSQL: LISTEN/NOTIFY on two channels, one for
 * mailbox changes (one per delivery, flag change or expunge) and one for
 * the rest (directory, settings, queue).
 *
 * Sending: a transaction that changes something NOTIFYs on its own
 * connection before COMMIT (database.ts), so the server sends the notice
 * exactly when the change commits, never for a change rolled back.
 * Subscribers of the same Store object hear of it directly after the
 * commit; the notice coming back through LISTEN is recognised by its
 * origin (a token per Store object) and dropped, so nobody hears twice.
 *
 * Receiving: one dedicated connection (not from the pool) LISTENs, opened
 * when the first subscriber arrives. It reconnects by itself with a
 * backoff when the server closes it or a periodic ping goes unanswered.
 * Every time LISTEN (again) takes effect, subscribers get a 'resync':
 * notices sent while nobody listened are lost, so whatever is watched must
 * be read again (an IMAP session catches up from its modseq).
 *
 * The mailbox channel is LISTENed to only while a subscriber here watches
 * mailbox changes (an IMAP session waiting for news, a webmail page open):
 * a node that only takes mail in is not woken by every delivery in the
 * cluster, which on three nodes cost each of them about a tenth of a
 * millisecond of CPU per message. While it does, the connection holds the
 * shared advisory locks that tell senders someone listens (migration 9,
 * rookery_mailbox_heard): with nobody listening anywhere, mailbox changes
 * are not NOTIFYed at all. The locks are taken after the LISTEN, and the
 * mailbox watchers get a 'resync' of their own once both are in effect.
 *
 * Payload: "<origin> <json of the change>" (change-feed.ts).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { decodeChange, encodeChange, Subscribers } from '../change-feed.js';
import type { ChangeFeed, StoreChange, WatchedChange } from '../types.js';
import type { Client, Pg, TransactionFeed } from './database.js';

/** The channel every rookery process LISTENs on while it has a subscriber. */
export const changesChannel = 'rookery_changes';
/** Mailbox changes' channel, LISTENed to only while they are watched. (Nodes of earlier releases send them on changesChannel; they are heard there too.) */
export const mailboxChannel = 'rookery_mailboxes';

const channelOf = (change: StoreChange): string => (change.kind === 'mailbox' ? mailboxChannel : changesChannel);
/** The mailbox a change is about (its notice is sent only while someone listens), or null. */
const mailboxOf = (change: StoreChange): number | null => (change.kind === 'mailbox' ? Number(change.mailboxId) : null);

/**
 * The advisory locks (1919905645, "room" in ASCII, with 0..15) a connection
 * LISTENing on mailboxChannel holds shared; rookery_mailbox_heard() tries
 * the exclusive one of a mailbox's key (migration 9 says why this hand-over
 * loses no notice).
 */
const listenLockKeys = 'FROM generate_series(0, 15) AS k';
const takeListenLocks = `SELECT pg_advisory_lock_shared(1919905645, k) ${listenLockKeys}`;
const dropListenLocks = `SELECT pg_advisory_unlock_shared(1919905645, k) ${listenLockKeys}`;

const minReconnectMs = 50;
const maxReconnectMs = 2000;
/** A LISTEN connection that answers no ping within pingTimeoutMs is replaced. */
const pingEveryMs = 10_000;
const pingTimeoutMs = 5_000;

export class PgChangeFeed implements ChangeFeed, TransactionFeed {
  /** This Store object's token: its own notices coming back are dropped. */
  readonly origin = randomBytes(8).toString('hex');
  readonly mailboxChannel = mailboxChannel;
  private readonly subscribers = new Subscribers(
    (active) => (active ? this.listen() : this.unlisten()),
    (kind) => { if (kind === 'mailbox') this.syncMailboxListen(); },
  );
  /** LISTEN on the mailbox channel is in effect on this.client. */
  private mailboxListened = false;
  /** A LISTEN or UNLISTEN of the mailbox channel under way. */
  private mailboxSwitching = false;
  private client: pg.Client | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private reconnectMs = minReconnectMs;
  private closed = false;
  /** LISTEN is in effect now: every notice from another process reaches the subscribers. */
  private listening = false;

  constructor(
    private readonly db: Pg,
    private readonly connectionString: string,
  ) {}

  private payload(change: StoreChange): string {
    return `${this.origin} ${encodeChange(change)}`;
  }

  async notifyIn(c: Client, changes: readonly StoreChange[]): Promise<void> {
    if (changes.length === 0) return;
    await c.query('SELECT pg_notify(ch, p) FROM unnest($1::text[], $2::text[], $3::bigint[]) AS n(ch, p, mailbox) WHERE mailbox IS NULL OR rookery_mailbox_heard(ch, mailbox)',
      [changes.map(channelOf), changes.map((ch) => this.payload(ch)), changes.map(mailboxOf)]);
  }

  committed(changes: readonly StoreChange[]): void {
    if (changes.length > 0) this.subscribers.emit(changes);
  }

  async publish(change: StoreChange): Promise<void> {
    await this.db.query('publishing a change', 'SELECT pg_notify($1, $2) WHERE $3::bigint IS NULL OR rookery_mailbox_heard($1, $3)', [channelOf(change), this.payload(change), mailboxOf(change)]);
    this.subscribers.emit([change]);
  }

  /**
   * Whether notices from other processes are being heard right now. A cache
   * kept current by the feed may answer only while this holds; it becomes
   * true again only after the 'resync' that follows a new LISTEN.
   */
  get live(): boolean {
    return this.listening;
  }

  subscribe(kinds: readonly WatchedChange[], listener: (change: StoreChange) => void): () => void {
    if (this.closed) return () => undefined;
    return this.subscribers.add(kinds, listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.subscribers.clear();
    this.unlisten();
  }

  // ------------------------------------------------------------ the LISTEN connection

  private listen(): void {
    if (this.closed || this.client || this.reconnectTimer || this.subscribers.size === 0) return;
    const client = new pg.Client({
      connectionString: this.connectionString,
      keepAlive: true,
      connectionTimeoutMillis: 5000,
      application_name: 'rookery-listen',
    });
    this.client = client;
    let lost = false;
    const onLost = () => {
      if (lost) return;
      lost = true;
      if (this.client === client) {
        this.client = null;
        this.listening = false;
        this.mailboxListened = false;
        this.stopPing();
      }
      client.removeAllListeners('notification');
      client.end().catch(() => undefined);
      this.scheduleReconnect();
    };
    client.on('error', onLost);
    client.on('end', onLost);
    client.on('notification', (msg) => {
      if ((msg.channel === changesChannel || msg.channel === mailboxChannel) && msg.payload) this.onNotice(msg.payload);
    });
    // The mailbox channel follows in a statement of its own (syncMailboxListen):
    // its locks may wait for a sender's commit, which the rest must not.
    client.connect()
      .then(() => client.query(`LISTEN ${changesChannel}`))
      .then(() => {
        if (lost || this.client !== client) return;
        this.reconnectMs = minReconnectMs;
        this.startPing(client, onLost);
        this.listening = true;
        this.mailboxListened = false;
        // Anything committed before LISTEN took effect was not heard.
        this.subscribers.emit([{ kind: 'resync' }]);
        this.syncMailboxListen();
      }, onLost);
  }

  /** LISTENs to the mailbox channel while anyone here watches mailbox changes, and only then. */
  private syncMailboxListen(): void {
    const client = this.client;
    if (!client || !this.listening || this.mailboxSwitching) return;
    const want = this.subscribers.watches('mailbox');
    if (want === this.mailboxListened) return;
    this.mailboxSwitching = true;
    client.query(want ? `LISTEN ${mailboxChannel}; ${takeListenLocks}` : `UNLISTEN ${mailboxChannel}; ${dropListenLocks}`).then(() => {
      if (this.client !== client) return;
      this.mailboxListened = want;
      // Mailbox changes committed before this LISTEN took effect were not heard.
      if (want) this.subscribers.resync('mailbox');
    }, () => undefined /* a failed connection is replaced by its error handler, and LISTENs afresh */).finally(() => {
      this.mailboxSwitching = false;
      this.syncMailboxListen();
    });
  }

  private unlisten(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.stopPing();
    this.listening = false;
    this.mailboxListened = false;
    const client = this.client;
    this.client = null;
    if (client) {
      client.removeAllListeners();
      client.on('error', () => undefined);
      client.end().catch(() => undefined);
    }
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer || this.subscribers.size === 0) return;
    const delay = this.reconnectMs;
    this.reconnectMs = Math.min(maxReconnectMs, this.reconnectMs * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.listen();
    }, delay);
    this.reconnectTimer.unref();
  }

  private startPing(client: pg.Client, onLost: () => void): void {
    this.stopPing();
    this.pingTimer = setInterval(() => {
      const timeout = setTimeout(onLost, pingTimeoutMs);
      client.query('SELECT 1').then(() => clearTimeout(timeout), () => {
        clearTimeout(timeout);
        onLost();
      });
    }, pingEveryMs);
    this.pingTimer.unref();
  }

  private stopPing(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  private onNotice(payload: string): void {
    const space = payload.indexOf(' ');
    if (space < 0 || payload.slice(0, space) === this.origin) return;
    const change = decodeChange(payload.slice(space + 1));
    if (change) this.subscribers.emit([change]);
  }
}
