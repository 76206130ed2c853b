/**
 * The one login throttle every protocol and node asks
 * (src/net/login-throttle.ts): failures over IMAP on node A refuse that
 * address on node B (another open of the same store, as another process
 * would have) over POP3, SMTP submission and HTTP, each with its own
 * "try later" answer, while the same account from another client address
 * still gets in. Real clients: Python's imaplib, poplib and smtplib, curl.
 */
import { strict as assert } from 'node:assert';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { LoginThrottle, addressKey, accountKey } from '../../src/net/login-throttle.js';
import { startNode, type RunningNode } from '../../src/node.js';
import { openStore } from '../../src/store/open.js';
import type { LoginFailures, Store } from '../../src/store/types.js';
import { python, run } from '../helpers/clients.js';
import { tempDir } from '../helpers/temp.js';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';

const IMAP_LOGIN = `
import imaplib, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = imaplib.IMAP4('127.0.0.1', port)
try:
    c.login(user, password)
    print('OK')
except imaplib.IMAP4.error as e:
    print(str(e))
c.logout()
`;

const POP3_LOGIN = `
import poplib, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = poplib.POP3('127.0.0.1', port, timeout=20)
try:
    c.user(user)
    print(c.pass_(password).decode())
except poplib.error_proto as e:
    print(e.args[0].decode())
c.quit()
`;

const SMTP_LOGIN = `
import smtplib, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with smtplib.SMTP('127.0.0.1', port, local_hostname='client.test', timeout=20) as s:
    s.ehlo()
    try:
        code, text = s.login(user, password)
        print(code)
    except smtplib.SMTPResponseException as e:
        print(e.smtp_code, e.smtp_error.decode())
`;

