/** The directory (domains, users, aliases, forwards) on PostgreSQL. */
import { checkPassword, checkQuota, checkRole, normalizeAliasAddress } from '../rules.js';
import { recipientWalk, walkAsync } from '../recipient-walk.js';
import { StoreError } from '../errors.js';
import { domainOf, normalizeAddress, normalizeDomain } from '../address.js';
import { hashPassword, unmatchableHash, verifyPassword } from '../passwords.js';
import { defaultMailboxes } from '../default-mailboxes.js';
import type { Alias, Directory, Domain, Forward, NewUser, Resolution, User, UserChanges, UserId } from '../types.js';
import { q, type Client, type Pg } from './database.js';
import type { PgChangeFeed } from './changes.js';
import { FeedCache, FeedCacheMap } from './feed-cache.js';
import { isForeignKeyViolation, isUniqueViolation } from './errors.js';
import { toAliases, toUser, type UserRow } from '../rows.js';

/** Most recipient resolutions a process keeps (about 1 KB each). */
const maxRecipientCopies = 10_000;

function noDomain(domain: string): StoreError {
  return new StoreError('not-found', `${domain} is not a local domain; add it first with "rookery domain add ${domain}"`);
}

export class PgDirectory implements Directory {
  /**
   * The local domains: every delivery asks isLocalDomain, and the set
   * changes rarely. Domains are changed only by directory writes, which
   * announce a 'directory' change (feed-cache.ts says why that keeps it right).
   */
  private readonly domains: FeedCache<Set<string>>;
  /**
   * What recipient addresses resolve to: every RCPT asks, and each answer
   * would be a round trip. Every directory write announces a 'directory'
   * change, which drops them all. Only answers that name someone are kept,
   * as with the domains: "nobody" is read afresh, so a user added on
   * another node a moment ago, its notice still on the way, is not refused.
   * Nor is an answer naming a user with a quota: its used bytes, which RCPT
   * checks, change with every delivery and expunge, and those are not
   * directory changes.
   */
  private readonly recipients: FeedCacheMap<string, Resolution | null>;

  constructor(
    private readonly db: Pg,
    /** The store's change feed: while it is live, isLocalDomain answers from a copy of the domain set. */
    feed: PgChangeFeed | null = null,
  ) {
    this.domains = new FeedCache(feed, ['directory'], async () =>
      new Set((await db.query<{ name: string }>('listing domains', 'SELECT name FROM domains')).map((r) => r.name)));
    this.recipients = new FeedCacheMap(feed, ['directory'], (address) => this.readRecipient(address), {
      maxEntries: maxRecipientCopies,
      keep: (resolution) => resolution !== null && resolution.localUsers.every((u) => u.quotaBytes <= 0),
    });
  }

  /** A transaction that tells every process the directory changed (NOTIFY at its commit). */
  private write<T>(what: string, fn: (c: Client) => Promise<T>): Promise<T> {
    return this.db.transaction(what, async (c, changed) => {
      const result = await fn(c);
      changed({ kind: 'directory' });
      return result;
    });
  }

  private async requireDomain(c: Client, domain: string): Promise<void> {
    if ((await q(c, 'SELECT 1 FROM domains WHERE name = $1', [domain])).length === 0) throw noDomain(domain);
  }

  async addDomain(name: string): Promise<Domain> {
    const domain = normalizeDomain(name);
    const createdAt = Date.now();
    await this.write('adding a domain', async (c) => {
      try {
        await q(c, 'INSERT INTO domains (name, created_at) VALUES ($1, $2)', [domain, createdAt]);
      } catch (err) {
        if (isUniqueViolation(err)) throw new StoreError('exists', `domain ${domain} exists already`);
        throw err;
      }
    });
    return { name: domain, createdAt: new Date(createdAt) };
  }

  async listDomains(): Promise<Domain[]> {
    const rows = await this.db.query<{ name: string; created_at: number }>('listing domains', 'SELECT name, created_at FROM domains ORDER BY name');
    return rows.map((r) => ({ name: r.name, createdAt: new Date(r.created_at) }));
  }

