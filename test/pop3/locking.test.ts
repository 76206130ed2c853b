/** The maildrop lock: one session per user across the cluster (RFC 1939 section 8). */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { StoreError } from '../../src/store/errors.js';
import type { MailStore, Store } from '../../src/store/types.js';
import { ALICE, BOB, PASSWORD, RawClient, startPop3, type Pop3Harness } from './harness.js';

let h: Pop3Harness;
before(async () => {
  h = await startPop3({ users: { [ALICE]: PASSWORD, [BOB]: PASSWORD }, limits: { maildropLeaseMs: 300 } });
  await h.deliver(ALICE, 'Subject: x\r\n\r\nx\r\n');
});
after(() => h.close());

test('a second session gets -ERR [IN-USE] until the first QUITs', async () => {
  const first = await RawClient.open(h.port);
  await first.client.login(ALICE, PASSWORD);
  const second = await RawClient.open(h.port);
  await second.client.command(`USER ${ALICE}`);
  assert.match(await second.client.command(`PASS ${PASSWORD}`), /^-ERR \[IN-USE\] /);
  // Still in AUTHORIZATION: it may try again, and another user is not affected.
  const other = await RawClient.open(h.port);
  assert.match(await other.client.login(BOB, PASSWORD), /^\+OK/);
  assert.match(await first.client.command('QUIT'), /^\+OK/);
  await first.client.closed();
  await second.client.command(`USER ${ALICE}`);
  assert.match(await second.client.command(`PASS ${PASSWORD}`), /^\+OK .*has 1 messages/);
  await second.client.command('QUIT');
  await other.client.command('QUIT');
});

test('the lock outlives its lease while the session lives (it is renewed)', async () => {
  const first = await RawClient.open(h.port);
  await first.client.login(ALICE, PASSWORD);
  await new Promise((r) => setTimeout(r, 1000)); // more than three leases
  const second = await RawClient.open(h.port);
  await second.client.command(`USER ${ALICE}`);
  assert.match(await second.client.command(`PASS ${PASSWORD}`), /^-ERR \[IN-USE\]/);
  assert.equal(await first.client.command('NOOP'), '+OK nothing done');
  await first.client.command('QUIT');
  await second.client.command('QUIT');
});

test('a dropped connection releases the lock', async () => {
  const first = await RawClient.open(h.port);
  await first.client.login(ALICE, PASSWORD);
  first.client.destroy();
  let reply = '';
  for (let i = 0; i < 50 && !reply.startsWith('+OK'); i++) {
    const c = await RawClient.open(h.port);
    await c.client.command(`USER ${ALICE}`);
    reply = await c.client.command(`PASS ${PASSWORD}`);
    await c.client.command('QUIT');
    if (!reply.startsWith('+OK')) await new Promise((r) => setTimeout(r, 10));
  }
  assert.match(reply, /^\+OK/);
});

test('AUTH PLAIN is refused the same way while the maildrop is locked', async () => {
  const first = await RawClient.open(h.port);
  await first.client.login(ALICE, PASSWORD);
  const second = await RawClient.open(h.port);
  const ir = Buffer.from(`\0${ALICE}\0${PASSWORD}`).toString('base64');
  assert.match(await second.client.command(`AUTH PLAIN ${ir}`), /^-ERR \[IN-USE\]/);
  await first.client.command('QUIT');
  await first.client.closed();
  assert.match(await second.client.command(`AUTH PLAIN ${ir}`), /^\+OK/);
  await second.client.command('QUIT');
});

test('a session that lost its lock stops without deleting anything', async () => {
  let stolen = false;
  const lossy = await startPop3({
    users: { [ALICE]: PASSWORD },
    limits: { maildropLeaseMs: 150 },
    wrapStore: (store: Store): Store => {
      const mail = Object.create(store.mail) as MailStore;
      mail.lockMaildrop = async (userId, owner, leaseMs) => {
        const lock = await store.mail.lockMaildrop(userId, owner, leaseMs);
        return {
          userId: lock.userId,
          release: () => lock.release(),
          // As the store reports a lease another node took over after a stall.
          renew: async () => {
            if (stolen) throw new StoreError('in-use', 'the maildrop lock was lost to another session');
            await lock.renew();
          },
        };
      };
      return { ...store, mail };
    },
  });
  try {
    await lossy.deliver(ALICE, 'Subject: keep\r\n\r\nkeep\r\n');
    const { client } = await RawClient.open(lossy.port);
    await client.login(ALICE, PASSWORD);
    assert.match(await client.command('DELE 1'), /^\+OK/);
    stolen = true;
    await new Promise((r) => setTimeout(r, 300));
    assert.match(await client.command('QUIT'), /^-ERR \[IN-USE\] /);
    await client.closed();
    const user = (await lossy.store.directory.getUser(ALICE))!;
    const inbox = (await lossy.store.mail.getMailbox(user.id, 'INBOX'))!;
    assert.equal((await lossy.store.mail.listMessages(inbox.id)).length, 1);
  } finally {
    await lossy.close();
  }
});
