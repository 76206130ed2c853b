/**
 * BODYSTRUCTURE and BODY (RFC 3501 7.4.2) of well-known message shapes. The
 * expected text is what Dovecot 2.3.19 sends for the same bytes; each case
 * was also read against the RFC: sizes are body octets, the line break
 * before a delimiter belongs to the delimiter (RFC 2046 5.1.1), lines count
 * LF characters, a text part without charset gets us-ascii (RFC 2045 5.2).
 */

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { indexMessage } from '../../../src/mail/mime/index.js';
import { checkBody, checkEnvelope, imap, messages, norm } from './fixtures.js';

const cases: { name: keyof typeof messages; bodystructure: string; body: string }[] = [
  {
    name: 'simple',
    bodystructure: '("TEXT" "Plain" ("CharSet" "UTF-8") NIL NIL "QUOTED-PRINTABLE" 14 2 NIL NIL NIL NIL)',
    body: '("TEXT" "Plain" ("CharSet" "UTF-8") NIL NIL "QUOTED-PRINTABLE" 14 2)',
  },
  {
    name: 'alternative',
    bodystructure:
      '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0 NIL NIL NIL NIL)("text" "html" ("charset" "utf-8") NIL NIL "7bit" 13 1 NIL NIL NIL NIL) "alternative" ("boundary" "XX") NIL NIL NIL)',
    body: '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0)("text" "html" ("charset" "utf-8") NIL NIL "7bit" 13 1) "alternative")',
  },
  {
    name: 'mixed',
    bodystructure:
      '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 13 0 NIL NIL NIL NIL)("application" "pdf" ("name" "doc.pdf") "<cid1@x>" "A document" "base64" 4 "Q2hlY2sgSW50ZWdyaXR5IQ==" ("attachment" ("filename" "doc.pdf" "size" "3")) ("en" "fr") "http://x/y")("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0 NIL ("inline" NIL) ("de") NIL) "mixed" ("boundary" "b1") NIL NIL NIL)',
    body: '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 13 0)("application" "pdf" ("name" "doc.pdf") "<cid1@x>" "A document" "base64" 4)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0) "mixed")',
  },
  {
    name: 'rfc822',
    bodystructure:
      '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 12 0 NIL NIL NIL NIL)("message" "rfc822" NIL NIL NIL "7bit" 203 (NIL "=?utf-8?q?inner_=C3=A9?=" (("Inner, Person" NIL "in" "x.y")) (("Inner, Person" NIL "in" "x.y")) (("Inner, Person" NIL "in" "x.y")) NIL NIL NIL NIL NIL) (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0 NIL NIL NIL NIL)("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 8 0 NIL NIL NIL NIL) "alternative" ("boundary" "i") NIL NIL NIL) 13 NIL NIL NIL NIL) "mixed" ("boundary" "o") NIL NIL NIL)',
    body: '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 12 0)("message" "rfc822" NIL NIL NIL "7bit" 203 (NIL "=?utf-8?q?inner_=C3=A9?=" (("Inner, Person" NIL "in" "x.y")) (("Inner, Person" NIL "in" "x.y")) (("Inner, Person" NIL "in" "x.y")) NIL NIL NIL NIL NIL) (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0)("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 8 0) "alternative") 13) "mixed")',
  },
  {
    name: 'related',
    bodystructure:
      '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0 NIL NIL NIL NIL)(("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 17 0 NIL NIL NIL NIL)("image" "png" NIL "<i>" NIL "base64" 12 NIL NIL NIL NIL) "related" ("boundary" "r" "type" "text/html") NIL NIL NIL) "alternative" ("boundary" "a") NIL NIL NIL)',
    body: '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0)(("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 17 0)("image" "png" NIL "<i>" NIL "base64" 12) "related") "alternative")',
  },
  {
    // RFC 2231 3: segments joined; an extended value stays percent-encoded under "name*".
    name: 'rfc2231',
    bodystructure:
      '(("application" "octet-stream" ("name" "longname.txt") NIL NIL "7bit" 1 NIL ("attachment" ("filename*" "utf-8\'\'%E2%82%AC.txt")) NIL NIL)("application" "octet-stream" ("name*" "iso-8859-1\'en\'caf%E9.txt") NIL NIL "7bit" 1 NIL ("attachment" ("FileName*" "iso-8859-1\'en\'caf%E9.txt")) NIL NIL) "mixed" ("boundary" "z") NIL NIL NIL)',
    body: '(("application" "octet-stream" ("name" "longname.txt") NIL NIL "7bit" 1)("application" "octet-stream" ("name*" "iso-8859-1\'en\'caf%E9.txt") NIL NIL "7bit" 1) "mixed")',
  },
  {
    // Encoded words in parameters are passed on as written, raw UTF-8 too (Dovecot sends it as a literal).
    name: 'nonAsciiNames',
    bodystructure:
      '(("application" "octet-stream" ("name" "=?UTF-8?B?w6l0w6kucGRm?=") NIL NIL "7bit" 1 NIL ("attachment" ("filename" "=?UTF-8?B?w6l0w6kucGRm?=")) NIL NIL)("application" "octet-stream" ("name" "été.pdf") NIL NIL "7bit" 1 NIL ("attachment" ("filename" "été.pdf")) NIL NIL) "mixed" ("boundary" "z") NIL NIL NIL)',
    body: '(("application" "octet-stream" ("name" "=?UTF-8?B?w6l0w6kucGRm?=") NIL NIL "7bit" 1)("application" "octet-stream" ("name" "été.pdf") NIL NIL "7bit" 1) "mixed")',
  },
  {
    // RFC 2046 5.1.5: in a digest, a part without Content-Type is message/rfc822.
    name: 'digest',
    bodystructure:
      '(("message" "rfc822" NIL NIL NIL "7bit" 20 (NIL "d1" NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0 NIL NIL NIL NIL) 2 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 7 0 NIL NIL NIL NIL) "digest" ("boundary" "d") NIL NIL NIL)',
    body: '(("message" "rfc822" NIL NIL NIL "7bit" 20 (NIL "d1" NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0) 2)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 7 0) "digest")',
  },
  {
    name: 'topLevelRfc822',
    bodystructure:
      '("message" "rfc822" NIL NIL NIL "7bit" 88 (NIL "inner" NIL NIL NIL NIL NIL NIL NIL NIL) (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0 NIL NIL NIL NIL) "mixed" ("boundary" "q") NIL NIL NIL) 10 NIL NIL NIL NIL)',
    body: '("message" "rfc822" NIL NIL NIL "7bit" 88 (NIL "inner" NIL NIL NIL NIL NIL NIL NIL NIL) (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0) "mixed") 10)',
  },
  {
    name: 'params',
    bodystructure: '("text" "plain" ("charset" "utf-8" "format" "flowed" "DelSp" "Yes" "x" "a\\"b") NIL NIL "8bit" 3 1 NIL NIL NIL NIL)',
    body: '("text" "plain" ("charset" "utf-8" "format" "flowed" "DelSp" "Yes" "x" "a\\"b") NIL NIL "8bit" 3 1)',
  },
  {
    // The inner boundary "foobar" starts with the outer "foo": inner delimiters are tried first.
    name: 'prefixBoundaries',
    bodystructure:
      '((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL) "alternative" ("boundary" "foobar") NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 4 0 NIL NIL NIL NIL) "mixed" ("boundary" "foo") NIL NIL NIL)',
    body: '((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0) "alternative")("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 4 0) "mixed")',
  },
];

