/**
 * "*" and "$" in SEARCH sequence and UID sets (RFC 9051 6.4.4, RFC 5182),
 * and CHARSET (RFC 3501 6.4.4: US-ASCII and UTF-8, anything else NO
 * [BADCHARSET]).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { searchMessages, SearchError, checkCharset } from '../../../src/protocols/imap/search/index.js';
import { compileSearch } from '../../../src/protocols/imap/search/plan.js';
import { contextFor, CountingContent, criteria, FIXTURES, search, sessionView } from './fixtures.js';

describe('SEARCH with the saved result "$" (RFC 5182)', () => {
  const saved = [7, 12, 99];
  const cases: ReadonlyArray<readonly [string, readonly number[] | null, readonly number[]]> = [
    ['$', saved, [7, 12]],
    ['UID $', saved, [7, 12]],
    ['NOT $', saved, [3, 8, 20]],
    ['OR $ SEEN', saved, [3, 7, 12, 20]],
    ['$ DELETED', saved, [12]],
    // No saved result: "$" is the empty set.
    ['$', null, []],
    ['UID $', null, []],
    ['NOT $', null, [3, 7, 8, 12, 20]],
    ['$', [], []],
  ];
  for (const [text, savedUids, expected] of cases) {
    it(`${text} with ${savedUids === null ? 'nothing' : `[${savedUids.join(' ')}]`} saved`, async () => {
      assert.deepEqual((await search(text, { savedUids })).uids, expected);
    });
  }
});

describe('SEARCH "*" in sets', () => {
  it('is the last message, and the highest UID, of the view', async () => {
    const fixtures = FIXTURES.slice(0, 3);
    assert.deepEqual((await search('*', { fixtures })).uids, [8]);
    assert.deepEqual((await search('UID *', { fixtures })).uids, [8]);
    assert.deepEqual((await search('UID 9:*', { fixtures })).uids, [8]);
  });

  it('matches nothing in an empty mailbox', async () => {
    const content = new CountingContent([]);
    const ctx = { content, maxSeq: 0, maxUid: 0, savedUids: null };
    for (const text of ['*', 'UID *', 'NOT NOT UID *']) {
      assert.deepEqual(compileSearch(criteria(text), ctx), { op: 'const', level: 0, value: false }, text);
    }
    for (const text of ['1:*', 'UID 5:*', 'NOT *']) {
      assert.deepEqual(await searchMessages(criteria(text), [], ctx), [], text);
    }
  });
});

describe('SEARCH CHARSET', () => {
  it('accepts US-ASCII and UTF-8 in any case', async () => {
    const view = sessionView();
    const content = new CountingContent(FIXTURES);
    for (const charset of [null, 'UTF-8', 'utf-8', 'US-ASCII', 'us-ascii']) {
      const hits = await searchMessages(criteria('SUBJECT "grüße"'), view, contextFor(view, content), { charset });
      assert.deepEqual(
        hits.map((m) => m.record.uid),
        [7],
        String(charset),
      );
    }
  });

  it('refuses any other charset with BADCHARSET, before loading anything', async () => {
    const view = sessionView();
    for (const charset of ['ISO-8859-1', 'KOI8-R', 'UTF-16', 'utf8', '']) {
      const content = new CountingContent(FIXTURES);
      await assert.rejects(
        searchMessages(criteria('BODY x'), view, contextFor(view, content), { charset }),
        (e: unknown) => {
          assert.ok(e instanceof SearchError);
          assert.equal(e.code, 'bad-charset');
          assert.equal(e.status, 'NO');
          assert.equal(e.responseCode, 'BADCHARSET (US-ASCII UTF-8)');
          return true;
        },
        charset,
      );
      assert.equal(content.bytesLoads + content.indexLoads, 0);
    }
    assert.throws(() => checkCharset('windows-1252'), SearchError);
    assert.doesNotThrow(() => checkCharset(null));
  });
});
