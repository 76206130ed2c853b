/**
 * BODY[section]<partial> and RFC822* (RFC 3501 6.4.5): each section is the
 * right slice of the exact stored bytes, sent as a literal; sections a
 * message does not have are "" (as Dovecot answers them); partials slice and
 * echo only their origin octet.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CountingContent, fetchText, forwarded, innerMessage, lit, mixed, plain, plainHeader } from './helpers.js';

/** The value on the wire for section data: "" when empty, else a literal. */
function data(s: string): string {
  return s === '' ? '""' : lit(s);
}

const mixedHeader =
  'From: Alice <alice@example.com>\r\nTo: Bob <bob@example.org>\r\nSubject: Report\r\nDate: Wed, 17 Jul 1996 02:44:25 -0700\r\n' +
  'Message-ID: <m1@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="outer"\r\n\r\n';

const cases: Array<[name: string, message: Buffer, item: string, response: string, expected: string]> = [
  // The whole message and its top-level sections.
  ['plain', plain, 'BODY[]', 'BODY[]', plain.toString('utf8')],
  ['plain', plain, 'BODY[HEADER]', 'BODY[HEADER]', plainHeader],
  ['plain', plain, 'BODY[TEXT]', 'BODY[TEXT]', 'Hello\r\nworld\r\n'],
  // A message that is not multipart is itself part 1; 1.MIME is its header.
  ['plain', plain, 'BODY[1]', 'BODY[1]', 'Hello\r\nworld\r\n'],
  ['plain', plain, 'BODY[1.MIME]', 'BODY[1.MIME]', plainHeader],
  ['plain', plain, 'BODY[2]', 'BODY[2]', ''],
  ['plain', plain, 'BODY[1.1]', 'BODY[1.1]', ''],
  ['plain', plain, 'BODY[1.HEADER]', 'BODY[1.HEADER]', ''],
  ['plain', plain, 'BODY[1.TEXT]', 'BODY[1.TEXT]', ''],
  ['mixed', mixed, 'BODY[HEADER]', 'BODY[HEADER]', mixedHeader],
  // Parts of a multipart: the line break before a boundary belongs to the boundary.
  ['mixed', mixed, 'BODY[1]', 'BODY[1]', 'Caf=C3=A9 au lait, soft=\r\nbreak'],
  ['mixed', mixed, 'BODY[1.MIME]', 'BODY[1.MIME]', 'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'],
  ['mixed', mixed, 'BODY[2]', 'BODY[2]', 'AAECAwBoZWxsbw=='],
  ['mixed', mixed, 'BODY[4]', 'BODY[4]', 'Grüße'],
  ['mixed', mixed, 'BODY[5]', 'BODY[5]', ''],
  ['mixed', mixed, 'BODY[1.HEADER]', 'BODY[1.HEADER]', ''],
  ['mixed', mixed, 'BODY[2.TEXT]', 'BODY[2.TEXT]', ''],
  // message/rfc822: N is the whole inner message, N.HEADER/N.TEXT its parts, N.1 its first part.
  ['mixed', mixed, 'BODY[3]', 'BODY[3]', innerMessage],
  [
    'mixed',
    mixed,
    'BODY[3.HEADER]',
    'BODY[3.HEADER]',
    'From: Carol <carol@example.net>\r\nSubject: Inner\r\nX-Trace: a\r\n folded\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="inner"\r\n\r\n',
  ],
  ['mixed', mixed, 'BODY[3.TEXT]', 'BODY[3.TEXT]', innerMessage.slice(innerMessage.indexOf('--inner'))],
  ['mixed', mixed, 'BODY[3.MIME]', 'BODY[3.MIME]', 'Content-Type: message/rfc822\r\n\r\n'],
  ['mixed', mixed, 'BODY[3.1]', 'BODY[3.1]', 'inner plain'],
  ['mixed', mixed, 'BODY[3.1.MIME]', 'BODY[3.1.MIME]', 'Content-Type: text/plain\r\n\r\n'],
  ['mixed', mixed, 'BODY[3.2.MIME]', 'BODY[3.2.MIME]', 'Content-Type: text/html\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n'],
  ['mixed', mixed, 'BODY[3.1.HEADER]', 'BODY[3.1.HEADER]', ''],
  ['mixed', mixed, 'BODY[3.3]', 'BODY[3.3]', ''],
  // A message/rfc822 part holding a one-part message: 2.1 is that message's body.
  ['forwarded', forwarded, 'BODY[2.1]', 'BODY[2.1]', 'b2xkIGJvZHk='],
  ['forwarded', forwarded, 'BODY[2.TEXT]', 'BODY[2.TEXT]', 'b2xkIGJvZHk='],
  ['forwarded', forwarded, 'BODY[2.HEADER]', 'BODY[2.HEADER]', 'From: d@example.com\r\nSubject: Old\r\nContent-Transfer-Encoding: base64\r\n\r\n'],
  // HEADER.FIELDS: case-insensitive names, fields in message order with their folds, then the empty line.
  ['plain', plain, 'BODY[HEADER.FIELDS (subject FROM)]', 'BODY[HEADER.FIELDS (SUBJECT FROM)]', 'From: Alice <alice@example.com>\r\nSubject: Hello\r\n\r\n'],
  ['plain', plain, 'BODY[HEADER.FIELDS (MESSAGE-ID)]', 'BODY[HEADER.FIELDS (MESSAGE-ID)]', 'Message-Id: <1@example.com>\r\n\r\n'],
  ['plain', plain, 'BODY[HEADER.FIELDS (X-NONE)]', 'BODY[HEADER.FIELDS (X-NONE)]', '\r\n'],
  [
    'plain',
    plain,
    'BODY[HEADER.FIELDS.NOT (FROM DATE)]',
    'BODY[HEADER.FIELDS.NOT (FROM DATE)]',
    'To: bob@example.org\r\nSubject: Hello\r\nMessage-Id: <1@example.com>\r\n\r\n',
  ],
  ['mixed', mixed, 'BODY[3.HEADER.FIELDS (X-TRACE SUBJECT)]', 'BODY[3.HEADER.FIELDS (X-TRACE SUBJECT)]', 'Subject: Inner\r\nX-Trace: a\r\n folded\r\n\r\n'],
  [
    'mixed',
    mixed,
    'BODY[3.HEADER.FIELDS.NOT (FROM SUBJECT X-TRACE)]',
    'BODY[3.HEADER.FIELDS.NOT (FROM SUBJECT X-TRACE)]',
    'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="inner"\r\n\r\n',
  ],
  // HEADER.FIELDS of a part that is not message/rfc822: no such section.
  ['mixed', mixed, 'BODY[1.HEADER.FIELDS (CONTENT-TYPE)]', 'BODY[1.HEADER.FIELDS (CONTENT-TYPE)]', ''],
  // Partials: the name shows only the origin octet.
  ['plain', plain, 'BODY[]<0.4>', 'BODY[]<0>', 'From'],
  ['plain', plain, 'BODY[TEXT]<7.100>', 'BODY[TEXT]<7>', 'world\r\n'],
  ['plain', plain, `BODY[]<${plain.length - 2}.10>`, `BODY[]<${plain.length - 2}>`, '\r\n'],
  ['plain', plain, `BODY[]<${plain.length}.10>`, `BODY[]<${plain.length}>`, ''],
  ['plain', plain, 'BODY[]<99999.1>', 'BODY[]<99999>', ''],
  ['mixed', mixed, 'BODY[3.1]<6.3>', 'BODY[3.1]<6>', 'pla'],
  ['plain', plain, 'BODY[HEADER.FIELDS (FROM)]<6.5>', 'BODY[HEADER.FIELDS (FROM)]<6>', 'Alice'],
  // BODY.PEEK answers as BODY.
  ['mixed', mixed, 'BODY.PEEK[3.1]', 'BODY[3.1]', 'inner plain'],
  ['plain', plain, 'BODY.PEEK[]<1.3>', 'BODY[]<1>', 'rom'],
  // RFC822 forms: BODY[], BODY.PEEK[HEADER], BODY[TEXT] under their own names.
  ['plain', plain, 'RFC822', 'RFC822', plain.toString('utf8')],
  ['plain', plain, 'RFC822.HEADER', 'RFC822.HEADER', plainHeader],
  ['plain', plain, 'RFC822.TEXT', 'RFC822.TEXT', 'Hello\r\nworld\r\n'],
  ['mixed', mixed, 'RFC822.HEADER', 'RFC822.HEADER', mixedHeader],
];

