/**
 * FETCH of items from the index row alone (FLAGS, UID, MODSEQ,
 * INTERNALDATE, RFC822.SIZE) takes a path of its own that builds every
 * response at once and writes them in batches (commands/fetch.ts,
 * rowFetchItems). Its answers must be what the general path gives: items in
 * the client's order, UID first for UID FETCH, an item asked twice answered
 * once, MODSEQ under CONDSTORE, and a mix with content items (BINARY.SIZE[])
 * still answered.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { message, RawClient, startImap, type ImapHarness } from './support.js';

describe('FETCH of index-row items', () => {
  let h: ImapHarness;
  const when = new Date(Date.UTC(2024, 1, 29, 13, 5, 9));
  const sizes: number[] = [];
  before(async () => {
    h = await startImap();
    const flags = [[], ['\\Seen'], ['\\Seen', '$Work', '\\Flagged']];
    for (let i = 0; i < 3; i++) sizes.push((await h.deliver('alice@example.test', message(`m${i}`), { flags: flags[i], internalDate: when })).size);
  });
  after(async () => h.close());

  it('answers like the general path, in the client\'s order', async () => {
    const c = await RawClient.login(h.port);
    await c.command('SELECT INBOX');
    const plain = await c.command('FETCH 1:* (FLAGS RFC822.SIZE FLAGS INTERNALDATE)');
    assert.deepEqual(plain.untagged, [
      `* 1 FETCH (FLAGS () RFC822.SIZE ${sizes[0]} INTERNALDATE "29-Feb-2024 13:05:09 +0000")`,
      `* 2 FETCH (FLAGS (\\Seen) RFC822.SIZE ${sizes[1]} INTERNALDATE "29-Feb-2024 13:05:09 +0000")`,
      `* 3 FETCH (FLAGS (\\Seen $Work \\Flagged) RFC822.SIZE ${sizes[2]} INTERNALDATE "29-Feb-2024 13:05:09 +0000")`,
    ]);
    const byUid = await c.command('UID FETCH 2:3 (FLAGS)');
    assert.deepEqual(byUid.untagged, ['* 2 FETCH (UID 2 FLAGS (\\Seen))', '* 3 FETCH (UID 3 FLAGS (\\Seen $Work \\Flagged))']);
    // BINARY.SIZE[] needs no content either, but goes the general way: the same answer shape.
    const mixed = await c.command('FETCH 2 (UID BINARY.SIZE[] FLAGS)');
    assert.deepEqual(mixed.untagged, [`* 2 FETCH (UID 2 BINARY.SIZE[] ${sizes[1]} FLAGS (\\Seen))`]);
    c.end();
  });

  it('adds MODSEQ under CONDSTORE, and reports flags another session changed', async () => {
    const c = await RawClient.login(h.port);
    await c.command('ENABLE CONDSTORE');
    await c.command('SELECT INBOX');
    const inbox = (await h.store.mail.getMailbox((await h.store.directory.getUser('alice@example.test'))!.id, 'INBOX'))!;
    const modSeqOf = async (uid: number) => (await h.store.mail.listMessages(inbox.id)).find((r) => r.uid === uid)!.modSeq;
    const before1 = await modSeqOf(1);
    const other = await RawClient.login(h.port);
    await other.command('SELECT INBOX');
    await other.command('STORE 1 +FLAGS.SILENT (\\Answered)');
    const after1 = await modSeqOf(1);
    assert.ok(after1 > before1);
    const answer = await c.command('FETCH 1:2 (FLAGS)');
    // The row path answers from the session's view; the catch-up after the command reports the change.
    assert.deepEqual(answer.untagged, [
      `* 1 FETCH (FLAGS () MODSEQ (${before1}))`,
      `* 2 FETCH (FLAGS (\\Seen) MODSEQ (${await modSeqOf(2)}))`,
      `* 1 FETCH (UID 1 FLAGS (\\Answered) MODSEQ (${after1}))`,
    ]);
    c.end();
    other.end();
  });
});
