/**
 * FETCH BODY[section] byte ranges (RFC 3501 6.4.5): each section slices
 * exactly the right bytes of the stored message. Expected bytes are what
 * Dovecot 2.3.19 returns for the same messages, except where noted.
 */

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { filterHeaderFields, findPart, headerFieldValues, indexMessage, sectionRange, type SectionText } from '../../../src/mail/mime/index.js';
import { crlf, messages } from './fixtures.js';

/** Parses "1.2.MIME" into a part path and a text specifier. */
function parseSection(spec: string): [number[], SectionText] {
  const path: number[] = [];
  let text: SectionText = null;
  for (const piece of spec.split('.').filter((p) => p !== '')) {
    if (/^\d+$/.test(piece)) path.push(Number(piece));
    else text = piece as SectionText;
  }
  return [path, text];
}

/** The bytes FETCH BODY[spec] returns, as a string; null when the section does not exist. */
function fetch(message: Buffer, spec: string): string | null {
  const [path, text] = parseSection(spec);
  const range = sectionRange(indexMessage(message), path, text);
  return range === null ? null : message.toString('utf8', range.start, range.end);
}

const cases: [keyof typeof messages, string, string | null][] = [
  ['simple', '', messages.simple.toString()],
  ['simple', 'HEADER', messages.simple.toString().split('\r\n\r\n')[0] + '\r\n\r\n'],
  ['simple', 'TEXT', 'Hello\r\nworld\r\n'],
  ['simple', '1', 'Hello\r\nworld\r\n'],
  ['simple', '1.MIME', messages.simple.toString().split('\r\n\r\n')[0] + '\r\n\r\n'],
  ['simple', '2', null],
  ['simple', '1.1', null],
  ['simple', '1.HEADER', null],
  ['simple', 'MIME', null],
  ['alternative', '1', 'plain'],
  ['alternative', '1.MIME', 'Content-Type: text/plain\r\n\r\n'],
  ['alternative', '2', '<b>html</b>\r\n'],
  ['alternative', '2.MIME', 'Content-Type: text/html; charset=utf-8\r\n\r\n'],
  ['alternative', '3', null],
  ['mixed', '1', 'implicit text'],
  ['mixed', '1.MIME', '\r\n'],
  ['mixed', '2', 'YWJj'],
  ['rfc822', '2.HEADER', 'From: "Inner, Person" <in@x.y>\r\nSubject: =?utf-8?q?inner_=C3=A9?=\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n'],
  ['rfc822', '2.TEXT', '--i\r\nContent-Type: text/plain\r\n\r\na\r\n--i\r\nContent-Type: text/html\r\n\r\n<p>a</p>\r\n--i--\r\n'],
  ['rfc822', '2.MIME', 'Content-Type: message/rfc822\r\n\r\n'],
  ['rfc822', '2.1', 'a'],
  ['rfc822', '2.2', '<p>a</p>'],
  ['rfc822', '2.2.MIME', 'Content-Type: text/html\r\n\r\n'],
  ['rfc822', '1.HEADER', null],
  ['rfc822', '1.TEXT', null],
  ['related', '2.1', '<img src="cid:i">'],
  ['related', '2.2', 'iVBORw0KGgo='],
  // RFC 2046 5.1.1: the line break before "--a--" belongs to that delimiter,
  // so the nested multipart ends at "--r--" (Dovecot adds the CRLF).
  ['related', '2', '--r\r\nContent-Type: text/html\r\n\r\n<img src="cid:i">\r\n--r\r\nContent-Type: image/png\r\nContent-ID: <i>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--r--'],
  ['topLevelRfc822Simple', '1', 'Subject: inner\r\n\r\nA\r\n'],
  ['topLevelRfc822Simple', '1.1', 'A\r\n'],
  ['topLevelRfc822Simple', '1.MIME', 'Subject: outer\r\nContent-Type: message/rfc822\r\n\r\n'],
  ['topLevelRfc822Simple', '1.HEADER', 'Subject: inner\r\n\r\n'],
  ['topLevelRfc822Simple', '1.TEXT', 'A\r\n'],
  ['topLevelRfc822Simple', '1.1.MIME', 'Subject: inner\r\n\r\n'],
  ['topLevelRfc822', '1.1', 'A'],
  ['topLevelRfc822', '1.2', 'B'],
  ['topLevelRfc822', '1.2.MIME', '\r\n'],
  ['digest', '1.HEADER', 'Subject: d1\r\n\r\n'],
  ['digest', '1.1', 'body1'],
  ['prefixBoundaries', '1.2', 'in2'],
  ['prefixBoundaries', '2', 'last'],
];

