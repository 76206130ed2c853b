/**
 * Every SEARCH key of RFC 3501 6.4.4 / RFC 9051 6.4.4 (and RFC 7162 MODSEQ)
 * against the fixture mailbox, as a table: the criteria as a client writes
 * them and the UIDs that must match. See fixtures.ts for the messages.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FIXTURES, search } from './fixtures.js';

const ALL = [3, 7, 8, 12, 20];

/** [criteria, expected UIDs]. */
type Case = readonly [string, readonly number[]];

const tables: Record<string, readonly Case[]> = {
  'flag keys': [
    ['ALL', ALL],
    ['ANSWERED', [12]],
    ['UNANSWERED', [3, 7, 8, 20]],
    ['DELETED', [12, 20]],
    ['UNDELETED', [3, 7, 8]],
    ['DRAFT', [12]],
    ['UNDRAFT', [3, 7, 8, 20]],
    ['FLAGGED', [7]],
    ['UNFLAGGED', [3, 8, 12, 20]],
    ['SEEN', [3, 20]],
    ['UNSEEN', [7, 8, 12]],
    // No \Recent on this server: RECENT and NEW match nothing, OLD everything.
    ['RECENT', []],
    ['NEW', []],
    ['OLD', ALL],
    ['NOT RECENT', ALL],
    ['NOT OLD', []],
    ['seen', [3, 20]],
  ],
  keywords: [
    ['KEYWORD $Work', [7]],
    ['KEYWORD $WORK', [7]],
    ['KEYWORD $work', [7]],
    ['UNKEYWORD $Work', [3, 8, 12, 20]],
    ['KEYWORD CUSTOM', [20]],
    ['KEYWORD nosuchkeyword', []],
    ['UNKEYWORD nosuchkeyword', ALL],
  ],
  'INTERNALDATE (UTC calendar day)': [
    ['ON 10-Mar-2024', [7]],
    ['ON "10-Mar-2024"', [7]],
    ['ON 11-Mar-2024', [8]],
    ['ON 12-Mar-2024', [12, 20]],
    ['BEFORE 11-Mar-2024', [3, 7]],
    ['SINCE 11-Mar-2024', [8, 12, 20]],
    ['BEFORE 8-Feb-1994', []],
    ['BEFORE 9-Feb-1994', [3]],
    ['SINCE 8-Feb-1994', ALL],
    ['SINCE 13-Mar-2024', []],
    ['ON 7-Feb-1994', []],
  ],
  'Date header (day as written, zone disregarded)': [
    // UID 3: "Mon, 7 Feb 1994 21:52:25 -0800" is 8 Feb in UTC, 7 Feb as written.
    ['SENTON 7-Feb-1994', [3]],
    ['SENTON 8-Feb-1994', []],
    // UID 8: "Mon, 11 Mar 2024 01:15:00 +0100" is 10 Mar in UTC, 11 Mar as written.
    ['SENTON 11-Mar-2024', [8]],
    ['SENTON 10-Mar-2024', [7]],
    ['SENTBEFORE 11-Mar-2024', [3, 7]],
    ['SENTSINCE 10-Mar-2024', [7, 8]],
    ['SENTSINCE 1-Jan-1900', [3, 7, 8]],
    // UID 12 has no Date, UID 20 an unreadable one: no SENT* key matches them.
    ['SENTBEFORE 1-Jan-2100', [3, 7, 8]],
    ['NOT SENTBEFORE 1-Jan-2100', [12, 20]],
  ],
  sizes: [
    ['LARGER 5000', [20]],
    ['SMALLER 5000', [3, 7, 8, 12]],
    ['LARGER 0', ALL],
    ['SMALLER 1', []],
  ],
  'address keys (decoded names, addresses as written)': [
    ['FROM alice', [3]],
    ['FROM ALICE@EXAMPLE.COM', [3]],
    ['FROM "Alice Example <alice@example.com>"', [3]],
    ['FROM "example <alice"', [3]],
    ['FROM "jörg"', [7]],
    ['FROM "JÖRG MÜLLER"', [7]],
    ['FROM example.de', [7]],
    ['FROM "zoë"', [12]],
    ['FROM "ZOË"', [12]],
    ['FROM zoe@', [12]],
    // The From of an attached message is not the message's From.
    ['FROM inner', []],
    ['FROM "=?ISO-8859-1?Q?"', []],
    ['TO alice', [7]],
    ['TO bob', [3, 12]],
    ['TO team@example.de', [7]],
    ['TO ""', [3, 7, 12]],
    ['CC carol', [3]],
    ['CC "Carol C."', [3]],
    ['CC ""', [3]],
    ['CC alice', []],
    ['BCC hidden', [8]],
    ['BCC "hidden person <hidden@example.org>"', [8]],
    ['BCC bob', []],
  ],
  'SUBJECT (encoded words decoded)': [
    ['SUBJECT report', [3]],
    ['SUBJECT "QUARTERLY REPORT"', [3]],
    ['SUBJECT "Grüße aus"', [7]],
    ['SUBJECT "münchen"', [7]],
    // Full case folding: ß matches SS.
    ['SUBJECT "GRÜSSE"', [7]],
    ['SUBJECT "ελληνικά"', [8]],
    ['SUBJECT "ΕΛΛΗΝΙΚΆ"', [8]],
    ['SUBJECT "ελληνικά notes"', [8]],
    ['SUBJECT "inner subject"', []],
    ['SUBJECT ""', [3, 7, 8, 20]],
    ['SUBJECT R3LDvMOfZSBhdXMgTcO8bmNoZW4', []],
  ],
  'HEADER (unfolded values, decoded or as written)': [
    ['HEADER X-Priority 1', [8]],
    ['HEADER x-priority ""', [8]],
    ['HEADER Message-ID "<q1@"', [3]],
    ['HEADER X-Long "first part second part"', [8]],
    ['HEADER X-Mailer "zürich"', [7]],
    ['HEADER X-Mailer "=?UTF-8?Q?Z=C3=BCrich"', [7]],
    ['HEADER X-Note "café crème"', [12]],
    ['HEADER X-Note "CAFÉ"', [12]],
    ['HEADER Subject ""', [3, 7, 8, 20]],
    ['HEADER Content-Type multipart', [8, 12]],
    ['HEADER Date 1994', [3]],
    ['HEADER X-Absent ""', []],
    // Only the message's own header, not an attached message's.
    ['HEADER Subject inner', []],
  ],
  'BODY (decoded text)': [
    ['BODY "revenue = up"', [3]],
    // A quoted-printable soft line break joins "quar" and "ter".
    ['BODY "this quarter"', [3]],
    ['BODY "Schöne Grüße"', [7]],
    ['BODY STRASSENFEST', [7]],
    ['BODY tangerine', [8]],
    ['BODY "οδος και"', [8]],
    ['BODY "ΟΔΟΣ"', [8]],
    ['BODY "bold&brave café"', [8]],
    ['BODY hidden-comment', []],
    ['BODY "<b>"', []],
    ['BODY "forwarded text"', [12]],
    ['BODY "Inner subject line"', [12]],
    ['BODY Quarterly', []],
    ['BODY needle-at-the-end', [20]],
    ['BODY ""', ALL],
  ],
  'TEXT (header and body)': [
    ['TEXT Quarterly', [3]],
    ['TEXT "numbers look"', [3]],
    ['TEXT "Grüße aus"', [7]],
    ['TEXT "q1@example"', [3]],
    ['TEXT tangerine', [8]],
    ['TEXT "x-priority: 1"', [8]],
    ['TEXT "Inner subject"', [12]],
    ['TEXT example', ALL],
    ['TEXT nomatchanywhere', []],
  ],
  'sequence sets': [
    ['1', [3]],
    ['2:4', [7, 8, 12]],
    ['4:2', [7, 8, 12]],
    ['*', [20]],
    ['3:*', [8, 12, 20]],
    ['1,5', [3, 20]],
    // "6:*" is "5:6" in a five-message view.
    ['6:*', [20]],
    ['1:2,2:3', [3, 7, 8]],
  ],
  'UID sets': [
    ['UID 7', [7]],
    ['UID 8:12', [8, 12]],
    ['UID 12:8', [8, 12]],
    ['UID *', [20]],
    ['UID 13:*', [20]],
    // RFC 9051 6.4.4: "21:*" includes the largest UID even when it is below 21.
    ['UID 21:*', [20]],
    ['UID 1:2', []],
    ['UID 4:6,9:11', []],
    ['UID 1:4294967295', ALL],
  ],
  'MODSEQ (RFC 7162 3.1.5)': [
    ['MODSEQ 15', [8, 12, 20]],
    ['MODSEQ 1', ALL],
    ['MODSEQ 26', []],
    ['MODSEQ "/flags/\\\\Seen" all 10', [7, 8, 12, 20]],
  ],
  'AND, OR, NOT nesting': [
    ['SEEN DELETED', [20]],
    ['(SEEN DELETED)', [20]],
    ['((SEEN))', [3, 20]],
    ['OR SEEN FLAGGED', [3, 7, 20]],
    ['OR FROM alice SUBJECT "münchen"', [3, 7]],
    ['NOT SEEN', [7, 8, 12]],
    ['NOT NOT SEEN', [3, 20]],
    ['NOT (SEEN DELETED)', [3, 7, 8, 12]],
    ['OR (SEEN DELETED) (FLAGGED KEYWORD $Work)', [7, 20]],
    ['OR OR ANSWERED FLAGGED KEYWORD custom', [7, 12, 20]],
    ['OR ANSWERED OR FLAGGED KEYWORD custom', [7, 12, 20]],
    ['NOT OR BODY tangerine FROM alice', [7, 12, 20]],
    ['SEEN NOT BODY needle-at-the-end', [3]],
    ['UNDELETED OR TEXT tangerine SUBJECT report', [3, 8]],
    ['1:4 NOT UID 7', [3, 8, 12]],
    ['OR NOT SEEN NOT BODY numbers', [7, 8, 12, 20]],
    ['NOT (OR HEADER X-Priority "" (DELETED TO bob))', [3, 7, 20]],
    ['ALL NOT ALL', []],
    ['OR RECENT SEEN', [3, 20]],
    ['NEW SEEN', []],
    ['OLD UNSEEN SINCE 11-Mar-2024', [8, 12]],
    ['CHARSET UTF-8 OR SUBJECT "Grüße" BODY "Grüße"', [7]],
    ['CHARSET US-ASCII SUBJECT report', [3]],
  ],
};

for (const [group, cases] of Object.entries(tables)) {
  describe(`SEARCH ${group}`, () => {
    for (const [text, expected] of cases) {
      it(text, async () => {
        const { uids } = await search(text);
        assert.deepEqual(uids, expected);
      });
    }
  });
}

describe('SEARCH LARGER and SMALLER are strict', () => {
  const first = FIXTURES[0]!;
  const size = first.bytes.length;
  const cases: Case[] = [
    [`UID 3 LARGER ${size - 1}`, [3]],
    [`UID 3 LARGER ${size}`, []],
    [`UID 3 SMALLER ${size + 1}`, [3]],
    [`UID 3 SMALLER ${size}`, []],
  ];
  for (const [text, expected] of cases) {
    it(text, async () => {
      assert.deepEqual((await search(text)).uids, expected);
    });
  }
});
