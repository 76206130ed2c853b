/**
 * Shared pieces of the FETCH item tests: real MIME messages, an in-memory
 * MessageContent that counts its loads, FETCH items parsed by the real wire
 * parser, and a renderer that shows a response as the bytes on the wire.
 */
import assert from 'node:assert/strict';
import { indexMessage, type MimeIndex } from '../../../src/mail/mime/index.js';
import { encodeFetchResponse, fetchItems, type FetchOptions, type FetchResult } from '../../../src/protocols/imap/fetch/index.js';
import type { MessageContent, SessionMessage } from '../../../src/protocols/imap/message-content.js';
import { framedLine, parseCommand } from '../../../src/protocols/imap/wire/parser.js';
import type { FetchAttribute } from '../../../src/protocols/imap/wire/request.js';
import type { BlobId, MailboxId, MessageRecord, ModSeq, Uid } from '../../../src/store/types.js';

/** Joins lines with CRLF, as stored messages have them. */
export function crlf(...lines: string[]): Buffer {
  return Buffer.from(lines.join('\r\n'), 'utf8');
}

/** A one-part text message. */
export const plain = crlf(
  'From: Alice <alice@example.com>',
  'To: bob@example.org',
  'Subject: Hello',
  'Date: Wed, 17 Jul 1996 02:44:25 -0700',
  'Message-Id: <1@example.com>',
  '',
  'Hello',
  'world',
  '',
);

/** Header of {@link plain}, with the empty line. */
export const plainHeader =
  'From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: Hello\r\nDate: Wed, 17 Jul 1996 02:44:25 -0700\r\nMessage-Id: <1@example.com>\r\n\r\n';

/** The content of the base64 attachment in {@link mixed}: has NUL bytes. */
export const attachmentBytes = Buffer.from([0, 1, 2, 3, 0, ...Buffer.from('hello')]);

/**
 * multipart/mixed:
 *   1   text/plain, quoted-printable
 *   2   application/octet-stream attachment, base64
 *   3   message/rfc822 holding multipart/alternative:
 *   3.1   text/plain
 *   3.2   text/html, x-uuencode (an encoding BINARY cannot undo)
 *   4   text/plain, 8bit
 */
export const mixed = crlf(
  'From: Alice <alice@example.com>',
  'To: Bob <bob@example.org>',
  'Subject: Report',
  'Date: Wed, 17 Jul 1996 02:44:25 -0700',
  'Message-ID: <m1@example.com>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="outer"',
  '',
  'This is a multi-part message in MIME format.',
  '--outer',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Caf=C3=A9 au lait, soft=',
  'break',
  '--outer',
  'Content-Type: application/octet-stream; name="data.bin"',
  'Content-Transfer-Encoding: base64',
  'Content-Disposition: attachment; filename="data.bin"',
  '',
  attachmentBytes.toString('base64'),
  '--outer',
  'Content-Type: message/rfc822',
  '',
  'From: Carol <carol@example.net>',
  'Subject: Inner',
  'X-Trace: a',
  ' folded',
  'MIME-Version: 1.0',
  'Content-Type: multipart/alternative; boundary="inner"',
  '',
  '--inner',
  'Content-Type: text/plain',
  '',
  'inner plain',
  '--inner',
  'Content-Type: text/html',
  'Content-Transfer-Encoding: x-uuencode',
  '',
  'begin 644 x.html',
  '--inner--',
  '--outer',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: 8bit',
  '',
  'Grüße',
  '--outer--',
  '',
);

/** The message inside part 3 of {@link mixed}, exactly as stored. */
export const innerMessage = crlf(
  'From: Carol <carol@example.net>',
  'Subject: Inner',
  'X-Trace: a',
  ' folded',
  'MIME-Version: 1.0',
  'Content-Type: multipart/alternative; boundary="inner"',
  '',
  '--inner',
  'Content-Type: text/plain',
  '',
  'inner plain',
  '--inner',
  'Content-Type: text/html',
  'Content-Transfer-Encoding: x-uuencode',
  '',
  'begin 644 x.html',
  '--inner--',
).toString('utf8');

