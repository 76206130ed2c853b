/**
 * Turns what the pg driver throws into the store's one vocabulary
 * (StoreError categories). SQLSTATE classes are documented in the
 * PostgreSQL manual, appendix A "PostgreSQL Error Codes".
 */
import { StoreError } from '../errors.js';

/** The SQLSTATE of a server error, or '' for a network or driver error. */
export function sqlState(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : '';
}

/** unique_violation */
export function isUniqueViolation(err: unknown): boolean {
  return sqlState(err) === '23505';
}

/** foreign_key_violation: the row referred to is gone (or never was). */
export function isForeignKeyViolation(err: unknown): boolean {
  return sqlState(err) === '23503';
}

/**
 * serialization_failure or deadlock_detected: the server rolled the
 * transaction back and running it again is safe and usually succeeds.
 */
export function isRetryable(err: unknown): boolean {
  const state = sqlState(err);
  return state === '40001' || state === '40P01';
}

/** Node socket errors and pg's own messages for a lost or unreachable server. */
const networkCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);
const lostConnection = /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended|not queryable|Cannot use a pool after calling end/i;

/** Whether the error means the connection is (or may be) broken: never retry a commit on it. */
export function isConnectionError(err: unknown): boolean {
  const state = sqlState(err);
  if (state.startsWith('08') || state === '57P01' || state === '57P02' || state === '57P03') return true;
  if (state !== '') return false;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && networkCodes.has(code)) return true;
  return lostConnection.test((err as Error | null)?.message ?? '');
}

function describe(err: unknown): string {
  const e = err as { message?: string; code?: string } | null;
  const message = e?.message || (e?.code ? String(e.code) : String(err));
  return message.replace(/\s+/g, ' ').trim();
}

/**
 * Maps a pg failure to a StoreError; StoreErrors pass through. `what` says
 * what the store was doing ("storing a message"), as asStoreError does.
 */
export function pgStoreError(err: unknown, what: string): StoreError {
  if (err instanceof StoreError) return err;
  const state = sqlState(err);
  const detail = describe(err);
  if (state === '23505') return new StoreError('exists', `${what}: it exists already (${detail})`, { cause: err });
  if (state === '23503') return new StoreError('not-found', `${what}: a record it refers to does not exist (${detail})`, { cause: err });
  if (state === '40001' || state === '40P01') return new StoreError('temporary', `${what}: the store is busy (${detail}); try again`, { cause: err });
  // lock_not_available (lock_timeout), query_canceled (statement_timeout)
  if (state === '55P03' || state === '57014') return new StoreError('temporary', `${what}: the store is busy (${detail}); try again`, { cause: err });
  // insufficient_resources: disk full, out of memory, too many connections
  if (state.startsWith('53')) return new StoreError('temporary', `${what}: the database is short of resources (${detail})`, { cause: err });
  // data exceptions and integrity violations other than the above: the input was bad
  if (state.startsWith('22') || state === '23502' || state === '23514') {
    return new StoreError('bad-parameters', `${what}: ${detail}`, { cause: err });
  }
  // read_only_sql_transaction: connected to a standby
  if (state === '25006') return new StoreError('unavailable', `${what}: the database is read-only (${detail})`, { cause: err });
  if (isConnectionError(err)) return new StoreError('unavailable', `${what}: PostgreSQL cannot be reached (${detail})`, { cause: err });
  return new StoreError('unavailable', `${what}: ${detail}`, { cause: err });
}
