/**
 * Which addresses an authenticated user may send as (submission's
 * envelope sender and From): its own address, and every alias that leads
 * to it through alias entries alone (an alias whose targets include the
 * user, or include another alias that does). Not:
 *
 * - the domain catch-all ("@domain"): its target would otherwise send as
 *   any address in the domain that happens not to exist;
 * - forwards: bob forwarding to alice does not let alice be bob.
 *
 * Addresses compare case-insensitively, as the directory stores them.
 */
import type { Directory, User } from '../store/types.js';
import { domainOf, normaliseAddress } from './address.js';

/** How deep alias chains are followed (the directory's own limit is of the same order). */
const MAX_ALIAS_DEPTH = 10;

function key(address: string): string | null {
  const n = normaliseAddress(address);
  return n ? n.toLowerCase() : null;
}

/** Whether `user` may use `address` as its sender. */
export async function maySendAs(directory: Directory, user: User, address: string): Promise<boolean> {
  const wanted = key(address);
  const self = key(user.address);
  if (!wanted || !self) return false;
  if (wanted === self) return true;
  const domain = domainOf(wanted);
  if (!domain || !(await directory.isLocalDomain(domain))) return false;
  // Alias entries per domain, read once each.
  const byDomain = new Map<string, Map<string, string[]>>();
  const targetsOf = async (alias: string): Promise<string[] | null> => {
    const d = domainOf(alias);
    if (!d) return null;
    let table = byDomain.get(d);
    if (!table) {
      table = new Map();
      if (await directory.isLocalDomain(d)) {
        for (const a of await directory.listAliases(d)) {
          if (a.address.startsWith('@')) continue;
          const k = key(a.address);
          if (k) table.set(k, a.targets);
        }
      }
      byDomain.set(d, table);
    }
    return table.get(alias) ?? null;
  };
  const seen = new Set<string>();
  const leadsToUser = async (alias: string, depth: number): Promise<boolean> => {
    if (depth > MAX_ALIAS_DEPTH || seen.has(alias)) return false;
    seen.add(alias);
    const targets = await targetsOf(alias);
    if (!targets) return false;
    for (const t of targets) {
      const k = key(t);
      if (!k) continue;
      if (k === self) return true;
      if (await leadsToUser(k, depth + 1)) return true;
    }
    return false;
  };
  return leadsToUser(wanted, 0);
}
