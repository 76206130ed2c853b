/** The directory (domains, users, aliases, forwards) on the embedded store. */
import { checkPassword, checkQuota, checkRole, normalizeAliasAddress } from '../rules.js';
import { recipientWalk, walkSync } from '../recipient-walk.js';
import { StoreError } from '../errors.js';
import { domainOf, normalizeAddress, normalizeDomain } from '../address.js';
import { hashPassword, unmatchableHash, verifyPassword } from '../passwords.js';
import { defaultMailboxes } from '../default-mailboxes.js';
import type { Alias, Directory, Domain, Forward, NewUser, Resolution, User, UserChanges, UserId } from '../types.js';
import { type Db, isUniqueViolation, prepared, storeCall } from './database.js';
import type { SqliteChangeFeed } from './changes.js';
import { toAliases, toUser, type UserRow } from '../rows.js';

export class SqliteDirectory implements Directory {
  constructor(private readonly db: Db, private readonly feed: SqliteChangeFeed) {}

  /** A write transaction that tells every process the directory changed (once it commits). */
  private write<T>(fn: () => T): T {
    return this.feed.transaction((changed) => {
      const result = fn();
      changed({ kind: 'directory' });
      return result;
    });
  }


  private requireDomain(domain: string): void {
    const row = prepared(this.db, 'SELECT 1 FROM domains WHERE name = ?').get(domain);
    if (!row) throw new StoreError('not-found', `${domain} is not a local domain; add it first with "rookery domain add ${domain}"`);
  }

  async addDomain(name: string): Promise<Domain> {
    const domain = normalizeDomain(name);
    const createdAt = Date.now();
    return storeCall('adding a domain', () => {
      try {
        this.write(() => prepared(this.db, 'INSERT INTO domains (name, created_at) VALUES (?, ?)').run(domain, createdAt));
      } catch (err) {
        if (isUniqueViolation(err)) throw new StoreError('exists', `domain ${domain} exists already`);
        throw err;
      }
      return { name: domain, createdAt: new Date(createdAt) };
    });
  }

  async listDomains(): Promise<Domain[]> {
    return storeCall('listing domains', () =>
      (prepared(this.db, 'SELECT name, created_at FROM domains ORDER BY name').all() as { name: string; created_at: number }[])
        .map((r) => ({ name: r.name, createdAt: new Date(r.created_at) })));
  }

  async removeDomain(name: string): Promise<void> {
    const domain = normalizeDomain(name);
    storeCall('removing a domain', () => this.write(() => {
      this.requireDomain(domain);
      const users = (prepared(this.db, 'SELECT count(*) AS n FROM users WHERE domain = ?').get(domain) as { n: number }).n;
      const aliases = (prepared(this.db, 'SELECT count(DISTINCT address) AS n FROM aliases WHERE domain = ?').get(domain) as { n: number }).n;
      if (users > 0 || aliases > 0) {
        throw new StoreError('exists', `domain ${domain} still has ${users} user(s) and ${aliases} alias(es); remove them first`);
      }
      prepared(this.db, 'DELETE FROM forwards WHERE domain = ?').run(domain);
      prepared(this.db, 'DELETE FROM domains WHERE name = ?').run(domain);
    }));
  }

  async isLocalDomain(name: string): Promise<boolean> {
    let domain: string;
    try {
      domain = normalizeDomain(name);
    } catch {
      return false;
    }
    return storeCall('looking up a domain', () => prepared(this.db, 'SELECT 1 FROM domains WHERE name = ?').get(domain) !== undefined);
  }