/** A message/rfc822 part holding a one-part message: its part 2.1 is that message's body. */
export const forwarded = crlf(
  'From: a@example.com',
  'Content-Type: multipart/mixed; boundary=b',
  '',
  '--b',
  'Content-Type: text/plain',
  '',
  'see below',
  '--b',
  'Content-Type: message/rfc822',
  '',
  'From: d@example.com',
  'Subject: Old',
  'Content-Transfer-Encoding: base64',
  '',
  Buffer.from('old body').toString('base64'),
  '--b--',
  '',
);

/** An in-memory MessageContent keyed by blob id, counting each load. */
export class CountingContent implements MessageContent {
  /** How many times bytes() was called. */
  bytesLoads = 0;
  /** How many times index() was called. */
  indexLoads = 0;
  private readonly blobs = new Map<string, Buffer>();
  private readonly indexes = new Map<string, MimeIndex>();

  /** Stores a message and returns a record for it. */
  add(data: Buffer, record: Partial<Omit<MessageRecord, 'blobId' | 'size'>> = {}): MessageRecord {
    const blobId = `blob-${this.blobs.size + 1}` as BlobId;
    this.blobs.set(blobId, data);
    this.indexes.set(blobId, indexMessage(data));
    return {
      mailboxId: 1 as MailboxId,
      uid: 42 as Uid,
      size: data.length,
      internalDate: new Date(Date.UTC(1996, 6, 17, 9, 44, 25)),
      flags: [],
      modSeq: 77 as ModSeq,
      ...record,
      blobId,
    };
  }

  async bytes(record: MessageRecord): Promise<Buffer> {
    this.bytesLoads++;
    const data = this.blobs.get(record.blobId);
    if (!data) throw new Error(`no blob ${record.blobId}`);
    return data;
  }

  async index(record: MessageRecord): Promise<MimeIndex> {
    this.indexLoads++;
    const index = this.indexes.get(record.blobId);
    if (!index) throw new Error(`no index for ${record.blobId}`);
    return index;
  }

  /** Sets both load counters back to zero. */
  resetCounts(): void {
    this.bytesLoads = 0;
    this.indexLoads = 0;
  }
}

/** FETCH items as the wire parser reads them, e.g. `attrs('(FLAGS BODY.PEEK[1.MIME])')`. */
export function attrs(items: string): FetchAttribute[] {
  const result = parseCommand(framedLine(`a FETCH 1 ${items}`));
  if (!result.ok) assert.fail(`"${items}" did not parse: ${result.error.sentence}`);
  if (result.request.command !== 'FETCH') assert.fail('not a FETCH');
  return [...result.request.attributes];
}

/** Options for a plain session: no CONDSTORE, no UTF8=ACCEPT. */
export const PLAIN: FetchOptions = { utf8Accept: false, condstore: false };

/** Builds the response for one message and renders it as the wire bytes (latin1, so every byte shows). */
export async function fetchText(
  items: string,
  content: CountingContent,
  record: MessageRecord,
  options: Partial<FetchOptions> = {},
  seq = 1,
): Promise<{ text: string; result: FetchResult }> {
  const message: SessionMessage = { seq, record };
  const full = { ...PLAIN, ...options };
  const result = await fetchItems(attrs(items), message, content, full);
  const text = Buffer.concat(encodeFetchResponse(seq, result.items, full)).toString('latin1');
  return { text, result };
}

/** A literal as it appears on the wire: `{n}` CRLF data (bytes shown as latin1). */
export function lit(data: string | Buffer, binary = false): string {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return `${binary ? '~' : ''}{${bytes.length}}\r\n${bytes.toString('latin1')}`;
}
