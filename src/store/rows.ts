/**
 * Rows as both SQL backends read them, and the records they become. The
 * drivers differ only in how they hand back booleans (SQLite 0/1,
 * PostgreSQL true/false) and big integers (PostgreSQL bigint as text), so
 * the mapping converts both and lives here once.
 */
import type {
  AccessToken, AccessTokenKind, Alias, BlobId, LoginFailureTally, Mailbox, MailboxId, MailboxStatus, Member, MemberRole, MemberState, MessageRecord, ModSeq, ServiceHealth, SpecialUse,
  Uid, User, UserId, UserRole,
} from './types.js';

/** A boolean column: SQLite hands back 0/1, PostgreSQL true/false. */
type Flag = number | boolean;
/** A bigint column PostgreSQL may hand back as text. */
type Int = number | string;

export interface UserRow {
  id: number;
  address: string;
  quota_bytes: number;
  used_bytes: number;
  customer_id: string;
  enabled: Flag;
  role: string;
  created_at: number;
  password_hash: string;
}

export function toUser(row: UserRow): User {
  return {
    id: row.id as UserId,
    address: row.address,
    quotaBytes: Number(row.quota_bytes),
    usedBytes: Number(row.used_bytes),
    customerId: row.customer_id,
    enabled: Boolean(row.enabled),
    role: row.role as UserRole,
    createdAt: new Date(Number(row.created_at)),
  };
}

/** Alias rows (one per target, ordered by address and position) as one Alias per address. */
export function toAliases(rows: readonly { address: string; target: string }[]): Alias[] {
  const byAddress = new Map<string, string[]>();
  for (const r of rows) {
    const list = byAddress.get(r.address) ?? [];
    list.push(r.target);
    byAddress.set(r.address, list);
  }
  return [...byAddress].map(([address, targets]) => ({ address, targets }));
}

export interface MailboxRow {
  id: number;
  user_id: number;
  name: string;
  special_use: string | null;
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
  /** Joined in from the subscriptions table. */
  subscribed: Flag;
}

export function toMailbox(row: MailboxRow): Mailbox {
  return {
    id: row.id as MailboxId,
    userId: row.user_id as UserId,
    name: row.name,
    specialUse: row.special_use as SpecialUse | null,
    uidValidity: Number(row.uid_validity),
    uidNext: Number(row.uid_next) as Uid,
    highestModSeq: Number(row.highest_modseq) as ModSeq,
    subscribed: Boolean(row.subscribed),
  };
}

export interface MessageRow {
  mailbox_id: number;
  uid: number;
  blob_id: string;
  size: number;
  internal_date: number;
  flags: string;
  modseq: number;
}

/** A mailbox's counters and the counts over its messages, read in one snapshot, as mailboxStatus() answers. */
export function toMailboxStatus(
  mailbox: { uid_next: Int; uid_validity: Int; highest_modseq: Int },
  counts: { messages: Int; size: Int; unseen: Int; deleted: Int },
): MailboxStatus {
  return {
    messages: Number(counts.messages),
    unseen: Number(counts.unseen),
    deleted: Number(counts.deleted),
    sizeBytes: Number(counts.size),
    uidNext: Number(mailbox.uid_next) as Uid,
    uidValidity: Number(mailbox.uid_validity),
    highestModSeq: Number(mailbox.highest_modseq) as ModSeq,
  };
}

export function toMessage(row: MessageRow): MessageRecord {
  return {
    mailboxId: row.mailbox_id as MailboxId,
    uid: Number(row.uid) as Uid,
    blobId: row.blob_id as BlobId,
    size: Number(row.size),
    internalDate: new Date(Number(row.internal_date)),
    flags: row.flags === '' ? [] : row.flags.split(' '),
    modSeq: Number(row.modseq) as ModSeq,
  };
}

export interface TokenRow {
  id: string;
  kind: string;
  secret_hash: string;
  role: string;
  domain: string | null;
  subject: string | null;
  label: string;
  created_at: Int;
  expires_at: Int | null;
  last_used_at: Int | null;
}

export function toToken(r: TokenRow): AccessToken {
  return {
    id: r.id,
    kind: r.kind as AccessTokenKind,
    role: r.role as UserRole,
    domain: r.domain,
    subject: r.subject,
    label: r.label,
    createdAt: new Date(Number(r.created_at)),
    expiresAt: r.expires_at === null ? null : new Date(Number(r.expires_at)),
    lastUsedAt: r.last_used_at === null ? null : new Date(Number(r.last_used_at)),
  };
}

export interface MemberRow {
  name: string;
  role: string;
  address: string;
  host: string;
  pid: number;
  version: string;
  services: string;
  state: string;
  started_at: Int;
  heartbeat_at: Int;
  source_address: string | null;
}

/**
 * A registry row as a member; one whose heartbeat is older than
 * staleAfterMs at `nowMs` (the clock the backend judges by) reads as down.
 */
export function toMember(row: MemberRow, staleAfterMs: number, nowMs: number): Member {
  const stale = nowMs - Number(row.heartbeat_at) > staleAfterMs;
  return {
    name: row.name,
    role: row.role as MemberRole,
    address: row.address,
    ...(row.source_address ? { sourceAddress: row.source_address } : {}),
    host: row.host,
    pid: row.pid,
    version: row.version,
    services: JSON.parse(row.services) as Record<string, ServiceHealth>,
    state: stale ? 'down' : (row.state as MemberState),
    startedAt: new Date(Number(row.started_at)),
    heartbeatAt: new Date(Number(row.heartbeat_at)),
  };
}

export interface LoginFailureRow {
  key: string;
  failures: Int;
  last_failure_at: Int;
  expires_at: Int;
}

export function toLoginFailureTally(r: LoginFailureRow): LoginFailureTally {
  return { key: r.key, failures: Number(r.failures), lastFailureAt: new Date(Number(r.last_failure_at)), expiresAt: new Date(Number(r.expires_at)) };
}
