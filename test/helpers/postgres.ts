/**
 * PostgreSQL for tests: where the server is (127.0.0.1:5432, trust auth,
 * or ROOKERY_TEST_POSTGRES), why it cannot be used here, statements on the
 * admin database, and a fresh database with its own blob directory per
 * test (cutting its connections, refusing new ones, dropping it).
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { tempDir } from './temp.js';

export const adminUrl = process.env.ROOKERY_TEST_POSTGRES || 'postgres://postgres@127.0.0.1:5432/test';

/** Why the PostgreSQL tests cannot run here, or null when they can. */
export async function postgresUnavailable(): Promise<string | null> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    return `PostgreSQL is not reachable at ${new URL(adminUrl).host} (${(err as Error).message || (err as { code?: string }).code})`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs one statement on the admin database (never the test database, so it survives what it does to it). */
export async function admin<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await client.query<R>(text, values);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface TestDatabase {
  name: string;
  /** postgres://...?blobs=DIR */
  location: string;
  /** The database's own URL, without rookery's parameters (for a bare pg.Client). */
  connectionString: string;
  blobsDir: string;
  /** Ends every connection to the database (the nodes', the LISTEN ones); returns how many. */
  cutConnections(): Promise<number>;
  /** Refuses (false) or allows (true) new connections to the database. */
  allowConnections(allow: boolean): Promise<void>;
  drop(): Promise<void>;
}

/** A fresh, empty database and blob directory; `pool` sets the store's pool size in its location. */
export async function freshDatabase(opts: { pool?: number } = {}): Promise<TestDatabase> {
  const name = `rookery_test_${randomBytes(6).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const root = await tempDir('rookery-pg-cluster-');
  const blobsDir = join(root, 'blobs');
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const connectionString = url.toString();
  url.searchParams.set('blobs', blobsDir);
  if (opts.pool) url.searchParams.set('pool', String(opts.pool));
  return {
    name,
    location: url.toString(),
    connectionString,
    blobsDir,
    async cutConnections() {
      const r = await admin('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
      return r.rowCount ?? 0;
    },
    async allowConnections(allow: boolean) {
      await admin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS ${allow ? 'true' : 'false'}`);
    },
    async drop() {
      await admin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`).catch(() => undefined);
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await rm(root, { recursive: true, force: true });
    },
  };
}
