/**
 * FETCH items that come from the index row or the MIME index (RFC 3501
 * 6.4.5 and 7.4.2, RFC 7162 MODSEQ): their wire form, their order, UID FETCH
 * and CONDSTORE additions.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeValue } from '../../../src/protocols/imap/wire/encoder.js';
import { indexMessage } from '../../../src/mail/mime/index.js';
import type { ModSeq, Uid } from '../../../src/store/types.js';
import { CountingContent, crlf, fetchText, mixed, plain } from './helpers.js';

describe('index-row items', () => {
  test('FLAGS, UID, INTERNALDATE, RFC822.SIZE and MODSEQ in the order asked', async () => {
    const content = new CountingContent();
    const record = content.add(plain, { uid: 9 as Uid, flags: ['\\Answered', '$Forwarded'], modSeq: 12345 as ModSeq });
    const { text } = await fetchText('(MODSEQ RFC822.SIZE INTERNALDATE UID FLAGS)', content, record, {}, 3);
    assert.equal(
      text,
      `* 3 FETCH (MODSEQ (12345) RFC822.SIZE ${plain.length} INTERNALDATE "17-Jul-1996 09:44:25 +0000" UID 9 FLAGS (\\Answered $Forwarded))\r\n`,
    );
  });

  test('INTERNALDATE pads a one-digit day with a space (date-day-fixed)', async () => {
    const content = new CountingContent();
    const record = content.add(plain, { internalDate: new Date(Date.UTC(2024, 1, 3, 4, 5, 6)) });
    const { text } = await fetchText('INTERNALDATE', content, record);
    assert.equal(text, '* 1 FETCH (INTERNALDATE " 3-Feb-2024 04:05:06 +0000")\r\n');
  });

  test('empty FLAGS is an empty list', async () => {
    const content = new CountingContent();
    const { text } = await fetchText('FLAGS', content, content.add(plain));
    assert.equal(text, '* 1 FETCH (FLAGS ())\r\n');
  });

  test('recent adds \\Recent to FLAGS', async () => {
    const content = new CountingContent();
    const { text } = await fetchText('FLAGS', content, content.add(plain, { flags: ['\\Seen'] }), { recent: true });
    assert.equal(text, '* 1 FETCH (FLAGS (\\Seen \\Recent))\r\n');
  });

  test('the FAST macro', async () => {
    const content = new CountingContent();
    const { text } = await fetchText('FAST', content, content.add(plain, { flags: ['\\Seen'] }));
    assert.equal(text, `* 1 FETCH (FLAGS (\\Seen) INTERNALDATE "17-Jul-1996 09:44:25 +0000" RFC822.SIZE ${plain.length})\r\n`);
  });

  test('an item asked for twice is answered once', async () => {
    const content = new CountingContent();
    const { text } = await fetchText('(UID FLAGS UID)', content, content.add(plain));
    assert.equal(text, '* 1 FETCH (UID 42 FLAGS ())\r\n');
  });
});

describe('UID FETCH and CONDSTORE', () => {
  test('UID FETCH puts UID first when not asked for', async () => {
    const content = new CountingContent();
    const { text } = await fetchText('FLAGS', content, content.add(plain), { uid: true });
    assert.equal(text, '* 1 FETCH (UID 42 FLAGS ())\r\n');
  });

  test('UID FETCH that asks for UID sends it once, first', async () => {
    const content = new CountingContent();
    const { text } = await fetchText('(FLAGS UID)', content, content.add(plain), { uid: true });
    assert.equal(text, '* 1 FETCH (UID 42 FLAGS ())\r\n');
  });

  test('CONDSTORE appends MODSEQ to every response', async () => {
    const content = new CountingContent();
    const { text } = await fetchText('FLAGS', content, content.add(plain), { condstore: true, uid: true });
    assert.equal(text, '* 1 FETCH (UID 42 FLAGS () MODSEQ (77))\r\n');
  });

  test('CONDSTORE with MODSEQ asked for keeps its place and sends it once', async () => {
    const content = new CountingContent();
    const { text } = await fetchText('(MODSEQ FLAGS)', content, content.add(plain), { condstore: true });
    assert.equal(text, '* 1 FETCH (MODSEQ (77) FLAGS ())\r\n');
  });

  test('without CONDSTORE, MODSEQ is sent only when asked for', async () => {
    const content = new CountingContent();
    assert.equal((await fetchText('FLAGS', content, content.add(plain))).text, '* 1 FETCH (FLAGS ())\r\n');
  });
});

describe('MIME index items', () => {
  test('ENVELOPE of a plain message (RFC 3501 7.4.2 field order)', async () => {
    const content = new CountingContent();
    const { text } = await fetchText('ENVELOPE', content, content.add(plain));
    assert.equal(
      text,
      '* 1 FETCH (ENVELOPE ("Wed, 17 Jul 1996 02:44:25 -0700" "Hello" (("Alice" NIL "alice" "example.com")) ' +
        '(("Alice" NIL "alice" "example.com")) (("Alice" NIL "alice" "example.com")) ((NIL NIL "bob" "example.org")) ' +
        'NIL NIL NIL "<1@example.com>"))\r\n',
    );
  });

  test('BODY and BODYSTRUCTURE of a plain message', async () => {
    const content = new CountingContent();
    const { text } = await fetchText('(BODY BODYSTRUCTURE)', content, content.add(plain));
    assert.equal(
      text,
      '* 1 FETCH (BODY ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 14 2) ' +
        'BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 14 2 NIL NIL NIL NIL))\r\n',
    );
  });

  test('BODYSTRUCTURE of a nested multipart is the stored tree, encoded', async () => {
    const content = new CountingContent();
    const { text } = await fetchText('BODYSTRUCTURE', content, content.add(mixed));
    const expected = encodeValue(indexMessage(mixed).bodyStructure).toString('latin1');
    assert.equal(text, `* 1 FETCH (BODYSTRUCTURE ${expected})\r\n`);
    assert.match(text, /\("message" "rfc822" NIL NIL NIL "7bit" 298 \(NIL "Inner" /);
    assert.match(text, /"alternative" \("boundary" "inner"\) NIL NIL NIL\) 16 NIL NIL NIL NIL\)/);
  });

  test('an 8-bit (RFC 6532) subject is a literal, or quoted under UTF8=ACCEPT', async () => {
    const content = new CountingContent();
    const record = content.add(crlf('From: a@example.com', 'Subject: Grüße', '', 'x', ''));
    const subject = Buffer.from('Grüße', 'utf8');
    const plainSession = (await fetchText('ENVELOPE', content, record)).text;
    assert.ok(plainSession.includes(` {${subject.length}}\r\n${subject.toString('latin1')} `), plainSession);
    const utf8Session = (await fetchText('ENVELOPE', content, record, { utf8Accept: true })).text;
    assert.ok(utf8Session.includes(` "${subject.toString('latin1')}" `), utf8Session);
  });
});
