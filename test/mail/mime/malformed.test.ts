/**
 * Malformed and hostile messages: each gets an index, never an exception,
 * with a BODYSTRUCTURE that still follows the grammar of RFC 3501 section 9
 * and offsets inside the message. The limits of MimeLimits each trip here.
 * Where Dovecot 2.3.19 reads a case differently, the comment says why.
 */

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultMimeLimits, indexMessage, sectionRange, type MimeIndex, type MimeLimits, type MimePart } from '../../../src/mail/mime/index.js';
import { checkBody, checkEnvelope, crlf, imap, messages, norm } from './fixtures.js';

/** Indexes and checks what must hold for any input. */
function robust(message: Buffer, limits: Partial<MimeLimits> = {}): MimeIndex {
  const index = indexMessage(message, limits);
  checkBody(index.bodyStructure, true);
  checkBody(index.body, false);
  checkEnvelope(index.envelope);
  assert.equal(index.size, message.length);
  const walk = (p: MimePart, lo: number, hi: number): void => {
    assert.ok(lo <= p.headerStart && p.headerStart <= p.headerEnd && p.headerEnd === p.bodyStart, 'header range');
    assert.ok(p.bodyStart <= p.bodyEnd && p.bodyEnd <= hi, 'body range');
    p.parts?.forEach((c) => walk(c, p.bodyStart, p.bodyEnd));
    if (p.message) walk(p.message, p.bodyStart, p.bodyEnd);
  };
  walk(index.root, 0, message.length);
  assert.deepEqual(JSON.parse(JSON.stringify(index)), index);
  return index;
}

/** BODY[TEXT] of a message as a string. */
function text(message: Buffer, index: MimeIndex): string {
  const r = sectionRange(index, [], 'TEXT')!;
  return message.toString('latin1', r.start, r.end);
}

const TEXT_EMPTY = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)';

