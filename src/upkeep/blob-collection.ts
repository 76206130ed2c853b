/**
 * The nodes' own blob collection, so that the bodies of deleted mail do not
 * pile up unless an operator remembers a cron job (src/store/blob-gc.ts says
 * how one collection keeps every body still referred to). Every
 * `limits.blobCollectionHours` (a day by default; 0: never), one node of the
 * cluster runs collectBlobs (blob-gc.ts), as `rookery store gc` would.
 *
 * Turns: the setting `blobs.collection` says which node started the last
 * collection and when. Each node looks every checkEveryMs (the first look
 * at a random moment within it, so nodes started together do not all look
 * at once) whether the next is due, and takes it by a compare-and-set of
 * that setting: of several nodes that look at once, one wins. The outcome is
 * written back into the setting for operators. A node that stops in its turn
 * stops the collection between blobs; one that dies leaves blobs set aside,
 * which the next collection puts back first.
 */
import type { Logger } from '../log.js';
import type { Limits } from '../config/limits.js';
import { collectBlobs, collectionDefaults, type BlobCollectionResult } from '../store/blob-gc.js';
import type { Settings, Store } from '../store/types.js';

export const collectionTurnSetting = 'blobs.collection';

/** What `blobs.collection` holds. */
export interface CollectionTurn {
  node: string;
  startedAt: string;
  finishedAt?: string;
  result?: BlobCollectionResult;
  /** Why the collection ended early, if it did. */
  error?: string;
}

/** The last turn, as kept in the store (null if there was none, or it cannot be read). */
export async function readCollectionTurn(settings: Settings): Promise<CollectionTurn | null> {
  const value = await settings.get(collectionTurnSetting);
  return value === null ? null : parseTurn(value);
}

function parseTurn(value: string): CollectionTurn | null {
  try {
    const turn = JSON.parse(value) as CollectionTurn;
    return typeof turn?.startedAt === 'string' && !Number.isNaN(Date.parse(turn.startedAt)) ? turn : null;
  } catch {
    return null;
  }
}

/**
 * Takes the next collection turn for `node` if one is due (no turn yet, or
 * the last started `intervalMs` or more ago); returns the setting's value as
 * taken, or null when it is not this node's turn.
 */
export async function takeCollectionTurn(settings: Settings, node: string, intervalMs: number, now = new Date()): Promise<string | null> {
  const current = await settings.get(collectionTurnSetting);
  const last = current === null ? null : parseTurn(current);
  if (last && now.getTime() - Date.parse(last.startedAt) < intervalMs) return null;
  const taken = JSON.stringify({ node, startedAt: now.toISOString() } satisfies CollectionTurn);
  return (await settings.compareAndSet(collectionTurnSetting, current, taken)) ? taken : null;
}

export interface BlobCollectionScheduleOptions {
  store: Store;
  nodeName: string;
  logger: Logger;
  /** The node's limits, kept current while it runs: blobCollectionHours is read at each look. */
  limits: Pick<Limits, 'blobCollectionHours'>;
  /** How often to look whether a turn is due; 10 minutes unless given. */
  checkEveryMs?: number;
  /** collectBlobs' minAgeMs and settleMs; collectionDefaults unless given. */
  minAgeMs?: number;
  settleMs?: number;
}

export interface BlobCollectionSchedule {
  /** Stops looking; a collection under way stops between blobs. Resolves once it has. */
  stop(): Promise<void>;
}

export function startBlobCollectionSchedule(opts: BlobCollectionScheduleOptions): BlobCollectionSchedule {
  const checkEveryMs = opts.checkEveryMs ?? 10 * 60_000;
  const stopping = new AbortController();
  let timer: NodeJS.Timeout | null = null;
  let looking: Promise<void> | null = null;

  const collect = async (taken: string): Promise<void> => {
    opts.logger.info('collecting message bodies nothing refers to (this node\'s turn)');
    const turn = parseTurn(taken)!;
    try {
      turn.result = await collectBlobs(opts.store, {
        minAgeMs: opts.minAgeMs ?? collectionDefaults.minAgeMs,
        settleMs: opts.settleMs ?? collectionDefaults.settleMs,
        signal: stopping.signal,
      });
      opts.logger.info({ ...turn.result }, 'blob collection done');
    } catch (err) {
      turn.error = stopping.signal.aborted ? 'stopped with the node' : (err as Error).message;
      if (!stopping.signal.aborted) opts.logger.warn({ err }, 'blob collection failed; the next turn tries again');
    }
    turn.finishedAt = new Date().toISOString();
    // Only over this turn's own value: a later turn (after the interval) is not overwritten.
    await opts.store.settings.compareAndSet(collectionTurnSetting, taken, JSON.stringify(turn));
  };

  const look = async (): Promise<void> => {
    const hours = opts.limits.blobCollectionHours;
    if (hours === 0) return;
    const taken = await takeCollectionTurn(opts.store.settings, opts.nodeName, hours * 3_600_000);
    if (taken !== null) await collect(taken);
  };

  const next = (delayMs: number) => {
    timer = setTimeout(() => {
      timer = null;
      looking = look()
        .catch((err: unknown) => opts.logger.warn({ err }, 'could not look whether a blob collection is due'))
        .finally(() => {
          looking = null;
          if (!stopping.signal.aborted) next(checkEveryMs);
        });
    }, delayMs);
    timer.unref();
  };
  next(Math.random() * checkEveryMs);

  return {
    async stop() {
      stopping.abort();
      if (timer) clearTimeout(timer);
      await looking;
    },
  };
}
