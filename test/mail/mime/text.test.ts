/**
 * Decoded text for SEARCH BODY/TEXT (RFC 3501 6.4.4): transfer encodings
 * undone (RFC 2045 6.7 quoted-printable, 6.8 base64), charsets converted,
 * flowed text joined (RFC 3676), HTML reduced to text, binary parts
 * skipped, output bounded.
 */

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { indexMessage, searchableText, textParts } from '../../../src/mail/mime/index.js';
import { decodeQuotedPrintable, htmlToText } from '../../../src/mail/mime/text.js';
import { crlf, messages } from './fixtures.js';

function search(message: Buffer, maxTextBytes?: number): string {
  return searchableText(message, indexMessage(message), maxTextBytes);
}

describe('quoted-printable (RFC 2045 6.7)', () => {
  const cases: [string, string, string][] = [
    ['hex octets', 'caf=C3=A9', 'café'],
    ['lowercase hex', 'caf=c3=a9', 'café'],
    ['soft line break CRLF', 'long=\r\nline', 'longline'],
    ['soft line break LF', 'long=\nline', 'longline'],
    ['soft break with padding', 'a= \t\r\nb', 'ab'],
    ['bad escape kept', 'a=ZZb=', 'a=ZZb'],
    ['equals at the end', 'x=', 'x'],
  ];
  for (const [name, input, expected] of cases) {
    test(name, () => assert.equal(decodeQuotedPrintable(Buffer.from(input, 'latin1')).toString('utf8'), expected));
  }
});

describe('searchable text', () => {
  test('quoted-printable UTF-8', () => {
    assert.equal(search(crlf('Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable', '', 'Gr=C3=BC=C3=9Fe, caf=', '=C3=A9', '')), 'Grüße, café\r\n');
  });

  test('base64 in ISO-8859-1', () => {
    const body = Buffer.from('Grüße', 'latin1').toString('base64');
    assert.equal(search(crlf('Content-Type: text/plain; charset=iso-8859-1', 'Content-Transfer-Encoding: base64', '', body, '')), 'Grüße');
  });

  test('windows-1252 and KOI8-R through the charset tables', () => {
    const cp = Buffer.concat([Buffer.from('Content-Type: text/plain; charset=windows-1252\r\n\r\n'), Buffer.from([0x80, 0x20, 0x93, 0x71, 0x94])]);
    assert.equal(search(cp), '€ “q”');
    const koi = Buffer.concat([Buffer.from('Content-Type: text/plain; charset=koi8-r\r\n\r\n'), Buffer.from([0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4])]);
    assert.equal(search(koi), 'Привет');
    const alias = Buffer.concat([Buffer.from('Content-Type: text/plain; charset=win-1251\r\n\r\n'), Buffer.from([0xcf, 0xf0, 0xe8])]);
    assert.equal(search(alias), 'При');
  });

  test('unknown charset: UTF-8 if valid, else Latin-1', () => {
    assert.equal(search(crlf('Content-Type: text/plain; charset=x-unknown', '', 'café')), 'café');
    const latin = Buffer.concat([Buffer.from('Content-Type: text/plain; charset=x-unknown\r\n\r\ncaf'), Buffer.from([0xe9])]);
    assert.equal(search(latin), 'café');
  });

  test('no charset with 8-bit bytes', () => {
    assert.equal(search(crlf('Subject: x', '', 'naïve')), 'naïve');
  });

  test('binary parts are skipped, text attachments and nested messages are read', () => {
    const m = crlf(
      'Content-Type: multipart/mixed; boundary=b',
      '',
      '--b',
      '',
      'first',
      '--b',
      'Content-Type: application/pdf',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('%PDF secret').toString('base64'),
      '--b',
      'Content-Type: text/csv; name=a.csv',
      'Content-Disposition: attachment',
      '',
      'a,b',
      '--b',
      'Content-Type: message/rfc822',
      '',
      'Subject: inner',
      '',
      'inner body',
      '--b--',
      '',
    );
    const parts = [...textParts(m, indexMessage(m))];
    assert.deepEqual(
      parts.map((p) => [p.section, p.mediaType, p.text]),
      [
        ['1', 'text/plain', 'first'],
        ['3', 'text/csv', 'a,b'],
        ['4.1', 'text/plain', 'inner body'],
      ],
    );
  });

  test('HTML is reduced to its text', () => {
    const m = crlf(
      'Content-Type: text/html; charset=utf-8',
      '',
      '<html><head><style>p{color:red}</style><script>var x = "<p>no</p>";</script></head>',
      '<body><!-- hidden --><p>Hello&nbsp;<b>wo</b>rld &amp; &#233;&#x263A; caf&eacute; &euro;5 &bogus;</p><div>next</div></body></html>',
    );
    assert.equal(search(m).replace(/\s+/g, ' ').trim(), 'Hello world & é☺ café €5 &bogus; next');
  });

  test('HTML scanner stays linear on unclosed scripts and tags', () => {
    const started = Date.now();
    htmlToText('<script>'.repeat(200_000) + '<a'.repeat(200_000));
    assert.ok(Date.now() - started < 2000);
  });

  test('format=flowed is joined', () => {
    const m = crlf('Content-Type: text/plain; charset=utf-8; format=flowed', '', 'This is one ', 'paragraph.', '');
    assert.equal(search(m), 'This is one paragraph.');
    assert.equal(search(messages.params).trim(), 'x');
  });

  test('the output is capped at maxTextBytes without splitting a character', () => {
    const big = Buffer.from('é'.repeat(1_000_000), 'utf8').toString('base64').replace(/.{76}/g, '$&\r\n');
    const m = crlf('Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64', '', big);
    const text = search(m, 1001);
    assert.equal(text, 'é'.repeat(500));
    assert.equal(Buffer.byteLength(search(m)), 1024 * 1024);
  });

  test('a later part gets only what is left of the budget', () => {
    const m = crlf('Content-Type: multipart/mixed; boundary=b', '', '--b', '', 'aaaaaaaaaa', '--b', '', 'bbbbbbbbbb', '--b', '', 'cccc', '--b--');
    assert.deepEqual(
      [...textParts(m, indexMessage(m), 15)].map((p) => p.text),
      ['aaaaaaaaaa', 'bbbbb'],
    );
  });
});
