/**
 * Every SMTP reply Rookery's policy gives, with its enhanced status code
 * (RFC 3463), and the one mapping from StoreError categories to replies.
 * Replies travel to smtp-server as errors whose message starts with the
 * enhanced code; the connection adapter (server.ts) sends such a message as
 * is instead of letting the library guess a code from the reply number.
 */
import { isStoreError, type StoreError } from '../../store/errors.js';
import type { Limits } from '../../config/limits.js';

/** An SMTP reply to give instead of accepting a command. */
export class SmtpReply extends Error {
  /** The three-digit reply code. */
  readonly responseCode: number;
  /** The RFC 3463 enhanced status code, e.g. "5.1.1". */
  readonly enhancedCode: string;

  constructor(code: number, enhanced: string, text: string) {
    super(`${enhanced} ${text}`);
    this.name = 'SmtpReply';
    this.responseCode = code;
    this.enhancedCode = enhanced;
  }
}

/** Matches a reply text that already carries its enhanced status code. */
export const ENHANCED_PREFIX = /^[245]\.\d{1,3}\.\d{1,3} /;

export const replies = {
  relayDenied: () => new SmtpReply(554, '5.7.1', 'Relay access denied: this server accepts mail for its own domains only'),
  unknownUser: () => new SmtpReply(550, '5.1.1', 'No such user here'),
  /** An SRS address of ours whose hash does not match (RFC-less, as libsrs2 and postsrsd answer). */
  srsForged: () => new SmtpReply(550, '5.1.1', 'No such user here: invalid SRS address'),
  srsExpired: () => new SmtpReply(550, '5.1.1', 'No such user here: expired SRS address'),
  /** Submission: MAIL before AUTH (RFC 4954 6). */
  authRequired: () => new SmtpReply(530, '5.7.0', 'Authentication required'),
  /** RFC 4954 6: the mechanism needs TLS first (STARTTLS, or port 465). */
  encryptionRequired: () => new SmtpReply(538, '5.7.11', 'Encryption required for requested authentication mechanism: use STARTTLS first'),
  authFailed: () => new SmtpReply(535, '5.7.8', 'Authentication credentials invalid'),
  /** SASL authorization identity different from the authentication identity (no proxy logins). */
  authzRefused: () => new SmtpReply(535, '5.7.8', 'Authentication credentials invalid: authorizing as another user is not allowed'),
  authTemporary: () => new SmtpReply(454, '4.7.0', 'Temporary authentication failure; try again later'),
  tooManyAuthFailures: () => new SmtpReply(421, '4.7.0', 'Too many failed logins; closing the connection'),
  /** Submission: an envelope sender the user does not own (RFC 6409 8.1 allows refusing it). */
  senderNotOwned: (address: string) => new SmtpReply(553, '5.7.1', `Sender address rejected: not owned by the authenticated user: <${address}>`),
  /** Submission: a From or Sender header the user does not own. */
  fromNotOwned: (address: string) => new SmtpReply(553, '5.7.1', `From address rejected: not owned by the authenticated user: ${address || 'an address without a domain'}`),
  /** Submission: RFC 5322 3.6 wants exactly one From field. */
  fromMissing: () => new SmtpReply(554, '5.6.0', 'Message refused: it needs exactly one From header field'),
  headerTooBig: (max: number) => new SmtpReply(552, '5.3.4', `Message refused: the header section is longer than ${max} bytes`),
  tooManyRecipients: (max: number) => new SmtpReply(452, '4.5.3', `Too many recipients; at most ${max} per message`),
  messageTooBig: (max: number) => new SmtpReply(552, '5.3.4', `Message too big; the limit is ${max} bytes`),
  diskNearlyFull: () => new SmtpReply(452, '4.3.1', 'Insufficient system storage; try again later'),
  loop: (count: number) => new SmtpReply(554, '5.4.6', `Mail loop detected: the message already has ${count} Received headers`),
  bareLineEndings: () => new SmtpReply(554, '5.6.0', 'Message refused: bare CR or LF found; lines must end with CRLF'),
  nulBytes: () => new SmtpReply(554, '5.6.0', 'Message refused: it contains NUL bytes'),
  badParameter: (name: string) => new SmtpReply(555, '5.5.4', `Parameter ${name} is not supported`),
  tooManyConnections: () => new SmtpReply(421, '4.7.0', 'Too many connections from your address; try again later'),
  tooManyErrors: () => new SmtpReply(421, '4.7.0', 'Too many errors; closing the connection'),
  lineTooLong: (max: number) => new SmtpReply(500, '5.5.2', `Line too long; the limit is ${max} bytes; closing the connection`),
  localError: () => new SmtpReply(451, '4.3.0', 'Local error in processing; the message was not accepted, try again later'),
  /** Over quota, temporary or permanent as the operator chose (limits.quotaExceeded). */
  overQuota: (mode: Limits['quotaExceeded']) =>
    mode === 'permanent'
      ? new SmtpReply(552, '5.2.2', 'Mailbox full: the recipient is over quota')
      : new SmtpReply(452, '4.2.2', 'Mailbox full: the recipient is over quota; try again later'),
  /** Some recipients are over quota, others are not: always temporary, see data.ts. */
  someOverQuota: () =>
    new SmtpReply(452, '4.2.2', 'A recipient of this message is over quota; nothing was delivered; try again later'),
  accepted: (id: string) => `2.6.0 Message accepted, id ${id}`,
} as const;

/**
 * The reply for a failure of the store (or anything else unexpected). Only
 * the category reaches the client; the detail is for the log.
 */
export function replyForError(err: unknown, limits: Limits): SmtpReply {
  if (err instanceof SmtpReply) return err;
  if (!isStoreError(err)) return replies.localError();
  switch ((err as StoreError).category) {
    case 'over-quota':
      return replies.overQuota(limits.quotaExceeded);
    case 'too-big':
      return replies.messageTooBig(limits.maxMessageBytes);
    case 'in-use':
      return new SmtpReply(450, '4.2.1', 'Mailbox busy; try again later');
    case 'not-found':
    case 'exists':
    case 'permission':
    case 'bad-parameters':
    case 'temporary':
    case 'unavailable':
      // Nothing was stored, so a retry is safe and gets a precise answer at
      // RCPT if the directory changed under this transaction.
      return replies.localError();
  }
}
