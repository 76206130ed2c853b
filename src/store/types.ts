/**
 * The store's narrow interfaces. Protocols, the CLI and the node depend on
 * these only; `src/store/open.ts` is the one place that picks a backend.
 * Every method is async so a networked backend (PostgreSQL) fits the same
 * shape as the embedded one.
 */
import type { Readable } from 'node:stream';

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A user's numeric id in the directory. */
export type UserId = Brand<number, 'UserId'>;
/** A mailbox's numeric id; stable for the mailbox's life. */
export type MailboxId = Brand<number, 'MailboxId'>;
/** A message's IMAP UID within one mailbox (strictly ascending, never reused). */
export type Uid = Brand<number, 'Uid'>;
/** A modification sequence (RFC 7162), per mailbox, ascending. */
export type ModSeq = Brand<number, 'ModSeq'>;
/** A blob's content address: the lowercase hex SHA-256 of its bytes. */
export type BlobId = Brand<string, 'BlobId'>;

// ---------------------------------------------------------------- directory

export type UserRole = 'admin' | 'domain-admin' | 'user';

export interface Domain {
  /** Lower-case domain name, e.g. "example.org". */
  name: string;
  /** When the domain was added. */
  createdAt: Date;
}

export interface User {
  id: UserId;
  /** Full address, local part as given, domain lower-cased. */
  address: string;
  /** Storage quota in bytes; 0 means unlimited. */
  quotaBytes: number;
  /** Bytes currently stored across all of the user's mailboxes. */
  usedBytes: number;
  /** Free-form customer reference for billing systems; may be empty. */
  customerId: string;
  /** A disabled user cannot log in and receives no mail (550 at RCPT). */
  enabled: boolean;
  role: UserRole;
  createdAt: Date;
}

export interface NewUser {
  address: string;
  password: string;
  quotaBytes?: number;
  customerId?: string;
  enabled?: boolean;
  role?: UserRole;
}

export interface UserChanges {
  password?: string;
  quotaBytes?: number;
  customerId?: string;
  enabled?: boolean;
  role?: UserRole;
}

export interface Alias {
  /** The alias address, or "@domain" for the domain's catch-all. */
  address: string;
  /** Where mail for the alias goes: local users, other aliases or remote addresses. */
  targets: string[];
}

export interface Forward {
  /** The local user whose mail is forwarded. */
  address: string;
  /** The address mail is forwarded to. */
  target: string;
  /** Whether the user keeps a copy in its own INBOX as well. */
  keepCopy: boolean;
}

/** What a recipient address resolves to after aliases and forwards. */
export interface Resolution {
  /**
   * Local users who get a copy in their INBOX, de-duplicated. A user
   * without a quota may come with usedBytes as of an earlier read (a
   * backend may keep resolutions); one with a quota comes with it current.
   */
  localUsers: User[];
  /** Addresses outside the cluster that get a copy (forwards, alias targets). */
  remoteTargets: string[];
}

export interface Directory {
  addDomain(name: string): Promise<Domain>;
  listDomains(): Promise<Domain[]>;
  /** Removes a domain; refuses ('exists') while users or aliases remain in it. */
  removeDomain(name: string): Promise<void>;
  isLocalDomain(name: string): Promise<boolean>;

  /** Creates the user with INBOX, Sent, Drafts, Trash and Junk. */
  addUser(user: NewUser): Promise<User>;
  getUser(address: string): Promise<User | null>;
  getUserById(id: UserId): Promise<User | null>;
  listUsers(domain?: string): Promise<User[]>;
  updateUser(address: string, changes: UserChanges): Promise<User>;
  /** Removes the user, its mailboxes and messages. */
  removeUser(address: string): Promise<void>;
  /**
   * Checks a password. Returns the user on success, null on a wrong
   * password, an unknown address or a disabled user (callers must not
   * tell these apart to the client).
   */
  authenticate(address: string, password: string): Promise<User | null>;

  addAlias(address: string, targets: string[]): Promise<Alias>;
  listAliases(domain?: string): Promise<Alias[]>;
  removeAlias(address: string): Promise<void>;

