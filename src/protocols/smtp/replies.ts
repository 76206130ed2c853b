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
  remoteTargets: () =>
    new SmtpReply(451, '4.3.2', 'This address forwards outside the cluster, and forwarding outside the cluster is not available yet; try again later'),
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
