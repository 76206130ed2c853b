/**
 * Reads the zones from the store: local domains, the cluster registry and
 * the DNS settings, built into records, with a SOA serial that grows when
 * the records change (kept in the store so every server and the zone export
 * agree). The live server reads through ZoneCache so that a flood of
 * queries costs one store read per cacheMs.
 */
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import { dnsConfigFromSettings, serialKey } from './config.js';
import { buildZone, nextSerial, parseStoredSerial, withSerial, type Zone } from './records.js';

export interface ReadZonesOptions {
  /** The answering server's own address (the name servers' address when nothing else says). */
  ownAddress?: string;
  /** Heartbeats older than this read as down; the registry's default (3 s) if unset. */
  staleAfterMs?: number;
  /** Only these domains (lower case); every local domain if unset. */
  domains?: string[];
  now?: Date;
}

export interface ZoneSet {
  zones: Zone[];
  /** Sentences about settings or members that could not be used as they are. */
  problems: string[];
}

/** Reads and builds the zones of the local domains, recording new serials in the store. */
export async function readZones(store: Store, opts: ReadZonesOptions = {}): Promise<ZoneSet> {
  const [domains, members, settings] = await Promise.all([
    store.directory.listDomains(),
    store.cluster.list(opts.staleAfterMs === undefined ? {} : { staleAfterMs: opts.staleAfterMs }),
    store.settings.all(),
  ]);
  const { config, problems } = dnsConfigFromSettings(settings);
  const wanted = opts.domains ? new Set(opts.domains) : null;
  const zones: Zone[] = [];
  for (const d of domains) {
    if (wanted && !wanted.has(d.name)) continue;
    const draft = buildZone({ domain: d.name, members, config, ownAddress: opts.ownAddress, serial: 0 });
    const stored = parseStoredSerial(settings[serialKey(d.name)]);
    const serial = nextSerial(stored, draft.digest, opts.now ?? new Date());
    if (!stored || stored.serial !== serial || stored.digest !== draft.digest) {
      try {
        await store.settings.set(serialKey(d.name), `${serial} ${draft.digest}`);
      } catch (err) {
        // The answers do not depend on it; only the next serial might repeat this one.
        problems.push(`${d.name}: the new SOA serial could not be kept in the store: ${(err as Error).message}`);
      }
    }
    zones.push(withSerial(draft, serial));
    problems.push(...draft.problems.map((p) => `${d.name}: ${p}`));
  }
  return { zones, problems };
}

export interface ZoneCacheOptions extends ReadZonesOptions {
  /** How long one read of the store serves answers, in milliseconds. */
  cacheMs: number;
  logger: Logger;
}

/**
 * The zones as of at most cacheMs ago. Concurrent callers share one read.
 * When the store cannot be read, the last zones keep serving (the cluster
 * keeps its last known shape rather than vanishing from DNS) and the
 * failure is logged; before any read succeeds, callers get the error.
 */
export class ZoneCache<T> {
  private value: T | null = null;
  private readAt = 0;
  private pending: Promise<T> | null = null;
  private lastProblems = '';

  constructor(
    private readonly store: Store,
    private readonly opts: ZoneCacheOptions,
    /** Turns a fresh read into what the server looks things up in. */
    private readonly prepare: (zones: ZoneSet) => T,
  ) {}

  async get(): Promise<T> {
    if (this.value !== null && Date.now() - this.readAt < this.opts.cacheMs) return this.value;
    this.pending ??= this.refresh().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  private async refresh(): Promise<T> {
    const startedAt = Date.now();
    try {
      const set = await readZones(this.store, this.opts);
      this.value = this.prepare(set);
      this.readAt = startedAt;
      // Problems are logged when they change, not once a second.
      const problems = set.problems.join('\n');
      if (problems !== this.lastProblems && problems !== '') this.opts.logger.warn({ problems: set.problems }, 'DNS records could not all be built as configured');
      this.lastProblems = problems;
      return this.value;
    } catch (err) {
      if (this.value === null) throw err;
      this.opts.logger.error({ err }, 'reading the zones from the store failed; answering from the last read');
      this.readAt = startedAt;
      return this.value;
    }
  }
}