  addForward(address: string, target: string, keepCopy?: boolean): Promise<Forward>;
  listForwards(domain?: string): Promise<Forward[]>;
  removeForward(address: string, target: string): Promise<void>;

  /**
   * Resolves a recipient through aliases (recursively, loop-safe), the
   * domain catch-all and forwards. Returns null when the domain is local but
   * nothing answers to the address, or the user is disabled.
   */
  resolveRecipient(address: string): Promise<Resolution | null>;
}

// ---------------------------------------------------------------- mailboxes

export type SpecialUse = '\\Sent' | '\\Drafts' | '\\Trash' | '\\Junk' | '\\Archive' | '\\All' | '\\Flagged';

export interface Mailbox {
  id: MailboxId;
  userId: UserId;
  /** Full name with "/" as hierarchy separator, UTF-8; "INBOX" is always upper case. */
  name: string;
  specialUse: SpecialUse | null;
  uidValidity: number;
  uidNext: Uid;
  highestModSeq: ModSeq;
  subscribed: boolean;
}

export interface MessageRecord {
  mailboxId: MailboxId;
  uid: Uid;
  blobId: BlobId;
  /** Size of the stored bytes (RFC822.SIZE). */
  size: number;
  internalDate: Date;
  /** System and keyword flags, e.g. "\\Seen", "$Forwarded". */
  flags: string[];
  modSeq: ModSeq;
}

/** One recipient's copy in a delivery. */
export interface DeliveryTarget {
  userId: UserId;
  /** Defaults to INBOX. */
  mailboxName?: string;
  flags?: string[];
}

export interface Delivery {
  blobId: BlobId;
  size: number;
  internalDate: Date;
  targets: DeliveryTarget[];
  /**
   * What to do with a target that would exceed its quota: 'fail' throws
   * StoreError('over-quota') and stores nothing; 'skip' leaves that target
   * out and reports it.
   */
  onOverQuota: 'fail' | 'skip';
  /**
   * The blob's MIME index, when the caller has made it: stored as
   * putMessageIndex() would, in the same transaction as the delivery, and
   * only if the delivery is not refused (one write fewer per message).
   */
  index?: { version: number; json: string };
}

export interface DeliveryResult {
  /** The rows written, one per delivered target. */
  stored: MessageRecord[];
  /** Targets left out because they were over quota (only with 'skip'). */
  overQuota: UserId[];
}

/** A maildrop lock held by one session somewhere in the cluster. */
export interface MaildropLock {
  userId: UserId;
  /** Renews the lease; call well within the lease time. Throws 'in-use' if lost. */
  renew(): Promise<void>;
  release(): Promise<void>;
}

/** How STORE changes flags (RFC 3501 6.4.6). */
export type FlagOperation = 'set' | 'add' | 'remove';

export interface FlagUpdate {
  operation: FlagOperation;
  flags: string[];
  /**
   * CONDSTORE (RFC 7162 3.1.3): only messages whose modseq is at most this
   * are changed; the others are reported in `modified`.
   */
  unchangedSince?: ModSeq;
}

export interface FlagUpdateResult {
  /** Messages whose flags changed, with their new flags and modseq. */
  updated: MessageRecord[];
  /** UIDs left alone because their modseq was above unchangedSince. */
  modified: Uid[];
}

/** Result of COPY/MOVE: source UID to destination UID, in source UID order (UIDPLUS). */
export interface CopyResult {
  destinationUidValidity: number;
  mapping: { sourceUid: Uid; destinationUid: Uid }[];
}

/** What changed in a mailbox after a modseq: the IMAP session's catch-up (RFC 7162). */
export interface MailboxChanges {
  /** Messages added or whose flags changed after the modseq, in UID order. */
  changed: MessageRecord[];
  /** UIDs expunged after the modseq, ascending. */
  expunged: Uid[];
  highestModSeq: ModSeq;
  uidNext: Uid;
}

/** Counts for STATUS (RFC 3501 6.3.10, RFC 9051 SIZE and DELETED). */
export interface MailboxStatus {
  messages: number;
  unseen: number;
  deleted: number;
  sizeBytes: number;
  uidNext: Uid;
  uidValidity: number;
  highestModSeq: ModSeq;
}

