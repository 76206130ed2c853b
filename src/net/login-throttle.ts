/**
 * One login throttle for every protocol (IMAP, POP3, SMTP submission, the
 * web) and every node: failed logins are counted per client address and
 * per account in the store (LoginFailures), so guesses spread over
 * protocols and nodes add up.
 *
 * - Each failure's answer is delayed, longer the more failures its
 *   address or account had recently (the base doubled per failure, capped);
 *   HTTP answers at once (a request holds no session to slow down) and
 *   relies on the refusal.
 * - An address with maxFailuresPerAddress recent failures is refused
 *   outright, whatever it sends, until its tally expires (the protocol
 *   answers its "try later": IMAP NO [UNAVAILABLE], POP3 -ERR [SYS/TEMP],
 *   SMTP 454 4.7.0, HTTP 429 with Retry-After).
 * - An account with maxFailuresPerAccount recent failures is refused to
 *   addresses that have failed themselves; an address with a clean record
 *   (the owner at home) still gets in, so guessing at an account cannot
 *   lock its owner out, while a guesser spread over many addresses gets one
 *   try from each.
 * - Successful logins are never delayed and never wipe a tally: one valid
 *   account must not let its owner guess the others' passwords at full speed.
 *
 * The per-process cache: each process keeps a copy of the recent tallies,
 * caught up from the store (changedSince) at most every syncEveryMs, so a
 * login from an address with no failures costs no store round trip of its
 * own; only an address that has failed is looked up afresh.
 */
import { isIP } from 'node:net';
import type { Limits } from '../config/limits.js';
import { metrics } from '../metrics/index.js';
import type { LoginFailures, LoginFailureTally, Store } from '../store/types.js';

export interface LoginThrottleOptions {
  /** Delay before answering the first failure; doubled for each further one. */
  baseFailureDelayMs: number;
  /** The delay stops growing here. */
  maxFailureDelayMs: number;
  /** A tally is forgotten this long after its latest failure (and a refusal lasts until then). */
  forgetAfterMs: number;
  /** Recent failures from one address before every login from it is refused. */
  maxFailuresPerAddress: number;
  /** Recent failures on one account before it is refused to addresses that have failed. */
  maxFailuresPerAccount: number;
  /** The cache catches up with failures seen on other nodes at most this often. */
  syncEveryMs: number;
}

export const defaultLoginThrottleOptions: LoginThrottleOptions = {
  baseFailureDelayMs: 300,
  maxFailureDelayMs: 2000,
  forgetAfterMs: 15 * 60_000,
  maxFailuresPerAddress: 20,
  maxFailuresPerAccount: 50,
  syncEveryMs: 1000,
};

/** The throttle's options from the cluster-wide limits (`rookery config set limits.maxLoginFailuresPerAddress 20`). */
export function loginThrottleOptions(limits: Partial<Limits>): Partial<LoginThrottleOptions> {
  const out: Partial<LoginThrottleOptions> = {};
  if (limits.loginFailureDelayMs !== undefined) out.baseFailureDelayMs = limits.loginFailureDelayMs;
  if (limits.maxLoginFailureDelayMs !== undefined) out.maxFailureDelayMs = limits.maxLoginFailureDelayMs;
  if (limits.loginFailureMemoryMs !== undefined) out.forgetAfterMs = limits.loginFailureMemoryMs;
  if (limits.maxLoginFailuresPerAddress !== undefined) out.maxFailuresPerAddress = limits.maxLoginFailuresPerAddress;
  if (limits.maxLoginFailuresPerAccount !== undefined) out.maxFailuresPerAccount = limits.maxLoginFailuresPerAccount;
  return out;
}

/** What the throttle says before a password is checked. */
export type LoginVerdict =
  | { allowed: true }
  | { allowed: false; retryAfterMs: number; sentence: string };

/** Tallies kept in the cache at most (a spray from many addresses cannot grow memory without bound). */
const MAX_CACHED = 100_000;
/** How often a process deletes expired tallies from the store. */
const PURGE_EVERY_MS = 10 * 60_000;
/** A catch-up re-reads this much before its last mark: rows committed a little out of order are not missed. */
const SYNC_OVERLAP_MS = 5000;

/** The address as one key: IPv4-mapped IPv6 written as IPv4, IPv6 lower-cased. */
export function addressKey(clientAddress: string): string {
  const a = clientAddress.startsWith('::ffff:') && isIP(clientAddress.slice(7)) === 4 ? clientAddress.slice(7) : clientAddress.toLowerCase();
  return `address:${a}`;
}

export function accountKey(account: string): string {
  return `account:${account.trim().toLowerCase()}`;
}

export class LoginThrottle {
  readonly options: LoginThrottleOptions;
  private readonly cache = new Map<string, LoginFailureTally>();
  private syncedAt = -Infinity;
  private mark = new Date(0);
  private syncing: Promise<void> | null = null;
  private purgedAt = performance.now();

  constructor(private readonly failures: LoginFailures, options: Partial<LoginThrottleOptions> = {}, private readonly onStoreError: (err: unknown) => void = () => undefined) {
    this.options = { ...defaultLoginThrottleOptions, ...options };
  }

