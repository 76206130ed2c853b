import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rookery } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';
import { openStore } from '../../src/store/open.js';
import { selfSigned } from '../../src/net/tls.js';
import { limitSpecs, limitsFromSettings } from '../../src/config/limits.js';

describe('rookery directory commands', () => {
  let dir: string;
  const s = () => ['--store', dir];
  before(async () => {
    dir = await tempDir('rookery-cli-');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('domain, user, alias and forward round trip through the store', async () => {
    assert.equal((await rookery(['domain', 'add', 'Example.ORG', ...s()])).code, 0);
    const add = await rookery(['user', 'add', 'Me@example.org', '--password', 'secret', '--quota', '1G', '--customer', 'c42', ...s()]);
    assert.equal(add.code, 0, add.stderr);
    const passwd = await rookery(['user', 'passwd', 'me@example.org', '--password-stdin', ...s()], { input: 'n3w pass\n' });
    assert.equal(passwd.code, 0, passwd.stderr);
    assert.equal((await rookery(['alias', 'add', 'postmaster@example.org', 'me@example.org', ...s()])).code, 0);
    assert.equal((await rookery(['forward', 'add', 'me@example.org', 'me@elsewhere.test', '--keep-copy', ...s()])).code, 0);
    assert.equal((await rookery(['user', 'set', 'me@example.org', '--quota', '0', ...s()])).code, 0);

    const users = JSON.parse((await rookery(['user', 'list', '--json', ...s()])).stdout);
    assert.deepEqual(users.map((u: { address: string; quotaBytes: number; customerId: string }) => [u.address, u.quotaBytes, u.customerId]), [['me@example.org', 0, 'c42']]);
    assert.deepEqual(JSON.parse((await rookery(['domain', 'list', '--json', ...s()])).stdout).map((d: { name: string }) => d.name), ['example.org']);
    assert.deepEqual(JSON.parse((await rookery(['alias', 'list', '--json', ...s()])).stdout), [{ address: 'postmaster@example.org', targets: ['me@example.org'] }]);
    assert.deepEqual(JSON.parse((await rookery(['forward', 'list', '--json', ...s()])).stdout), [{ address: 'me@example.org', target: 'me@elsewhere.test', keepCopy: true }]);
    assert.match((await rookery(['user', 'show', 'me@example.org', ...s()])).stdout, /mailboxes\s+Drafts, INBOX, Junk, Sent, Trash/);

    // What the CLI wrote is what a node reads.
    const store = await openStore(dir);
    try {
      assert.ok(await store.directory.authenticate('me@example.org', 'n3w pass'));
      assert.equal(await store.directory.authenticate('me@example.org', 'secret'), null);
    } finally {
      await store.close();
    }

    assert.equal((await rookery(['forward', 'del', 'me@example.org', 'me@elsewhere.test', ...s()])).code, 0);
    assert.equal((await rookery(['alias', 'del', 'postmaster@example.org', ...s()])).code, 0);
    assert.equal((await rookery(['user', 'del', 'me@example.org', ...s()])).code, 0);
    assert.equal((await rookery(['domain', 'del', 'example.org', ...s()])).code, 0);
    assert.equal((await rookery(['domain', 'list', '--json', ...s()])).stdout.trim(), '[]');
  });

  test('mistakes print one line on stderr and exit non-zero, never a stack trace', async () => {
    await rookery(['domain', 'add', 'example.net', ...s()]);
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /unknown command "frobnicate"/],
      [['user', 'add', 'x@example.net', ...s()], /--password/],
      [['user', 'add', 'not-an-address', '--password', 'x', ...s()], /not a mail address/],
      [['user', 'add', 'x@nowhere.test', '--password', 'x', ...s()], /not a local domain/],
      [['user', 'add', 'x@example.net', '--password', 'x', '--quota', 'lots', ...s()], /not a size/],
      [['user', 'list', '--bogus', ...s()], /Unknown option '--bogus'/],
      [['domain', 'add', 'example.net', ...s()], /exists already/],
      [['domain', 'del', 'nowhere.test', ...s()], /not a local domain/],
      [['user', 'del', 'ghost@example.net', ...s()], /no user ghost@example.net/],
      [['config', 'set', 'limits.maxRecipients', '0', ...s()], /positive whole number/],
      [['config', 'set', 'limits.noSuchLimit', '3', ...s()], /unknown limit/],
      [['config', 'reset', 'limits.toString', ...s()], /unknown limit "toString"/],
      [['config', 'reset', 'maxRecipients', ...s()], /only limits\.\*/],
      [['tls', 'set', '--cert', '/nonexistent.pem', '--key', '/nonexistent.key', ...s()], /cannot read the certificate file/],
      [['up', '--port-base', 'abc', ...s()], /--port-base must be/],
      [['node', '--services', 'smtp,gopher', ...s()], /unknown service "gopher"/],
      [['domain', 'list', '--store', 'ftp://example.test/x'], /neither a directory path nor a postgres/],
    ];
    for (const [args, pattern] of cases) {
      const res = await rookery(args);
      assert.notEqual(res.code, 0, `${args.join(' ')} should fail`);
      assert.match(res.stderr, pattern, `${args.join(' ')}: ${res.stderr}`);
      assert.equal(res.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${res.stderr}`);
      assert.doesNotMatch(res.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  test('config set changes a limit, reset puts the default back, and list and a node both read it', async () => {
    const value = async () => (JSON.parse((await rookery(['config', 'list', '--json', ...s()])).stdout) as Record<string, number>).maxRecipients;
    const byDefault = limitSpecs.maxRecipients.default;
    assert.equal(await value(), byDefault);
    const set = await rookery(['config', 'set', 'limits.maxRecipients', String(byDefault + 7), ...s()]);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(await value(), byDefault + 7);
    const reset = await rookery(['config', 'reset', 'limits.maxRecipients', ...s()]);
    assert.equal(reset.code, 0, reset.stderr);
    assert.match(reset.stdout, new RegExp(`limits\\.maxRecipients = ${byDefault} \\(the default\\)`));
    assert.equal(await value(), byDefault);
    // What a node starts with.
    const store = await openStore(dir);
    try {
      assert.equal(limitsFromSettings(await store.settings.all()).maxRecipients, byDefault);
    } finally {
      await store.close();
    }
  });

  test('tls set stores a matching certificate and key and refuses a mismatched pair', async () => {
    const a = await selfSigned('mail.example.net');
    const b = await selfSigned('other.example.net');
    await writeFile(join(dir, 'a.crt'), a.cert);
    await writeFile(join(dir, 'a.key'), a.key);
    await writeFile(join(dir, 'b.key'), b.key);
    const bad = await rookery(['tls', 'set', '--cert', join(dir, 'a.crt'), '--key', join(dir, 'b.key'), ...s()]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /does not belong/);
    const ok = await rookery(['tls', 'set', '--cert', join(dir, 'a.crt'), '--key', join(dir, 'a.key'), ...s()]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match((await rookery(['tls', 'show', ...s()])).stdout, /mail\.example\.net/);
  });

  test('ROOKERY_STORE selects the store when --store is absent', async () => {
    const res = await rookery(['domain', 'list', '--json'], { env: { ...process.env, ROOKERY_STORE: dir } });
    assert.equal(res.code, 0, res.stderr);
    assert.ok(JSON.parse(res.stdout).some((d: { name: string }) => d.name === 'example.net'));
  });
});