export interface MailStore {
  listMailboxes(userId: UserId): Promise<Mailbox[]>;
  getMailbox(userId: UserId, name: string): Promise<Mailbox | null>;
  getMailboxById(id: MailboxId): Promise<Mailbox | null>;
  /** Creates a mailbox (subscribed). Throws 'exists' if the name is taken. */
  createMailbox(userId: UserId, name: string, specialUse?: SpecialUse | null): Promise<Mailbox>;
  /**
   * Deletes a mailbox and its messages, releasing their quota. INBOX cannot
   * be deleted ('permission'); a mailbox with children is refused ('exists').
   */
  deleteMailbox(userId: UserId, name: string): Promise<void>;
  /**
   * Renames a mailbox and all of its children (RFC 3501 6.3.5). Renaming
   * INBOX moves its messages into a new mailbox and leaves INBOX empty.
   */
  renameMailbox(userId: UserId, from: string, to: string): Promise<void>;
  /** Subscriptions are names, and may name mailboxes that do not exist (RFC 3501 6.3.6). */
  setSubscribed(userId: UserId, name: string, subscribed: boolean): Promise<void>;
  listSubscriptions(userId: UserId): Promise<string[]>;
  mailboxStatus(mailboxId: MailboxId): Promise<MailboxStatus>;

  /** Messages of a mailbox in UID order. */
  listMessages(mailboxId: MailboxId): Promise<MessageRecord[]>;

  /**
   * Stores one message for every target in one transaction: either every
   * row commits (UIDs, modseq, quota usage) or none does. The blob must
   * already be durable (see Blobs.commit).
   */
  deliver(delivery: Delivery): Promise<DeliveryResult>;

  /**
   * Undoes a committed delivery (RFC 5321 4.2.5: a message answered with
   * 4xx must not be delivered). Removes exactly the rows given.
   */
  undeliver(records: MessageRecord[]): Promise<void>;

  /** Changes flags of the given UIDs (missing UIDs are ignored); one new modseq for the change. */
  updateFlags(mailboxId: MailboxId, uids: Uid[], update: FlagUpdate): Promise<FlagUpdateResult>;

  /** Copies messages (sharing their blobs) with their flags; quota checked ('over-quota'). */
  copyMessages(from: MailboxId, uids: Uid[], to: MailboxId): Promise<CopyResult>;

  /** Copies then expunges from the source, in one transaction (RFC 6851). */
  moveMessages(from: MailboxId, uids: Uid[], to: MailboxId): Promise<CopyResult>;

  /** Removes messages by UID atomically, releases their quota and records them as expunged. */
  expunge(mailboxId: MailboxId, uids: Uid[]): Promise<Uid[]>;

  /** Everything that changed after `since`: what an IMAP session or another node catches up with. */
  changesSince(mailboxId: MailboxId, since: ModSeq): Promise<MailboxChanges>;

  /**
   * The parsed MIME index of a blob (computed once, JSON), or null if none
   * is stored yet. Shared by every copy of the message.
   */
  getMessageIndex(blobId: BlobId): Promise<{ version: number; json: string } | null>;
  /**
   * Stores a blob's index. A stored row of the same version is left as it
   * is (one blob, one version: one index), so a writer need not read first;
   * a row of another version is replaced.
   */
  putMessageIndex(blobId: BlobId, version: number, json: string): Promise<void>;
  /** Of these blobs, the ones a message in any mailbox or a queued outbound message refers to. */
  blobsInUse(ids: BlobId[]): Promise<Set<BlobId>>;
  /** Drops the stored MIME indexes of these blobs (once they are collected). */
  forgetMessageIndexes(ids: BlobId[]): Promise<void>;

  /**
   * Takes the exclusive maildrop lock used by POP3, cluster-wide. Throws
   * StoreError('in-use') if another live session holds it. The lock is a
   * lease: a holder that dies without releasing loses it after leaseMs.
   */
  lockMaildrop(userId: UserId, owner: string, leaseMs: number): Promise<MaildropLock>;
}

// ---------------------------------------------------------------- blobs

