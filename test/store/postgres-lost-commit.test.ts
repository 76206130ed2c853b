/**
 * The one moment where a lost connection leaves a delivery in doubt: the
 * COMMIT reached PostgreSQL, but its answer never came back. A proxy
 * between the store and PostgreSQL cuts the connection right after
 * passing a COMMIT on (the change is made, unheard), or swallows the
 * COMMIT and cuts (the change is not made). Either way deliver() must
 * answer as things are, and the message must be stored exactly once,
 * never twice (a retry after a commit that happened) and never zero times
 * while deliver() said it was stored.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';
import { tempDir } from '../helpers/temp.js';

const adminUrl = process.env.ROOKERY_TEST_POSTGRES || 'postgres://postgres@127.0.0.1:5432/test';

/** The simple-protocol query message for COMMIT: 'Q', int32 length, "COMMIT\0". */
const commitMessage = Buffer.concat([Buffer.from('Q'), Buffer.from([0, 0, 0, 11]), Buffer.from('COMMIT\0')]);
/**
 * A delivery is one autocommitted call of rookery_deliver(): pg sends its
 * Parse/Bind/Execute/Sync in one write, and it commits at the Sync, so the
 * call plays the part of the COMMIT. It is a prepared statement named
 * after the function: its first run on a connection carries the text, the
 * later ones name it in the Bind; either way the write holds this string.
 */
const deliverCall = Buffer.from('rookery_deliver');
const cutsAt = (d: Buffer) => d.includes(commitMessage) || d.includes(deliverCall);

type Mode = 'pass' | 'after-commit' | 'instead-of-commit';

/** A TCP proxy to PostgreSQL that can cut the next COMMIT's connection. */
async function startProxy(target: URL): Promise<{ port: number; arm(mode: Mode): void; cuts(): number; close(): Promise<void> }> {
  let mode: Mode = 'pass';
  let cuts = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    upstream.on('data', (d: Buffer) => client.write(d));
    client.on('data', (d: Buffer) => {
      if (mode !== 'pass' && cutsAt(d)) {
        const now = mode;
        mode = 'pass';
        cuts++;
        if (now === 'after-commit') {
          // PostgreSQL gets the COMMIT; its answer is never passed back.
          client.pause();
          upstream.removeAllListeners('data');
          upstream.write(d, () => setTimeout(end, 100));
        } else {
          end();
        }
        return;
      }
      upstream.write(d);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    arm: (m) => { mode = m; },
    cuts: () => cuts,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
admin.on('error', () => undefined);
const reachable = await admin.connect().then(() => true, () => false);

describe('PostgreSQL: a connection lost around COMMIT', { skip: reachable ? false : `PostgreSQL is not reachable at ${new URL(adminUrl).host}` }, () => {
  const name = `rookery_test_${randomBytes(6).toString('hex')}`;
  let root: string;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  let store: Store;

  before(async () => {
    await admin.query(`CREATE DATABASE ${name}`);
    root = await tempDir('rookery-lost-commit-');
    const direct = new URL(adminUrl);
    proxy = await startProxy(direct);
    const url = new URL(adminUrl);
    url.host = `127.0.0.1:${proxy.port}`;
    url.pathname = `/${name}`;
    url.searchParams.set('blobs', join(root, 'blobs'));
    url.searchParams.set('pool', '2');
    store = await openStore(url.toString());
    await store.directory.addDomain('example.test');
    await store.directory.addUser({ address: 'doubt@example.test', password: 'x' });
  });
  after(async () => {
    await store?.close();
    await proxy?.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
    await rm(root, { recursive: true, force: true });
  });

  for (const mode of ['after-commit', 'instead-of-commit'] as const) {
    test(`${mode === 'after-commit' ? 'the COMMIT arrives, its answer is lost' : 'the COMMIT is lost'}: the delivery is reported stored, and stored once`, async () => {
      const user = (await store.directory.getUser('doubt@example.test'))!;
      const inbox = (await store.mail.getMailbox(user.id, 'INBOX'))!;
      const before = (await store.mail.listMessages(inbox.id)).length;
      const blob = await store.blobs.put(Buffer.from(`Subject: ${mode}\r\n\r\n`));
      const cutsBefore = proxy.cuts();
      proxy.arm(mode);
      const result = await store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), targets: [{ userId: user.id }], onOverQuota: 'fail' });
      assert.equal(proxy.cuts(), cutsBefore + 1, 'the connection was cut at the COMMIT');
      assert.equal(result.stored.length, 1);
      const messages = await store.mail.listMessages(inbox.id);
      assert.equal(messages.length, before + 1, 'stored exactly once');
      const mine = messages.filter((m) => m.blobId === blob.id);
      assert.equal(mine.length, 1);
      assert.equal(mine[0]!.uid, result.stored[0]!.uid, 'the UID reported is the UID stored');
      assert.equal((await store.directory.getUser('doubt@example.test'))!.usedBytes, messages.reduce((n, m) => n + m.size, 0));
    });
  }

  test('a call cut off while it waits for a lock is fenced: it cannot commit after it was given up, and the retry stores the message once', async () => {
    const user = (await store.directory.getUser('doubt@example.test'))!;
    const inbox = (await store.mail.getMailbox(user.id, 'INBOX'))!;
    const before = (await store.mail.listMessages(inbox.id)).length;
    const blob = await store.blobs.put(Buffer.from('Subject: fenced\r\n\r\n'));
    // Another session holds the user's row, so the call waits inside PostgreSQL
    // (which does not notice the lost client while it waits) until this rolls back.
    const direct = new URL(adminUrl);
    direct.pathname = `/${name}`;
    const holder = new pg.Client({ connectionString: direct.toString() });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [user.id]);
      const cutsBefore = proxy.cuts();
      proxy.arm('after-commit');
      const delivering = store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), targets: [{ userId: user.id }], onOverQuota: 'fail' });
      // The cut, the settlement (which claims the first call's token) and the retry, now queued too.
      const deadline = Date.now() + 10_000;
      for (;;) {
        // Asked outside the holder's transaction, which would see one snapshot of pg_stat_activity.
        const { rows } = await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'", [name]);
        if (rows[0]!.n >= 2) break;
        assert.ok(Date.now() < deadline, 'the cut-off call and its retry both wait for the lock');
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(proxy.cuts(), cutsBefore + 1);
      await holder.query('ROLLBACK');
      const result = await delivering;
      assert.equal(result.stored.length, 1);
      const messages = await store.mail.listMessages(inbox.id);
      assert.equal(messages.filter((m) => m.blobId === blob.id).length, 1, 'stored exactly once');
      assert.equal(messages.length, before + 1);
      assert.equal(messages.find((m) => m.blobId === blob.id)!.uid, result.stored[0]!.uid);
      assert.equal((await store.directory.getUser('doubt@example.test'))!.usedBytes, messages.reduce((n, m) => n + m.size, 0));
    } finally {
      await holder.end();
    }
  });
});
