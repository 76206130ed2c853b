/**
 * The Sender Rewriting Scheme (Shevek's "SRS" paper, as implemented by
 * libsrs2, Mail::SRS and postsrsd), so that mail forwarded out of the
 * cluster passes SPF at the far end: the envelope sender of a forwarded copy
 * becomes an address of ours that encodes the original one, and a bounce
 * sent back to it is turned into the original sender again.
 *
 *   SRS0=HHHH=TT=orig-domain=orig-local@our-domain
 *       HHHH  the first 4 characters of base64(HMAC-SHA1(key, lc TT, lc orig-domain, lc orig-local))
 *       TT    the day number (days since 1970) mod 1024, in 2 base32 characters
 *
 *   SRS1=HHHH=first-forwarder==HHHH=TT=orig-domain=orig-local@our-domain
 *       for a sender that already is someone else's SRS0 address: the SRS0
 *       part is kept as it is (only its forwarder can check it) and our hash
 *       covers lc first-forwarder and lc of the rest, "=HHHH=TT=...".
 *
 * Reversing SRS0 checks the hash and the timestamp (at most maxAgeDays old)
 * and gives "orig-local@orig-domain"; reversing SRS1 checks our hash only
 * and gives "SRS0=HHHH=TT=orig-domain=orig-local@first-forwarder", which is
 * mailed back to that forwarder to reverse in its turn.
 *
 * The hash is compared without regard to case, as Mail::SRS does: some
 * MTAs lower-case local parts, and the hashed data is lower-cased too. The
 * separator after "SRS0"/"SRS1" may be "=", "+" or "-" on input; we write
 * "=".
 *
 * The functions here are pure over a key; srsKey() gets the cluster's key
 * from the store's settings (made on first use, the first writer wins, so
 * every node signs and checks with the same key).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Settings } from '../store/types.js';
import { splitAddress } from './address.js';

/** The store setting holding the key (base64 of 32 random bytes). */
export const SRS_KEY_SETTING = 'srs.key';

/** base32 alphabet of the timestamp (RFC 4648's, as in the SRS paper). */
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** The timestamp counts days modulo 2^10 (two base32 characters). */
const TIMESTAMP_CYCLE = 1024;
const DAY_MS = 86_400_000;

/** How the rewriting is done. */
export interface SrsOptions {
  /** The secret key of the HMAC. */
  key: Buffer | string;
  /** Characters of the hash written; 4 as in libsrs2 and postsrsd. */
  hashLength?: number;
  /** Shortest hash accepted when reversing. */
  hashMin?: number;
  /** Oldest SRS0 address accepted when reversing, in days; 21 as in libsrs2. */
  maxAgeDays?: number;
  /** The clock, for tests. */
  now?: () => Date;
}

/** Why an address could not be reversed. */
export type SrsFailure = 'not-srs' | 'malformed' | 'bad-hash' | 'expired';

export type SrsReverse = { ok: true; address: string } | { ok: false; reason: SrsFailure };

/** Whether a local part looks like an SRS address (whether or not it is valid). */
export function isSrsLocalPart(local: string): boolean {
  return /^srs[01][=+-]/i.test(local);
}

export class Srs {
  private readonly key: Buffer;
  private readonly hashLength: number;
  private readonly hashMin: number;
  private readonly maxAgeDays: number;
  private readonly now: () => Date;

  constructor(opts: SrsOptions) {
    this.key = Buffer.isBuffer(opts.key) ? opts.key : Buffer.from(opts.key, 'utf8');
    if (this.key.length === 0) throw new Error('SRS needs a non-empty key');
    this.hashLength = opts.hashLength ?? 4;
    this.hashMin = opts.hashMin ?? this.hashLength;
    this.maxAgeDays = opts.maxAgeDays ?? 21;
    this.now = opts.now ?? (() => new Date());
  }

  /**
   * The envelope sender to use when forwarding mail from `sender` out of
   * `forwarderDomain` (one of our domains). The null sender stays null; a
   * sender already in our domain needs no rewriting (SPF passes for it).
   */
  forward(sender: string, forwarderDomain: string): string {
    if (sender === '') return '';
    const parts = splitAddress(sender);
    if (!parts) return sender;
    const ours = forwarderDomain.toLowerCase();
    if (parts.domain.toLowerCase() === ours) return sender;
    const local = parts.local;
    const srs1 = /^srs1[=+-](.*)$/i.exec(local);
    if (srs1) {
      // SRS1=HHHH=first==rest: keep first and rest, sign them anew.
      const fields = /^([^=]+)=([^=]+)=(=.*)$/.exec(srs1[1]!);
      if (fields) {
        const [, , first, rest] = fields as unknown as [string, string, string, string];
        return `SRS1=${this.hash(first, rest)}=${first}=${rest}@${forwarderDomain}`;
      }
    }
    const srs0 = /^srs0([=+-].*)$/i.exec(local);
    if (srs0) {
      // Someone else's SRS0: we become the second forwarder.
      const rest = `=${srs0[1]!.slice(1)}`;
      return `SRS1=${this.hash(parts.domain, rest)}=${parts.domain}=${rest}@${forwarderDomain}`;
    }
    const stamp = this.timestamp();
    return `SRS0=${this.hash(stamp, parts.domain, local)}=${stamp}=${parts.domain}=${local}@${forwarderDomain}`;
  }

