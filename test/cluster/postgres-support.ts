/**
 * Helpers for the cluster tests on PostgreSQL (postgres-*.test.ts): a
 * fresh database per test with its own blob directory, admin statements
 * against it (cutting connections, refusing new ones), and a small IMAP
 * line client for IDLE.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { tempDir } from '../helpers/temp.js';

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
  blobsDir: string;
  /** Ends every connection to the database (the nodes', the LISTEN ones); returns how many. */
  cutConnections(): Promise<number>;
  /** Refuses (false) or allows (true) new connections to the database. */
  allowConnections(allow: boolean): Promise<void>;
  drop(): Promise<void>;
}

export async function freshDatabase(): Promise<TestDatabase> {
  const name = `rookery_test_${randomBytes(6).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const root = await tempDir('rookery-pg-cluster-');
  const blobsDir = join(root, 'blobs');
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  url.searchParams.set('blobs', blobsDir);
  return {
    name,
    location: url.toString(),
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

/** A bare IMAP client: tagged commands, and untagged lines collected as they come (IDLE). */
export class ImapLines {
  readonly lines: string[] = [];
  private buffer = '';
  private waiters = new Set<() => void>();
  private tag = 0;
  closed = false;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let nl: number;
      while ((nl = this.buffer.indexOf('\r\n')) >= 0) {
        this.lines.push(this.buffer.slice(0, nl));
        this.buffer = this.buffer.slice(nl + 2);
      }
      for (const w of [...this.waiters]) w();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of [...this.waiters]) w();
    });
    socket.on('error', () => undefined);
  }

  static async open(port: number, host = '127.0.0.1'): Promise<ImapLines> {
    const socket = connect(port, host);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new ImapLines(socket);
    await c.until((l) => l.startsWith('* OK'), 5000, 'the greeting');
    return c;
  }

  /** Resolves with the first line from index `from` on that matches; rejects after ms. */
  until(pred: (line: string) => boolean, ms: number, what: string, from = 0): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.lines.slice(from).find(pred);
        if (found !== undefined) {
          done();
          resolve(found);
        } else if (this.closed) {
          done();
          reject(new Error(`${what}: the connection closed; lines: ${this.lines.slice(-10).join(' | ')}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${what}: not seen within ${ms} ms; last lines: ${this.lines.slice(-10).join(' | ')}`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Sends a command and waits for its tagged reply; returns that line. */
  async command(text: string, ms = 10000): Promise<string> {
    const tag = `t${++this.tag}`;
    const from = this.lines.length;
    this.socket.write(`${tag} ${text}\r\n`);
    return this.until((l) => l.startsWith(`${tag} `), ms, text, from);
  }

  async idle(): Promise<void> {
    const from = this.lines.length;
    this.socket.write(`t${++this.tag} IDLE\r\n`);
    await this.until((l) => l.startsWith('+'), 5000, 'IDLE', from);
  }

  /** The highest message count an EXISTS line reported so far. */
  exists(): number {
    let n = -1;
    for (const l of this.lines) {
      const m = /^\* (\d+) EXISTS$/.exec(l);
      if (m) n = Number(m[1]);
    }
    return n;
  }

  end(): void {
    this.socket.destroy();
  }
}
