/**
 * Trace header fields added on final delivery: Return-Path (RFC 5321 4.4,
 * from the envelope sender) and Received (RFC 5321 4.4, with the protocol
 * names of RFC 3848 and RFC 6531). Both are returned as complete header lines
 * ending in CRLF, to be written before the message as received.
 */

/** What a Received field records about one hop. */
export interface ReceivedInfo {
  /** The name the client gave in HELO/EHLO; null if it gave none. */
  heloName: string | null;
  /** The client's IP address. */
  clientAddress: string;
  /** The client's name from reverse DNS, when it was looked up and found. */
  clientHostname?: string | null;
  /** Our host name. */
  byHost: string;
  /** The "with" protocol, e.g. ESMTPS (see protocolName). */
  protocol: string;
  /** Our id for this transaction, for matching logs. */
  id: string;
  /** The recipient, given only when the transaction had exactly one. */
  recipient?: string | null;
  /** TLS details for the comment after the protocol, when TLS was in use. */
  tls?: { version: string; cipher: string } | null;
  /** The user the client authenticated as (submission), recorded as Postfix does. */
  authenticatedAs?: string | null;
  date: Date;
}

/** Name of the transfer protocol for the "with" clause (RFC 3848, RFC 6531 3.7.3). */
export function protocolName(opts: { ehlo: boolean; tls: boolean; auth?: boolean; utf8?: boolean }): string {
  if (!opts.ehlo) return 'SMTP';
  return (opts.utf8 ? 'UTF8SMTP' : 'ESMTP') + (opts.tls ? 'S' : '') + (opts.auth ? 'A' : '');
}

/** RFC 5322 3.3 date-time in UTC, e.g. "Thu, 01 Jan 2026 10:00:00 +0000". */
export function formatDate(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000');
}

/** An IP as an address literal (RFC 5321 4.1.3). */
export function addressLiteral(ip: string): string {
  return ip.includes(':') ? `[IPv6:${ip}]` : `[${ip}]`;
}

/** Client-supplied text goes into a header: keep it on one line and free of controls. */
function clean(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, '?');
}

/** Inside a comment, parentheses and backslashes would change its structure too. */
function cleanComment(text: string): string {
  return clean(text).replace(/[()\\]/g, '?');
}

/** The Received header field, folded, ending in CRLF. */
export function receivedHeader(info: ReceivedInfo): string {
  const literal = addressLiteral(info.clientAddress);
  const from = info.heloName ? cleanComment(info.heloName) : literal;
  const comment = info.clientHostname && info.clientHostname !== literal ? `${cleanComment(info.clientHostname)} ${literal}` : literal;
  const tls = info.tls ? ` (${cleanComment(info.tls.version)} cipher ${cleanComment(info.tls.cipher)})` : '';
  const lines = [
    `Received: from ${from} (${comment})`,
    ...(info.authenticatedAs ? [`\t(Authenticated sender: ${cleanComment(info.authenticatedAs)})`] : []),
    `\tby ${info.byHost} (Rookery) with ${info.protocol}${tls}`,
    `\tid ${info.id}`,
  ];
  let last = `; ${formatDate(info.date)}`;
  if (info.recipient) last = `\tfor <${clean(info.recipient)}>${last}`;
  else last = lines.pop()! + last;
  lines.push(last);
  return lines.join('\r\n') + '\r\n';
}

/** The Return-Path header field for an envelope sender ("" is the null sender). */
export function returnPathHeader(sender: string): string {
  return `Return-Path: <${clean(sender)}>\r\n`;
}