  async addUser(user: NewUser): Promise<User> {
    const address = normalizeAddress(user.address);
    checkQuota(user.quotaBytes);
    checkRole(user.role);
    checkPassword(user.password);
    const hash = await hashPassword(user.password);
    const createdAt = Date.now();
    return storeCall('adding a user', () => this.write(() => {
      const domain = domainOf(address);
      this.requireDomain(domain);
      let id: number;
      try {
        id = Number(prepared(this.db, `INSERT INTO users (address, domain, password_hash, quota_bytes, customer_id, enabled, role, created_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run(address, domain, hash, user.quotaBytes ?? 0, user.customerId ?? '',
          user.enabled === false ? 0 : 1, user.role ?? 'user', createdAt).lastInsertRowid);
      } catch (err) {
        if (isUniqueViolation(err)) throw new StoreError('exists', `user ${address} exists already`);
        throw err;
      }
      const insertMailbox = prepared(this.db, 'INSERT INTO mailboxes (user_id, name, special_use, uid_validity) VALUES (?, ?, ?, ?)');
      const subscribe = prepared(this.db, 'INSERT INTO subscriptions (user_id, name) VALUES (?, ?)');
      const uidValidity = Math.floor(createdAt / 1000);
      for (const mb of defaultMailboxes) {
        insertMailbox.run(id, mb.name, mb.specialUse, uidValidity);
        subscribe.run(id, mb.name);
      }
      prepared(this.db, 'UPDATE users SET last_uid_validity = ? WHERE id = ?').run(uidValidity, id);
      return toUser(prepared(this.db, 'SELECT * FROM users WHERE id = ?').get(id) as UserRow);
    }));
  }

  async getUser(address: string): Promise<User | null> {
    let normalized: string;
    try {
      normalized = normalizeAddress(address);
    } catch {
      return null;
    }
    const row = storeCall('looking up a user', () => prepared(this.db, 'SELECT * FROM users WHERE address = ?').get(normalized) as UserRow | undefined);
    return row ? toUser(row) : null;
  }

  async getUserById(id: UserId): Promise<User | null> {
    const row = storeCall('looking up a user', () => prepared(this.db, 'SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined);
    return row ? toUser(row) : null;
  }

  async listUsers(domain?: string): Promise<User[]> {
    const rows = storeCall('listing users', () => domain === undefined
      ? prepared(this.db, 'SELECT * FROM users ORDER BY address').all()
      : prepared(this.db, 'SELECT * FROM users WHERE domain = ? ORDER BY address').all(normalizeDomain(domain))) as UserRow[];
    return rows.map(toUser);
  }

  async updateUser(address: string, changes: UserChanges): Promise<User> {
    const normalized = normalizeAddress(address);
    checkQuota(changes.quotaBytes);
    checkRole(changes.role);
    checkPassword(changes.password);
    const hash = changes.password !== undefined ? await hashPassword(changes.password) : undefined;
    return storeCall('changing a user', () => this.write(() => {
      const row = prepared(this.db, 'SELECT * FROM users WHERE address = ?').get(normalized) as UserRow | undefined;
      if (!row) throw new StoreError('not-found', `no user ${normalized}`);
      prepared(this.db, `UPDATE users SET password_hash = ?, quota_bytes = ?, customer_id = ?, enabled = ?, role = ? WHERE id = ?`).run(
        hash ?? row.password_hash,
        changes.quotaBytes ?? row.quota_bytes,
        changes.customerId ?? row.customer_id,
        changes.enabled === undefined ? row.enabled : changes.enabled ? 1 : 0,
        changes.role ?? row.role,
        row.id,
      );
      return toUser(prepared(this.db, 'SELECT * FROM users WHERE id = ?').get(row.id) as UserRow);
    }));
  }

  async removeUser(address: string): Promise<void> {
    const normalized = normalizeAddress(address);
    storeCall('removing a user', () => this.write(() => {
      const result = prepared(this.db, 'DELETE FROM users WHERE address = ?').run(normalized);
      if (result.changes === 0) throw new StoreError('not-found', `no user ${normalized}`);
      prepared(this.db, 'DELETE FROM forwards WHERE address = ?').run(normalized);
    }));
  }

  async authenticate(address: string, password: string): Promise<User | null> {
    let normalized: string | null = null;
    try {
      normalized = normalizeAddress(address);
    } catch {
      // fall through: still spend the time a real check takes
    }
    const row = normalized === null ? undefined
      : storeCall('checking a password', () => prepared(this.db, 'SELECT * FROM users WHERE address = ?').get(normalized) as UserRow | undefined);
    const ok = await verifyPassword(password, row?.password_hash ?? unmatchableHash);
    if (!row || !ok || row.enabled !== 1) return null;
    return toUser(row);
  }

  async addAlias(address: string, targets: string[]): Promise<Alias> {
    const alias = normalizeAliasAddress(address);
    if (targets.length === 0) throw new StoreError('bad-parameters', 'an alias needs at least one target');
    const normalizedTargets = [...new Set(targets.map((t) => normalizeAddress(t)))];
    return storeCall('adding an alias', () => this.write(() => {
      const domain = domainOf(alias);
      this.requireDomain(domain);
      const existing = prepared(this.db, 'SELECT target FROM aliases WHERE address = ?').all(alias) as { target: string }[];
      const have = new Set(existing.map((r) => r.target));
      const insert = prepared(this.db, 'INSERT INTO aliases (address, domain, target, position) VALUES (?, ?, ?, ?)');
      let position = existing.length;
      for (const t of normalizedTargets) if (!have.has(t)) insert.run(alias, domain, t, position++);
      return { address: alias, targets: this.aliasTargets(alias) };
    }));
  }

  private aliasTargets(alias: string): string[] {
    return (prepared(this.db, 'SELECT target FROM aliases WHERE address = ? ORDER BY position').all(alias) as { target: string }[]).map((r) => r.target);
  }

  async listAliases(domain?: string): Promise<Alias[]> {
    const rows = storeCall('listing aliases', () => (domain === undefined
      ? prepared(this.db, 'SELECT address, target FROM aliases ORDER BY address, position').all()
      : prepared(this.db, 'SELECT address, target FROM aliases WHERE domain = ? ORDER BY address, position').all(normalizeDomain(domain))) as { address: string; target: string }[]);
    return toAliases(rows);
  }

  async removeAlias(address: string): Promise<void> {
    const alias = normalizeAliasAddress(address);
    const result = storeCall('removing an alias', () => this.write(() => prepared(this.db, 'DELETE FROM aliases WHERE address = ?').run(alias)));
    if (result.changes === 0) throw new StoreError('not-found', `no alias ${alias}`);
  }

  async addForward(address: string, target: string, keepCopy = false): Promise<Forward> {
    const from = normalizeAddress(address);
    const to = normalizeAddress(target);
    if (from === to) throw new StoreError('bad-parameters', 'an address cannot forward to itself');
    return storeCall('adding a forward', () => this.write(() => {
      const user = prepared(this.db, 'SELECT 1 FROM users WHERE address = ?').get(from);
      if (!user) throw new StoreError('not-found', `no user ${from}; forwards belong to users`);
      try {
        prepared(this.db, 'INSERT INTO forwards (address, domain, target, keep_copy) VALUES (?, ?, ?, ?)').run(from, domainOf(from), to, keepCopy ? 1 : 0);
      } catch (err) {
        if (isUniqueViolation(err)) throw new StoreError('exists', `${from} forwards to ${to} already`);
        throw err;
      }
      return { address: from, target: to, keepCopy };
    }));
  }

  async listForwards(domain?: string): Promise<Forward[]> {
    const rows = storeCall('listing forwards', () => (domain === undefined
      ? prepared(this.db, 'SELECT address, target, keep_copy FROM forwards ORDER BY address, target').all()
      : prepared(this.db, 'SELECT address, target, keep_copy FROM forwards WHERE domain = ? ORDER BY address, target').all(normalizeDomain(domain))) as { address: string; target: string; keep_copy: number }[]);
    return rows.map((r) => ({ address: r.address, target: r.target, keepCopy: r.keep_copy === 1 }));
  }

  async removeForward(address: string, target: string): Promise<void> {
    const result = storeCall('removing a forward', () => this.write(() =>
      prepared(this.db, 'DELETE FROM forwards WHERE address = ? AND target = ?').run(normalizeAddress(address), normalizeAddress(target))));
    if (result.changes === 0) throw new StoreError('not-found', `${address} does not forward to ${target}`);
  }

  async resolveRecipient(address: string): Promise<Resolution | null> {
    let start: string;
    try {
      start = normalizeAddress(address);
    } catch {
      return null;
    }
    // Synchronous from the first question to the last: nothing else runs in this process meanwhile.
    return storeCall('resolving a recipient', () => walkSync(recipientWalk(start), (question) => {
      switch (question.ask) {
        case 'local-domain':
          return prepared(this.db, 'SELECT 1 FROM domains WHERE name = ?').get(question.domain) !== undefined;
        case 'alias-targets':
          return this.aliasTargets(question.address);
        case 'user': {
          const row = prepared(this.db, 'SELECT * FROM users WHERE address = ?').get(question.address) as UserRow | undefined;
          return row ? { user: toUser(row), enabled: row.enabled === 1 } : null;
        }
        case 'forwards':
          return (prepared(this.db, 'SELECT target, keep_copy FROM forwards WHERE address = ? ORDER BY target').all(question.address) as { target: string; keep_copy: number }[])
            .map((f) => ({ target: f.target, keepCopy: f.keep_copy === 1 }));
      }
    }));
  }
}