describe('BODYSTRUCTURE and BODY match Dovecot', () => {
  for (const c of cases) {
    test(c.name, () => {
      const index = indexMessage(messages[c.name]);
      assert.equal(imap(index.bodyStructure), norm(c.bodystructure));
      assert.equal(imap(index.body), norm(c.body));
      checkBody(index.bodyStructure, true);
      checkBody(index.body, false);
      checkEnvelope(index.envelope);
      assert.deepEqual(index.anomalies, []);
    });
  }
});

test('the index survives a JSON round trip unchanged', () => {
  for (const message of Object.values(messages)) {
    const index = indexMessage(message);
    assert.deepEqual(JSON.parse(JSON.stringify(index)), index);
  }
});

describe('part tree', () => {
  test('parts are numbered as RFC 3501 6.4.5 says', () => {
    const sections = (m: Buffer): string[] => {
      const out: string[] = [];
      const walk = (p: import('../../../src/mail/mime/index.js').MimePart): void => {
        out.push(`${p.section || '-'}:${p.mediaType}`);
        p.parts?.forEach(walk);
        if (p.message) walk(p.message);
      };
      walk(indexMessage(m).root);
      return out;
    };
    assert.deepEqual(sections(messages.simple), ['1:text/plain']);
    assert.deepEqual(sections(messages.rfc822), [
      '-:multipart/mixed',
      '1:text/plain',
      '2:message/rfc822',
      '-:multipart/alternative',
      '2.1:text/plain',
      '2.2:text/html',
    ]);
    assert.deepEqual(sections(messages.related), [
      '-:multipart/alternative',
      '1:text/plain',
      '2:multipart/related',
      '2.1:text/html',
      '2.2:image/png',
    ]);
    assert.deepEqual(sections(messages.topLevelRfc822Simple), ['1:message/rfc822', '1.1:text/plain']);
  });

  test('parts carry decoded file names, dispositions and charsets', () => {
    const parts = (m: Buffer) => indexMessage(m).root.parts!;
    assert.deepEqual(
      parts(messages.rfc2231).map((p) => p.fileName),
      ['€.txt', 'café.txt'],
    );
    assert.deepEqual(
      parts(messages.nonAsciiNames).map((p) => p.fileName),
      ['été.pdf', 'été.pdf'],
    );
    const mixed = parts(messages.mixed);
    assert.deepEqual(
      mixed.map((p) => [p.disposition, p.encoding, p.charset, p.contentId]),
      [
        [null, '7bit', null, null],
        ['attachment', 'base64', null, '<cid1@x>'],
        ['inline', '7bit', null, null],
      ],
    );
    const simple = indexMessage(messages.simple).root;
    assert.equal(simple.charset, 'utf-8');
    assert.equal(simple.encoding, 'quoted-printable');
    assert.deepEqual(indexMessage(messages.params).root.flowed, { delSp: true });
  });
});