describe('malformed messages (each compared with Dovecot)', () => {
  const cases: { name: string; message: Buffer; bodystructure: string; anomalies: string[]; note?: string }[] = [
    { name: 'empty message', message: Buffer.alloc(0), bodystructure: TEXT_EMPTY, anomalies: [] },
    { name: 'only headers, no final line break', message: Buffer.from('Subject: x\r\nFrom: a@b.c'), bodystructure: TEXT_EMPTY, anomalies: [] },
    { name: 'only headers', message: crlf('Subject: x', 'From: a@b.c', ''), bodystructure: TEXT_EMPTY, anomalies: [] },
    { name: 'no header', message: crlf('', 'body only', ''), bodystructure: '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 11 1 NIL NIL NIL NIL)', anomalies: [] },
    { name: 'no final line break', message: crlf('Subject: x', '', 'line1', 'line2'), bodystructure: '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 12 1 NIL NIL NIL NIL)', anomalies: [] },
    {
      // Dovecot reads the body as header lines and shows an empty body; here the body stays a body.
      name: 'no empty line between header and body',
      message: crlf('Subject: x', 'This is the body without a blank line', 'more', ''),
      bodystructure: '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 45 2 NIL NIL NIL NIL)',
      anomalies: ['header-without-empty-line'],
    },
    {
      name: 'a broken line among the fields is skipped',
      message: crlf('Subject: x', 'Broken line', 'From: a@b.c', '', 'body', ''),
      bodystructure: '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1 NIL NIL NIL NIL)',
      anomalies: ['header-junk-line'],
    },
    {
      name: 'mbox From_ line before the header',
      message: crlf('From someone@example.com Mon Jan  1 00:00:00 2024', 'Subject: x', '', 'b', ''),
      bodystructure: '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 1 NIL NIL NIL NIL)',
      anomalies: ['header-junk-line'],
    },
    {
      name: 'multipart without boundary parameter',
      message: crlf('Content-Type: multipart/mixed', '', '--u', 'Content-Type: text/plain', '', 'first', '--u--', ''),
      bodystructure: `(${TEXT_EMPTY} "mixed" NIL NIL NIL NIL)`,
      anomalies: ['multipart-without-boundary', 'multipart-without-parts'],
    },
    {
      name: 'multipart with a preamble only',
      message: crlf('Content-Type: multipart/mixed; boundary=u', '', 'just a preamble', ''),
      bodystructure: `(${TEXT_EMPTY} "mixed" ("boundary" "u") NIL NIL NIL)`,
      anomalies: ['multipart-unterminated', 'multipart-without-parts'],
    },
    {
      name: 'multipart never closed',
      message: crlf('Content-Type: multipart/mixed; boundary=u', '', '--u', '', 'first', '--u', '', 'second, never closed', ''),
      bodystructure:
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 22 1 NIL NIL NIL NIL) "mixed" ("boundary" "u") NIL NIL NIL)',
      anomalies: ['multipart-unterminated'],
    },
    {
      name: 'inner multipart never closed ends at the outer delimiter',
      message: crlf(
        'Content-Type: multipart/mixed; boundary=o',
        '',
        '--o',
        'Content-Type: multipart/alternative; boundary=i',
        '',
        '--i',
        '',
        'in1',
        '--o',
        '',
        'after',
        '--o--',
        '',
      ),
      bodystructure:
        '((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL) "alternative" ("boundary" "i") NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0 NIL NIL NIL NIL) "mixed" ("boundary" "o") NIL NIL NIL)',
      anomalies: ['multipart-unterminated'],
    },
    {
      name: 'parts without header or body',
      message: crlf('Content-Type: multipart/mixed; boundary=u', '', '--u', '--u', 'Content-Type: text/plain', '--u--', ''),
      bodystructure: `(${TEXT_EMPTY}${TEXT_EMPTY} "mixed" ("boundary" "u") NIL NIL NIL)`,
      anomalies: [],
    },
    {
      // Dovecot shows this body as header lines too.
      name: 'part header glued to its body',
      message: crlf('Content-Type: multipart/mixed; boundary=u', '', '--u', 'Content-Type: text/plain', 'hello there', '--u--', ''),
      bodystructure: '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 11 0 NIL NIL NIL NIL) "mixed" ("boundary" "u") NIL NIL NIL)',
      anomalies: ['header-without-empty-line'],
    },
    {
      name: 'delimiters with transport padding and quoted boundary with a space',
      message: crlf('Content-Type: multipart/mixed; boundary="a b"', '', '--a b  ', '', 'x', '--a b-- ', ''),
      bodystructure: '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0 NIL NIL NIL NIL) "mixed" ("boundary" "a b") NIL NIL NIL)',
      anomalies: [],
    },
    {
      // RFC 2045 5.2 says to read an invalid Content-Type as text/plain; Dovecot sends ("garbage" "" ...).
      name: 'invalid Content-Type',
      message: crlf('Content-Type: garbage', '', 'x', ''),
      bodystructure: '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 1 NIL NIL NIL NIL)',
      anomalies: ['invalid-content-type'],
    },
    {
      name: 'Content-Type without subtype',
      message: crlf('Content-Type: text; charset=utf-8', '', 'x', ''),
      bodystructure: '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 1 NIL NIL NIL NIL)',
      anomalies: ['invalid-content-type'],
    },
    {
      // Not readable as a message without decoding; Dovecot's shape (empty envelope and body) is kept.
      name: 'base64 message/rfc822',
      message: crlf('Content-Type: multipart/mixed; boundary=o', '', '--o', 'Content-Type: message/rfc822', 'Content-Transfer-Encoding: base64', '', 'U3ViamVjdDogeAoKeQo=', '--o--', ''),
      bodystructure: `(("message" "rfc822" NIL NIL NIL "base64" 20 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ${TEXT_EMPTY} 0 NIL NIL NIL NIL) "mixed" ("boundary" "o") NIL NIL NIL)`,
      anomalies: [],
    },
    {
      name: 'message/rfc822 part that is empty',
      message: crlf('Content-Type: multipart/mixed; boundary=o', '', '--o', 'Content-Type: message/rfc822', '--o--', ''),
      bodystructure: `(("message" "rfc822" NIL NIL NIL "7bit" 0 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ${TEXT_EMPTY} 0 NIL NIL NIL NIL) "mixed" ("boundary" "o") NIL NIL NIL)`,
      anomalies: [],
    },
    {
      // Found by the fuzzer: the part's empty line is also the delimiter's line break.
      name: 'digest part whose empty line touches the close delimiter',
      message: crlf('Content-Type: multipart/digest; boundary=d', '', '--d', 'X: 1', '', '--d--', ''),
      bodystructure: `(("message" "rfc822" NIL NIL NIL "7bit" 0 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ${TEXT_EMPTY} 0 NIL NIL NIL NIL) "digest" ("boundary" "d") NIL NIL NIL)`,
      anomalies: [],
    },
    {
      name: 'Content-Disposition and Content-Language that are empty',
      message: crlf('Content-Disposition:', 'Content-Language: ,', 'Content-Type: text/plain;;; charset', '', ''),
      bodystructure: TEXT_EMPTY,
      anomalies: [],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const index = robust(c.message);
      assert.equal(imap(index.bodyStructure), norm(c.bodystructure));
      assert.deepEqual(index.anomalies.sort(), [...c.anomalies].sort());
    });
  }

  test('a body glued to its header stays searchable in TEXT', () => {
    const m = crlf('Subject: x', 'This is the body', '');
    assert.equal(text(m, robust(m)), 'This is the body\r\n');
  });

  test('NUL bytes, 8-bit junk and lone CRs', () => {
    const m = Buffer.from('Subject: a\x00b\r\nSub\x00ject: \xff\xfe\r\n\x80\x81: x\rY\r\nContent-Type: text/plain; charset="\xff"\r\n\r\n\x00\x01\r\r\n', 'latin1');
    const index = robust(m);
    assert.ok(!JSON.stringify([index.envelope, index.bodyStructure]).includes('\\u0000'), 'no NUL in IMAP strings');
  });
});

