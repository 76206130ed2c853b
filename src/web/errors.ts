/**
 * The API's errors: one table of stable codes with their HTTP status and
 * meaning (the OpenAPI document lists exactly these; a test keeps the two
 * in sync), the error class handlers throw, and the one place StoreError
 * categories become HTTP answers.
 *
 * Every error answers `{ "error": { "code", "message", "field"? } }`.
 */
import { isStoreError, type StoreErrorCategory } from '../store/errors.js';

export const errorCodes = {
  'bad-request': { status: 400, description: 'A parameter or a field of the body has a bad value or is missing; `field` names it.' },
  'malformed-body': { status: 400, description: 'The body is not JSON, or not the JSON object the route takes.' },
  unauthenticated: { status: 401, description: 'No credentials, or credentials that are not (or no longer) valid.' },
  forbidden: { status: 403, description: 'The credentials are good but their role does not allow this, on this resource.' },
  'not-found': { status: 404, description: 'The resource named by the path does not exist.' },
  'method-not-allowed': { status: 405, description: 'The path exists but does not take this method; `Allow` lists those it takes.' },
  exists: { status: 409, description: 'What the request would create exists already.' },
  conflict: { status: 409, description: 'The resource is in a state that refuses the change (in use, not empty, over quota).' },
  'precondition-failed': { status: 412, description: 'The `If-Match` ETag is stale: somebody changed the resource since it was read.' },
  'payload-too-large': { status: 413, description: 'The body is larger than the API takes.' },
  'unsupported-media-type': { status: 415, description: 'The body must be `application/json`.' },
  'too-many-requests': { status: 429, description: 'Too many failed logins or bad credentials from this address; `Retry-After` says when to try again.' },
  internal: { status: 500, description: 'A bug; the node logged the detail.' },
  unavailable: { status: 503, description: 'The store cannot be reached, or is busy; try again shortly.' },
} as const;

export type ErrorCode = keyof typeof errorCodes;

export const allErrorCodes = Object.keys(errorCodes) as ErrorCode[];

/** An error answered to the client as it is. */
export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
    /** Extra response headers (Allow, Retry-After, WWW-Authenticate). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = errorCodes[code].status;
  }

  toJSON(): { error: { code: ErrorCode; message: string; field?: string } } {
    return { error: { code: this.code, message: this.message, ...(this.field !== undefined ? { field: this.field } : {}) } };
  }
}

/** The store's categories as API codes; the sentence is passed on except where it could carry internal detail. */
const byCategory: Record<StoreErrorCategory, { code: ErrorCode; keepMessage: boolean }> = {
  'not-found': { code: 'not-found', keepMessage: true },
  exists: { code: 'exists', keepMessage: true },
  'over-quota': { code: 'conflict', keepMessage: true },
  'too-big': { code: 'payload-too-large', keepMessage: true },
  'in-use': { code: 'conflict', keepMessage: true },
  permission: { code: 'forbidden', keepMessage: true },
  'bad-parameters': { code: 'bad-request', keepMessage: true },
  temporary: { code: 'unavailable', keepMessage: false },
  unavailable: { code: 'unavailable', keepMessage: false },
};

/**
 * Any thrown value as an ApiError: ApiErrors as they are, StoreErrors by
 * their category, anything else as 'internal'. `fields` turns a category
 * into a 400 about one field of the request (a store 'bad-parameters' or
 * 'not-found' about the address in a body is the client's field, not a
 * missing resource).
 */
export function toApiError(err: unknown, fields: Partial<Record<StoreErrorCategory, string>> = {}): ApiError {
  if (err instanceof ApiError) return err;
  if (isStoreError(err)) {
    const field = fields[err.category];
    if (field !== undefined) return new ApiError('bad-request', err.message, field);
    const m = byCategory[err.category];
    return new ApiError(m.code, m.keepMessage ? err.message : 'The store cannot be reached or is busy; try again shortly.');
  }
  return new ApiError('internal', 'Something went wrong on the server; the node logged the detail.');
}

/** Runs a store call, turning its StoreError into an ApiError (see toApiError's `fields`). */
export async function storeCall<T>(p: Promise<T>, fields: Partial<Record<StoreErrorCategory, string>> = {}): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (isStoreError(err) && Object.keys(fields).length > 0 && fields[err.category] !== undefined) throw toApiError(err, fields);
    throw err;
  }
}
