/**
 * The loop guard's "self" (ZMailer's SELFADDRESSES): every address of the
 * cluster. A destination that resolves to one of them would hand the mail
 * back to us, so it is a loop, never a delivery between nodes. Self is:
 * every registered member's address (nodes, and traffic managers with their
 * virtual and source addresses), the running node's own address, and the
 * extra addresses in the store setting `outbound.selfAddresses`
 * (comma-separated: NAT'd public addresses, a VIP the registry does not
 * know). A wildcard address (0.0.0.0, ::) stands for every address of this
 * machine's interfaces.
 */
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Store } from '../store/types.js';

export const selfAddressesSettingKey = 'outbound.selfAddresses';

/** Canonical text of an address: IPv4-mapped IPv6 as IPv4, IPv6 lower case. */
export function canonicalAddress(address: string): string {
  const a = address.trim().replace(/^\[|\]$/g, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped) return mapped[1]!;
  return a.toLowerCase();
}

function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => canonicalAddress(i.address)));
}

/** Builds the set of self addresses from addresses as written anywhere. */
export function selfSet(addresses: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const raw of addresses) {
    const a = canonicalAddress(raw);
    if (a === '0.0.0.0' || a === '::') {
      for (const i of interfaceAddresses()) out.add(i);
      continue;
    }
    if (isIP(a)) out.add(a);
  }
  return out;
}

/** Reads every cluster address from the store; `own` is the running node's address. */
export async function readSelfAddresses(store: Store, own: string[] = []): Promise<Set<string>> {
  const members = await store.cluster.list();
  const extra = (await store.settings.get(selfAddressesSettingKey)) ?? '';
  return selfSet([
    ...own,
    ...members.flatMap((m) => [m.address, ...(m.sourceAddress ? [m.sourceAddress] : [])]),
    ...extra.split(',').map((s) => s.trim()).filter(Boolean),
  ]);
}