describe('sections slice the exact bytes', () => {
  for (const [name, spec, expected] of cases) {
    test(`${name} BODY[${spec}]`, () => assert.equal(fetch(messages[name], spec), expected));
  }
});

describe('offsets on real bytes', () => {
  test('bare LF line endings', () => {
    const m = Buffer.from('Subject: lf\nContent-Type: multipart/mixed; boundary=u\n\n--u\nContent-Type: text/plain\n\nline1\nline2\n--u--\n');
    assert.equal(fetch(m, 'HEADER'), 'Subject: lf\nContent-Type: multipart/mixed; boundary=u\n\n');
    assert.equal(fetch(m, '1'), 'line1\nline2');
    assert.equal(fetch(m, '1.MIME'), 'Content-Type: text/plain\n\n');
    // Sizes are of the stored bytes (Dovecot reports 12, counting LF as CRLF).
    const leaf = indexMessage(m).bodyStructure as unknown[];
    assert.deepEqual((leaf[0] as unknown[]).slice(6, 8), [11, 1]);
  });

  test('mixed CRLF and LF, and CR LF split across a boundary line', () => {
    const m = Buffer.from('Content-Type: multipart/mixed; boundary=u\r\n\n--u\n\r\na\r\n--u\r\n\nb\n--u--');
    assert.equal(fetch(m, '1'), 'a');
    assert.equal(fetch(m, '2'), 'b');
    assert.equal(fetch(m, 'TEXT'), '--u\n\r\na\r\n--u\r\n\nb\n--u--');
  });

  test('multibyte text does not shift offsets', () => {
    const m = crlf('Subject: Grüße 🎉', 'Content-Type: multipart/mixed; boundary=u', '', '--u', '', 'äöü 🎉', '--u--', '');
    assert.equal(fetch(m, '1'), 'äöü 🎉');
    assert.equal(fetch(m, 'HEADER'), 'Subject: Grüße 🎉\r\nContent-Type: multipart/mixed; boundary=u\r\n\r\n');
  });

  test('part paths that do not exist', () => {
    const index = indexMessage(messages.rfc822);
    for (const path of [[0], [3], [1, 1], [2, 3], [2, 1, 1], [-1], [1.5]]) {
      assert.equal(findPart(index, path), undefined, path.join('.'));
      assert.equal(sectionRange(index, path, null), null, path.join('.'));
    }
  });

  test('every part of every example: header ends with its empty line and slices nest', () => {
    for (const [name, message] of Object.entries(messages)) {
      const index = indexMessage(message);
      const walk = (p: import('../../../src/mail/mime/index.js').MimePart, lo: number, hi: number): void => {
        assert.ok(lo <= p.headerStart && p.headerStart <= p.headerEnd && p.headerEnd === p.bodyStart, name);
        assert.ok(p.bodyStart <= p.bodyEnd && p.bodyEnd <= hi, name);
        const header = message.toString('latin1', p.headerStart, p.headerEnd);
        assert.ok(header === '' || header.endsWith('\n\n') || header.endsWith('\r\n\r\n') || header === '\r\n', `${name} ${p.section}`);
        p.parts?.forEach((c) => walk(c, p.bodyStart, p.bodyEnd));
        if (p.message) walk(p.message, p.bodyStart, p.bodyEnd);
      };
      walk(index.root, 0, message.length);
    }
  });
});

describe('HEADER.FIELDS (RFC 3501 6.4.5)', () => {
  const header = Buffer.from('From: a@b\r\nSubject: one\r\n two\r\nTo: c@d\r\nbroken line\r\nsubject : again\r\n\r\n');
  test('selected fields with their continuations, then the empty line', () => {
    assert.equal(filterHeaderFields(header, ['SUBJECT'], false).toString(), 'Subject: one\r\n two\r\nsubject : again\r\n\r\n');
  });
  test('.NOT keeps the others', () => {
    assert.equal(filterHeaderFields(header, ['subject', 'from'], true).toString(), 'To: c@d\r\n\r\n');
  });
  test('no match gives just the empty line', () => {
    assert.equal(filterHeaderFields(header, ['x-none'], false).toString(), '\r\n');
  });
  test('headerFieldValues unfolds every occurrence', () => {
    assert.deepEqual(headerFieldValues(header, 'Subject'), ['one two', 'again']);
    assert.deepEqual(headerFieldValues(header, 'x-none'), []);
  });
  test('a last field without a line break gets one', () => {
    assert.equal(filterHeaderFields(Buffer.from('A: 1\r\nB: 2'), ['b'], false).toString(), 'B: 2\r\n\r\n');
  });
});
