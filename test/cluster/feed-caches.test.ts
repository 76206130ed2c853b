/**
 * What a running node keeps copies of, changed by another process, on both
 * backends. On PostgreSQL the node answers isLocalDomain, "is any of
 * these users away" (vacation) and what a recipient resolves to from copies
 * kept current by the change feed (src/store/postgres/feed-cache.ts). A
 * domain added or removed with the command line must count at the node's
 * next RCPT without a restart, both ways: a copy that missed the notice
 * would go on refusing the new domain (554 relay) or accepting the removed
 * one; so must a user disabled or an alias added and removed. A user's used
 * bytes change without a directory notice, so a user with a quota must not
 * be answered from a copy. A vacation switched on by another process must
 * answer the next message.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { rm } from 'node:fs/promises';
import nodemailer from 'nodemailer';
import { openStore } from '../../src/store/open.js';
import { rookery } from '../helpers/cli.js';
import { startNodeProcess, stopNodeProcess, type NodeProcess } from '../helpers/node-process.js';
import { freePortBase } from '../helpers/ports.js';
import { tempDir } from '../helpers/temp.js';
import { freshDatabase, postgresUnavailable, type TestDatabase } from '../helpers/postgres.js';

/** The reply code the server gives to RCPT TO:<rcpt> (after EHLO and MAIL FROM, with `mailParams` such as "SIZE=1000"). */
function rcptCode(port: number, rcpt: string, mailParams = ''): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const script = ['EHLO client.test', `MAIL FROM:<someone@remote.test>${mailParams ? ` ${mailParams}` : ''}`, `RCPT TO:<${rcpt}>`];
    let buffer = '';
    let step = 0;
    socket.setTimeout(5000, () => socket.destroy(new Error('no SMTP reply within 5 s')));
    socket.on('data', (data) => {
      buffer += data.toString('latin1');
      // A reply ends with a line "NNN text" (a space after the code, not a dash).
      for (;;) {
        const end = buffer.search(/^\d{3} [^\r\n]*\r\n/m);
        if (end < 0) return;
        const line = /^(\d{3}) [^\r\n]*\r\n/m.exec(buffer.slice(end))!;
        buffer = buffer.slice(end + line[0].length);
        if (step === script.length) {
          socket.end('QUIT\r\n');
          resolve(Number(line[1]));
          return;
        }
        socket.write(`${script[step++]}\r\n`);
      }
    });
    socket.on('error', reject);
  });
}

/** Polls until the RCPT reply code is `want`; how long it took. */
async function untilCode(port: number, rcpt: string, want: number, ms: number): Promise<number> {
  const started = Date.now();
  let got = 0;
  while (Date.now() - started <= ms) {
    got = await rcptCode(port, rcpt);
    if (got === want) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`RCPT TO:<${rcpt}> still answered ${got}, not ${want}, after ${ms} ms`);
}

async function sendMail(port: number, from: string, to: string, subject: string, text = `${subject}\n`): Promise<void> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, connectionTimeout: 5000, socketTimeout: 10000 });
  try {
    await transport.sendMail({ from, to, subject, text });
  } finally {
    transport.close();
  }
}

/** The subjects in a user's INBOX, read through a store this process opens (another process than the node). */
async function inboxSubjects(location: string, address: string): Promise<string[]> {
  const store = await openStore(location);
  try {
    const user = (await store.directory.getUser(address))!;
    const inbox = (await store.mail.getMailbox(user.id, 'INBOX'))!;
    const subjects: string[] = [];
    for (const m of await store.mail.listMessages(inbox.id)) {
      subjects.push(/^Subject: (.*)$/m.exec((await store.blobs.get(m.blobId)).toString('utf8'))?.[1] ?? '');
    }
    return subjects;
  } finally {
    await store.close();
  }
}

async function run(args: string[]): Promise<void> {
  const r = await rookery(args);
  assert.equal(r.code, 0, r.stderr);
}