describe('limits', () => {
  /** A message nested `depth` multiparts deep, with boundaries that are not prefixes of each other. */
  function nestedMultiparts(depth: number): Buffer {
    let head = '';
    let tail = '';
    for (let i = 0; i < depth; i++) {
      head += `Content-Type: multipart/mixed; boundary="=b${i}="\r\n\r\n--=b${i}=\r\n`;
      tail = `\r\n--=b${i}=--\r\n` + tail;
    }
    return Buffer.from(`${head}\r\nleaf${tail}`);
  }

  function depthOf(p: MimePart): number {
    const children = [...(p.parts ?? []), ...(p.message ? [p.message] : [])];
    return children.length === 0 ? 0 : 1 + Math.max(...children.map(depthOf));
  }

  test('nesting within the limit is read whole', () => {
    const index = robust(nestedMultiparts(10));
    assert.equal(depthOf(index.root), 10);
    assert.deepEqual(index.anomalies, []);
  });

  test('a nesting bomb of multiparts stops at maxDepth, the rest opaque', () => {
    const started = Date.now();
    const m = nestedMultiparts(20000);
    const index = robust(m);
    assert.ok(Date.now() - started < 5000);
    assert.equal(depthOf(index.root), defaultMimeLimits.maxDepth);
    assert.ok(index.anomalies.includes('depth-limit'));
    let p = index.root;
    while (p.parts?.length) p = p.parts[0]!;
    assert.equal(p.mediaType, 'application/octet-stream');
    assert.ok(JSON.stringify(index).length < 100_000);
  });

  test('a nesting bomb of message/rfc822', () => {
    const m = Buffer.from('Content-Type: message/rfc822\r\n\r\n'.repeat(100000) + 'Subject: deep\r\n\r\nx\r\n');
    const index = robust(m, { maxDepth: 5 });
    assert.equal(depthOf(index.root), 5);
    assert.ok(index.anomalies.includes('depth-limit'));
  });

  test('maxParts stops splitting, the bytes stay in the multipart', () => {
    let body = 'Content-Type: multipart/mixed; boundary=z\r\n\r\n';
    for (let i = 0; i < 1000; i++) body += `--z\r\n\r\npart ${i}\r\n`;
    body += '--z--\r\n';
    const m = Buffer.from(body);
    const index = robust(m, { maxParts: 100 });
    assert.equal(index.root.parts!.length, 99);
    assert.ok(index.anomalies.includes('part-limit'));
    assert.ok(text(m, index).includes('part 999'));
  });

  test('500,000 addresses in one field (CVE-2024-23184) are cut at maxAddressesPerField', () => {
    const started = Date.now();
    const m = Buffer.from('To: ' + Array.from({ length: 500000 }, (_, i) => `u${i}@x.y`).join(', ') + '\r\n\r\nhi\r\n');
    const index = robust(m, { maxHeaderBytes: 16 * 1024 * 1024 });
    assert.ok(Date.now() - started < 5000);
    assert.equal((index.envelope as unknown[][])[5]!.length, defaultMimeLimits.maxAddressesPerField);
    assert.ok(index.anomalies.includes('address-limit'));
  });

  test('many address fields share one maxAddressesPerField', () => {
    const m = Buffer.from(Array.from({ length: 5000 }, (_, i) => `Cc: u${i}@x.y\r\n`).join('') + '\r\n');
    const index = robust(m, { maxAddressesPerField: 10 });
    assert.equal((index.envelope as unknown[][])[6]!.length, 10);
  });

  test('a huge header line is read only up to maxHeaderBytes', () => {
    const m = Buffer.from('Subject: ' + 'x'.repeat(5_000_000) + '\r\nFrom: a@b\r\n\r\nbody\r\n');
    const index = robust(m, { maxHeaderBytes: 1000 });
    assert.ok(index.headers.subject!.length <= 1000 && index.headers.subject!.length > 990);
    assert.ok(index.anomalies.includes('header-truncated'));
    assert.ok(JSON.stringify(index).length < 10_000);
    assert.equal(text(m, index), 'body\r\n');
  });

  test('fields beyond maxHeaderBytes are not read, the header still ends at its empty line', () => {
    const m = Buffer.from('X-Pad: ' + 'p'.repeat(2000) + '\r\nSubject: late\r\n\r\nbody\r\n');
    const index = robust(m, { maxHeaderBytes: 1000 });
    assert.equal(index.headers.subject, null);
    assert.equal(text(m, index), 'body\r\n');
  });

  test('a million lines that almost match the boundary', () => {
    const m = Buffer.from('Content-Type: multipart/mixed; boundary=zzzzzzzz\r\n\r\n' + '--zzzzzzzy\r\n'.repeat(1_000_000));
    const started = Date.now();
    robust(m);
    assert.ok(Date.now() - started < 5000);
  });
});

