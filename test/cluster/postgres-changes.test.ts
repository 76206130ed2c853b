/**
 * Changes pushed between nodes on PostgreSQL (issue 5): two node
 * processes on one postgres:// store. With the IMAP poll interval set to
 * ten minutes, new mail, flag changes and expunges made through one node
 * still reach an IDLE session on the other within a second (LISTEN/NOTIFY);
 * a user added and a password changed with the command line count on
 * every node at once; a certificate replaced is presented by the next TLS
 * connection to every node without a restart.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import nodemailer from 'nodemailer';
import { selfSigned } from '../../src/net/tls.js';
import { rookery } from '../helpers/cli.js';
import { startNodeProcess, stopNodeProcess, type NodeProcess } from '../helpers/node-process.js';
import { freePortBase } from '../helpers/ports.js';
import { tempDir } from '../helpers/temp.js';
import { freshDatabase, postgresUnavailable, type TestDatabase } from '../helpers/postgres.js';
import { ImapLines } from './postgres-support.js';

const reason = await postgresUnavailable();

async function sendMail(port: number, to: string, subject: string): Promise<void> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, connectionTimeout: 5000, socketTimeout: 10000 });
  try {
    await transport.sendMail({ from: 'someone@remote.test', to, subject, text: `${subject}\n` });
  } finally {
    transport.close();
  }
}

/** The certificate the server at port presents (imaps). */
function presented(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.destroy();
      if (cert) resolve(cert.fingerprint256);
      else reject(new Error('no certificate'));
    });
    socket.on('error', reject);
  });
}

async function within(ms: number, check: () => Promise<boolean>, what: string): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > ms) throw new Error(`${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

if (reason !== null && process.env.CI === 'true') {
  test('changes pushed between nodes on PostgreSQL', () => assert.fail(`${reason}; CI=true requires PostgreSQL`));
} else if (reason !== null) {
  test('changes pushed between nodes on PostgreSQL', { skip: reason }, () => undefined);
} else {
  describe('changes pushed between nodes on PostgreSQL', () => {
    let db: TestDatabase;
    let n1: NodeProcess;
    let n2: NodeProcess;
    let base1: number;
    let base2: number;
    const store = () => ['--store', db.location];

    before(async () => {
      db = await freshDatabase();
      for (const args of [['domain', 'add', 'example.test'], ['user', 'add', 'alice@example.test', '--password', 'secret'],
        ['config', 'set', 'limits.imapChangePollMs', '600000']]) {
        const r = await rookery([...args, ...store()]);
        assert.equal(r.code, 0, r.stderr);
      }
      base1 = await freePortBase();
      n1 = await startNodeProcess([...store(), '--name', 'n1', '--address', '127.0.0.1', '--port-base', String(base1), '--services', 'imap,imaps']);
      base2 = await freePortBase();
      n2 = await startNodeProcess([...store(), '--name', 'n2', '--address', '127.0.0.1', '--port-base', String(base2), '--services', 'smtp,imap']);
    });
    after(async () => {
      await Promise.allSettled([n1 && stopNodeProcess(n1), n2 && stopNodeProcess(n2)]);
      await db?.drop();
    });

    test('new mail, flag changes and expunges on one node reach an IDLE session on the other at once', async () => {
      const idler = await ImapLines.open(base1 + 143);
      const actor = await ImapLines.open(base2 + 143);
      try {
        assert.match(await idler.command('LOGIN alice@example.test secret'), /OK/);
        assert.match(await idler.command('SELECT INBOX'), /OK/);
        assert.match(await actor.command('LOGIN alice@example.test secret'), /OK/);
        await idler.idle();
        // The IDLE session's node listens once it has a watcher; give its LISTEN a moment.
        await new Promise((r) => setTimeout(r, 300));

        for (let i = 1; i <= 3; i++) {
          const mark = idler.lines.length;
          const started = Date.now();
          await sendMail(base2 + 25, 'alice@example.test', `pushed ${i}`);
          await idler.until((l) => l === `* ${i} EXISTS`, 1500, `EXISTS for message ${i}`, mark);
          assert.ok(Date.now() - started < 1500);
        }

        assert.match(await actor.command('SELECT INBOX'), /OK/);
        let mark = idler.lines.length;
        assert.match(await actor.command('STORE 2 +FLAGS (\\Flagged)'), /OK/);
        await idler.until((l) => /^\* 2 FETCH \(.*FLAGS \(.*\\Flagged/.test(l), 1500, 'the flag change', mark);

        mark = idler.lines.length;
        assert.match(await actor.command('STORE 1 +FLAGS.SILENT (\\Deleted)'), /OK/);
        assert.match(await actor.command('EXPUNGE'), /OK/);
        await idler.until((l) => l === '* 1 EXPUNGE', 1500, 'the expunge', mark);
      } finally {
        idler.end();
        actor.end();
      }
    });

    test('a user added and a password changed count on every node at once', async () => {
      const added = await rookery(['user', 'add', 'bob@example.test', '--password', 'first', ...store()]);
      assert.equal(added.code, 0, added.stderr);
      for (const base of [base1, base2]) {
        const c = await ImapLines.open(base + 143);
        assert.match(await c.command('LOGIN bob@example.test first'), /^t\d+ OK/);
        c.end();
      }
      const changed = await rookery(['user', 'passwd', 'bob@example.test', '--password', 'second', ...store()]);
      assert.equal(changed.code, 0, changed.stderr);
      for (const base of [base1, base2]) {
        const c = await ImapLines.open(base + 143);
        assert.match(await c.command('LOGIN bob@example.test first'), /^t\d+ NO/);
        assert.match(await c.command('LOGIN bob@example.test second'), /^t\d+ OK/);
        c.end();
      }
    });

    test('a certificate replaced with rookery tls set is presented by the next connection, without a restart', async () => {
      const before = await presented(base1 + 993);
      const dir = await tempDir('rookery-cert-');
      const fresh = await selfSigned('replaced.example.test');
      await writeFile(join(dir, 'cert.pem'), fresh.cert);
      await writeFile(join(dir, 'key.pem'), fresh.key);
      const want = new X509Certificate(fresh.cert).fingerprint256;
      assert.notEqual(before, want);
      const set = await rookery(['tls', 'set', '--cert', join(dir, 'cert.pem'), '--key', join(dir, 'key.pem'), ...store()]);
      assert.equal(set.code, 0, set.stderr);
      const took = await within(2000, async () => (await presented(base1 + 993)) === want, 'the new certificate presented');
      assert.ok(took < 2000, `took ${took} ms (the fallback re-read is every 30 s)`);
    });
  });
}
