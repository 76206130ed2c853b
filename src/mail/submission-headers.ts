/**
 * What a message submission agent does to the header section (RFC 6409
 * section 8): add Date (8.2) and Message-ID (8.3) when the client left them
 * out, and read From and Sender so the submission service can check that
 * the user owns them.
 *
 * The header section is collected as the message streams in (after line
 * endings were normalised to CRLF), up to a bound; the body is never
 * buffered.
 */
import { randomBytes } from 'node:crypto';
import { headerFieldValues } from './mime/header.js';
import { parseAddressList } from './mime/address-list.js';
import { formatDate } from './trace.js';

/** The most header bytes collected before the message is refused. */
export const MAX_SUBMITTED_HEADER_BYTES = 1024 * 1024;

/** Most addresses read from one From or Sender field. */
const MAX_ADDRESSES = 100;

const BLANK_LINE = Buffer.from('\r\n\r\n');

/**
 * Collects the header section of a CRLF-normalised message. Feed it
 * chunks until it is done; then `header` holds the fields (each line with
 * its CRLF, without the empty line) and `rest` the empty line and what
 * followed it in the chunks fed so far.
 */
export class HeaderCollector {
  private chunks: Buffer[] = [];
  private length = 0;
  /** Whether the end of the header section was seen (or the bound was passed). */
  done = false;
  /** The bound was passed before the header section ended. */
  overflow = false;
  header: Buffer = Buffer.alloc(0);
  rest: Buffer = Buffer.alloc(0);

  constructor(private readonly maxBytes = MAX_SUBMITTED_HEADER_BYTES) {}

  /** Takes a chunk; returns true once the header section is complete. */
  push(chunk: Buffer): boolean {
    if (this.done) throw new Error('HeaderCollector: push after done');
    this.chunks.push(chunk);
    this.length += chunk.length;
    const all = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks);
    this.chunks = [all];
    // A message that starts with the empty line has no header fields.
    if (all.length >= 2 && all[0] === 0x0d && all[1] === 0x0a) return this.finish(all, 0);
    // Look again from a little before the new chunk, for a blank line split across chunks.
    const from = Math.max(0, this.length - chunk.length - 3);
    const at = all.indexOf(BLANK_LINE, from);
    if (at !== -1) return this.finish(all, at + 2);
    if (this.length > this.maxBytes) {
      this.overflow = true;
      return this.finish(all, all.length);
    }
    return false;
  }

  /** The message ended; whatever came is the header section (a message without a body). */
  end(): void {
    if (this.done) return;
    const all = Buffer.concat(this.chunks);
    let cut = all.length;
    if (all.length >= 2 && all[0] === 0x0d && all[1] === 0x0a) cut = 0;
    this.finish(all, cut);
  }

  private finish(all: Buffer, cut: number): boolean {
    this.header = all.subarray(0, cut);
    this.rest = all.subarray(cut);
    this.chunks = [];
    this.done = true;
    return true;
  }
}

/** What the MSA needs to know about a submitted header section. */
export interface SubmittedHeader {
  /** Addresses in From (all of them; RFC 5322 allows several). */
  from: string[];
  /** Addresses in Sender. */
  sender: string[];
  /** From fields present (RFC 5322 3.6 requires exactly one). */
  fromFields: number;
  hasDate: boolean;
  hasMessageId: boolean;
}

function addresses(values: string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    for (const item of parseAddressList(v, MAX_ADDRESSES).items) {
      if (item.kind !== 'mailbox') continue;
      out.push(item.mailbox && item.host ? `${item.mailbox}@${item.host}` : '');
    }
  }
  return out;
}

/** Reads From, Sender, Date and Message-ID of a header section. */
export function inspectHeader(header: Buffer): SubmittedHeader {
  // headerFieldValues wants the section with its ending; the empty line is added.
  const section = Buffer.concat([header, Buffer.from('\r\n')]);
  const fromValues = headerFieldValues(section, 'from');
  return {
    from: addresses(fromValues),
    sender: addresses(headerFieldValues(section, 'sender')),
    fromFields: fromValues.length,
    hasDate: headerFieldValues(section, 'date').length > 0,
    hasMessageId: headerFieldValues(section, 'message-id').length > 0,
  };
}

/** A new Message-ID (RFC 5322 3.6.4): unique left part, our host on the right. */
export function newMessageId(hostname: string, now: Date = new Date()): string {
  return `<${now.getTime().toString(36)}.${randomBytes(9).toString('base64url')}@${hostname}>`;
}

/** The fields an MSA adds to a header section that lacks them, as CRLF-ended lines. */
export function msaAdditions(header: SubmittedHeader, hostname: string, now: Date = new Date()): string {
  let out = '';
  if (!header.hasDate) out += `Date: ${formatDate(now)}\r\n`;
  if (!header.hasMessageId) out += `Message-ID: ${newMessageId(hostname, now)}\r\n`;
  return out;
}