/** A blob being written; nothing is visible until commit resolves. */
export interface BlobWriter {
  /**
   * Queues a chunk for the file. The promise resolves once the chunk is
   * written (await it for backpressure); it never rejects: a write error is
   * reported by commit().
   */
  write(chunk: Buffer): Promise<void>;
  /**
   * Makes the blob durable (fsync of file and directory) under its content
   * address and returns it. Identical content is stored once.
   */
  commit(): Promise<{ id: BlobId; size: number }>;
  /** Throws the partial data away. */
  abort(): Promise<void>;
}

export interface Blobs {
  createWriter(): BlobWriter;
  /** Convenience: write a whole buffer and commit it. */
  put(data: Buffer): Promise<{ id: BlobId; size: number }>;
  get(id: BlobId): Promise<Buffer>;
  /** Streams a byte range; end is exclusive. */
  createReadStream(id: BlobId, range?: { start: number; end: number }): Readable;
  /** Free bytes on the volume that holds the blobs (for the early disk-full check). */
  freeBytes(): Promise<number>;

  // Collection of blobs nothing refers to any more (src/store/blob-gc.ts).

  /** Blobs last written, or reused by a delivery of the same content, before `cutoff`; in no particular order. */
  listIdleSince(cutoff: Date): AsyncIterable<{ id: BlobId; size: number }>;
  /**
   * Moves a blob out of reach. 'reused' when it was written again or reused
   * at or after `cutoff` (a delivery of the same content): then it is put
   * back at once. 'gone' when there is no such blob.
   */
  setAside(id: BlobId, cutoff: Date): Promise<'set-aside' | 'reused' | 'gone'>;
  /** Puts a set-aside blob back (a reference to it appeared after all). */
  restore(id: BlobId): Promise<void>;
  /** Deletes a set-aside blob for good. */
  discard(id: BlobId): Promise<void>;
  /** Puts back whatever a collection that stopped midway left set aside; returns how many. */
  restoreAllSetAside(): Promise<number>;
}

// ---------------------------------------------------------------- cluster registry

/** Health of one service on one member, as its own checks last saw it. */
export interface ServiceHealth {
  port: number;
  healthy: boolean;
  /** Client connections open at the last heartbeat; absent from members that do not count them. */
  connections?: number;
}

/** What a cluster member is: a node serving mail, or a traffic manager in front of the nodes. */
export type MemberRole = 'node' | 'balancer';

/**
 * 'up' serves; 'draining' finishes its sessions but gets no new ones;
 * 'down' stopped, or its heartbeat is older than the registry's staleness.
 */
export type MemberState = 'up' | 'draining' | 'down';

export interface MemberRegistration {
  /** Unique name in the cluster, e.g. "node1". */
  name: string;
  role: MemberRole;
  /** The address its services listen on (or a traffic manager's virtual address). */
  address: string;
  /**
   * For a traffic manager: the address its connections to the nodes come
   * from, whose PROXY headers nodes believe; its `address` when not given.
   */
  sourceAddress?: string;
  /** The machine it runs on (os.hostname()), so `status` can tell local processes. */
  host: string;
  pid: number;
  version: string;
  /** Service name (smtp, pop3, ...) to port and health. */
  services: Record<string, ServiceHealth>;
}

export interface Member extends MemberRegistration {
  state: MemberState;
  startedAt: Date;
  heartbeatAt: Date;
}

export interface ClusterRegistry {
  /** Registers a member as up (again, after a restart), replacing what was known of it. */
  register(member: MemberRegistration): Promise<void>;
  /**
   * Records that the member is alive, with its services' current health.
   * Keeps 'draining' if an operator set it. Throws 'not-found' if the member was removed.
   */
  heartbeat(name: string, services: Record<string, ServiceHealth>): Promise<void>;
  /** Sets a member's state: 'draining' (rookery node drain), 'up' again, or 'down' at a clean stop. */
  setState(name: string, state: MemberState): Promise<void>;
  /**
   * Every member; one whose heartbeat is older than staleAfterMs (default
   * 3000) is reported 'down' whatever it last said.
   */
  list(opts?: { staleAfterMs?: number }): Promise<Member[]>;
  get(name: string, opts?: { staleAfterMs?: number }): Promise<Member | null>;
  remove(name: string): Promise<void>;
}