  async removeDomain(name: string): Promise<void> {
    const domain = normalizeDomain(name);
    await this.write('removing a domain', async (c) => {
      // The row lock waits for (and then sees) users and aliases being added in
      // the domain right now: their foreign keys hold a share lock on this row.
      if ((await q(c, 'SELECT 1 FROM domains WHERE name = $1 FOR UPDATE', [domain])).length === 0) throw noDomain(domain);
      const [counts] = await q<{ users: number; aliases: number }>(c, `SELECT
          (SELECT count(*) FROM users WHERE domain = $1) AS users,
          (SELECT count(DISTINCT address) FROM aliases WHERE domain = $1) AS aliases`, [domain]);
      if (counts!.users > 0 || counts!.aliases > 0) {
        throw new StoreError('exists', `domain ${domain} still has ${counts!.users} user(s) and ${counts!.aliases} alias(es); remove them first`);
      }
      await q(c, 'DELETE FROM forwards WHERE domain = $1', [domain]);
      await q(c, 'DELETE FROM domains WHERE name = $1', [domain]);
    });
  }

  async isLocalDomain(name: string): Promise<boolean> {
    let domain: string;
    try {
      domain = normalizeDomain(name);
    } catch {
      return false;
    }
    // Only a yes is taken from the copy: a domain added on another node a
    // moment ago, its notice still on the way, is then found in the table.
    const cached = this.domains.get();
    if (cached && (await cached).has(domain)) return true;
    return (await this.db.query('looking up a domain', 'SELECT 1 FROM domains WHERE name = $1', [domain])).length > 0;
  }

