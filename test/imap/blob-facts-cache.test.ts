/**
 * The node-wide cache of what never changes for a blob (message-content.ts,
 * BlobFactsCache): parsed MIME indexes and header sections. Header fetches
 * answered from it must be byte for byte what the stored message holds,
 * the first time (read from the blob) and every time after (from the
 * cache, without reading the blob again), on every node of the store; and
 * the cache must stay within its weight.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { indexMessage } from '../../src/mail/mime/index.js';
import { BlobFactsCache } from '../../src/protocols/imap/message-content.js';
import type { BlobId } from '../../src/store/types.js';
import { RawClient, startImap, type ImapHarness, type ImapNode } from './support.js';

const MESSAGES = [
  [
    'From: Ann Example <ann@example.org>',
    'To: bob@example.test',
    'Subject: a folded',
    '  subject line',
    'Date: Mon, 7 Feb 1994 21:52:25 -0800',
    'X-Other: kept out',
    'Message-ID: <one@example.org>',
    '',
    'Body one.',
    '',
  ].join('\r\n'),
  [
    'From: carl@example.org',
    'Subject: multipart',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain',
    'Subject: not the message\'s own',
    '',
    'part one',
    '--b--',
    '',
  ].join('\r\n'),
];

/** The literal of the one FETCH item in an untagged line, as RawClient returns literals inline. */
function literalOf(line: string): string {
  const m = /\{(\d+)\}\r\n/.exec(line);
  assert.ok(m, `no literal in ${line}`);
  const start = m.index + m[0].length;
  return line.slice(start, start + Number(m[1]));
}

/** What the fields should be, picked from the raw header by hand. */
function expectedFields(raw: string, names: string[], not: boolean): string {
  const header = raw.slice(0, raw.indexOf('\r\n\r\n') + 2);
  const fields = header.split(/\r\n(?![ \t])/).filter((f) => f !== '').map((f) => `${f}\r\n`);
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const kept = fields.filter((f) => wanted.has(f.slice(0, f.indexOf(':')).toLowerCase()) !== not);
  return `${kept.join('')}\r\n`;
}

describe('header fetches from the node-wide blob cache', () => {
  let h: ImapHarness;
  let other: ImapNode;
  let blobReads = 0;
  before(async () => {
    h = await startImap();
    other = await h.startNode();
    for (const m of MESSAGES) await h.deliver('alice@example.test', m);
    // Count the reads of message files the nodes make (the harness's deliveries are done).
    const blobs = h.store.blobs;
    const get = blobs.get.bind(blobs);
    blobs.get = async (id: BlobId) => {
      blobReads++;
      return get(id);
    };
  });
  after(async () => h.close());

  const cases: Array<[string, (raw: string) => string]> = [
    ['BODY.PEEK[HEADER.FIELDS (FROM SUBJECT MESSAGE-ID)]', (raw) => expectedFields(raw, ['FROM', 'SUBJECT', 'MESSAGE-ID'], false)],
    ['BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT X-OTHER)]', (raw) => expectedFields(raw, ['SUBJECT', 'X-OTHER'], true)],
    ['BODY.PEEK[HEADER]', (raw) => raw.slice(0, raw.indexOf('\r\n\r\n') + 4)],
    ['RFC822.HEADER', (raw) => raw.slice(0, raw.indexOf('\r\n\r\n') + 4)],
    ['BODY.PEEK[HEADER]<5.20>', (raw) => raw.slice(5, 25)],
  ];

  it('answers the same bytes cold and warm, on both nodes, reading each blob once', async () => {
    const a = await RawClient.login(h.port);
    const b = await RawClient.login(other.port);
    await a.command('SELECT INBOX');
    await b.command('SELECT INBOX');
    for (const [item, expected] of cases) {
      for (const client of [a, b, a]) {
        const answer = await client.command(`FETCH 1:2 (${item})`);
        assert.match(answer.tagged, /OK/);
        assert.equal(answer.untagged.length, 2, answer.untagged.join('\n'));
        answer.untagged.forEach((line, i) => assert.equal(literalOf(line), expected(MESSAGES[i]!), `${item} of message ${i + 1}`));
      }
    }
    // Two messages, each read from disk once, by whichever node asked first: both nodes share the store's cache.
    assert.equal(blobReads, 2);
    // A body fetch still reads the message.
    const body = await a.command('FETCH 1 (BODY.PEEK[TEXT])');
    assert.equal(literalOf(body.untagged[0]!), 'Body one.\r\n');
    assert.equal(blobReads, 3);
    a.end();
    b.end();
  });
});

describe('the blob cache\'s bound', () => {
  it('keeps its weight within the bound, dropping the least recently used first', () => {
    const cache = new BlobFactsCache(10_000);
    const index = indexMessage(Buffer.from(MESSAGES[0]!));
    const id = (i: number) => `${String(i).padStart(64, '0')}` as BlobId;
    for (let i = 0; i < 6; i++) cache.putIndex(id(i), index, 1500);
    cache.putHeader(id(0), Buffer.alloc(500));
    assert.deepEqual(cache.size, { blobs: 6, weight: 9500 });
    // Putting 0's header used 0; reading 1's index uses 1: the order is now 2 3 4 5 0 1.
    assert.ok(cache.index(id(1)));
    cache.putIndex(id(6), index, 1500); // 11,000: 2 goes
    assert.deepEqual(cache.size, { blobs: 6, weight: 9500 });
    assert.equal(cache.index(id(2)), null);
    cache.putHeader(id(7), Buffer.alloc(2000)); // 11,500: 3 goes, and that is enough
    assert.equal(cache.index(id(3)), null);
    assert.ok(cache.index(id(4)));
    assert.ok(cache.index(id(0)));
    assert.equal(cache.header(id(0))?.length, 500);
    assert.deepEqual(cache.size, { blobs: 6, weight: 10_000 });
    assert.ok(cache.size.weight <= 10_000, String(cache.size.weight));
    // Something heavier than the whole bound is not kept at all.
    cache.putHeader(id(8), Buffer.alloc(20_000));
    assert.equal(cache.header(id(8)), null);
    assert.ok(cache.size.weight <= 10_000);
  });
});