// ---------------------------------------------------------------- settings

/**
 * Cluster-wide settings kept in the store (certificate, limits). Values are
 * strings; the config layer parses them.
 */
export interface Settings {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
  /** Sets the key only if it has no value yet; returns the value it has afterwards (first writer wins). */
  setIfAbsent(key: string, value: string): Promise<string>;
  /**
   * Sets the key only if its value is still `expected` (null: no value
   * yet); true if it did. Of several callers expecting the same value, one
   * wins: how nodes take turns at cluster-wide chores.
   */
  compareAndSet(key: string, expected: string | null, value: string): Promise<boolean>;
  all(): Promise<Record<string, string>>;
}

// ---------------------------------------------------------------- change feed

/**
 * What changed in the store, as told to every process that has it open.
 * A change says only what to look at again, never the new state: a
 * listener re-reads what it cares about (an IMAP session catches up from
 * its modseq), so a repeated or merged notice does no harm.
 */
export type StoreChange =
  /** Messages were added, flagged, moved or expunged, or the mailbox was renamed, created or deleted. */
  | { kind: 'mailbox'; mailboxId: MailboxId }
  /**
   * Domains, users (a password, enabled, quota), aliases or forwards
   * changed; on PostgreSQL also vacation settings. Its nodes keep copies of
   * the local domains and of who is away, which this notice drops.
   */
  | { kind: 'directory' }
  /** A cluster-wide setting changed (e.g. the certificate, "tls.certificate"). */
  | { kind: 'settings'; key: string }
  /** Queued mail should be tried now (ETRN, a flush), for one domain or all. */
  | { kind: 'queue'; domain?: string }
  /**
   * Notices may have been missed (the feed lost its connection and got it
   * back): re-read everything watched, as if each thing had changed.
   */
  | { kind: 'resync' };

/**
 * Changes pushed to every process that has the store open. The backend
 * publishes mailbox, directory and settings changes itself once they are
 * committed, so no caller can forget; others (the queue) publish their
 * own. Delivery is at least once per subscriber while connected, and a
 * 'resync' covers any gap; listeners are called in this process's event
 * loop and must not throw.
 */
export interface ChangeFeed {
  /** Tells every subscriber (in this and other processes) about a change. */
  publish(change: StoreChange): Promise<void>;
  /**
   * Calls listener for every change of the given kinds from now on, and
   * for every 'resync'; returns the function that stops it. Kinds nobody in
   * the process asks for may never reach it: on PostgreSQL, mailbox
   * changes (one per delivery) are heard only while someone watches them.
   */
  subscribe(kinds: readonly WatchedChange[], listener: (change: StoreChange) => void): () => void;
}

/** The kinds of change a subscriber asks for ('resync' comes to every subscriber). */
export type WatchedChange = Exclude<StoreChange['kind'], 'resync'>;

// ---------------------------------------------------------------- outbound queue

/** Where one recipient of a queued message stands. */
export type QueueRecipientState =
  /** Waiting for its next attempt, or being tried by the worker holding its lease. */
  | 'queued'
  /** Accepted by the next hop (or filed locally): final. */
  | 'delivered'
  /** Given up on, and the sender told (unless it was the null sender): final. */
  | 'bounced';

export interface QueuedRecipient {
  /** The envelope recipient as enqueued. */
  address: string;
  /** Its domain, lower-cased: what ETRN and the transport map select on. */
  domain: string;
  state: QueueRecipientState;
  /** Attempts that ended (delivered, bounced or deferred); one cut short by a dead node is not counted. */
  attempts: number;
  /** When it is due; a flush (ETRN) moves this to now. */
  nextAttemptAt: Date;
  /** The last failure, in the remote's words where there were any; '' when none. */
  lastError: string;
  /** The worker trying it now, or null. */
  leaseOwner: string | null;
  /** When that worker's claim lapses and another worker may take it over. */
  leaseExpiresAt: Date | null;
  /** Whether the sender has been sent a delay warning for it. */
  delayWarned: boolean;
}

