/** A store that fails: clear -ERR [SYS/TEMP] replies, no half-open maildrop, the session goes on. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { StoreError } from '../../src/store/errors.js';
import type { Store } from '../../src/store/types.js';
import { ALICE, PASSWORD, RawClient, startPop3, type Pop3Harness } from './harness.js';

const failing = { authenticate: false, listMessages: false, blobs: false };
let h: Pop3Harness;

before(async () => {
  h = await startPop3({
    users: { [ALICE]: PASSWORD },
    wrapStore: (store: Store): Store => {
      const directory = Object.create(store.directory) as Store['directory'];
      directory.authenticate = async (a, p) => {
        if (failing.authenticate) throw new StoreError('unavailable', 'database is locked (test)');
        return store.directory.authenticate(a, p);
      };
      const mail = Object.create(store.mail) as Store['mail'];
      mail.listMessages = async (id) => {
        if (failing.listMessages) throw new StoreError('temporary', 'SQLITE_BUSY (test)');
        return store.mail.listMessages(id);
      };
      const blobs = Object.create(store.blobs) as Store['blobs'];
      blobs.createReadStream = (id, range) => store.blobs.createReadStream(failing.blobs ? ('0'.repeat(64) as typeof id) : id, range);
      return { ...store, directory, mail, blobs };
    },
  });
  await h.deliver(ALICE, 'Subject: a\r\n\r\na\r\n');
});
after(() => h.close());

test('the directory failing at login answers [SYS/TEMP], not [AUTH], and does not count as a failed login', async () => {
  failing.authenticate = true;
  const { client } = await RawClient.open(h.port);
  for (let i = 0; i < 4; i++) {
    await client.command(`USER ${ALICE}`);
    const reply = await client.command(`PASS ${PASSWORD}`);
    assert.match(reply, /^-ERR \[SYS\/TEMP\] /);
    assert.doesNotMatch(reply, /test\)/);
  }
  failing.authenticate = false;
  assert.match(await client.login(ALICE, PASSWORD), /^\+OK/);
  await client.command('QUIT');
  await client.closed();
});

test('a failure while taking the snapshot answers [SYS/TEMP] and leaves the maildrop unlocked', async () => {
  failing.listMessages = true;
  const { client } = await RawClient.open(h.port);
  await client.command(`USER ${ALICE}`);
  assert.match(await client.command(`PASS ${PASSWORD}`), /^-ERR \[SYS\/TEMP\] /);
  assert.match(await client.command('STAT'), /not valid in the AUTHORIZATION state/);
  failing.listMessages = false;
  // Same connection, right away: no [IN-USE] from a lock left behind.
  assert.match(await client.login(ALICE, PASSWORD), /has 1 messages/);
  await client.command('QUIT');
  await client.closed();
});

test('a blob that cannot be read answers RETR with [SYS/TEMP] before any +OK; the session goes on', async () => {
  const { client } = await RawClient.open(h.port);
  await client.login(ALICE, PASSWORD);
  failing.blobs = true;
  assert.match(await client.command('RETR 1'), /^-ERR \[SYS\/TEMP\] cannot retrieve the message/);
  assert.match(await client.command('TOP 1 0'), /^-ERR \[SYS\/TEMP\] /);
  failing.blobs = false;
  assert.match(await client.command('RETR 1'), /^\+OK/);
  assert.deepEqual(await client.body(), ['Subject: a', '', 'a']);
  await client.command('QUIT');
});
