/**
 * Example messages for the MIME index tests (RFC 2045, RFC 2046, RFC 2231,
 * RFC 5322 shapes), and helpers: an IMAP-syntax printer for the value trees
 * and a checker of the BODY/BODYSTRUCTURE grammar of RFC 3501 section 9.
 * The expected BODYSTRUCTUREs in the tests were derived from RFC 3501 7.4.2
 * and checked against Dovecot 2.3.19 (which agrees except where noted).
 */

import assert from 'node:assert/strict';
import type { ImapValue } from '../../../src/mail/mime/index.js';

/** Joins lines with CRLF, as a stored message has them. */
export function crlf(...lines: string[]): Buffer {
  return Buffer.from(lines.join('\r\n'), 'utf8');
}

/** Prints a value tree as IMAP would (quoted strings, NIL, lists), one space between list elements. */
export function imap(v: ImapValue): string {
  if (v === null) return 'NIL';
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return `(${v.map(imap).join(' ')})`;
  return `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** Normalises IMAP text from a server (which writes ")(" between bodies and addresses) for comparing with imap(). */
export function norm(s: string): string {
  return s.replace(/\)\(/g, ') (');
}

export const messages = {
  simple: crlf(
    'From: Alice <alice@example.com>',
    'To: bob@example.org',
    'Subject: Hello',
    'Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)',
    'Message-ID: <1@example.com>',
    'Content-Type: TEXT/Plain; CharSet="UTF-8"',
    'Content-Transfer-Encoding: QUOTED-PRINTABLE',
    '',
    'Hello',
    'world',
    '',
  ),
  alternative: crlf(
    'From: a@b.c',
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="XX"',
    '',
    'preamble',
    '--XX',
    'Content-Type: text/plain',
    '',
    'plain',
    '--XX',
    'Content-Type: text/html; charset=utf-8',
    '',
    '<b>html</b>',
    '',
    '--XX--',
    'epilogue',
    '',
  ),
  mixed: crlf(
    'From: a@b.c',
    'Content-Type: multipart/mixed; boundary=b1',
    '',
    '--b1',
    '',
    'implicit text',
    '--b1',
    'Content-Type: application/pdf; name="doc.pdf"',
    'Content-Transfer-Encoding: base64',
    'Content-Disposition: attachment; filename="doc.pdf"; size=3',
    'Content-ID: <cid1@x>',
    'Content-Description: A document',
    'Content-Language: en, fr',
    'Content-Location: http://x/y',
    'Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==',
    '',
    'YWJj',
    '--b1',
    'Content-Type: text/plain',
    'Content-Language: de',
    'Content-Disposition: inline',
    '',
    'x',
    '--b1--',
    '',
  ),
  rfc822: crlf(
    'From: a@b.c',
    'Subject: fwd',
    'Content-Type: multipart/mixed; boundary="o"',
    '',
    '--o',
    'Content-Type: text/plain',
    '',
    'see attached',
    '--o',
    'Content-Type: message/rfc822',
    '',
    'From: "Inner, Person" <in@x.y>',
    'Subject: =?utf-8?q?inner_=C3=A9?=',
    'Content-Type: multipart/alternative; boundary=i',
    '',
    '--i',
    'Content-Type: text/plain',
    '',
    'a',
    '--i',
    'Content-Type: text/html',
    '',
    '<p>a</p>',
    '--i--',
    '',
    '--o--',
    '',
  ),
  related: crlf(
    'Content-Type: multipart/alternative; boundary="a"',
    '',
    '--a',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    't',
    '--a',
    'Content-Type: multipart/related; boundary="r"; type="text/html"',
    '',
    '--r',
    'Content-Type: text/html',
    '',
    '<img src="cid:i">',
    '--r',
    'Content-Type: image/png',
    'Content-ID: <i>',
    'Content-Transfer-Encoding: base64',
    '',
    'iVBORw0KGgo=',
    '--r--',
    '--a--',
    '',
  ),
  rfc2231: crlf(
    'Content-Type: multipart/mixed; boundary=z',
    '',
    '--z',
    'Content-Type: application/octet-stream; name*0="long"; name*1="name.txt"',
    "Content-Disposition: attachment; filename*0*=utf-8''%E2%82%AC; filename*1=\".txt\"",
    '',
    'x',
    '--z',
    "Content-Type: application/octet-stream; name*=iso-8859-1'en'caf%E9.txt",
    "Content-Disposition: attachment; FileName*=iso-8859-1'en'caf%E9.txt",
    '',
    'y',
    '--z--',
    '',
  ),
  nonAsciiNames: crlf(
    'Content-Type: multipart/mixed; boundary=z',
    '',
    '--z',
    'Content-Type: application/octet-stream; name="=?UTF-8?B?w6l0w6kucGRm?="',
    'Content-Disposition: attachment; filename="=?UTF-8?B?w6l0w6kucGRm?="',
    '',
    'x',
    '--z',
    'Content-Type: application/octet-stream; name="été.pdf"',
    'Content-Disposition: attachment; filename="été.pdf"',
    '',
    'y',
    '--z--',
    '',
  ),
  digest: crlf(
    'Content-Type: multipart/digest; boundary=d',
    '',
    '--d',
    '',
    'Subject: d1',
    '',
    'body1',
    '--d',
    'Content-Type: text/plain',
    '',
    'not msg',
    '--d--',
    '',
  ),
  topLevelRfc822: crlf(
    'Subject: outer',
    'Content-Type: message/rfc822',
    '',
    'Subject: inner',
    'Content-Type: multipart/mixed; boundary=q',
    '',
    '--q',
    '',
    'A',
    '--q',
    '',
    'B',
    '--q--',
    '',
  ),
  topLevelRfc822Simple: crlf('Subject: outer', 'Content-Type: message/rfc822', '', 'Subject: inner', '', 'A', ''),
  params: crlf(
    'Content-Type: text/plain; charset=utf-8; format=flowed; DelSp=Yes (comment); x="a\\"b"',
    'Content-Transfer-Encoding: 8bit',
    '',
    'x',
    '',
  ),
  prefixBoundaries: crlf(
    'Content-Type: multipart/mixed; boundary=foo',
    '',
    '--foo',
    'Content-Type: multipart/alternative; boundary=foobar',
    '',
    '--foobar',
    '',
    'in1',
    '--foobar',
    '',
    'in2',
    '--foobar--',
    '--foo',
    '',
    'last',
    '--foo--',
    '',
  ),
} satisfies Record<string, Buffer>;

const isNString = (v: ImapValue): boolean => v === null || typeof v === 'string';
const isNumber = (v: ImapValue): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** body-fld-param: NIL or an even-length list of strings. */
function checkParams(v: ImapValue, where: string): void {
  if (v === null) return;
  assert.ok(Array.isArray(v) && v.length > 0 && v.length % 2 === 0, `${where}: params`);
  for (const s of v) assert.equal(typeof s, 'string', `${where}: param`);
}

/** body-fld-dsp, body-fld-lang, body-fld-loc. */
function checkExtension(v: ImapValue[], where: string): void {
  const [dsp, lang, loc] = v;
  if (dsp !== null) {
    assert.ok(Array.isArray(dsp) && dsp.length === 2 && typeof dsp[0] === 'string', `${where}: disposition`);
    checkParams(dsp[1]!, where);
  }
  if (lang !== null) assert.ok(Array.isArray(lang) && lang.every((s) => typeof s === 'string'), `${where}: language`);
  assert.ok(isNString(loc!), `${where}: location`);
}

/** An address list of an envelope: NIL or addresses of four nstrings. */
function checkAddresses(v: ImapValue, where: string): void {
  if (v === null) return;
  assert.ok(Array.isArray(v) && v.length > 0, where);
  for (const a of v) assert.ok(Array.isArray(a) && a.length === 4 && a.every(isNString), `${where}: address`);
}

/** Asserts an ENVELOPE has the shape of RFC 3501 section 9 "envelope". */
export function checkEnvelope(v: ImapValue, where = 'envelope'): void {
  assert.ok(Array.isArray(v) && v.length === 10, where);
  for (const i of [0, 1, 8, 9]) assert.ok(isNString(v[i]!), `${where}[${i}]`);
  for (const i of [2, 3, 4, 5, 6, 7]) checkAddresses(v[i]!, `${where}[${i}]`);
}

/** Asserts a BODY (extended false) or BODYSTRUCTURE (extended true) follows RFC 3501 section 9 "body". */
export function checkBody(v: ImapValue, extended: boolean, where = 'body'): void {
  assert.ok(Array.isArray(v) && v.length > 0, where);
  if (Array.isArray(v[0])) {
    let i = 0;
    while (Array.isArray(v[i])) checkBody(v[i]!, extended, `${where}.${++i}`);
    assert.equal(typeof v[i], 'string', `${where}: subtype`);
    const rest = v.slice(i + 1);
    if (!extended) return assert.equal(rest.length, 0, `${where}: BODY has no extension`);
    assert.equal(rest.length, 4, `${where}: multipart extension`);
    checkParams(rest[0]!, where);
    return checkExtension(rest.slice(1), where);
  }
  const [type, subtype, params, id, desc, enc, size] = v;
  assert.ok(typeof type === 'string' && typeof subtype === 'string', `${where}: type`);
  checkParams(params!, where);
  assert.ok(isNString(id!) && isNString(desc!) && typeof enc === 'string' && isNumber(size!), `${where}: fields`);
  let i = 7;
  if (type.toLowerCase() === 'message' && subtype.toLowerCase() === 'rfc822') {
    checkEnvelope(v[i++]!, `${where}: envelope`);
    checkBody(v[i++]!, extended, `${where}: message`);
    assert.ok(isNumber(v[i++]!), `${where}: lines`);
  } else if (type.toLowerCase() === 'text') {
    assert.ok(isNumber(v[i++]!), `${where}: lines`);
  }
  const rest = v.slice(i);
  if (!extended) return assert.equal(rest.length, 0, `${where}: BODY has no extension`);
  assert.equal(rest.length, 4, `${where}: extension`);
  assert.ok(isNString(rest[0]!), `${where}: md5`);
  checkExtension(rest.slice(1), where);
}
