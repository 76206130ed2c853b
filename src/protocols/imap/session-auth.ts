/**
 * Slowing down password guessing across connections: failed logins are
 * counted per client address and per account over a window, and each
 * failure's reply is delayed longer the more failures there were (issue 3:
 * "failed logins per address and per account with a growing delay").
 * Successful logins are never delayed, so an attacker guessing at an
 * account cannot lock its owner out.
 */

/** First delay after a failure. */
export const BASE_FAILURE_DELAY_MS = 250;
/** The delay stops growing here. */
export const MAX_FAILURE_DELAY_MS = 8000;
/** Failures older than this are forgotten. */
const WINDOW_MS = 15 * 60 * 1000;
/** Entries kept at most, so a scan from many addresses cannot grow memory without bound. */
const MAX_ENTRIES = 100_000;

interface Tally {
  count: number;
  last: number;
}

export class AuthThrottle {
  private readonly byAddress = new Map<string, Tally>();
  private readonly byAccount = new Map<string, Tally>();

  /** Records a failed login; returns how long to wait before answering it. */
  failed(address: string, account: string, now = Date.now()): number {
    const a = this.bump(this.byAddress, address, now);
    const b = account ? this.bump(this.byAccount, account.toLowerCase(), now) : 0;
    const n = Math.max(a, b);
    return Math.min(MAX_FAILURE_DELAY_MS, BASE_FAILURE_DELAY_MS * 2 ** Math.min(n - 1, 10));
  }

  private bump(map: Map<string, Tally>, key: string, now: number): number {
    let tally = map.get(key);
    if (!tally || now - tally.last > WINDOW_MS) tally = { count: 0, last: now };
    tally.count++;
    tally.last = now;
    map.delete(key);
    map.set(key, tally);
    // Maps iterate in insertion order: the first entry is the stalest.
    while (map.size > MAX_ENTRIES) map.delete(map.keys().next().value as string);
    return tally.count;
  }
}
