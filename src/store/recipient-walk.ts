/**
 * Where mail for an address goes: local users and remote addresses,
 * through aliases (several targets, nested up to maxAliasDepth, loops cut),
 * a domain's catch-all (for the address first asked only) and forwards
 * (with or without a local copy). One algorithm for every directory
 * backend: it asks for rows with `yield` and the backend answers, so the
 * embedded store runs it synchronously inside one call and PostgreSQL
 * asynchronously inside one read-only transaction, each with one snapshot.
 */
import { domainOf } from './address.js';
import { maxAliasDepth } from './rules.js';
import type { Resolution, User } from './types.js';

/** One question the walk asks the backend, and the answer it expects back from `next()`. */
export type RecipientQuestion =
  /** Answer: boolean, whether the domain is one of ours. */
  | { ask: 'local-domain'; domain: string }
  /** Answer: string[], the alias's targets in order (empty: no such alias). `address` may be "@domain", the catch-all. */
  | { ask: 'alias-targets'; address: string }
  /** Answer: RecipientUser | null. */
  | { ask: 'user'; address: string }
  /** Answer: RecipientForward[], the user's forwards ordered by target. */
  | { ask: 'forwards'; address: string };

export interface RecipientUser {
  user: User;
  enabled: boolean;
}

export interface RecipientForward {
  target: string;
  keepCopy: boolean;
}

export type RecipientWalk = Generator<RecipientQuestion, Resolution | null, unknown>;

/** The walk for an address already normalised; null when nothing takes mail for it. */
export function* recipientWalk(start: string): RecipientWalk {
  const local = new Map<number, User>();
  const remote = new Set<string>();
  const seen = new Set<string>();
  const localDomains = new Map<string, boolean>();

  function* isLocal(domain: string): Generator<RecipientQuestion, boolean, unknown> {
    let known = localDomains.get(domain);
    if (known === undefined) {
      known = (yield { ask: 'local-domain', domain }) as boolean;
      localDomains.set(domain, known);
    }
    return known;
  }

  // Returns whether anything answered to the address.
  function* visit(addr: string, depth: number): Generator<RecipientQuestion, boolean, unknown> {
    if (seen.has(addr)) return true; // a loop or a repeat: its targets are already counted
    seen.add(addr);
    const domain = domainOf(addr);
    if (!(yield* isLocal(domain))) {
      remote.add(addr);
      return true;
    }
    if (depth > maxAliasDepth) return false;
    const aliasTargets = (yield { ask: 'alias-targets', address: addr }) as string[];
    if (aliasTargets.length > 0) {
      let any = false;
      for (const t of aliasTargets) any = (yield* visit(t, depth + 1)) || any;
      return any;
    }
    const found = (yield { ask: 'user', address: addr }) as RecipientUser | null;
    if (found) {
      if (!found.enabled) return false;
      const forwards = (yield { ask: 'forwards', address: addr }) as RecipientForward[];
      if (forwards.length === 0 || forwards.some((f) => f.keepCopy)) local.set(found.user.id, found.user);
      for (const f of forwards) yield* visit(f.target, depth + 1);
      return true;
    }
    if (depth === 0) {
      const catchAll = (yield { ask: 'alias-targets', address: `@${domain}` }) as string[];
      let any = false;
      for (const t of catchAll) any = (yield* visit(t, depth + 1)) || any;
      return any;
    }
    return false;
  }

  if (!(yield* isLocal(domainOf(start)))) return null;
  if (!(yield* visit(start, 0))) return null;
  if (local.size === 0 && remote.size === 0) return null;
  return { localUsers: [...local.values()], remoteTargets: [...remote] };
}

/** Runs the walk with a backend that answers at once (the embedded store). */
export function walkSync(walk: RecipientWalk, answer: (q: RecipientQuestion) => unknown): Resolution | null {
  let step = walk.next();
  while (!step.done) step = walk.next(answer(step.value));
  return step.value;
}

/** Runs the walk with a backend that answers over the network. */
export async function walkAsync(walk: RecipientWalk, answer: (q: RecipientQuestion) => Promise<unknown>): Promise<Resolution | null> {
  let step = walk.next();
  while (!step.done) step = walk.next(await answer(step.value));
  return step.value;
}