describe('BODY[section] bytes', () => {
  for (const [name, message, item, response, expected] of cases) {
    test(`${name}: ${item} -> ${response}`, async () => {
      const content = new CountingContent();
      // \Seen already set, so no FLAGS is added and the response is only the item.
      const record = content.add(message, { flags: ['\\Seen'] });
      const { text } = await fetchText(item, content, record);
      assert.equal(text, `* 1 FETCH (${response} ${data(expected)})\r\n`);
    });
  }
});

describe('BODY[] is the exact stored bytes', () => {
  test('LF-only, 8-bit and NUL bytes pass through untouched', async () => {
    const raw = Buffer.concat([Buffer.from('Subject: odd\n\nbody \xff\n', 'latin1'), Buffer.from([0, 0x80]), Buffer.from('\r\nend')]);
    const content = new CountingContent();
    const record = content.add(raw, { flags: ['\\Seen'] });
    const { text, result } = await fetchText('(BODY[] RFC822.SIZE)', content, record);
    assert.equal(text, `* 1 FETCH (BODY[] {${raw.length}}\r\n${raw.toString('latin1')} RFC822.SIZE ${raw.length})\r\n`);
    // A view of the stored buffer, not a copy.
    const value = result.items[0]![1] as { literal: Buffer };
    assert.equal(value.literal.buffer, raw.buffer);
    assert.equal(value.literal.byteOffset, raw.byteOffset);
  });

  test('a section of a large message is a view of the stored bytes', async () => {
    const big = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), Buffer.alloc(4 << 20, 0x61)]);
    const content = new CountingContent();
    const record = content.add(big, { flags: ['\\Seen'] });
    const { result } = await fetchText('(BODY[TEXT]<1024.2048> BODY[1])', content, record);
    const partial = result.items[0]![1] as { literal: Buffer };
    assert.equal(partial.literal.length, 2048);
    assert.equal(partial.literal.buffer, big.buffer);
    const whole = result.items[1]![1] as { literal: Buffer };
    assert.equal(whole.literal.length, 4 << 20);
    assert.equal(whole.literal.buffer, big.buffer);
  });
});
