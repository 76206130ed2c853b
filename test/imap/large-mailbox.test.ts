/**
 * A 100,000-message INBOX stays usable: SELECT, UID FETCH 1:* (UID FLAGS),
 * SEARCH UNSEEN and SEARCH SUBJECT (which reads the MIME index) each answer
 * correctly within a generous bound, driven by Python's imaplib in its own
 * process so that the client's parsing does not share the server's event
 * loop.
 *
 * The mailbox is loaded through the store interfaces, not over IMAP: a few
 * hundred distinct messages are stored as blobs (with their MIME index, as
 * delivery does) and delivered one by one, then the mailbox is doubled with
 * MailStore.copyMessages into itself (one transaction per doubling, blobs
 * shared) until it holds exactly 100,000 messages. Copies keep their flags,
 * so the expected counts are read back from the store's own rows.
 *
 * The bounds are "usable", not a benchmark: bench/imap.ts measures against
 * Dovecot.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { storeMessageIndex } from '../../src/mail/message-index.js';
import type { MailboxId, MessageRecord, Uid } from '../../src/store/types.js';
import { python } from '../helpers/clients.js';
import { message, startImap, type ImapHarness } from './support.js';

const TOTAL = 100_000;
/** Distinct messages (blobs) before copying. */
const DISTINCT = 400;
/** The bound for each command: generous, for a shared 2-CPU machine running other tests. */
const BOUND_MS = 15_000;

/** Blob i has the word in its subject when i % 10 === 3; it is delivered unseen when i % 4 === 1. */
const NEEDLE = 'kestrel';
const hasNeedle = (i: number) => i % 10 === 3;
const unseen = (i: number) => i % 4 === 1;

/**
 * One imaplib session: LOGIN, then each command timed on the client side.
 * Prints one JSON object. imaplib's line limit (1 MB) is raised: a SEARCH
 * answer over 100,000 messages is one long line.
 */
const client = String.raw`
import imaplib, json, re, sys, time
imaplib._MAXLINE = 50_000_000
port, needle = int(sys.argv[1]), sys.argv[2]
out = {}
def timed(name, fn):
    t = time.monotonic()
    r = fn()
    out[name + '_ms'] = round((time.monotonic() - t) * 1000)
    return r
m = imaplib.IMAP4('127.0.0.1', port)
m.login('alice@example.test', 'secret')
typ, data = timed('select', lambda: m.select('INBOX'))
assert typ == 'OK', (typ, data)
out['exists'] = int(data[0])
typ, data = timed('fetch', lambda: m.uid('FETCH', '1:*', '(UID FLAGS)'))
assert typ == 'OK', typ
uids, seen = [], 0
for line in data:
    if not isinstance(line, bytes):
        continue
    # imaplib gives b'SEQ (UID n FLAGS (...))' for each untagged FETCH.
    uids.append(int(re.search(rb'UID (\d+)', line).group(1)))
    if b'\\Seen' in line:
        seen += 1
out['fetched'] = len(uids)
out['fetched_distinct'] = len(set(uids))
out['fetched_ascending'] = all(a < b for a, b in zip(uids, uids[1:]))
out['fetched_seen'] = seen
out['uid_sum'] = sum(uids)
typ, data = timed('search_unseen', lambda: m.search(None, 'UNSEEN'))
assert typ == 'OK', typ
hits = [int(n) for n in data[0].split()]
out['unseen'] = len(hits)
out['unseen_sum'] = sum(hits)
typ, data = timed('search_subject', lambda: m.search(None, 'SUBJECT', needle))
assert typ == 'OK', typ
hits = [int(n) for n in data[0].split()]
out['subject'] = len(hits)
out['subject_sum'] = sum(hits)
m.logout()
print(json.dumps(out))
`;

