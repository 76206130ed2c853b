/** RFC 1939 section 6: deletions happen at QUIT only, atomically, or not at all. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreError } from '../../src/store/errors.js';
import type { Store } from '../../src/store/types.js';
import { ALICE, PASSWORD, RawClient, startPop3, type Pop3Harness } from './harness.js';

async function inboxCount(h: Pop3Harness): Promise<number> {
  const user = (await h.store.directory.getUser(ALICE))!;
  const inbox = (await h.store.mail.getMailbox(user.id, 'INBOX'))!;
  return (await h.store.mail.listMessages(inbox.id)).length;
}

async function withMessages(n: number, opts: Parameters<typeof startPop3>[0] = {}): Promise<Pop3Harness> {
  const h = await startPop3({ users: { [ALICE]: PASSWORD }, ...opts });
  for (let i = 1; i <= n; i++) await h.deliver(ALICE, `Subject: ${i}\r\n\r\nmessage ${i}\r\n`);
  return h;
}

test('QUIT removes exactly the marked messages and frees their quota', async () => {
  const h = await withMessages(4);
  try {
    const { client } = await RawClient.open(h.port);
    await client.login(ALICE, PASSWORD);
    await client.command('DELE 1');
    await client.command('DELE 3');
    assert.equal(await inboxCount(h), 4, 'nothing is deleted before QUIT');
    assert.match(await client.command('QUIT'), /^\+OK .*\(2 messages left\)/);
    await client.closed();
    assert.equal(await inboxCount(h), 2);
    const user = (await h.store.directory.getUser(ALICE))!;
    const inbox = (await h.store.mail.getMailbox(user.id, 'INBOX'))!;
    const left = await h.store.mail.listMessages(inbox.id);
    assert.deepEqual(await Promise.all(left.map(async (m) => (await h.store.blobs.get(m.blobId)).toString())), ['Subject: 2\r\n\r\nmessage 2\r\n', 'Subject: 4\r\n\r\nmessage 4\r\n']);
    assert.equal(user.usedBytes, left.reduce((a, m) => a + m.size, 0));
  } finally {
    await h.close();
  }
});

test('QUIT marks messages retrieved whole \\Seen (not TOP, not deleted ones, not after RSET or a dropped connection)', async () => {
  const h = await withMessages(4);
  const flags = async () => {
    const user = (await h.store.directory.getUser(ALICE))!;
    const inbox = (await h.store.mail.getMailbox(user.id, 'INBOX'))!;
    return Object.fromEntries((await h.store.mail.listMessages(inbox.id)).map((m) => [m.uid, m.flags.includes('\\Seen')]));
  };
  const retr = async (c: RawClient, n: number) => {
    assert.match(await c.command(`RETR ${n}`), /^\+OK/);
    await c.body();
  };
  try {
    // RSET forgets what was retrieved, like the deletions.
    let { client } = await RawClient.open(h.port);
    await client.login(ALICE, PASSWORD);
    await retr(client, 4);
    await client.command('RSET');
    await client.command('QUIT');
    await client.closed();
    // A session that drops changes nothing.
    ({ client } = await loginWhenFree(h));
    await retr(client, 4);
    client.destroy();
    ({ client } = await loginWhenFree(h));
    await retr(client, 1);
    assert.match(await client.command('TOP 2 0'), /^\+OK/);
    await client.body();
    await retr(client, 3);
    await client.command('DELE 3');
    assert.deepEqual(await flags(), { 1: false, 2: false, 3: false, 4: false }, 'nothing before QUIT');
    await client.command('QUIT');
    await client.closed();
    assert.deepEqual(await flags(), { 1: true, 2: false, 4: false });
  } finally {
    await h.close();
  }
});

test('a connection dropped without QUIT deletes nothing', async () => {
  const h = await withMessages(3);
  try {
    const { client } = await RawClient.open(h.port);
    await client.login(ALICE, PASSWORD);
    for (const n of [1, 2, 3]) assert.match(await client.command(`DELE ${n}`), /^\+OK/);
    client.destroy();
    // The lock is released once the server notices: then a new login works and sees all three.
    const again = await loginWhenFree(h);
    assert.match(again.greetingLogin, /has 3 messages/);
    await again.client.command('QUIT');
    assert.equal(await inboxCount(h), 3);
  } finally {
    await h.close();
  }
});

test('QUIT before login and QUIT with nothing marked delete nothing', async () => {
  const h = await withMessages(2);
  try {
    const a = await RawClient.open(h.port);
    assert.match(await a.client.command('QUIT'), /^\+OK/);
    await a.client.closed();
    const b = await RawClient.open(h.port);
    await b.client.login(ALICE, PASSWORD);
    assert.match(await b.client.command('QUIT'), /\(2 messages left\)/);
    assert.equal(await inboxCount(h), 2);
  } finally {
    await h.close();
  }
});

test('a failed expunge at QUIT answers -ERR [SYS/TEMP], deletes nothing and frees the lock', async () => {
  let fail = true;
  const h = await withMessages(3, {
    wrapStore: (store: Store): Store => ({
      ...store,
      directory: store.directory,
      blobs: store.blobs,
      settings: store.settings,
      location: store.location,
      close: () => store.close(),
      mail: new Proxy(store.mail, {
        get(target, prop, receiver) {
          if (prop === 'expunge' && fail) return async () => { throw new StoreError('temporary', 'disk full (test)'); };
          const value = Reflect.get(target, prop, receiver) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      }),
    }),
  });
  try {
    const { client } = await RawClient.open(h.port);
    await client.login(ALICE, PASSWORD);
    await client.command('DELE 1');
    await client.command('DELE 2');
    const reply = await client.command('QUIT');
    assert.match(reply, /^-ERR \[SYS\/TEMP\] /);
    assert.doesNotMatch(reply, /disk full \(test\)/, 'internal detail stays in the log');
    await client.closed();
    assert.equal(await inboxCount(h), 3);
    fail = false;
    const b = await RawClient.open(h.port);
    assert.match(await b.client.login(ALICE, PASSWORD), /has 3 messages/);
    await b.client.command('DELE 2');
    assert.match(await b.client.command('QUIT'), /^\+OK/);
    assert.equal(await inboxCount(h), 2);
  } finally {
    await h.close();
  }
});

test('closing the service ends sessions without entering UPDATE', async () => {
  const h = await withMessages(2);
  try {
    const { client } = await RawClient.open(h.port);
    await client.login(ALICE, PASSWORD);
    await client.command('DELE 1');
    const idle = await RawClient.open(h.port);
    const started = Date.now();
    const stopping = h.stop();
    await client.closed();
    await idle.client.closed();
    await stopping;
    assert.ok(Date.now() - started < 3000, 'stop() does not wait for clients to leave');
    assert.equal(await inboxCount(h), 2);
    await assert.rejects(RawClient.connect(h.port), 'no longer accepting');
  } finally {
    await h.close();
  }
});

/** Logs in as ALICE, retrying while the lock of a just-dropped session is still being released. */
async function loginWhenFree(h: Pop3Harness): Promise<{ client: RawClient; greetingLogin: string }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const { client } = await RawClient.open(h.port);
    await client.command(`USER ${ALICE}`);
    const reply = await client.command(`PASS ${PASSWORD}`);
    if (reply.startsWith('+OK')) return { client, greetingLogin: reply };
    assert.match(reply, /^-ERR \[IN-USE\]/);
    await client.command('QUIT');
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the maildrop stayed locked');
}
