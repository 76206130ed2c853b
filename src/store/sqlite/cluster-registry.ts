/** The cluster registry (nodes and traffic managers, heartbeats, health) on the embedded store. */
import { StoreError } from '../errors.js';
import type { ClusterRegistry, Member, MemberRegistration, MemberState, ServiceHealth } from '../types.js';
import { type Db, prepared, storeCall } from './database.js';
import { toMember, type MemberRow } from '../rows.js';
import { checkMemberName } from '../rules.js';

const defaultStaleAfterMs = 3000;
const states: readonly MemberState[] = ['up', 'draining', 'down'];

export class SqliteClusterRegistry implements ClusterRegistry {
  constructor(private readonly db: Db) {}


  async register(member: MemberRegistration): Promise<void> {
    checkMemberName(member.name);
    const now = Date.now();
    storeCall('registering a cluster member', () => prepared(this.db, `INSERT INTO cluster_members
        (name, role, address, source_address, host, pid, version, services, state, started_at, heartbeat_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'up', ?, ?)
      ON CONFLICT (name) DO UPDATE SET role = excluded.role, address = excluded.address,
        source_address = excluded.source_address, host = excluded.host,
        pid = excluded.pid, version = excluded.version, services = excluded.services, state = 'up',
        started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at`)
      .run(member.name, member.role, member.address, member.sourceAddress ?? null, member.host, member.pid, member.version, JSON.stringify(member.services), now, now));
  }

  async heartbeat(name: string, services: Record<string, ServiceHealth>): Promise<void> {
    const result = storeCall('recording a heartbeat', () =>
      prepared(this.db, `UPDATE cluster_members SET heartbeat_at = ?, services = ?,
          state = CASE WHEN state = 'draining' THEN 'draining' ELSE 'up' END WHERE name = ?`)
        .run(Date.now(), JSON.stringify(services), name));
    if (result.changes === 0) throw new StoreError('not-found', `no cluster member ${name}`);
  }

  async setState(name: string, state: MemberState): Promise<void> {
    if (!states.includes(state)) throw new StoreError('bad-parameters', `state must be one of ${states.join(', ')}`);
    const result = storeCall('changing a member state', () => prepared(this.db, 'UPDATE cluster_members SET state = ? WHERE name = ?').run(state, name));
    if (result.changes === 0) throw new StoreError('not-found', `no cluster member ${name}`);
  }

  async list(opts: { staleAfterMs?: number } = {}): Promise<Member[]> {
    const now = Date.now();
    const rows = storeCall('listing cluster members', () => prepared(this.db, 'SELECT * FROM cluster_members ORDER BY role DESC, name').all() as MemberRow[]);
    return rows.map((r) => toMember(r, opts.staleAfterMs ?? defaultStaleAfterMs, now));
  }

  async get(name: string, opts: { staleAfterMs?: number } = {}): Promise<Member | null> {
    const row = storeCall('reading a cluster member', () => prepared(this.db, 'SELECT * FROM cluster_members WHERE name = ?').get(name) as MemberRow | undefined);
    return row ? toMember(row, opts.staleAfterMs ?? defaultStaleAfterMs, Date.now()) : null;
  }

  async remove(name: string): Promise<void> {
    const result = storeCall('removing a cluster member', () => prepared(this.db, 'DELETE FROM cluster_members WHERE name = ?').run(name));
    if (result.changes === 0) throw new StoreError('not-found', `no cluster member ${name}`);
  }
}
