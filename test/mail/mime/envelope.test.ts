/**
 * ENVELOPE (RFC 3501 7.4.2) and the decoded headers: address lists with
 * groups, routes, comments and missing parts (RFC 5322 3.4, 4.4), defaults
 * for Sender and Reply-To, encoded words kept raw (RFC 2047) but decoded for
 * search, UTF-8 headers (RFC 6532), dates (RFC 5322 3.3).
 */

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { indexMessage } from '../../../src/mail/mime/index.js';
import { parseAddressList, addressesToImap } from '../../../src/mail/mime/address-list.js';
import { calendarDate } from '../../../src/mail/mime/envelope.js';
import { checkEnvelope, crlf, imap, messages, norm } from './fixtures.js';

/** ENVELOPE of a message made of the given header lines. */
function envelope(...headerLines: string[]): string {
  const index = indexMessage(crlf(...headerLines, '', 'body', ''));
  checkEnvelope(index.envelope);
  return imap(index.envelope);
}

/** The address-list part of an ENVELOPE for one field value. */
function addresses(value: string): string {
  return imap(addressesToImap(parseAddressList(value, 1000).items));
}

describe('address lists (RFC 5322 3.4)', () => {
  const cases: [string, string, string][] = [
    ['plain', 'jdoe@example.org', '((NIL NIL "jdoe" "example.org"))'],
    ['display name', 'Mary Smith <mary@x.test>', '(("Mary Smith" NIL "mary" "x.test"))'],
    ['quoted name with specials', '"Giant; \\"Big\\" Box" <sysservices@example.net>', '(("Giant; \\"Big\\" Box" NIL "sysservices" "example.net"))'],
    ['unquoted name with a dot (obs-phrase)', 'Joe Q. Public <john.q.public@example.com>', '(("Joe Q. Public" NIL "john.q.public" "example.com"))'],
    ['comment as name', 'x@y.z (Comment Name)', '(("Comment Name" NIL "x" "y.z"))'],
    ['comments everywhere (RFC 5322 A.5)', 'Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>', '(("Pete" NIL "pete" "silly.test"))'],
    ['source route (obsolete)', '<@route1,@route2:user@host>', '((NIL "@route1,@route2" "user" "host"))'],
    ['quoted local part is sent unquoted', '"john doe"@x.y', '((NIL NIL "john doe" "x.y"))'],
    ['domain literal', 'a <x@[1.2.3.4]>', '(("a" NIL "x" "[1.2.3.4]"))'],
    ['encoded words are kept', '=?utf-8?q?J=C3=B6rg?= <j@x.de>', '(("=?utf-8?q?J=C3=B6rg?=" NIL "j" "x.de"))'],
    ['group', 'A Group:Ed Jones <c@a.test>,joe@where.test;', '((NIL NIL "A Group" NIL) ("Ed Jones" NIL "c" "a.test") (NIL NIL "joe" "where.test") (NIL NIL NIL NIL))'],
    ['empty group', 'Undisclosed recipients:;', '((NIL NIL "Undisclosed recipients" NIL) (NIL NIL NIL NIL))'],
    ['unterminated group is closed', 'G: a@b', '((NIL NIL "G" NIL) (NIL NIL "a" "b") (NIL NIL NIL NIL))'],
    ['missing domain', 'nodomain', '((NIL NIL "nodomain" "MISSING_DOMAIN"))'],
    ['missing mailbox', '"only name"', '(("only name" NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))'],
    ['name without address', 'Mary Smith', '(("Mary Smith" NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))'],
    ['null address', '<>', '((NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))'],
    ['empty list elements are skipped (obs-addr-list)', ', ,a@b,, c@d,', '((NIL NIL "a" "b") (NIL NIL "c" "d"))'],
    ['missing comma', 'a@b c@d', '((NIL NIL "a" "b") (NIL NIL "c" "d"))'],
    ['junk after the angle address', '<a@b> trailing, c@d', '((NIL NIL "a" "b") (NIL NIL "c" "d"))'],
    ['empty', '', 'NIL'],
    ['unbalanced everything', '"<(@:;,', '(("<(@:;," NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))'],
  ];
  for (const [name, value, expected] of cases) {
    test(name, () => assert.equal(addresses(value), norm(expected)));
  }

  test('at most maxAddresses are kept', () => {
    const value = Array.from({ length: 50 }, (_, i) => `u${i}@x.y`).join(', ');
    const list = parseAddressList(value, 10);
    assert.equal(list.items.length, 10);
    assert.equal(list.truncated, true);
  });
});