  /**
   * The address an SRS address of ours stands for: the original sender
   * (SRS0) or the first forwarder's SRS0 address (SRS1). Only the local
   * part is read; the caller has checked that the domain is ours.
   */
  reverse(address: string): SrsReverse {
    const parts = splitAddress(address);
    const local = parts ? parts.local : address;
    if (!isSrsLocalPart(local)) return { ok: false, reason: 'not-srs' };
    const kind = local[3];
    const body = local.slice(5);
    if (kind === '0') {
      const m = /^([^=]+)=([^=]{2})=([^=]+)=(.+)$/.exec(body);
      if (!m) return { ok: false, reason: 'malformed' };
      const [, hash, stamp, domain, user] = m as unknown as [string, string, string, string, string];
      if (!this.verify(hash, stamp, domain, user)) return { ok: false, reason: 'bad-hash' };
      if (!this.fresh(stamp)) return { ok: false, reason: 'expired' };
      return { ok: true, address: `${user}@${domain}` };
    }
    const m = /^([^=]+)=([^=]+)=(=.+)$/.exec(body);
    if (!m) return { ok: false, reason: 'malformed' };
    const [, hash, first, rest] = m as unknown as [string, string, string, string];
    if (!this.verify(hash, first, rest)) return { ok: false, reason: 'bad-hash' };
    return { ok: true, address: `SRS0${rest}@${first}` };
  }

  /** The current timestamp field. */
  timestamp(date: Date = this.now()): string {
    const day = Math.floor(date.getTime() / DAY_MS) % TIMESTAMP_CYCLE;
    return BASE32[(day >> 5) & 31]! + BASE32[day & 31]!;
  }

  private fresh(stamp: string): boolean {
    const upper = stamp.toUpperCase();
    const hi = BASE32.indexOf(upper[0]!);
    const lo = BASE32.indexOf(upper[1]!);
    if (hi < 0 || lo < 0) return false;
    const then = (hi << 5) | lo;
    const today = Math.floor(this.now().getTime() / DAY_MS) % TIMESTAMP_CYCLE;
    // Days elapsed, across the wrap of the 1024-day cycle.
    const age = (today - then + TIMESTAMP_CYCLE) % TIMESTAMP_CYCLE;
    return age <= this.maxAgeDays;
  }

  private hash(...data: string[]): string {
    return this.fullHash(data).slice(0, this.hashLength);
  }

  private fullHash(data: readonly string[]): string {
    const mac = createHmac('sha1', this.key);
    for (const d of data) mac.update(d.toLowerCase(), 'utf8');
    return mac.digest('base64');
  }

  private verify(given: string, ...data: string[]): boolean {
    if (given.length < this.hashMin) return false;
    const expected = Buffer.from(this.fullHash(data).slice(0, given.length).toLowerCase());
    const actual = Buffer.from(given.toLowerCase());
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
}

/**
 * The cluster's SRS key: read from the store's settings, or made now and
 * stored if absent. When two nodes race, setIfAbsent makes the first
 * writer's key the only one, and both return it.
 */
export async function srsKey(settings: Settings): Promise<Buffer> {
  const existing = await settings.get(SRS_KEY_SETTING);
  const value = existing ?? (await settings.setIfAbsent(SRS_KEY_SETTING, randomBytes(32).toString('base64')));
  return Buffer.from(value, 'base64');
}

const clusterInstances = new WeakMap<Settings, Promise<Srs>>();

/**
 * The cluster's Srs (its key from srsKey), made once per open store and
 * shared by every service of the process; a failure to read the key is
 * not cached, so the next message tries again.
 */
export function clusterSrs(settings: Settings): Promise<Srs> {
  let p = clusterInstances.get(settings);
  if (!p) {
    p = srsKey(settings).then((key) => new Srs({ key }));
    clusterInstances.set(settings, p);
    p.catch(() => clusterInstances.delete(settings));
  }
  return p;
}
