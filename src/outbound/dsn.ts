/**
 * Delivery status notifications (RFC 3464) in a multipart/report (RFC 6522,
 * report-type=delivery-status): a human-readable part, the
 * message/delivery-status part (per-message fields, then one block per
 * recipient), and the original message's header as text/rfc822-headers.
 * They are sent with the null sender, so they never cause another bounce
 * (RFC 5321 4.5.5).
 */
import { randomBytes } from 'node:crypto';
import { formatDate } from '../mail/trace.js';

export interface DsnRecipient {
  address: string;
  /** 'failed': given up on (a bounce); 'delayed': still trying (a warning). */
  action: 'failed' | 'delayed';
  /** RFC 3463 status, e.g. "5.1.1". */
  status: string;
  /** What went wrong: an SMTP reply in the remote's words, or our own sentence. */
  diagnostic: string;
  /** Whether `diagnostic` is a reply from a remote SMTP server (Diagnostic-Code type smtp). */
  remote: boolean;
  /** The remote host the reply came from. */
  remoteMta?: string;
  lastAttempt?: Date;
  /** For 'delayed': until when we keep trying. */
  willRetryUntil?: Date;
}

export interface DsnInput {
  /** Our host name (Reporting-MTA and the From address's domain). */
  reportingMta: string;
  /** The envelope sender of the original message: the DSN's recipient. */
  originalSender: string;
  queueId: string;
  arrivalDate: Date;
  recipients: DsnRecipient[];
  /** The original message's header section (bytes up to the blank line). */
  originalHeader: Buffer;
  date?: Date;
}

/** RFC 3463: an SMTP reply's enhanced code, if it has one; otherwise one derived from the reply code. */
export function statusFromReply(reply: string, fallbackPermanent: boolean): string {
  const m = /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(reply.trim());
  if (m) return m[1]!;
  const code = /^([245])\d\d/.exec(reply.trim());
  if (code) return `${code[1]}.0.0`;
  return fallbackPermanent ? '5.0.0' : '4.0.0';
}

/** A header field value kept on one line, with no control characters. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '?').trim();
}

/** xtext (RFC 3461 4) is not needed for plain addresses; keep them printable ASCII. */
function addressText(address: string): string {
  return oneLine(address);
}

export function buildDsn(input: DsnInput): Buffer {
  const date = input.date ?? new Date();
  const boundary = `=_rookery_${randomBytes(12).toString('hex')}`;
  const failed = input.recipients.filter((r) => r.action === 'failed');
  const delayed = input.recipients.filter((r) => r.action === 'delayed');
  const subject = failed.length > 0 ? 'Undelivered Mail Returned to Sender' : 'Delivery Status Notification (Delay)';
  const messageId = `<${Date.now().toString(36)}.${randomBytes(6).toString('hex')}@${input.reportingMta}>`;

  const human: string[] = [
    `This is the mail system at host ${input.reportingMta}.`,
    '',
  ];
  if (failed.length > 0) {
    human.push('I am sorry to have to tell you that your message could not be delivered to one or more',
      'recipients. It is attached below.', '');
    for (const r of failed) human.push(`<${r.address}>: ${oneLine(r.diagnostic)}`);
    human.push('');
  }
  if (delayed.length > 0) {
    human.push('Your message could not be delivered yet to the recipients below. It is still queued,',
      'and delivery will be tried again; you do not have to send it again.', '');
    for (const r of delayed) {
      human.push(`<${r.address}>: ${oneLine(r.diagnostic)}`);
      if (r.willRetryUntil) human.push(`    (tried until ${formatDate(r.willRetryUntil)})`);
    }
    human.push('');
  }

  const perMessage = [
    `Reporting-MTA: dns; ${input.reportingMta}`,
    `X-Rookery-Queue-ID: ${input.queueId}`,
    `Arrival-Date: ${formatDate(input.arrivalDate)}`,
  ];
  const perRecipient = input.recipients.map((r) => {
    const fields = [
      `Final-Recipient: rfc822; ${addressText(r.address)}`,
      `Action: ${r.action}`,
      `Status: ${r.status}`,
    ];
    if (r.remoteMta) fields.push(`Remote-MTA: dns; ${oneLine(r.remoteMta)}`);
    fields.push(`Diagnostic-Code: ${r.remote ? 'smtp' : 'x-rookery'}; ${oneLine(r.diagnostic)}`);
    if (r.lastAttempt) fields.push(`Last-Attempt-Date: ${formatDate(r.lastAttempt)}`);
    if (r.willRetryUntil) fields.push(`Will-Retry-Until: ${formatDate(r.willRetryUntil)}`);
    return fields.join('\r\n');
  });

  let header = input.originalHeader.toString('latin1');
  header = header.replace(/\r?\n/g, '\r\n').replace(/(\r\n)*$/, '\r\n');

  const lines = [
    `From: Mail Delivery System <MAILER-DAEMON@${input.reportingMta}>`,
    `To: <${addressText(input.originalSender)}>`,
    `Subject: ${subject}`,
    `Date: ${formatDate(date)}`,
    `Message-ID: ${messageId}`,
    // RFC 3834: an automatic message; vacation responders must not answer it.
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    'This is a MIME-encapsulated delivery status notification.',
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Description: Notification',
    '',
    ...human,
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    'Content-Description: Delivery report',
    '',
    perMessage.join('\r\n'),
    '',
    perRecipient.join('\r\n\r\n'),
    '',
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    'Content-Description: Undelivered message headers',
    '',
  ];
  const head = Buffer.from(lines.join('\r\n') + '\r\n', 'utf8');
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(`\r\n--${boundary}--\r\n`, 'ascii')]);
}
