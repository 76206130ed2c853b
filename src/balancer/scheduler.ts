/**
 * Which backend gets the next connection. Both schedulers are weighted and
 * pick among the candidates they are given (the pool passes only healthy
 * backends not yet tried for this connection).
 */

export type SchedulerName = 'round-robin' | 'least-connections';

/** What a scheduler needs to know of a backend. */
export interface Schedulable {
  /** Stable identity (service, address and port). */
  readonly key: string;
  /** Relative share of connections, at least 1. */
  readonly weight: number;
  /** Connections open (or being opened) to it right now. */
  readonly activeConnections: number;
}

export interface Scheduler {
  readonly name: SchedulerName;
  /** The backend for the next connection, or null when there are no candidates. */
  pick<T extends Schedulable>(candidates: readonly T[]): T | null;
}

/**
 * Smooth weighted round robin: each pick adds every candidate's weight to
 * its credit, takes the one with the most credit and charges it the total.
 * Weights 5:1:1 give a a b a c a a, spread out rather than in bursts.
 */
export class RoundRobinScheduler implements Scheduler {
  readonly name = 'round-robin';
  private readonly credit = new Map<string, number>();

  pick<T extends Schedulable>(candidates: readonly T[]): T | null {
    let best: T | null = null;
    let bestCredit = -Infinity;
    let total = 0;
    for (const c of candidates) {
      const credit = (this.credit.get(c.key) ?? 0) + c.weight;
      this.credit.set(c.key, credit);
      total += c.weight;
      if (credit > bestCredit) {
        best = c;
        bestCredit = credit;
      }
    }
    if (best) this.credit.set(best.key, bestCredit - total);
    // Forget backends that left the pool long ago so the map stays small.
    if (this.credit.size > 4 * candidates.length + 64) {
      const keep = new Set(candidates.map((c) => c.key));
      for (const k of this.credit.keys()) if (!keep.has(k)) this.credit.delete(k);
    }
    return best;
  }
}

/**
 * Least connections, weighted: the fewest open connections per unit of
 * weight. Ties go round the candidates in turn so equal backends share the
 * load when connections are short.
 */
export class LeastConnectionsScheduler implements Scheduler {
  readonly name = 'least-connections';
  private turn = 0;

  pick<T extends Schedulable>(candidates: readonly T[]): T | null {
    const n = candidates.length;
    if (n === 0) return null;
    const start = this.turn++ % n;
    let best: T | null = null;
    let bestLoad = Infinity;
    for (let i = 0; i < n; i++) {
      const c = candidates[(start + i) % n]!;
      const load = c.activeConnections / c.weight;
      if (load < bestLoad) {
        best = c;
        bestLoad = load;
      }
    }
    return best;
  }
}

export function createScheduler(name: SchedulerName): Scheduler {
  return name === 'least-connections' ? new LeastConnectionsScheduler() : new RoundRobinScheduler();
}
