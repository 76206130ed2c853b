/**
 * The cluster registry (nodes and traffic managers, heartbeats, health) on
 * PostgreSQL. Heartbeat times come from the database server's clock and
 * staleness is judged against the same clock, so nodes on machines whose
 * clocks disagree still see each other's liveness correctly.
 */
import { StoreError } from '../errors.js';
import type { ClusterRegistry, Member, MemberRegistration, MemberState, ServiceHealth } from '../types.js';
import { nowMs, type Pg } from './database.js';
import { toMember, type MemberRow } from '../rows.js';

/** A registry row read together with the database's clock, which staleness is judged by. */
type TimedMemberRow = MemberRow & { now_ms: number };
import { checkMemberName } from '../rules.js';

const defaultStaleAfterMs = 3000;
const states: readonly MemberState[] = ['up', 'draining', 'down'];

export class PgClusterRegistry implements ClusterRegistry {
  constructor(private readonly db: Pg) {}

  async register(member: MemberRegistration): Promise<void> {
    checkMemberName(member.name);
    await this.db.query('registering a cluster member', `INSERT INTO cluster_members
        (name, role, address, source_address, host, pid, version, services, state, started_at, heartbeat_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'up', ${nowMs}, ${nowMs})
      ON CONFLICT (name) DO UPDATE SET role = excluded.role, address = excluded.address,
        source_address = excluded.source_address, host = excluded.host,
        pid = excluded.pid, version = excluded.version, services = excluded.services, state = 'up',
        started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at`,
    [member.name, member.role, member.address, member.sourceAddress ?? null, member.host, member.pid, member.version, JSON.stringify(member.services)]);
  }

  async heartbeat(name: string, services: Record<string, ServiceHealth>): Promise<void> {
    const rows = await this.db.query('recording a heartbeat', `UPDATE cluster_members SET heartbeat_at = ${nowMs}, services = $1,
        state = CASE WHEN state = 'draining' THEN 'draining' ELSE 'up' END WHERE name = $2 RETURNING name`,
    [JSON.stringify(services), name]);
    if (rows.length === 0) throw new StoreError('not-found', `no cluster member ${name}`);
  }

  async setState(name: string, state: MemberState): Promise<void> {
    if (!states.includes(state)) throw new StoreError('bad-parameters', `state must be one of ${states.join(', ')}`);
    const rows = await this.db.query('changing a member state', 'UPDATE cluster_members SET state = $1 WHERE name = $2 RETURNING name', [state, name]);
    if (rows.length === 0) throw new StoreError('not-found', `no cluster member ${name}`);
  }

  async list(opts: { staleAfterMs?: number } = {}): Promise<Member[]> {
    const rows = await this.db.query<TimedMemberRow>('listing cluster members',
      `SELECT *, ${nowMs} AS now_ms FROM cluster_members ORDER BY role DESC, name`);
    return rows.map((r) => toMember(r, opts.staleAfterMs ?? defaultStaleAfterMs, Number(r.now_ms)));
  }

  async get(name: string, opts: { staleAfterMs?: number } = {}): Promise<Member | null> {
    const rows = await this.db.query<TimedMemberRow>('reading a cluster member',
      `SELECT *, ${nowMs} AS now_ms FROM cluster_members WHERE name = $1`, [name]);
    return rows[0] ? toMember(rows[0], opts.staleAfterMs ?? defaultStaleAfterMs, Number(rows[0].now_ms)) : null;
  }

  async remove(name: string): Promise<void> {
    const rows = await this.db.query('removing a cluster member', 'DELETE FROM cluster_members WHERE name = $1 RETURNING name', [name]);
    if (rows.length === 0) throw new StoreError('not-found', `no cluster member ${name}`);
  }
}