export interface QueuedMessage {
  /** The queue id (letters and digits), shown by `rookery queue list`. */
  id: string;
  /** The envelope sender; '' for the null sender (bounces). */
  sender: string;
  /** The message bytes, durable before the message was queued. */
  blobId: BlobId;
  size: number;
  createdAt: Date;
  /** The node that queued it. */
  origin: string;
  /** Recipients not yet final in list(); the claimed ones in claim(). */
  recipients: QueuedRecipient[];
}

export interface NewQueuedMessage {
  /** '' for the null sender. */
  sender: string;
  /** A blob already made durable (BlobWriter.commit resolved). */
  blobId: BlobId;
  size: number;
  /** Envelope recipients, at least one; duplicates are queued once. */
  recipients: string[];
  /** The queueing node's name. */
  origin: string;
}

/** How one claimed recipient's attempt ended. */
export type RecipientOutcome =
  | { address: string; outcome: 'delivered' }
  | { address: string; outcome: 'bounced'; error: string }
  | {
    address: string;
    outcome: 'deferred';
    error: string;
    /** Due again this long from now (on the store's clock). */
    retryInMs: number;
    /** Set once the sender has been sent a delay warning. */
    delayWarned?: boolean;
  };

/**
 * The cluster-wide outbound queue. Workers on every node claim due
 * recipients with a lease: a worker that dies mid-delivery leaves its
 * recipients to the others once the lease lapses (at least once, never
 * lost). A message disappears once every recipient is final; its blob
 * stays (content-addressed and possibly shared; sweeping unreferenced
 * blobs is a separate job).
 */
export interface OutboundQueue {
  /** Queues a message for its recipients, due now, in one transaction; returns the queue id. */
  enqueue(message: NewQueuedMessage): Promise<string>;
  /**
   * Leases up to `limit` due recipients that nobody holds a live lease on,
   * to `owner` for `leaseMs`, oldest due first; grouped by message.
   */
  claim(opts: { owner: string; leaseMs: number; limit: number }): Promise<QueuedMessage[]>;
  /** Extends every live lease `owner` holds by `leaseMs` from now; returns how many. */
  renewLeases(owner: string, leaseMs: number): Promise<number>;
  /**
   * Records attempts' outcomes. An outcome counts only while no other
   * worker holds a live lease on the recipient and it is still queued;
   * the others are ignored (another worker took over). Returns whether the
   * message is gone because every recipient is now final.
   */
  settle(id: string, owner: string, outcomes: RecipientOutcome[]): Promise<{ removed: boolean }>;
  /**
   * Makes queued recipients due now (ETRN, `rookery queue flush`): all,
   * or those of one domain, and with `subdomains` its subdomains too
   * (RFC 1985's "@domain"). Returns how many recipients were made due.
   */
  flush(domain?: string, opts?: { subdomains?: boolean }): Promise<number>;
  /** Queued messages with their recipients that are not final, oldest first; optionally of one domain. */
  list(opts?: { domain?: string }): Promise<QueuedMessage[]>;
  get(id: string): Promise<QueuedMessage | null>;
  /** Removes a message and all its recipients ('not-found' if there is none); its blob stays. */
  delete(id: string): Promise<void>;
}

// ---------------------------------------------------------------- access tokens

/**
 * What an access token is for: 'api' for a bearer token made by
 * `rookery token create` (or the API), 'session' for a signed-in web
 * session (its cookie carries the token, so a session is valid on every
 * node and ends everywhere at once when it is removed).
 */
export type AccessTokenKind = 'api' | 'session';

/** An access token as the store keeps it, without its secret. */
export interface AccessToken {
  /** Public identifier (lower-case hex), part of the token text; not a secret. */
  id: string;
  kind: AccessTokenKind;
  /** What the bearer may do (see src/web/auth.ts). */
  role: UserRole;
  /** For 'domain-admin': the one domain it administers; null otherwise. */
  domain: string | null;
  /** The user the token acts as ('user' tokens and sessions); null for a token of no particular user. */
  subject: string | null;
  /** Free text for the operator ("backup script"); may be empty. */
  label: string;
  createdAt: Date;
  /** After this the token is refused and find() no longer returns it; null: never. */
  expiresAt: Date | null;
  /** When it was last presented (updated at most about once a minute); null: never used. */
  lastUsedAt: Date | null;
}

