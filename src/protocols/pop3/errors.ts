/**
 * The one place where failures become POP3 replies: store error categories
 * to RFC 2449 / RFC 3206 response codes. Internal detail stays in the log;
 * the client gets the code and a plain sentence.
 */
import { isStoreError, type StoreErrorCategory } from '../../store/errors.js';
import { err, type ResponseCode } from './wire.js';

/** A failure a command handler raises on purpose: becomes `-ERR [code] message`. */
export class Pop3Error extends Error {
  /** Response code sent in brackets, if any. */
  readonly code: ResponseCode | undefined;
  /** Close the connection after sending the reply. */
  readonly closeAfter: boolean;

  constructor(message: string, code?: ResponseCode, opts: { closeAfter?: boolean } = {}) {
    super(message);
    this.name = 'Pop3Error';
    this.code = code;
    this.closeAfter = opts.closeAfter ?? false;
  }
}

const byCategory: Record<StoreErrorCategory, { code: ResponseCode; sentence: string }> = {
  'in-use': { code: 'IN-USE', sentence: 'the maildrop is in use by another session' },
  temporary: { code: 'SYS/TEMP', sentence: 'a temporary problem on the server; try again later' },
  unavailable: { code: 'SYS/TEMP', sentence: 'the mail store is unavailable; try again later' },
  permission: { code: 'AUTH', sentence: 'you may not do this' },
  'not-found': { code: 'SYS/PERM', sentence: 'the maildrop cannot be found' },
  exists: { code: 'SYS/PERM', sentence: 'a conflict in the mail store' },
  'over-quota': { code: 'SYS/PERM', sentence: 'over quota' },
  'too-big': { code: 'SYS/PERM', sentence: 'too big' },
  'bad-parameters': { code: 'SYS/PERM', sentence: 'the mail store refused the request' },
};

/**
 * The reply for any failure while doing `what` (a short phrase such as
 * "open the maildrop"). Pop3Errors pass through; StoreErrors map by
 * category; anything else is an unexpected server fault, answered SYS/TEMP.
 */
export function replyFor(failure: unknown, what: string): string {
  if (failure instanceof Pop3Error) return err(failure.message, failure.code);
  if (isStoreError(failure)) {
    const { code, sentence } = byCategory[failure.category];
    return err(`cannot ${what}: ${sentence}`, code);
  }
  return err(`cannot ${what}: a temporary problem on the server; try again later`, 'SYS/TEMP');
}