  /**
   * Whether a login from this address for this account may be tried now.
   * Resolves (never rejects): with the store out of reach the throttle
   * falls back on what it knows, and the password check fails anyway.
   */
  async check(clientAddress: string, account: string): Promise<LoginVerdict> {
    await this.catchUp();
    const aKey = addressKey(clientAddress);
    const now = Date.now();
    if (!this.live(aKey, now)) return { allowed: true };
    // The address has failed recently: the cache may be a second behind, so ask the store.
    const keys = account ? [aKey, accountKey(account)] : [aKey];
    try {
      const fresh = await this.failures.get(keys);
      for (const k of keys) this.cache.delete(k);
      for (const t of fresh) this.remember(t);
    } catch (err) {
      this.onStoreError(err);
    }
    return this.verdict(clientAddress, account, now);
  }

  private verdict(clientAddress: string, account: string, now: number): LoginVerdict {
    const byAddress = this.live(addressKey(clientAddress), now);
    if (byAddress && byAddress.failures >= this.options.maxFailuresPerAddress) {
      return this.refusal(byAddress, now, 'too many failed logins from your address');
    }
    const byAccount = account ? this.live(accountKey(account), now) : undefined;
    if (byAddress && byAccount && byAccount.failures >= this.options.maxFailuresPerAccount) {
      return this.refusal(byAccount, now, 'too many failed logins for this account');
    }
    return { allowed: true };
  }

  /**
   * Counts a failed login (and the protocol's auth-failure metric); resolves
   * with how long to wait before answering it.
   */
  async failed(protocol: string, clientAddress: string, account: string): Promise<number> {
    metrics.authFailures.inc({ protocol });
    const keys = account ? [addressKey(clientAddress), accountKey(account)] : [addressKey(clientAddress)];
    let worst = 0;
    try {
      for (const t of await this.failures.record(keys, this.options.forgetAfterMs)) {
        this.remember(t);
        worst = Math.max(worst, t.failures);
      }
    } catch (err) {
      // The store is out of reach: count here, so this process still slows the guesser down.
      this.onStoreError(err);
      const now = Date.now();
      for (const key of keys) {
        const prior = this.live(key, now);
        const t = { key, failures: (prior?.failures ?? 0) + 1, lastFailureAt: new Date(now), expiresAt: new Date(now + this.options.forgetAfterMs) };
        this.remember(t);
        worst = Math.max(worst, t.failures);
      }
    }
    return this.delayFor(worst);
  }

  /** The delay before answering the n-th recent failure. */
  delayFor(failures: number): number {
    const { baseFailureDelayMs, maxFailureDelayMs } = this.options;
    return Math.min(maxFailureDelayMs, baseFailureDelayMs * 2 ** Math.min(Math.max(failures, 1) - 1, 20));
  }

  private refusal(t: LoginFailureTally, now: number, sentence: string): LoginVerdict {
    const retryAfterMs = Math.max(1000, t.expiresAt.getTime() - now);
    return { allowed: false, retryAfterMs, sentence: `${sentence}; try again in ${Math.ceil(retryAfterMs / 1000)} s` };
  }

  private live(key: string, now: number): LoginFailureTally | undefined {
    const t = this.cache.get(key);
    if (t && t.expiresAt.getTime() <= now) {
      this.cache.delete(key);
      return undefined;
    }
    return t;
  }

  private remember(t: LoginFailureTally): void {
    this.cache.delete(t.key);
    this.cache.set(t.key, t);
    // Maps iterate in insertion order: the first entry is the stalest.
    while (this.cache.size > MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string);
  }

  /** Reads what failed on other nodes since the last catch-up, at most every syncEveryMs; concurrent callers share one read. */
  private async catchUp(): Promise<void> {
    if (performance.now() - this.syncedAt < this.options.syncEveryMs) return;
    this.syncing ??= (async () => {
      try {
        const since = new Date(this.mark.getTime() - SYNC_OVERLAP_MS);
        const changed = await this.failures.changedSince(since);
        for (const t of changed) {
          const known = this.cache.get(t.key);
          if (!known || known.lastFailureAt.getTime() <= t.lastFailureAt.getTime()) this.remember(t);
          if (t.lastFailureAt.getTime() > this.mark.getTime()) this.mark = t.lastFailureAt;
        }
      } catch (err) {
        this.onStoreError(err);
      } finally {
        this.syncedAt = performance.now();
        this.syncing = null;
      }
      // Expired tallies are only skipped by the reads; every node sweeps them now and then.
      if (this.syncedAt - this.purgedAt > PURGE_EVERY_MS) {
        this.purgedAt = this.syncedAt;
        this.failures.removeExpired().catch((err: unknown) => this.onStoreError(err));
      }
    })();
    await this.syncing;
  }
}

/**
 * One throttle per store per process, shared by every service of the node
 * (the first caller's limits count: every service of a node has the same).
 * Keyed by the LoginFailures object, which every service of a node reaches
 * through the same (timed) store.
 */
const perStore = new WeakMap<LoginFailures, LoginThrottle>();

export function loginThrottleFor(store: Store, limits: Partial<Limits> = {}, onStoreError?: (err: unknown) => void): LoginThrottle {
  let throttle = perStore.get(store.loginFailures);
  if (!throttle) {
    throttle = new LoginThrottle(store.loginFailures, loginThrottleOptions(limits), onStoreError);
    perStore.set(store.loginFailures, throttle);
  }
  return throttle;
}