export interface NewAccessToken {
  /** 8 to 64 lower-case hex characters, chosen by the caller (random); 'exists' if taken. */
  id: string;
  kind: AccessTokenKind;
  /** A hash of the secret part (the store never sees the secret). */
  secretHash: string;
  role: UserRole;
  domain?: string | null;
  subject?: string | null;
  label?: string;
  expiresAt?: Date | null;
}

/** Bearer tokens and web sessions, hashed, shared by every node. */
export interface AccessTokens {
  create(token: NewAccessToken): Promise<AccessToken>;
  /** The token and its secret hash; null if unknown or expired. */
  find(id: string): Promise<{ token: AccessToken; secretHash: string } | null>;
  /** Every unexpired token (of one kind if given), oldest first. */
  list(opts?: { kind?: AccessTokenKind }): Promise<AccessToken[]>;
  /** Records that the token was presented at `at`. */
  touch(id: string, at: Date): Promise<void>;
  /** Removes a token ('not-found' if there is none). */
  remove(id: string): Promise<void>;
  /** Removes every token of a subject (a deleted user's sessions); returns how many. */
  removeForSubject(subject: string): Promise<number>;
  /** Removes expired tokens; returns how many. */
  removeExpired(): Promise<number>;
}

// ---------------------------------------------------------------- vacation auto-reply

/** A user's vacation auto-reply (RFC 3834), as the user set it on /settings. */
export interface VacationSettings {
  enabled: boolean;
  /** The reply's subject; '' means "Auto: " and the original subject. */
  subject: string;
  /** The reply's text (plain text). */
  body: string;
  /** Replies start at this moment (inclusive); null: as soon as it is enabled. */
  startsAt: Date | null;
  /** Replies stop at this moment (exclusive); null: until it is disabled. */
  endsAt: Date | null;
  /** A sender gets at most one reply per this many days (1 to 365). */
  periodDays: number;
}

/**
 * Vacation settings and the log of who was answered when, shared by every
 * node, so "at most once per sender per period" holds whichever node takes
 * the mail. A user's rows go with the user.
 */
export interface Vacations {
  /** The user's settings, or null when never set. */
  get(userId: UserId): Promise<VacationSettings | null>;
  /**
   * Replaces the user's settings and forgets whom it already answered, so
   * the new text reaches every sender once ('bad-parameters' for values out
   * of range, 'not-found' for no such user).
   */
  set(userId: UserId, settings: VacationSettings): Promise<VacationSettings>;
  /** Of the given users, those whose vacation is on at `at`, with their settings. */
  activeAmong(userIds: readonly UserId[], at: Date): Promise<Map<UserId, VacationSettings>>;
  /**
   * Claims the right to answer `sender` for `userId` at `at`: true (and
   * `at` recorded) when no reply to that sender (case-insensitive) was
   * recorded within the last `periodMs`; false otherwise. Atomic across
   * processes: of two concurrent claims one wins.
   */
  claimReply(userId: UserId, sender: string, periodMs: number, at: Date): Promise<boolean>;
  /** Forgets replies recorded before `before`; returns how many. */
  pruneReplies(before: Date): Promise<number>;
}

// ---------------------------------------------------------------- failed logins

/**
 * One client address's or one account's recent failed logins, kept in the
 * store so every node's login throttle (src/net/login-throttle.ts) sees the
 * failures made on the others.
 */
export interface LoginFailureTally {
  /** What failed, as the throttle names it ("address:192.0.2.7", "account:me@example.org"). */
  key: string;
  /** Failures counted since the tally last expired. */
  failures: number;
  /** The latest failure (the store's clock). */
  lastFailureAt: Date;
  /** When the tally is forgotten unless another failure comes first. */
  expiresAt: Date;
}