describe('the login throttle across protocols and nodes', () => {
  let dir: string;
  let storeA: Store;
  let storeB: Store;
  let nodeA: RunningNode;
  let nodeB: RunningNode;

  before(async () => {
    dir = await tempDir();
    storeA = await openStore(dir);
    await storeA.directory.addDomain('example.test');
    await storeA.directory.addUser({ address: ALICE, password: 'alice-pw' });
    await storeA.directory.addUser({ address: BOB, password: 'bob-pw' });
    // Small numbers so the test is quick: refused after 3 failures, short delays.
    for (const [k, v] of Object.entries({ maxLoginFailuresPerAddress: 3, loginFailureDelayMs: 10, maxLoginFailureDelayMs: 40, maxAuthFailures: 10 })) {
      await storeA.settings.set(`limits.${k}`, String(v));
    }
    storeB = await openStore(dir);
    const ports = { imap: 0, pop3: 0, submission: 0, http: 0 };
    nodeA = await startNode({ store: storeA, name: 'node-a', address: '127.0.0.1', hostname: 'a.example.test', ports, queue: false });
    nodeB = await startNode({ store: storeB, name: 'node-b', address: '127.0.0.1', hostname: 'b.example.test', ports, queue: false });
  });

  after(async () => {
    await nodeA?.stop();
    await nodeB?.stop();
    await storeA?.close();
    await storeB?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('refuses an address on every protocol of another node after failures over IMAP, and lets another address in', async () => {
    const imapA = String(nodeA.ports.imap);
    for (let i = 0; i < 3; i++) {
      assert.match(await python(IMAP_LOGIN, [imapA, ALICE, `guess${i}`]), /AUTHENTICATIONFAILED/);
    }
    // Node A itself now refuses even the right password from this address.
    assert.match(await python(IMAP_LOGIN, [imapA, ALICE, 'alice-pw']), /\[UNAVAILABLE\].*too many failed logins/);

    // Node B shares nothing with A but the store.
    const pop = await python(POP3_LOGIN, [String(nodeB.ports.pop3), BOB, 'bob-pw']);
    assert.match(pop, /^-ERR \[SYS\/TEMP\] too many failed logins from your address/);
    const smtp = await python(SMTP_LOGIN, [String(nodeB.ports.submission), BOB, 'bob-pw']);
    assert.match(smtp, /^454 4\.7\.0 .*too many failed logins/);
    const web = await run('curl', ['-s', '-D', '-', '-u', `${BOB}:bob-pw`, `http://127.0.0.1:${nodeB.ports.http}/api/v1/me`]);
    assert.match(web.stdout, /^HTTP\/1\.1 429 /);
    assert.match(web.stdout, /\r\nretry-after: \d+\r\n/i);
    assert.match(web.stdout, /"too-many-requests"/);

    // The same accounts from another client address (127.0.0.2 is loopback too) are not refused.
    const popElsewhere = await run('curl', ['-s', '--interface', '127.0.0.2', '-u', `${ALICE}:alice-pw`, `pop3://127.0.0.1:${nodeB.ports.pop3}/`]);
    assert.equal(popElsewhere.code, 0, popElsewhere.stderr);
    const webElsewhere = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--interface', '127.0.0.2', '-u', `${ALICE}:alice-pw`, `http://127.0.0.1:${nodeB.ports.http}/api/v1/me`]);
    assert.equal(webElsewhere.stdout, '200');
    const imapElsewhere = await run('curl', ['-s', '--interface', '127.0.0.2', '-u', `${ALICE}:alice-pw`, `imap://127.0.0.1:${nodeA.ports.imap}/INBOX?ALL`]);
    assert.equal(imapElsewhere.code, 0, imapElsewhere.stderr);

    // Every protocol's failures are counted in the metrics, each under its own name.
    const metrics = await (await fetch(`http://127.0.0.1:${nodeA.ports.http}/metrics`)).text();
    assert.match(metrics, /rookery_auth_failures_total\{protocol="imap"\} 3/);
  });
});

/** Counts the store calls the throttle makes. */
function counting(inner: LoginFailures): LoginFailures & { calls: Record<string, number> } {
  const calls: Record<string, number> = {};
  const wrap = <K extends keyof LoginFailures>(k: K) => ((...args: unknown[]) => {
    calls[k] = (calls[k] ?? 0) + 1;
    return (inner[k] as (...a: unknown[]) => unknown)(...args);
  }) as LoginFailures[K];
  return { calls, record: wrap('record'), get: wrap('get'), changedSince: wrap('changedSince'), clear: wrap('clear'), removeExpired: wrap('removeExpired') };
}

describe('LoginThrottle', () => {
  let dir: string;
  let store: Store;
  before(async () => {
    dir = await tempDir();
    store = await openStore(dir);
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('costs no store round trip for an address without failures, once caught up', async () => {
    const failures = counting(store.loginFailures);
    const t = new LoginThrottle(failures, { syncEveryMs: 60_000 });
    assert.deepEqual(await t.check('192.0.2.1', 'a@example.test'), { allowed: true });
    assert.deepEqual(failures.calls, { changedSince: 1 });
    for (let i = 0; i < 50; i++) await t.check(`192.0.2.${i + 2}`, 'a@example.test');
    assert.deepEqual(failures.calls, { changedSince: 1 }, 'clean addresses are judged from the cache');
    await t.failed('imap', '192.0.2.1', 'a@example.test');
    await t.check('192.0.2.1', 'a@example.test');
    assert.equal((failures.calls as Record<string, number>).get, 1, 'an address that failed is looked up afresh');
  });

  it('grows the delay per address and per account, and refuses an account only to addresses that failed', async () => {
    const t = new LoginThrottle(store.loginFailures, { baseFailureDelayMs: 100, maxFailureDelayMs: 1000, maxFailuresPerAddress: 100, maxFailuresPerAccount: 4, syncEveryMs: 0 });
    assert.equal(await t.failed('pop3', '198.51.100.1', 'victim@example.test'), 100);
    assert.equal(await t.failed('pop3', '198.51.100.1', 'victim@example.test'), 200);
    // Another address guessing at the same account is slowed by the account's count.
    assert.equal(await t.failed('imap', '198.51.100.2', 'VICTIM@example.test'), 400);
    assert.equal(await t.failed('imap', '198.51.100.2', 'victim@example.test'), 800);
    assert.equal(await t.failed('imap', '198.51.100.2', 'victim@example.test'), 1000, 'capped');
    const refused = await t.check('198.51.100.1', 'victim@example.test');
    assert.equal(refused.allowed, false);
    assert.ok(!refused.allowed && refused.retryAfterMs > 0 && /this account/.test(refused.sentence));
    assert.deepEqual(await t.check('203.0.113.50', 'victim@example.test'), { allowed: true }, 'the owner from a clean address gets in');
    assert.deepEqual(await t.check('198.51.100.1', 'other@example.test'), { allowed: true });
    // IPv4-mapped IPv6 is the same address.
    assert.equal(addressKey('::ffff:198.51.100.1'), addressKey('198.51.100.1'));
    assert.equal(accountKey(' Victim@Example.TEST '), 'account:victim@example.test');
  });

  it('forgets failures after their memory, and keeps counting here when the store is out of reach', async () => {
    const t = new LoginThrottle(store.loginFailures, { maxFailuresPerAddress: 2, forgetAfterMs: 300, syncEveryMs: 0, baseFailureDelayMs: 1 });
    await t.failed('http', '192.0.2.200', '');
    await t.failed('http', '192.0.2.200', '');
    assert.equal((await t.check('192.0.2.200', '')).allowed, false);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal((await t.check('192.0.2.200', '')).allowed, true);

    const broken: LoginFailures = {
      record: () => Promise.reject(new Error('store down')),
      get: () => Promise.reject(new Error('store down')),
      changedSince: () => Promise.reject(new Error('store down')),
      clear: () => Promise.reject(new Error('store down')),
      removeExpired: () => Promise.reject(new Error('store down')),
    };
    const errors: unknown[] = [];
    const offline = new LoginThrottle(broken, { maxFailuresPerAddress: 2, syncEveryMs: 0, baseFailureDelayMs: 1 }, (e) => errors.push(e));
    assert.equal((await offline.check('192.0.2.201', 'x@example.test')).allowed, true);
    await offline.failed('imap', '192.0.2.201', 'x@example.test');
    await offline.failed('imap', '192.0.2.201', 'x@example.test');
    assert.equal((await offline.check('192.0.2.201', 'x@example.test')).allowed, false);
    assert.ok(errors.length > 0, 'the store errors were reported');
  });
});
