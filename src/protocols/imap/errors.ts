/**
 * IMAP command failures and the one place where store failures become IMAP
 * replies (RFC 3501 section 7.1, RFC 5530 response codes, RFC 9051 section
 * 7.1, RFC 9208 OVERQUOTA, RFC 4469/7889 TOOBIG). A command throws
 * {@link ImapError}; the dispatcher turns any error into a tagged reply with
 * {@link replyForError}, logging what the client must not see.
 */
import type { Logger } from '../../log.js';
import { StoreError, type StoreErrorCategory } from '../../store/errors.js';
import type { ResponseCode } from './wire/index.js';

/** The status of a tagged reply that is not OK. */
export type FailureStatus = 'NO' | 'BAD';

/** A command that did not complete: the status, an optional response code and a sentence for the client. */
export class ImapError extends Error {
  constructor(
    /** NO (the command was valid but failed) or BAD (the command was wrong). */
    readonly status: FailureStatus,
    /** A sentence for the client, without internal detail. */
    readonly text: string,
    /** The response code to send, e.g. { name: 'NONEXISTENT' }. */
    readonly code?: ResponseCode,
  ) {
    super(text);
    this.name = 'ImapError';
  }
}

/** Shorthand: NO with a response code name and no arguments. */
export function no(text: string, code?: string): ImapError {
  return new ImapError('NO', text, code ? { name: code } : undefined);
}

/** Shorthand: BAD, optionally with a response code name. */
export function bad(text: string, code?: string): ImapError {
  return new ImapError('BAD', text, code ? { name: code } : undefined);
}

/**
 * Store categories to IMAP response codes. The sentence sent with it is the
 * fixed one here, not the store's message: the store's message may name
 * internal ids or paths, and goes to the log instead.
 */
const STORE_REPLIES: Readonly<Record<StoreErrorCategory, { code: string; text: string }>> = {
  'not-found': { code: 'NONEXISTENT', text: 'no such mailbox' },
  exists: { code: 'ALREADYEXISTS', text: 'the mailbox exists already' },
  'over-quota': { code: 'OVERQUOTA', text: 'this would exceed your storage quota' },
  'too-big': { code: 'TOOBIG', text: 'the message is larger than the server accepts' },
  'in-use': { code: 'INUSE', text: 'the mailbox is in use by another session; try again later' },
  permission: { code: 'NOPERM', text: 'you may not do that' },
  'bad-parameters': { code: 'CANNOT', text: 'the server cannot do that with these arguments' },
  temporary: { code: 'UNAVAILABLE', text: 'a temporary failure; try again later' },
  unavailable: { code: 'UNAVAILABLE', text: 'the mail store is unavailable; try again later' },
};

/** The IMAP error for a store error (see {@link STORE_REPLIES}). */
export function imapErrorForStore(err: StoreError): ImapError {
  const reply = STORE_REPLIES[err.category];
  return new ImapError('NO', reply.text, { name: reply.code });
}

/**
 * The reply for anything a command threw: ImapErrors as they are, store
 * errors mapped by category, anything else a NO [SERVERBUG] (logged, since
 * it is a bug or an unexpected failure).
 */
export function replyForError(err: unknown, log: Logger, command: string): ImapError {
  if (err instanceof ImapError) return err;
  if (err instanceof StoreError) {
    const level = err.category === 'temporary' || err.category === 'unavailable' ? 'warn' : 'debug';
    log[level]({ err, command }, 'store refused the command');
    return imapErrorForStore(err);
  }
  log.error({ err, command }, 'command failed unexpectedly');
  return new ImapError('NO', 'internal server error; the command was not completed', { name: 'SERVERBUG' });
}
