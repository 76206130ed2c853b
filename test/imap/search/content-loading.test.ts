/**
 * What SEARCH loads: nothing for keys on the message row, the MIME index
 * (never the bytes) for SUBJECT, address and SENT* keys, the bytes only for
 * HEADER, BODY and TEXT, and only for messages the cheaper keys leave
 * undecided; one message at a time; text per message bounded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MimeIndex } from '../../../src/mail/mime/index.js';
import { searchMessages } from '../../../src/protocols/imap/search/index.js';
import type { MessageRecord } from '../../../src/store/types.js';
import { contextFor, CountingContent, criteria, FIXTURES, search, sessionView } from './fixtures.js';

/** [criteria, expected UIDs, index loads, byte loads]. */
type LoadCase = readonly [string, readonly number[], number, number];

const cases: readonly LoadCase[] = [
  // The message row alone.
  ['UNSEEN', [7, 8, 12], 0, 0],
  ['ALL', [3, 7, 8, 12, 20], 0, 0],
  ['NOT (OR SEEN OR FLAGGED KEYWORD custom)', [8, 12], 0, 0],
  ['NOT (SEEN OR FLAGGED KEYWORD custom)', [3, 7, 8, 12], 0, 0],
  ['LARGER 100 SMALLER 100000 SINCE 1-Jan-2024', [7, 8, 12, 20], 0, 0],
  ['2:4 UID 1:10 MODSEQ 5', [7, 8], 0, 0],
  ['KEYWORD $Work UNDELETED', [7], 0, 0],
  // Constant keys are folded away before any message is looked at.
  ['RECENT BODY tangerine', [], 0, 0],
  ['OR OLD BODY tangerine', [3, 7, 8, 12, 20], 0, 0],
  ['NEW TEXT x', [], 0, 0],
  // The index, not the bytes.
  ['SUBJECT report', [3], 5, 0],
  ['FROM alice', [3], 5, 0],
  ['OR TO bob BCC hidden', [3, 8, 12], 5, 0],
  ['SENTSINCE 1-Jan-2024', [7, 8], 5, 0],
  ['SEEN SUBJECT report', [3], 2, 0],
  // The bytes, only where the row did not decide.
  ['DELETED BODY needle-at-the-end', [20], 2, 2],
  ['BODY needle-at-the-end DELETED', [20], 2, 2],
  ['OR SEEN BODY tangerine', [3, 8, 20], 3, 3],
  ['HEADER X-Priority 1', [8], 5, 5],
  ['UID 8 TEXT tangerine', [8], 1, 1],
  // SUBJECT decides before the bytes are needed for the messages it rules out.
  ['SUBJECT notes BODY tangerine', [8], 5, 1],
  ['OR SUBJECT report BODY tangerine', [3, 8], 5, 4],
];

describe('SEARCH loads only what its keys need', () => {
  for (const [text, expected, indexLoads, bytesLoads] of cases) {
    it(`${text}: ${indexLoads} index loads, ${bytesLoads} byte loads`, async () => {
      const { uids, content } = await search(text);
      assert.deepEqual(uids, expected);
      assert.equal(content.indexLoads, indexLoads, 'index loads');
      assert.equal(content.bytesLoads, bytesLoads, 'byte loads');
    });
  }
});

describe('SEARCH over content', () => {
  it('loads one message at a time', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    class SlowContent extends CountingContent {
      private async slowly<T>(load: () => Promise<T>): Promise<T> {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 2));
        try {
          return await load();
        } finally {
          inFlight--;
        }
      }
      override bytes(record: MessageRecord): Promise<Buffer> {
        return this.slowly(() => super.bytes(record));
      }
      override index(record: MessageRecord): Promise<MimeIndex> {
        return this.slowly(() => super.index(record));
      }
    }
    const content = new SlowContent(FIXTURES);
    const view = sessionView();
    const hits = await searchMessages(criteria('TEXT example'), view, contextFor(view, content));
    assert.equal(hits.length, 5);
    assert.equal(maxInFlight, 1);
  });

  it('reads at most maxTextBytes of decoded text per message', async () => {
    assert.deepEqual((await search('BODY needle-at-the-end')).uids, [20]);
    assert.deepEqual((await search('BODY needle-at-the-end', { search: { maxTextBytes: 1000 } })).uids, []);
    assert.deepEqual((await search('BODY start', { search: { maxTextBytes: 1000 } })).uids, [20]);
  });

  it('loads each message once however many keys read it', async () => {
    const { uids, content } = await search('OR BODY tangerine OR BODY "κείμενο" TEXT "password is"');
    assert.deepEqual(uids, [8]);
    assert.equal(content.bytesLoads, 5);
  });

  it('returns matches in the order the messages were given', async () => {
    const content = new CountingContent(FIXTURES);
    const view = sessionView().reverse();
    const hits = await searchMessages(criteria('OR SEEN BODY tangerine'), view, contextFor(view, content));
    assert.deepEqual(
      hits.map((m) => m.record.uid),
      [20, 8, 3],
    );
  });

  it('lets a failure to load a message reach the caller', async () => {
    class BrokenContent extends CountingContent {
      override async bytes(): Promise<Buffer> {
        throw new Error('blob missing');
      }
    }
    const content = new BrokenContent(FIXTURES);
    const view = sessionView();
    await assert.rejects(searchMessages(criteria('BODY x'), view, contextFor(view, content)), /blob missing/);
    // A search that needs no bytes is unaffected.
    assert.equal((await searchMessages(criteria('SUBJECT report'), view, contextFor(view, content))).length, 1);
  });

  it('handles an empty view', async () => {
    const content = new CountingContent([]);
    assert.deepEqual(await searchMessages(criteria('OR * BODY x'), [], contextFor([], content)), []);
  });
});
