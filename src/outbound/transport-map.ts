/**
 * The transport map, kept in the store's settings under one key as JSON
 * (domain -> "HOST:PORT"), so every node routes alike and the operator
 * changes it with `rookery transport add|list|del`. "*" is the smarthost:
 * every domain without its own entry goes there instead of to its MX.
 */
import { StoreError } from '../store/errors.js';
import type { Settings } from '../store/types.js';
import { parseTransportTarget, type TransportTarget } from './route.js';

export const transportSettingKey = 'outbound.transports';

function normaliseKey(domain: string): string {
  const d = domain.trim().toLowerCase().replace(/\.$/, '');
  if (d === '*') return d;
  if (!/^(?!-)[a-z0-9\u0080-\uffff.-]{1,253}$/.test(d) || d.includes('..') || d.startsWith('.')) {
    throw new StoreError('bad-parameters', `"${domain}" is not a domain name (or "*" for a smarthost)`);
  }
  return d;
}

/** The map as stored: domain to target text, sorted by domain. */
export async function readTransportEntries(settings: Settings): Promise<Record<string, string>> {
  const raw = await settings.get(transportSettingKey);
  if (!raw) return {};
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      return Object.fromEntries(Object.entries(parsed as Record<string, unknown>).filter(([, v]) => typeof v === 'string').sort(([a], [b]) => (a < b ? -1 : 1))) as Record<string, string>;
    }
  } catch {
    // fall through: a damaged value routes nothing rather than stopping delivery
  }
  return {};
}

/** The map, parsed; entries that do not parse are left out. */
export async function readTransportMap(settings: Settings): Promise<Map<string, TransportTarget>> {
  const map = new Map<string, TransportTarget>();
  for (const [domain, target] of Object.entries(await readTransportEntries(settings))) {
    try {
      map.set(domain, parseTransportTarget(target));
    } catch {
      // skipped: `rookery transport add` never writes such an entry
    }
  }
  return map;
}

/** Adds or replaces the route of a domain; returns the normalised domain and target. */
export async function addTransport(settings: Settings, domain: string, target: string): Promise<{ domain: string; target: string }> {
  const key = normaliseKey(domain);
  let parsed: TransportTarget;
  try {
    parsed = parseTransportTarget(target);
  } catch (err) {
    throw new StoreError('bad-parameters', (err as Error).message);
  }
  const text = `${parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host}:${parsed.port}`;
  const entries = await readTransportEntries(settings);
  entries[key] = text;
  await settings.set(transportSettingKey, JSON.stringify(entries));
  return { domain: key, target: text };
}

/** Removes the route of a domain ('not-found' when it has none). */
export async function removeTransport(settings: Settings, domain: string): Promise<string> {
  const key = normaliseKey(domain);
  const entries = await readTransportEntries(settings);
  if (!(key in entries)) throw new StoreError('not-found', `no transport for ${key}`);
  delete entries[key];
  await settings.set(transportSettingKey, JSON.stringify(entries));
  return key;
}