describe('fuzz: mutated examples never throw', () => {
  /** A small deterministic generator (mulberry32), so failures can be replayed. */
  function random(seed: number): () => number {
    return () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const pieces = ['\r\n', '\n', '--', ':', ';', '"', '(', '<', '@', '=?', '?=', '\r\n\r\n', '--u\r\n', 'Content-Type: multipart/mixed; boundary=u\r\n', 'Content-Type: message/rfc822\r\n\r\n'];

  test('5,000 mutations', () => {
    const rnd = random(20240601);
    const examples = Object.values(messages);
    for (let round = 0; round < 5000; round++) {
      const base = examples[Math.floor(rnd() * examples.length)]!;
      const bytes = [...base];
      const edits = 1 + Math.floor(rnd() * 8);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(rnd() * (bytes.length + 1));
        const kind = rnd();
        if (kind < 0.3) bytes.splice(at, 1 + Math.floor(rnd() * 20));
        else if (kind < 0.6) bytes.splice(at, 0, ...Buffer.from(pieces[Math.floor(rnd() * pieces.length)]!));
        else if (kind < 0.8) bytes[at] = Math.floor(rnd() * 256);
        else bytes.length = at;
      }
      const m = Buffer.from(bytes);
      try {
        robust(m);
      } catch (err) {
        assert.fail(`round ${round}: ${(err as Error).message}\n${JSON.stringify(m.toString('latin1'))}`);
      }
    }
  });
});