  async addUser(user: NewUser): Promise<User> {
    const address = normalizeAddress(user.address);
    checkQuota(user.quotaBytes);
    checkRole(user.role);
    checkPassword(user.password);
    const hash = await hashPassword(user.password);
    const createdAt = Date.now();
    const uidValidity = Math.floor(createdAt / 1000);
    return this.write('adding a user', async (c) => {
      const domain = domainOf(address);
      await this.requireDomain(c, domain);
      let row: UserRow;
      try {
        // The unique address catches a user added concurrently ('exists'); the
        // domain's foreign key catches the domain removed in between ('not-found').
        [row] = await q<UserRow>(c, `INSERT INTO users (address, domain, password_hash, quota_bytes, customer_id, enabled, role, created_at, last_uid_validity)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
        [address, domain, hash, user.quotaBytes ?? 0, user.customerId ?? '', user.enabled !== false, user.role ?? 'user', createdAt, uidValidity]) as [UserRow];
      } catch (err) {
        if (isUniqueViolation(err)) throw new StoreError('exists', `user ${address} exists already`);
        if (isForeignKeyViolation(err)) throw noDomain(domain);
        throw err;
      }
      await q(c, `INSERT INTO mailboxes (user_id, name, special_use, uid_validity)
        SELECT $1, name, special_use, $2 FROM unnest($3::text[], $4::text[]) AS d(name, special_use)`,
      [row.id, uidValidity, defaultMailboxes.map((m) => m.name), defaultMailboxes.map((m) => m.specialUse)]);
      await q(c, 'INSERT INTO subscriptions (user_id, name) SELECT $1, unnest($2::text[])', [row.id, defaultMailboxes.map((m) => m.name)]);
      return toUser(row);
    });
  }

  async getUser(address: string): Promise<User | null> {
    let normalized: string;
    try {
      normalized = normalizeAddress(address);
    } catch {
      return null;
    }
    const rows = await this.db.query<UserRow>('looking up a user', 'SELECT * FROM users WHERE address = $1', [normalized]);
    return rows[0] ? toUser(rows[0]) : null;
  }

  async getUserById(id: UserId): Promise<User | null> {
    if (!Number.isSafeInteger(id)) return null;
    const rows = await this.db.query<UserRow>('looking up a user', 'SELECT * FROM users WHERE id = $1', [id]);
    return rows[0] ? toUser(rows[0]) : null;
  }

  async listUsers(domain?: string): Promise<User[]> {
    const rows = domain === undefined
      ? await this.db.query<UserRow>('listing users', 'SELECT * FROM users ORDER BY address')
      : await this.db.query<UserRow>('listing users', 'SELECT * FROM users WHERE domain = $1 ORDER BY address', [normalizeDomain(domain)]);
    return rows.map(toUser);
  }

  async updateUser(address: string, changes: UserChanges): Promise<User> {
    const normalized = normalizeAddress(address);
    checkQuota(changes.quotaBytes);
    checkRole(changes.role);
    checkPassword(changes.password);
    const hash = changes.password !== undefined ? await hashPassword(changes.password) : undefined;
    // One statement: only the columns given change, whatever else changes concurrently (used_bytes).
    const rows = await this.write('changing a user', (c) => q<UserRow>(c, `UPDATE users SET
        password_hash = coalesce($2, password_hash),
        quota_bytes = coalesce($3, quota_bytes),
        customer_id = coalesce($4, customer_id),
        enabled = coalesce($5, enabled),
        role = coalesce($6, role)
      WHERE address = $1 RETURNING *`,
    [normalized, hash ?? null, changes.quotaBytes ?? null, changes.customerId ?? null, changes.enabled ?? null, changes.role ?? null]));
    if (!rows[0]) throw new StoreError('not-found', `no user ${normalized}`);
    return toUser(rows[0]);
  }

  async removeUser(address: string): Promise<void> {
    const normalized = normalizeAddress(address);
    await this.write('removing a user', async (c) => {
      // Mailboxes, messages, tombstones, subscriptions and the maildrop lock go with it (ON DELETE CASCADE).
      const removed = await q(c, 'DELETE FROM users WHERE address = $1 RETURNING id', [normalized]);
      if (removed.length === 0) throw new StoreError('not-found', `no user ${normalized}`);
      await q(c, 'DELETE FROM forwards WHERE address = $1', [normalized]);
    });
  }

  async authenticate(address: string, password: string): Promise<User | null> {
    let normalized: string | null = null;
    try {
      normalized = normalizeAddress(address);
    } catch {
      // fall through: still spend the time a real check takes
    }
    const row = normalized === null ? undefined
      : (await this.db.query<UserRow>('checking a password', 'SELECT * FROM users WHERE address = $1', [normalized]))[0];
    const ok = await verifyPassword(password, row?.password_hash ?? unmatchableHash);
    if (!row || !ok || !row.enabled) return null;
    return toUser(row);
  }

  async addAlias(address: string, targets: string[]): Promise<Alias> {
    const alias = normalizeAliasAddress(address);
    if (targets.length === 0) throw new StoreError('bad-parameters', 'an alias needs at least one target');
    const normalizedTargets = [...new Set(targets.map((t) => normalizeAddress(t)))];
    return this.write('adding an alias', async (c) => {
      const domain = domainOf(alias);
      await this.requireDomain(c, domain);
      // Two admins adding to one alias at once would compute the same positions;
      // a lock on the alias's name orders them (released at commit).
      await q(c, 'SELECT pg_advisory_xact_lock(hashtext($1))', [`alias:${alias}`]);
      const existing = await q<{ target: string }>(c, 'SELECT target FROM aliases WHERE address = $1', [alias]);
      const have = new Set(existing.map((r) => r.target));
      const fresh = normalizedTargets.filter((t) => !have.has(t));
      if (fresh.length > 0) {
        try {
          await q(c, `INSERT INTO aliases (address, domain, target, position)
            SELECT $1, $2, t, $3 + o - 1 FROM unnest($4::text[]) WITH ORDINALITY AS x(t, o)`, [alias, domain, existing.length, fresh]);
        } catch (err) {
          if (isForeignKeyViolation(err)) throw noDomain(domain);
          throw err;
        }
      }
      return { address: alias, targets: await this.aliasTargets(c, alias) };
    });
  }

  private async aliasTargets(c: Client, alias: string): Promise<string[]> {
    return (await q<{ target: string }>(c, 'SELECT target FROM aliases WHERE address = $1 ORDER BY position', [alias])).map((r) => r.target);
  }

  async listAliases(domain?: string): Promise<Alias[]> {
    const rows = domain === undefined
      ? await this.db.query<{ address: string; target: string }>('listing aliases', 'SELECT address, target FROM aliases ORDER BY address, position')
      : await this.db.query<{ address: string; target: string }>('listing aliases',
        'SELECT address, target FROM aliases WHERE domain = $1 ORDER BY address, position', [normalizeDomain(domain)]);
    return toAliases(rows);
  }

  async removeAlias(address: string): Promise<void> {
    const alias = normalizeAliasAddress(address);
    const rows = await this.write('removing an alias', (c) => q(c, 'DELETE FROM aliases WHERE address = $1 RETURNING 1', [alias]));
    if (rows.length === 0) throw new StoreError('not-found', `no alias ${alias}`);
  }

  async addForward(address: string, target: string, keepCopy = false): Promise<Forward> {
    const from = normalizeAddress(address);
    const to = normalizeAddress(target);
    if (from === to) throw new StoreError('bad-parameters', 'an address cannot forward to itself');
    return this.write('adding a forward', async (c) => {
      // The user's row is share-locked so it cannot be removed before this commits.
      if ((await q(c, 'SELECT 1 FROM users WHERE address = $1 FOR KEY SHARE', [from])).length === 0) {
        throw new StoreError('not-found', `no user ${from}; forwards belong to users`);
      }
      try {
        await q(c, 'INSERT INTO forwards (address, domain, target, keep_copy) VALUES ($1, $2, $3, $4)', [from, domainOf(from), to, keepCopy]);
      } catch (err) {
        if (isUniqueViolation(err)) throw new StoreError('exists', `${from} forwards to ${to} already`);
        throw err;
      }
      return { address: from, target: to, keepCopy };
    });
  }

  async listForwards(domain?: string): Promise<Forward[]> {
    const rows = domain === undefined
      ? await this.db.query<{ address: string; target: string; keep_copy: boolean }>('listing forwards',
        'SELECT address, target, keep_copy FROM forwards ORDER BY address, target')
      : await this.db.query<{ address: string; target: string; keep_copy: boolean }>('listing forwards',
        'SELECT address, target, keep_copy FROM forwards WHERE domain = $1 ORDER BY address, target', [normalizeDomain(domain)]);
    return rows.map((r) => ({ address: r.address, target: r.target, keepCopy: r.keep_copy }));
  }

  async removeForward(address: string, target: string): Promise<void> {
    const rows = await this.write('removing a forward', (c) => q(c, 'DELETE FROM forwards WHERE address = $1 AND target = $2 RETURNING 1',
      [normalizeAddress(address), normalizeAddress(target)]));
    if (rows.length === 0) throw new StoreError('not-found', `${address} does not forward to ${target}`);
  }

  async resolveRecipient(address: string): Promise<Resolution | null> {
    let start: string;
    try {
      start = normalizeAddress(address);
    } catch {
      return null;
    }
    return this.recipients.get(start) ?? this.readRecipient(start);
  }

  /** What a normalized address resolves to, read from PostgreSQL. */
  private async readRecipient(start: string): Promise<Resolution | null> {
    // The common case, a plain user (no alias, no forward), in one statement
    // (its own snapshot) rather than a transaction of five: every RCPT asks.
    // Prepared (named), so PostgreSQL plans it once per connection; the user
    // columns are named rather than u.*, so a column added by a later
    // migration cannot change the result of a statement prepared before it.
    const [plain] = await this.db.query<UserRow & { domain_local: boolean; aliased: boolean; forwarded: boolean }>('resolving a recipient',
      `SELECT EXISTS (SELECT 1 FROM domains WHERE name = $2) AS domain_local,
        EXISTS (SELECT 1 FROM aliases WHERE address = $1) AS aliased,
        EXISTS (SELECT 1 FROM forwards WHERE address = $1) AS forwarded,
        u.id, u.address, u.quota_bytes, u.used_bytes, u.customer_id, u.enabled, u.role, u.created_at, u.password_hash
        FROM (SELECT 1) AS one LEFT JOIN users u ON u.address = $1`, [start, domainOf(start)], 'rookery_resolve_recipient');
    if (plain && !plain.domain_local) return null;
    if (plain && !plain.aliased && !plain.forwarded && plain.id !== null) {
      return plain.enabled ? { localUsers: [toUser(plain)], remoteTargets: [] } : null;
    }
    // One snapshot for the whole walk, so a change made meanwhile is seen entirely or not at all.
    return this.db.transaction('resolving a recipient', (c) => walkAsync(recipientWalk(start), async (question) => {
      switch (question.ask) {
        case 'local-domain':
          return (await q(c, 'SELECT 1 FROM domains WHERE name = $1', [question.domain])).length > 0;
        case 'alias-targets':
          return this.aliasTargets(c, question.address);
        case 'user': {
          const [row] = await q<UserRow>(c, 'SELECT * FROM users WHERE address = $1', [question.address]);
          return row ? { user: toUser(row), enabled: Boolean(row.enabled) } : null;
        }
        case 'forwards':
          return (await q<{ target: string; keep_copy: boolean }>(c, 'SELECT target, keep_copy FROM forwards WHERE address = $1 ORDER BY target', [question.address]))
            .map((f) => ({ target: f.target, keepCopy: f.keep_copy }));
      }
    }), { readOnly: true });
  }
}
