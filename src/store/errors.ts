/**
 * The one error class every store backend throws. Protocols map the category
 * to their own reply in one place each (SMTP enhanced codes, POP3 response
 * codes, later IMAP response codes and HTTP statuses).
 */
export type StoreErrorCategory =
  /** The thing named does not exist. */
  | 'not-found'
  /** The thing to create exists already. */
  | 'exists'
  /** Storing this would take the user over its quota. */
  | 'over-quota'
  /** The input is larger than a configured limit. */
  | 'too-big'
  /** Somebody else holds the lock on this resource. */
  | 'in-use'
  /** The caller may not do this. */
  | 'permission'
  /** The request is malformed (bad address, bad name, bad value). */
  | 'bad-parameters'
  /** A transient failure (disk full, lock timeout): try again later. */
  | 'temporary'
  /** The store cannot be reached or written at all. */
  | 'unavailable';

export class StoreError extends Error {
  /** The broad class of failure, which decides the protocol reply. */
  readonly category: StoreErrorCategory;

  constructor(category: StoreErrorCategory, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.category = category;
  }
}

export function isStoreError(err: unknown, category?: StoreErrorCategory): err is StoreError {
  return err instanceof StoreError && (category === undefined || err.category === category);
}

/**
 * Turns a low-level failure (SQLITE_BUSY, ENOSPC, EROFS, ...) into a
 * StoreError so callers see one vocabulary. StoreErrors pass through.
 */
export function asStoreError(err: unknown, what: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = (err as { code?: string } | null)?.code ?? '';
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL') {
    return new StoreError('temporary', `${what}: the disk is full`, { cause: err });
  }
  if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM' || code === 'SQLITE_READONLY') {
    return new StoreError('unavailable', `${what}: the store is not writable`, { cause: err });
  }
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
    // A row that names a user or mailbox that is not (or no longer) there.
    return new StoreError('not-found', `${what}: what it refers to does not exist`, { cause: err });
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new StoreError('temporary', `${what}: the store is busy`, { cause: err });
  }
  return new StoreError('unavailable', `${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