/** Recent failed logins, shared by every node and protocol. */
export interface LoginFailures {
  /**
   * Counts one failure against each key, now (the store's clock); a tally
   * past its expiry starts again at 1. Each tally then expires forgetAfterMs
   * after this failure. Returns the tallies after counting, in keys' order.
   */
  record(keys: readonly string[], forgetAfterMs: number): Promise<LoginFailureTally[]>;
  /** The unexpired tallies of these keys (absent keys are left out). */
  get(keys: readonly string[]): Promise<LoginFailureTally[]>;
  /** Unexpired tallies whose latest failure is at or after `since`: how a process's cache catches up. */
  changedSince(since: Date): Promise<LoginFailureTally[]>;
  /** Forgets these keys' tallies (an operator's unblock); returns how many there were. */
  clear(keys: readonly string[]): Promise<number>;
  /** Deletes expired tallies; returns how many. */
  removeExpired(): Promise<number>;
}

// ---------------------------------------------------------------- whole-store transfer

/**
 * One table's rows in a dump of a whole store (StoreTransfer), in the
 * stores' own terms: ids as stored, password hashes as stored, times in ms
 * since the epoch, flags as the space-separated text both backends keep.
 * What is left out is what belongs to running processes, not to the
 * installation: maildrop locks, the cluster registry, the change log.
 */
export type StoreDumpBatch =
  | { table: 'domains'; rows: { name: string; createdAt: number }[] }
  | { table: 'users'; rows: {
      id: number; address: string; domain: string; passwordHash: string; quotaBytes: number; usedBytes: number;
      customerId: string; enabled: boolean; role: string; createdAt: number; lastUidValidity: number;
    }[] }
  | { table: 'aliases'; rows: { address: string; domain: string; target: string; position: number }[] }
  | { table: 'forwards'; rows: { address: string; domain: string; target: string; keepCopy: boolean }[] }
  | { table: 'mailboxes'; rows: {
      id: number; userId: number; name: string; specialUse: string | null; uidValidity: number; uidNext: number; highestModSeq: number;
    }[] }
  | { table: 'subscriptions'; rows: { userId: number; name: string }[] }
  | { table: 'messages'; rows: { mailboxId: number; uid: number; blobId: string; size: number; internalDate: number; flags: string; modSeq: number }[] }
  | { table: 'expunged'; rows: { mailboxId: number; uid: number; modSeq: number }[] }
  | { table: 'messageIndex'; rows: { blobId: string; version: number; data: string }[] }
  | { table: 'settings'; rows: { key: string; value: string }[] }
  | { table: 'vacations'; rows: {
      userId: number; enabled: boolean; subject: string; body: string; startsAt: number | null; endsAt: number | null; periodDays: number; updatedAt: number;
    }[] }
  | { table: 'vacationReplies'; rows: { userId: number; sender: string; repliedAt: number }[] };

/**
 * Reading and loading a whole store, for `rookery store copy` (copy.ts).
 * Blobs are not part of the dump: the copier moves them with Blobs.
 */
export interface StoreTransfer {
  /** Whether the store holds nothing an installation would miss (no domain, user, alias or setting). */
  isEmpty(): Promise<boolean>;
  /** Every table in batches, parents before children, from one consistent snapshot. */
  exportState(): AsyncIterable<StoreDumpBatch>;
  /**
   * Loads a dump in one transaction: all of it or nothing. Refuses
   * ('exists') a store that is not empty.
   */
  importState(batches: AsyncIterable<StoreDumpBatch>): Promise<void>;
}

/** One open store: everything a node or the CLI needs. */
export interface Store {
  /** Where the store lives, as the operator gave it (passwords masked). */
  readonly location: string;
  /** The schema version the store is at (after its migrations ran at open). */
  readonly schemaVersion: number;
  readonly directory: Directory;
  readonly mail: MailStore;
  readonly blobs: Blobs;
  readonly settings: Settings;
  readonly cluster: ClusterRegistry;
  /** The cluster-wide outbound queue. */
  readonly queue: OutboundQueue;
  /** Changes made anywhere in the cluster, pushed (see ChangeFeed). */
  readonly changes: ChangeFeed;
  /** API bearer tokens and web sessions. */
  readonly tokens: AccessTokens;
  /** Export and import of the whole store (rookery store copy). */
  readonly transfer: StoreTransfer;
  /** Vacation auto-reply settings and the log of replies sent. */
  readonly vacation: Vacations;
  /** Recent failed logins per client address and account (the shared login throttle). */
  readonly loginFailures: LoginFailures;
  close(): Promise<void>;
}
