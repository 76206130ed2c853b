/**
 * The one place that picks a store backend from a location: a directory
 * path selects the embedded SQLite store; a postgres:// URL selects
 * PostgreSQL.
 */
import { resolve } from 'node:path';
import { StoreError } from './errors.js';
import { openSqliteStore } from './sqlite/index.js';
import type { Store } from './types.js';

/** The store location when none is given: --store, then ROOKERY_STORE, then ./rookery-data. */
export function defaultStoreLocation(): string {
  return process.env.ROOKERY_STORE || './rookery-data';
}

export async function openStore(location: string): Promise<Store> {
  if (/^postgres(ql)?:\/\//i.test(location)) {
    // Loaded on demand: the embedded store never pays for the PostgreSQL driver.
    const { openPostgresStore } = await import('./postgres/index.js');
    return openPostgresStore(location);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
    throw new StoreError('bad-parameters', `"${location}" is neither a directory path nor a postgres:// URL`);
  }
  return openSqliteStore(resolve(location));
}