function copiesFollowOtherProcesses(location: () => string): void {
  let node: NodeProcess;
  let base: number;
  const store = () => ['--store', location()];

  before(async () => {
    await run(['domain', 'add', 'example.test', ...store()]);
    await run(['user', 'add', 'alice@example.test', '--password', 'secret', ...store()]);
    await run(['user', 'add', 'carol@example.test', '--password', 'secret', ...store()]);
    base = await freePortBase();
    node = await startNodeProcess([...store(), '--name', 'n1', '--address', '127.0.0.1', '--port-base', String(base), '--services', 'smtp']);
  });
  after(async () => {
    if (node) await stopNodeProcess(node);
  });

  test('a domain added and removed by another process counts at the next RCPT, without a restart', async () => {
    const smtp = base + 25;
    // The node's change feed LISTENs from its start; give it a moment to take effect.
    await new Promise((r) => setTimeout(r, 300));
    // Warm whatever the node keeps: a known domain and an unknown one.
    assert.equal(await rcptCode(smtp, 'alice@example.test'), 250);
    assert.equal(await rcptCode(smtp, 'bob@later.test'), 554, 'not a local domain yet: relaying is refused');

    await run(['domain', 'add', 'later.test', ...store()]);
    await run(['user', 'add', 'bob@later.test', '--password', 'secret', ...store()]);
    const added = await untilCode(smtp, 'bob@later.test', 250, 3000);
    assert.ok(added < 3000);

    await run(['user', 'del', 'bob@later.test', ...store()]);
    await run(['domain', 'del', 'later.test', ...store()]);
    await untilCode(smtp, 'bob@later.test', 554, 3000);
    // The other domain is still answered as local.
    assert.equal(await rcptCode(smtp, 'alice@example.test'), 250);
  });

  test('users and aliases changed by another process count at the next RCPT, without a restart', async () => {
    const smtp = base + 25;
    await new Promise((r) => setTimeout(r, 300));
    // Each answer is asked for first, so a node that keeps answers has them.
    assert.equal(await rcptCode(smtp, 'alice@example.test'), 250);
    assert.equal(await rcptCode(smtp, 'sales@example.test'), 550, 'nobody answers to sales@ yet');

    await run(['user', 'set', 'alice@example.test', '--disabled', ...store()]);
    await untilCode(smtp, 'alice@example.test', 550, 3000);
    await run(['user', 'set', 'alice@example.test', '--enabled', ...store()]);
    await untilCode(smtp, 'alice@example.test', 250, 3000);

    await run(['alias', 'add', 'sales@example.test', 'alice@example.test', ...store()]);
    await untilCode(smtp, 'sales@example.test', 250, 3000);
    await run(['alias', 'del', 'sales@example.test', ...store()]);
    await untilCode(smtp, 'sales@example.test', 550, 3000);
  });

  test('a user with a quota: what deliveries used counts at the next RCPT (no directory change announces it)', async () => {
    const smtp = base + 25;
    await run(['user', 'add', 'erin@example.test', '--password', 'secret', '--quota', '100000', ...store()]);
    assert.equal(await rcptCode(smtp, 'erin@example.test', 'SIZE=60000'), 250, 'room for 60 KB');
    await sendMail(smtp, 'carol@example.test', 'erin@example.test', 'big', 'x'.repeat(60_000));
    assert.equal(await rcptCode(smtp, 'erin@example.test', 'SIZE=60000'), 452, 'no room for 60 KB more once 60 KB is stored');
    // Freed by another process (an expunge, not a directory change): room again at once.
    const other = await openStore(location());
    try {
      const erin = (await other.directory.getUser('erin@example.test'))!;
      const inbox = (await other.mail.getMailbox(erin.id, 'INBOX'))!;
      const [message] = await other.mail.listMessages(inbox.id);
      await other.mail.expunge(inbox.id, [message!.uid]);
    } finally {
      await other.close();
    }
    assert.equal(await rcptCode(smtp, 'erin@example.test', 'SIZE=60000'), 250, 'room again after the expunge');
  });

  test('a vacation switched on by another process answers the next message, without a restart', async () => {
    const smtp = base + 25;
    await sendMail(smtp, 'carol@example.test', 'alice@example.test', 'before');
    // Auto-replies start after the 250 and are not awaited: give one time to show up (none should).
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(await inboxSubjects(location(), 'carol@example.test'), [], 'nobody is away yet');

    const other = await openStore(location());
    try {
      const alice = (await other.directory.getUser('alice@example.test'))!;
      await other.vacation.set(alice.id, { enabled: true, subject: 'Away', body: 'Back next week.', startsAt: null, endsAt: null, periodDays: 1 });
    } finally {
      await other.close();
    }

    const started = Date.now();
    for (let i = 1; ; i++) {
      await sendMail(smtp, 'carol@example.test', 'alice@example.test', `after ${i}`);
      await new Promise((r) => setTimeout(r, 300));
      if ((await inboxSubjects(location(), 'carol@example.test')).includes('Away')) break;
      assert.ok(Date.now() - started < 3000, 'no auto-reply within 3 s of the vacation being switched on');
    }
  });
}

describe('copies a node keeps follow other processes: SQLite', () => {
  let dir = '';
  before(async () => {
    dir = await tempDir('rookery-domains-');
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  copiesFollowOtherProcesses(() => dir);
});

const reason = await postgresUnavailable();
if (reason !== null && process.env.CI === 'true') {
  test('copies a node keeps follow other processes: PostgreSQL', () => assert.fail(`${reason}; CI=true requires PostgreSQL`));
} else if (reason !== null) {
  test('copies a node keeps follow other processes: PostgreSQL', { skip: reason }, () => undefined);
} else {
  describe('copies a node keeps follow other processes: PostgreSQL', () => {
    let db: TestDatabase | null = null;
    before(async () => {
      db = await freshDatabase();
    });
    after(async () => {
      await db?.drop();
    });
    copiesFollowOtherProcesses(() => db!.location);
  });
}
