/**
 * The change feed between processes, on both backends: a child process
 * subscribed to the store hears of changes this process commits, within
 * well under a second (the embedded store's readers poll every 100 ms;
 * PostgreSQL pushes with NOTIFY).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openStore } from '../../src/store/open.js';
import type { Store, StoreChange, Uid } from '../../src/store/types.js';
import { tempDir } from '../helpers/temp.js';

const worker = fileURLToPath(new URL('./fixtures/feed-worker.js', import.meta.url));
const adminUrl = process.env.ROOKERY_TEST_POSTGRES || 'postgres://postgres@127.0.0.1:5432/test';

/** A child process that prints the changes it hears. */
function listenIn(location: string) {
  const child = spawn(process.execPath, [worker, location], { stdio: ['pipe', 'pipe', 'pipe'] });
  const seen: StoreChange[] = [];
  const waiters = new Set<() => void>();
  let buffered = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  child.stdout.on('data', (c: Buffer) => {
    buffered += c.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      seen.push(JSON.parse(buffered.slice(0, nl)) as StoreChange);
      buffered = buffered.slice(nl + 1);
      for (const w of [...waiters]) w();
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    seen,
    waitFor(pred: (c: StoreChange) => boolean, ms: number, what: string): Promise<number> {
      const started = Date.now();
      return new Promise((resolve, reject) => {
        const check = () => {
          if (seen.some(pred)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(Date.now() - started);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${what}: not heard within ${ms} ms; heard ${JSON.stringify(seen)}; stderr ${stderr}`));
        }, ms);
        waiters.add(check);
        check();
      });
    },
    async stop() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function exercise(store: Store, location: string): Promise<void> {
  const child = listenIn(location);
  try {
    await child.waitFor((c) => (c.kind as string) === 'ready', 10000, 'the child starting');
    // The child's feed may take a moment to listen: publish probes until one is heard.
    for (let n = 0; ; n++) {
      await store.changes.publish({ kind: 'queue', domain: `probe${n}.test` });
      try {
        await child.waitFor((c) => c.kind === 'queue' && c.domain === `probe${n}.test`, 200, 'a probe');
        break;
      } catch (err) {
        if (n > 50) throw err;
      }
    }
    await store.directory.addDomain('feed.test');
    const user = await store.directory.addUser({ address: 'idle@feed.test', password: 'x' });
    const inbox = (await store.mail.getMailbox(user.id, 'INBOX'))!;
    const blob = await store.blobs.put(Buffer.from('Subject: pushed\r\n\r\nhello\r\n'));
    await store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), targets: [{ userId: user.id }], onOverQuota: 'fail' });
    const isInbox = (c: StoreChange) => c.kind === 'mailbox' && c.mailboxId === inbox.id;
    const took = await child.waitFor(isInbox, 1000, 'the delivery');
    assert.ok(took < 1000);
    await child.waitFor((c) => c.kind === 'directory', 1000, 'the new user');
    const count = () => child.seen.filter(isInbox).length;
    const before = count();
    await store.mail.updateFlags(inbox.id, [1 as Uid], { operation: 'add', flags: ['\\Seen'] });
    await child.waitFor(() => count() > before, 1000, 'the flag change');
    const before2 = count();
    await store.mail.expunge(inbox.id, [1 as Uid]);
    await child.waitFor(() => count() > before2, 1000, 'the expunge');
    await store.settings.set('tls.certificate', '{"cert":"x","key":"y"}');
    await child.waitFor((c) => c.kind === 'settings' && c.key === 'tls.certificate', 1000, 'the certificate');
    await store.directory.updateUser('idle@feed.test', { password: 'changed' });
    const dirs = child.seen.filter((c) => c.kind === 'directory').length;
    await store.directory.updateUser('idle@feed.test', { password: 'changed again' });
    await child.waitFor(() => child.seen.filter((c) => c.kind === 'directory').length > dirs, 1000, 'the password change');
  } finally {
    await child.stop();
  }
}

describe('change feed across processes', () => {
  test('embedded SQLite', async () => {
    const dir = await tempDir('rookery-feed-');
    const store = await openStore(dir);
    try {
      await exercise(store, dir);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('PostgreSQL', async (t) => {
    const probe = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
    probe.on('error', () => undefined);
    const reachable = await probe.connect().then(() => true, () => false);
    if (!reachable) {
      if (process.env.CI === 'true') assert.fail(`PostgreSQL is not reachable at ${new URL(adminUrl).host}`);
      t.skip(`PostgreSQL is not reachable at ${new URL(adminUrl).host}`);
      return;
    }
    const name = `rookery_test_${randomBytes(6).toString('hex')}`;
    await probe.query(`CREATE DATABASE ${name}`);
    const blobsRoot = await tempDir('rookery-feed-pg-');
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    url.searchParams.set('blobs', join(blobsRoot, 'blobs'));
    const store = await openStore(url.toString());
    try {
      await exercise(store, url.toString());
    } finally {
      await store.close();
      await probe.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await probe.end();
      await rm(blobsRoot, { recursive: true, force: true });
    }
  });
});
