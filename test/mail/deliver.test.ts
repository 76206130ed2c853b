import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/open.js';
import { classifyRecipient, deliverLocal, hasRoomFor } from '../../src/mail/deliver.js';
import { isStoreError } from '../../src/store/errors.js';
import type { Store, User } from '../../src/store/types.js';

describe('local delivery', () => {
  let dir: string;
  let store: Store;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rookery-deliver-'));
    store = await openStore(dir);
    await store.directory.addDomain('example.test');
    await store.directory.addUser({ address: 'alice@example.test', password: 'pw' });
    await store.directory.addUser({ address: 'bob@example.test', password: 'pw', quotaBytes: 10 });
    await store.directory.addAlias('both@example.test', ['alice@example.test', 'bob@example.test']);
    await store.directory.addAlias('out@example.test', ['x@remote.test']);
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('recipients are classified', async () => {
    const d = store.directory;
    assert.equal((await classifyRecipient(d, 'a@remote.test')).kind, 'not-local');
    assert.equal((await classifyRecipient(d, 'nobody@example.test')).kind, 'unknown');
    assert.equal((await classifyRecipient(d, 'out@example.test')).kind, 'remote');
    const both = await classifyRecipient(d, 'both@EXAMPLE.test');
    assert.equal(both.kind, 'local');
    assert.deepEqual(both.kind === 'local' && both.users.map((u) => u.address).sort(), ['alice@example.test', 'bob@example.test']);
  });

  test('room for a message', () => {
    const u = (quotaBytes: number, usedBytes: number) => ({ quotaBytes, usedBytes }) as User;
    assert.equal(hasRoomFor(u(0, 1e9), 1e9), true, 'no quota');
    assert.equal(hasRoomFor(u(100, 50), 50), true);
    assert.equal(hasRoomFor(u(100, 50), 51), false);
    assert.equal(hasRoomFor(u(100, 99), 0), true, 'size unknown and not yet full');
    assert.equal(hasRoomFor(u(100, 100), 0), false, 'size unknown and full');
  });

  test('one blob for all copies, and all or nothing when a user is over quota', async () => {
    const alice = (await store.directory.getUser('alice@example.test'))!;
    const bob = (await store.directory.getUser('bob@example.test'))!;
    const small = await store.blobs.put(Buffer.from('Subject: s\r\n\r\nhi\r\n'));
    await assert.rejects(deliverLocal(store, { blob: small, userIds: [alice.id, bob.id] }), (e) => isStoreError(e, 'over-quota'));
    const inbox = async (id: typeof alice.id) => store.mail.listMessages((await store.mail.getMailbox(id, 'INBOX'))!.id);
    assert.equal((await inbox(alice.id)).length, 0, 'alice got a copy although the delivery failed');
    const tiny = await store.blobs.put(Buffer.from('x\r\n'));
    const stored = await deliverLocal(store, { blob: tiny, userIds: [alice.id, bob.id] });
    assert.equal(stored.length, 2);
    assert.equal(stored[0]!.blobId, stored[1]!.blobId);
  });
});