describe('IMAP with a 100,000-message mailbox', () => {
  let h: ImapHarness;
  let records: MessageRecord[];
  let loadMs = 0;

  before(async () => {
    const started = Date.now();
    h = await startImap();
    const { store } = h;
    const user = (await store.directory.getUser('alice@example.test'))!;
    const inbox = (await store.mail.getMailbox(user.id, 'INBOX'))!;
    const internalDate = new Date('2024-05-01T12:00:00Z');

    // Distinct messages, stored and indexed concurrently (each put fsyncs), delivered in order.
    const blobs = await Promise.all(Array.from({ length: DISTINCT }, async (_, i) => {
      const subject = hasNeedle(i) ? `Flight report ${i}: a ${NEEDLE} over the dunes` : `Weekly note ${i}`;
      const bytes = Buffer.from(message(subject, `Body of message ${i}.\r\n`), 'utf8');
      const blob = await store.blobs.put(bytes);
      await storeMessageIndex(store, blob.id, bytes);
      return blob;
    }));
    for (const [i, blob] of blobs.entries()) {
      await store.mail.deliver({
        blobId: blob.id,
        size: blob.size,
        internalDate,
        targets: [{ userId: user.id, flags: unseen(i) ? [] : ['\\Seen'] }],
        onOverQuota: 'fail',
      });
    }

    // Double the mailbox into itself until it holds TOTAL messages.
    let count = DISTINCT;
    let uids: Uid[] = (await store.mail.listMessages(inbox.id as MailboxId)).map((r) => r.uid);
    while (count < TOTAL) {
      const take = uids.slice(0, Math.min(uids.length, TOTAL - count));
      const copied = await store.mail.copyMessages(inbox.id, take, inbox.id);
      uids = uids.concat(copied.mapping.map((m) => m.destinationUid));
      count += copied.mapping.length;
    }
    records = await store.mail.listMessages(inbox.id);
    loadMs = Date.now() - started;
  });

  after(async () => h?.close());

  it('loads 100,000 messages through the store interfaces quickly', (t) => {
    assert.equal(records.length, TOTAL);
    t.diagnostic(`loaded ${TOTAL} messages (${DISTINCT} distinct) in ${loadMs} ms`);
    // Not a performance assertion: it says how the load went when the test is read in a log.
    assert.ok(loadMs < 60_000, `loading took ${loadMs} ms`);
  });

  it('answers SELECT, UID FETCH 1:* (UID FLAGS), SEARCH UNSEEN and SEARCH SUBJECT correctly and in usable time', async (t) => {
    const needleBlobs = new Set<string>();
    // The blobs whose subject holds the needle, read back from the stored MIME index.
    for (const blobId of new Set(records.map((r) => r.blobId))) {
      const index = await h.store.mail.getMessageIndex(blobId);
      assert.ok(index, `blob ${blobId} has a stored MIME index`);
      if (index.json.includes(NEEDLE)) needleBlobs.add(blobId);
    }
    const seqSum = (pick: (r: MessageRecord) => boolean) =>
      records.reduce((sum, r, i) => (pick(r) ? sum + i + 1 : sum), 0);
    const isUnseen = (r: MessageRecord) => !r.flags.includes('\\Seen');
    const expected = {
      exists: TOTAL,
      fetched: TOTAL,
      fetched_distinct: TOTAL,
      fetched_ascending: true,
      fetched_seen: records.filter((r) => !isUnseen(r)).length,
      uid_sum: records.reduce((sum, r) => sum + r.uid, 0),
      unseen: records.filter(isUnseen).length,
      unseen_sum: seqSum(isUnseen),
      subject: records.filter((r) => needleBlobs.has(r.blobId)).length,
      subject_sum: seqSum((r) => needleBlobs.has(r.blobId)),
    };
    // The fixture must mean something: some of each, not all.
    assert.ok(expected.unseen > 10_000 && expected.unseen < 40_000, `unseen ${expected.unseen}`);
    assert.ok(expected.subject > 5_000 && expected.subject < 20_000, `subject hits ${expected.subject}`);

    const out = JSON.parse(await python(client, [String(h.port), NEEDLE], 120_000)) as Record<string, number | boolean>;
    const { select_ms, fetch_ms, search_unseen_ms, search_subject_ms, ...answers } = out;
    assert.deepEqual(answers, expected);
    const timings = { select_ms, fetch_ms, search_unseen_ms, search_subject_ms };
    t.diagnostic(`imaplib timings: ${JSON.stringify(timings)}`);
    for (const [name, ms] of Object.entries(timings)) {
      assert.ok(typeof ms === 'number' && ms < BOUND_MS, `${name} took ${ms} ms (bound ${BOUND_MS} ms); all: ${JSON.stringify(timings)}`);
    }
  });
});
