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
  /** Local users who get a copy in their INBOX, de-duplicated. */
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

export interface MailStore {
  listMailboxes(userId: UserId): Promise<Mailbox[]>;
  getMailbox(userId: UserId, name: string): Promise<Mailbox | null>;
  createMailbox(userId: UserId, name: string, specialUse?: SpecialUse | null): Promise<Mailbox>;

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

  /** Removes messages by UID atomically and releases their quota. */
  expunge(mailboxId: MailboxId, uids: Uid[]): Promise<void>;

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
}

// ---------------------------------------------------------------- settings

/**
 * Cluster-wide settings kept in the store (certificate, limits). Values are
 * strings; the config layer parses them.
 */
export interface Settings {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
  all(): Promise<Record<string, string>>;
}

/** One open store: everything a node or the CLI needs. */
export interface Store {
  /** Where the store lives, as the operator gave it. */
  readonly location: string;
  readonly directory: Directory;
  readonly mail: MailStore;
  readonly blobs: Blobs;
  readonly settings: Settings;
  close(): Promise<void>;
}