describe('ENVELOPE', () => {
  test('a full header (Dovecot gives the same)', () => {
    assert.equal(
      imap(indexMessage(messages.simple).envelope),
      '("Mon, 7 Feb 1994 21:52:25 -0800 (PST)" "Hello" (("Alice" NIL "alice" "example.com")) (("Alice" NIL "alice" "example.com")) (("Alice" NIL "alice" "example.com")) ((NIL NIL "bob" "example.org")) NIL NIL NIL "<1@example.com>")',
    );
  });

  test('no header at all: every field NIL', () => {
    assert.equal(imap(indexMessage(Buffer.alloc(0)).envelope), '(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)');
  });

  test('Sender and Reply-To default to From, also when empty', () => {
    assert.equal(
      envelope('From: a@b.c', 'Reply-To:', 'Subject:'),
      '(NIL "" ((NIL NIL "a" "b.c")) ((NIL NIL "a" "b.c")) ((NIL NIL "a" "b.c")) NIL NIL NIL NIL NIL)',
    );
  });

  test('all fields in order', () => {
    assert.equal(
      envelope(
        'Message-ID:   <x@y>  ',
        'In-Reply-To: <a@b>',
        'Bcc: e@f',
        'Cc: c@d',
        'To: a@b',
        'Reply-To: r@s',
        'Sender: s@t',
        'From: f@g',
        'Subject: s',
        'Date: garbage',
      ),
      '("garbage" "s" ((NIL NIL "f" "g")) ((NIL NIL "s" "t")) ((NIL NIL "r" "s")) ((NIL NIL "a" "b")) ((NIL NIL "c" "d")) ((NIL NIL "e" "f")) "<a@b>" "<x@y>")',
    );
  });

  test('repeated fields: last string, all addresses (as Dovecot)', () => {
    assert.equal(
      envelope('From: first@x.y', 'From: second@x.y', 'Subject: one', 'Subject: two'),
      '(NIL "two" ((NIL NIL "first" "x.y") (NIL NIL "second" "x.y")) ((NIL NIL "first" "x.y") (NIL NIL "second" "x.y")) ((NIL NIL "first" "x.y") (NIL NIL "second" "x.y")) NIL NIL NIL NIL NIL)',
    );
  });

  test('folded values are unfolded: line breaks removed, white space kept (RFC 5322 2.2.3)', () => {
    assert.equal(envelope('Subject: a', '\tb', '   c').split(' NIL')[0], '(NIL "a\tb   c"');
  });

  test('encoded words stay raw; 8-bit UTF-8 passes through', () => {
    const index = indexMessage(crlf('From: Jörg <jörg@exämple.de>', 'Subject: =?iso-8859-1?q?caf=E9?= Grüße', '', ''));
    assert.equal(
      imap(index.envelope),
      '(NIL "=?iso-8859-1?q?caf=E9?= Grüße" (("Jörg" NIL "jörg" "exämple.de")) (("Jörg" NIL "jörg" "exämple.de")) (("Jörg" NIL "jörg" "exämple.de")) NIL NIL NIL NIL NIL)',
    );
    assert.equal(index.headers.subject, 'café Grüße');
  });

  test('8-bit Latin-1 header bytes are kept, not replaced', () => {
    const message = Buffer.concat([Buffer.from('Subject: caf'), Buffer.from([0xe9]), Buffer.from('\r\n\r\n')]);
    assert.equal(indexMessage(message).headers.subject, 'café');
  });
});

describe('decoded headers', () => {
  test('subject and addresses decoded, unknown charsets as UTF-8', () => {
    const index = indexMessage(
      crlf(
        'From: =?utf-8?q?J=C3=B6rg?= <j@x.de>, plain@x.y',
        'To: G: =?x-unknown?q?a?= <a@b>;',
        'Subject: =?utf-8?B?w6l0w6k=?= =?utf-8?q?_ok?=',
        'Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)',
        '',
        '',
      ),
    );
    const h = index.headers;
    assert.equal(h.subject, 'été ok');
    assert.deepEqual(h.from, [
      { name: 'Jörg', address: 'j@x.de' },
      { name: '', address: 'plain@x.y' },
    ]);
    assert.deepEqual(h.sender, h.from);
    assert.deepEqual(h.to, [{ name: 'a', address: 'a@b' }]);
    assert.equal(h.sentDate, '1994-02-07');
    assert.equal(h.sentAtMs, Date.UTC(1994, 1, 8, 5, 52, 25));
  });

  test('no Subject is null, an empty one is ""', () => {
    assert.equal(indexMessage(crlf('From: a@b', '', '')).headers.subject, null);
    assert.equal(indexMessage(crlf('Subject:', '', '')).headers.subject, '');
  });

  const dates: [string, string | null][] = [
    ['Mon, 7 Feb 1994 21:52:25 -0800', '1994-02-07'],
    ['7 Feb 94 21:52 EST', '1994-02-07'],
    ['Fri, 21 Nov 1997 09:55:06 -0600', '1997-11-21'],
    ['1 Jan 49 00:00 +0000', '2049-01-01'],
    ['01-Jan-2026', '2026-01-01'],
    ['garbage', null],
  ];
  for (const [value, expected] of dates) {
    test(`calendar date of "${value}"`, () => assert.equal(calendarDate(value), expected));
  }
});
