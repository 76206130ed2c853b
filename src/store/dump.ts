/**
 * The table-by-table form of a store dump (types.ts, StoreDumpBatch),
 * shared by both backends: their schemas name every column alike, so one
 * description of the tables reads and writes either through a small SQL
 * adapter (placeholders and booleans are the only differences).
 *
 * Reading pages through each table by its primary key (keyset pagination),
 * inside the backend's snapshot; writing inserts a batch per statement.
 */
import { StoreError } from './errors.js';
import type { StoreDumpBatch } from './types.js';

type Raw = Record<string, unknown>;
type DumpRow = Record<string, unknown>;

/** What a backend lends the dump code, inside its own transaction. */
export interface SqlAccess {
  /** The n-th (1-based) parameter placeholder: "$n" or "?". */
  placeholder(n: number): string;
  all(sql: string, params: unknown[]): Promise<Raw[]>;
  run(sql: string, params: unknown[]): Promise<void>;
  /** A boolean as the database binds it. */
  bool(value: boolean): unknown;
}

interface TableSpec {
  table: StoreDumpBatch['table'];
  /** The SQL table. */
  sql: string;
  /** Primary key columns: the order of export and the pagination key. */
  key: string[];
  /** SQL column to dump field, in insert order. */
  columns: [string, string][];
  booleans?: string[];
}

/** Parents before children: the order of export and import. */
const tables: TableSpec[] = [
  { table: 'domains', sql: 'domains', key: ['name'], columns: [['name', 'name'], ['created_at', 'createdAt']] },
  {
    table: 'users', sql: 'users', key: ['id'], booleans: ['enabled'],
    columns: [['id', 'id'], ['address', 'address'], ['domain', 'domain'], ['password_hash', 'passwordHash'], ['quota_bytes', 'quotaBytes'],
      ['used_bytes', 'usedBytes'], ['customer_id', 'customerId'], ['enabled', 'enabled'], ['role', 'role'], ['created_at', 'createdAt'],
      ['last_uid_validity', 'lastUidValidity']],
  },
  { table: 'aliases', sql: 'aliases', key: ['address', 'target'], columns: [['address', 'address'], ['domain', 'domain'], ['target', 'target'], ['position', 'position']] },
  { table: 'forwards', sql: 'forwards', key: ['address', 'target'], booleans: ['keepCopy'], columns: [['address', 'address'], ['domain', 'domain'], ['target', 'target'], ['keep_copy', 'keepCopy']] },
  {
    table: 'mailboxes', sql: 'mailboxes', key: ['id'],
    columns: [['id', 'id'], ['user_id', 'userId'], ['name', 'name'], ['special_use', 'specialUse'], ['uid_validity', 'uidValidity'],
      ['uid_next', 'uidNext'], ['highest_modseq', 'highestModSeq']],
  },
  { table: 'subscriptions', sql: 'subscriptions', key: ['user_id', 'name'], columns: [['user_id', 'userId'], ['name', 'name']] },
  {
    table: 'messages', sql: 'messages', key: ['mailbox_id', 'uid'],
    columns: [['mailbox_id', 'mailboxId'], ['uid', 'uid'], ['blob_id', 'blobId'], ['size', 'size'], ['internal_date', 'internalDate'],
      ['flags', 'flags'], ['modseq', 'modSeq']],
  },
  { table: 'expunged', sql: 'expunged', key: ['mailbox_id', 'uid'], columns: [['mailbox_id', 'mailboxId'], ['uid', 'uid'], ['modseq', 'modSeq']] },
  { table: 'messageIndex', sql: 'message_index', key: ['blob_id'], columns: [['blob_id', 'blobId'], ['version', 'version'], ['data', 'data']] },
  { table: 'settings', sql: 'settings', key: ['key'], columns: [['key', 'key'], ['value', 'value']] },
  {
    table: 'vacations', sql: 'vacations', key: ['user_id'], booleans: ['enabled'],
    columns: [['user_id', 'userId'], ['enabled', 'enabled'], ['subject', 'subject'], ['body', 'body'], ['starts_at', 'startsAt'], ['ends_at', 'endsAt'],
      ['period_days', 'periodDays'], ['updated_at', 'updatedAt']],
  },
  { table: 'vacationReplies', sql: 'vacation_replies', key: ['user_id', 'sender'], columns: [['user_id', 'userId'], ['sender', 'sender'], ['replied_at', 'repliedAt']] },
];

export const dumpTableOrder: readonly StoreDumpBatch['table'][] = tables.map((t) => t.table);

const pageRows = 1000;
const insertRows = 500;

/** Reads every table, a page at a time. Run inside a snapshot (one read transaction). */
export async function* exportTables(db: SqlAccess): AsyncGenerator<StoreDumpBatch> {
  for (const spec of tables) {
    const cols = spec.columns.map(([c]) => c).join(', ');
    const order = spec.key.join(', ');
    let after: unknown[] | null = null;
    for (;;) {
      const where: string = after === null ? '' : `WHERE (${order}) > (${spec.key.map((_, i) => db.placeholder(i + 1)).join(', ')})`;
      const raw: Raw[] = await db.all(`SELECT ${cols} FROM ${spec.sql} ${where} ORDER BY ${order} LIMIT ${pageRows}`, after ?? []);
      if (raw.length === 0) break;
      const rows = raw.map((r) => {
        const out: DumpRow = {};
        for (const [c, f] of spec.columns) out[f] = spec.booleans?.includes(f) ? r[c] === true || r[c] === 1 : r[c];
        return out;
      });
      yield { table: spec.table, rows } as StoreDumpBatch;
      const last = raw[raw.length - 1]!;
      after = spec.key.map((k) => last[k]);
      if (raw.length < pageRows) break;
    }
  }
}

/** Whether the installation's tables are empty. */
export async function tablesEmpty(db: SqlAccess): Promise<boolean> {
  for (const t of ['domains', 'users', 'aliases', 'settings']) {
    if ((await db.all(`SELECT 1 AS x FROM ${t} LIMIT 1`, [])).length > 0) return false;
  }
  return true;
}

/**
 * Inserts a dump; run inside one write transaction. Refuses a store that
 * is not empty, and tables out of order (a child before its parents).
 */
export async function importTables(db: SqlAccess, batches: AsyncIterable<StoreDumpBatch>, where: string): Promise<void> {
  if (!(await tablesEmpty(db))) {
    throw new StoreError('exists', `the store at ${where} is not empty; copy into a new, empty store`);
  }
  let position = 0;
  for await (const batch of batches) {
    const index = tables.findIndex((t) => t.table === batch.table);
    if (index < 0) throw new StoreError('bad-parameters', `a dump names an unknown table "${batch.table}"`);
    if (index < position) throw new StoreError('bad-parameters', `a dump gives ${batch.table} after ${tables[position]!.table}`);
    position = index;
    const spec = tables[index]!;
    const fields = spec.columns.map(([, f]) => f);
    const rows = batch.rows as DumpRow[];
    for (let start = 0; start < rows.length; start += insertRows) {
      const chunk = rows.slice(start, start + insertRows);
      const params: unknown[] = [];
      const tuples = chunk.map((row) => {
        const marks = fields.map((f) => {
          const value = row[f];
          params.push(spec.booleans?.includes(f) ? db.bool(value === true) : value === undefined ? null : value);
          return db.placeholder(params.length);
        });
        return `(${marks.join(', ')})`;
      });
      await db.run(`INSERT INTO ${spec.sql} (${spec.columns.map(([c]) => c).join(', ')}) VALUES ${tuples.join(', ')}`, params);
    }
  }
}
