/**
 * A small mailbox for the SEARCH evaluator tests: real MIME messages indexed
 * with indexMessage(), records with sparse UIDs, and a MessageContent that
 * serves them from memory and counts what it loads. Criteria are written as
 * IMAP text and parsed by the wire parser, so each case reads like the
 * command a client sends.
 */
import assert from 'node:assert/strict';
import { indexMessage, type MimeIndex } from '../../../src/mail/mime/index.js';
import type { MessageContent, SessionMessage } from '../../../src/protocols/imap/message-content.js';
import { searchMessages, type SearchContext, type SearchOptions } from '../../../src/protocols/imap/search/index.js';
import { CommandFramer, type FramedCommand } from '../../../src/protocols/imap/wire/framer.js';
import { parseCommand } from '../../../src/protocols/imap/wire/parser.js';
import type { SearchKey } from '../../../src/protocols/imap/wire/request.js';
import type { BlobId, MailboxId, MessageRecord, ModSeq, Uid } from '../../../src/store/types.js';

/** Joins lines with CRLF, as stored messages have them. */
export function crlf(...lines: string[]): Buffer {
  return Buffer.from(lines.join('\r\n'), 'utf8');
}

/** Joins lines with CRLF, as Latin-1 bytes (for 8-bit bodies in another charset). */
function crlfLatin1(...lines: string[]): Buffer {
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

/** One message of the test mailbox: its bytes and its row. */
export interface Fixture {
  readonly uid: number;
  readonly bytes: Buffer;
  readonly flags: string[];
  readonly internalDate: string;
  readonly modSeq: number;
}

/**
 * UID 3: plain ASCII, quoted-printable, the Date in -0800 (its UTC day is the next one).
 * UID 7: encoded words (B and Q, UTF-8 and Latin-1), a Latin-1 quoted-printable body.
 * UID 8: multipart/alternative, base64 UTF-8 Greek text and HTML, Bcc, a folded header.
 * UID 12: no Date, no Subject; a forwarded message/rfc822 part; raw UTF-8 in a header.
 * UID 20: a large body, an unreadable Date, an empty Subject.
 */
export const FIXTURES: readonly Fixture[] = [
  {
    uid: 3,
    flags: ['\\Seen'],
    internalDate: '1994-02-08T05:52:25Z',
    modSeq: 5,
    bytes: crlf(
      'From: Alice Example <alice@example.com>',
      'To: bob@example.org',
      'Cc: "Carol C." <carol@example.net>',
      'Subject: Quarterly report',
      'Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)',
      'Message-ID: <q1@example.com>',
      'Content-Type: text/plain; charset=us-ascii',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'The numbers look good this quar=',
      'ter. Revenue =3D up.',
      '',
    ),
  },
  {
    uid: 7,
    flags: ['\\Flagged', '$Work'],
    internalDate: '2024-03-10T23:30:00Z',
    modSeq: 10,
    bytes: Buffer.concat([
      crlf(
        'From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <joerg@example.de>',
        'To: Alice Example <alice@example.com>, team@example.de',
        'Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgTcO8bmNoZW4=?=',
        'Date: Sun, 10 Mar 2024 23:10:00 +0000',
        'X-Mailer: =?UTF-8?Q?Z=C3=BCrich_Mail?=',
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=ISO-8859-1',
        'Content-Transfer-Encoding: quoted-printable',
        '',
        '',
      ),
      crlfLatin1('Sch=F6ne Gr=FC=DFe vom Stra=DFenfest', ''),
    ]),
  },
  {
    uid: 8,
    flags: [],
    internalDate: '2024-03-11T00:15:00Z',
    modSeq: 15,
    bytes: crlf(
      'From: dmitri@example.gr',
      'To: undisclosed-recipients:;',
      'Bcc: Hidden Person <hidden@example.org>',
      'Subject: =?UTF-8?Q?=CE=95=CE=BB=CE=BB=CE=B7=CE=BD=CE=B9=CE=BA=CE=AC?= notes',
      'Date: Mon, 11 Mar 2024 01:15:00 +0100',
      'X-Priority: 1',
      'X-Long: first part',
      ' second part',
      'MIME-Version: 1.0',
      'Content-Type: multipart/alternative; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('ΟΔΟΣ και κείμενο, the password is tangerine\n').toString('base64'),
      '--b1',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<html><body><p>Visit the <b>bold&amp;brave</b> caf&#233;</p><!-- hidden-comment --></body></html>',
      '--b1--',
      '',
    ),
  },
  {
    uid: 12,
    flags: ['\\Deleted', '\\Answered', '\\Draft'],
    internalDate: '2024-03-12T12:00:00Z',
    modSeq: 20,
    bytes: crlf(
      'From: Zoë <zoe@example.com>',
      'To: Bob <bob@example.org>',
      'X-Note: Café crème',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="m"',
      '',
      '--m',
      'Content-Type: text/plain',
      '',
      'See the forwarded message below.',
      '--m',
      'Content-Type: message/rfc822',
      '',
      'From: inner@example.com',
      'Subject: Inner subject line',
      '',
      'forwarded text here',
      '--m--',
      '',
    ),
  },
  {
    uid: 20,
    flags: ['\\Seen', '\\Deleted', 'custom'],
    internalDate: '2024-03-12T23:59:59Z',
    modSeq: 25,
    bytes: crlf('From: big@example.com', 'Subject:', 'Date: not a date at all', '', 'start ' + 'x'.repeat(5000) + ' needle-at-the-end', ''),
  },
];

/** A MessageContent over in-memory fixtures that counts its loads. */
export class CountingContent implements MessageContent {
  /** How many times bytes() was called. */
  bytesLoads = 0;
  /** How many times index() was called. */
  indexLoads = 0;
  private readonly blobs = new Map<string, Buffer>();
  private readonly indexes = new Map<string, MimeIndex>();

  constructor(fixtures: readonly Fixture[]) {
    for (const f of fixtures) {
      this.blobs.set(blobIdOf(f.uid), f.bytes);
      this.indexes.set(blobIdOf(f.uid), indexMessage(f.bytes));
    }
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
    if (!index) throw new Error(`no index ${record.blobId}`);
    // A copy, as a store would hand out a freshly parsed one.
    return structuredClone(index);
  }
}

function blobIdOf(uid: number): BlobId {
  return `blob-${uid}` as BlobId;
}

/** The session's view of fixtures: sequence numbers 1..n in the order given. */
export function sessionView(fixtures: readonly Fixture[] = FIXTURES): SessionMessage[] {
  return fixtures.map((f, i) => ({
    seq: i + 1,
    record: {
      mailboxId: 1 as MailboxId,
      uid: f.uid as Uid,
      blobId: blobIdOf(f.uid),
      size: f.bytes.length,
      internalDate: new Date(f.internalDate),
      flags: [...f.flags],
      modSeq: f.modSeq as ModSeq,
    },
  }));
}

/** Parses `SEARCH <text>` with the wire parser and returns its criteria; literals are accepted. */
export function criteria(text: string): SearchKey {
  const framer = new CommandFramer({ maxLineBytes: 65536, maxLiteralBytes: 1 << 20, maxCommandBytes: 2 << 20 });
  const commands: FramedCommand[] = [];
  const take = (events: ReturnType<CommandFramer['push']>): void => {
    for (const ev of events) {
      if (ev.kind === 'command') commands.push(ev.command);
      else if (ev.kind === 'literal-request') take(framer.acceptLiteral());
    }
  };
  take(framer.push(Buffer.from(`A SEARCH ${text}\r\n`, 'utf8')));
  assert.equal(commands.length, 1, `one command framed from ${JSON.stringify(text)}`);
  const result = parseCommand(commands[0]!);
  if (!result.ok) assert.fail(`SEARCH ${text} did not parse: ${result.error.sentence}`);
  assert.equal(result.request.command, 'SEARCH');
  if (result.request.command !== 'SEARCH') throw new Error('unreachable');
  return result.request.criteria;
}

/** A search context over a view, with "*" taken from the view and no saved result unless given. */
export function contextFor(view: readonly SessionMessage[], content: MessageContent, savedUids: readonly number[] | null = null): SearchContext {
  return {
    content,
    maxSeq: view.length,
    maxUid: view.reduce((max, m) => Math.max(max, m.record.uid), 0),
    savedUids,
  };
}

/** Runs `SEARCH <text>` over the fixtures and returns the matching UIDs and the load counts. */
export async function search(
  text: string,
  options: { savedUids?: readonly number[] | null; fixtures?: readonly Fixture[]; search?: SearchOptions } = {},
): Promise<{ uids: number[]; content: CountingContent }> {
  const fixtures = options.fixtures ?? FIXTURES;
  const content = new CountingContent(fixtures);
  const view = sessionView(fixtures);
  const hits = await searchMessages(criteria(text), view, contextFor(view, content, options.savedUids ?? null), options.search);
  return { uids: hits.map((m) => m.record.uid), content };
}
