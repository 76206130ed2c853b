/**
 * The webmail in a real browser (Debian's chromium driven by
 * playwright-core): sign in, read a message delivered over SMTP (HTML
 * sanitised, attachment downloadable), flag it and see the flag over IMAP,
 * send one and see it arrive over IMAP, delete to Trash, then the node that served the
 * session stops and the next click, answered by the other node on the same
 * store, is still signed in. Two nodes run in-process behind a small TCP
 * relay that plays the traffic manager.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { run } from '../helpers/clients.js';
import { Relay } from '../helpers/relay.js';
import { startTestNode, type TestNode } from '../helpers/test-node.js';
import { startNode, type RunningNode } from '../../src/node.js';

const chromiumPath = '/usr/bin/chromium';

const SEND = `
import smtplib, sys
port, sender, rcpt = int(sys.argv[1]), sys.argv[2], sys.argv[3]
body = sys.stdin.buffer.read()
with smtplib.SMTP('127.0.0.1', port, local_hostname='client.test', timeout=20) as s:
    s.sendmail(sender, [rcpt], body)
`;

const incoming = [
  'From: Carol <carol@elsewhere.test>',
  'To: alice@example.test',
  'Subject: Hello from SMTP',
  'Date: Sun, 22 Nov 2026 10:00:00 +0000',
  'Message-ID: <hello.1@elsewhere.test>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="outer"',
  '',
  '--outer',
  'Content-Type: multipart/alternative; boundary="alt"',
  '',
  '--alt',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Plain words for Alice.',
  '--alt',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<html><head><script>window.pwned=1</script></head><body>',
  '<p onclick="window.pwned=2">Rich words for Alice.</p>',
  '<img src="http://tracker.invalid/pixel.gif" alt="logo">',
  '<a href="javascript:window.pwned=3">bad link</a> <a href="https://example.org/">good link</a>',
  '</body></html>',
  '--alt--',
  '--outer',
  'Content-Type: text/plain; name="notes.txt"',
  'Content-Disposition: attachment; filename="notes.txt"',
  'Content-Transfer-Encoding: base64',
  '',
  Buffer.from('attached notes\n').toString('base64'),
  '--outer--',
  '',
].join('\r\n');

async function smtpSend(port: number, rcpt: string, body: string): Promise<void> {
  const res = await run('python3', ['-c', SEND, String(port), 'carol@elsewhere.test', rcpt], { input: body, timeoutMs: 20000 });
  if (res.code !== 0) throw new Error(`python3 exited ${res.code}: ${res.stderr}`);
}

async function imap(port: number, user: string, pass: string): Promise<ImapFlow> {
  const client = new ImapFlow({ host: '127.0.0.1', port, secure: false, doSTARTTLS: false, auth: { user, pass }, logger: false, disableAutoIdle: true } as ConstructorParameters<typeof ImapFlow>[0]);
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

describe('webmail in a browser, two nodes', { timeout: 60_000 }, () => {
  let node1: TestNode;
  let node2: RunningNode;
  let node1Stopped = false;
  let relay: Relay;
  let base: string;
  let context: BrowserContext;
  let page: Page;
  let profile: string;

  before(async () => {
    node1 = await startTestNode({ users: { 'alice@example.test': 'alice-pw', 'bob@example.test': 'bob-pw' } });
    node2 = await startNode({ store: node1.store, name: 'node2', address: '127.0.0.1', hostname: 'mx2.example.test', ports: { http: 0, imap: 0 }, queue: false });
    relay = new Relay();
    relay.target = node1.ports.http;
    base = `http://127.0.0.1:${await relay.listen()}`;
    profile = await mkdtemp(join(tmpdir(), 'rookery-chromium-'));
    // A fresh profile directory each run (playwright wants it as launchPersistentContext's argument, not --user-data-dir).
    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      acceptDownloads: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(10_000);
    await smtpSend(node1.ports.smtp, 'alice@example.test', incoming);
  });

  after(async () => {
    await context?.close().catch(() => undefined);
    await relay?.close();
    await node2?.stop();
    if (node1 && !node1Stopped) await node1.node.stop();
    await node1?.store.close();
    if (node1) await rm(node1.dir, { recursive: true, force: true });
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('signs in with address and password and shows folders with unread counts', async () => {
    await page.goto(`${base}/`);
    await page.getByLabel('Address').fill('alice@example.test');
    await page.getByLabel('Password').fill('wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('The address or password is wrong.').waitFor();
    await page.getByLabel('Password').fill('alice-pw');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'INBOX' }).waitFor();
    await page.getByRole('link', { name: 'INBOX (1 unread)' }).waitFor();
    const cookie = (await page.context().cookies()).find((c) => c.name === 'rookery_session');
    assert.ok(cookie, 'a session cookie is set');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Lax');
    const sessions = await node1.store.tokens.list({ kind: 'session' });
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0]!.subject, 'alice@example.test');
  });

  it('reads a message delivered over SMTP: sanitised HTML, attachment, marked read over IMAP', async () => {
    await page.getByRole('link', { name: 'Hello from SMTP' }).click();
    await page.getByRole('heading', { name: 'Hello from SMTP' }).waitFor();
    await page.getByText('Rich words for Alice.').waitFor();
    const body = await page.locator('article.message-body').innerHTML();
    assert.doesNotMatch(body, /script|onclick|tracker\.invalid|javascript:/i);
    assert.match(body, /\[image: logo\]/);
    assert.match(body, /href="https:\/\/example\.org\/"/);
    assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
    const csp = (await page.request.get(page.url())).headers()['content-security-policy'] ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self';/, 'only the node\'s own script file');
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|img-src [^;]*http/);

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'notes.txt' }).click()]);
    assert.equal(download.suggestedFilename(), 'notes.txt');
    assert.equal(await readFile((await download.path())!, 'utf8'), 'attached notes\n');

    await page.getByRole('button', { name: 'Flag' }).click();
    await page.getByRole('button', { name: 'Unflag' }).waitFor();
    const client = await imap(node1.ports.imap, 'alice@example.test', 'alice-pw');
    try {
      await client.mailboxOpen('INBOX');
      const msg = await client.fetchOne('*', { flags: true, envelope: true });
      assert.ok(msg);
      assert.equal(msg.envelope?.subject, 'Hello from SMTP');
      assert.ok(msg.flags?.has('\\Flagged'), 'flagged in the webmail, seen over IMAP');
      assert.ok(msg.flags?.has('\\Seen'), 'opened in the webmail, seen over IMAP');
      // And the other way: IMAP takes the flag off, the webmail shows it on reload.
      await client.messageFlagsRemove('*', ['\\Flagged']);
    } finally {
      await client.logout().catch(() => undefined);
    }
    await page.reload();
    await page.getByRole('button', { name: 'Flag', exact: true }).waitFor();
  });

  it('refuses a form post without the session CSRF token; the cookie works for the API with X-CSRF-Token', async () => {
    const res = await page.request.post(`${base}/flag`, { form: { box: 'INBOX', uid: '1', flagged: '1' } });
    assert.equal(res.status(), 403);
    const me = await page.request.get(`${base}/api/v1/users/alice@example.test`);
    assert.equal(me.status(), 200);
    const patch = await page.request.patch(`${base}/api/v1/users/alice@example.test`, { data: { customerId: 'x' } });
    assert.equal(patch.status(), 403, 'a state-changing API call with the cookie needs the CSRF header');
    assert.match(((await patch.json()) as { error: { message: string } }).error.message, /X-CSRF-Token/);
    const csrf = await page.locator('input[name=csrf]').first().inputValue();
    const withCsrf = await page.request.patch(`${base}/api/v1/users/alice@example.test`, { data: { customerId: 'x' }, headers: { 'x-csrf-token': csrf } });
    // Authenticated as alice (a user), so the role check answers, not the authentication.
    assert.equal(withCsrf.status(), 403);
    const refusal = (await withCsrf.json()) as { error: { code: string; message: string } };
    assert.equal(refusal.error.code, 'forbidden');
    assert.doesNotMatch(refusal.error.message, /X-CSRF-Token/);
  });

  it('is usable at phone width', async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    await page.reload();
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 360, `no sideways scrolling at 360 px (page is ${width} px wide)`);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('sends a message that arrives in the recipient INBOX over IMAP and is saved to Sent', async () => {
    await page.getByRole('link', { name: 'Write' }).click();
    await page.getByLabel('To').fill('bob@example.test');
    await page.getByLabel('Subject').fill('From the web ✓');
    await page.getByLabel('Message').fill('Hello Bob,\nthis came through the webmail.');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByText('Message sent.').waitFor();
    const client = await imap(node1.ports.imap, 'bob@example.test', 'bob-pw');
    try {
      await client.mailboxOpen('INBOX');
      const msg = await client.fetchOne('*', { envelope: true, source: true });
      assert.ok(msg);
      assert.equal(msg.envelope?.subject, 'From the web ✓');
      assert.equal(msg.envelope?.from?.[0]?.address, 'alice@example.test');
      assert.match(msg.source!.toString('utf8'), /this came through the webmail/);
    } finally {
      await client.logout().catch(() => undefined);
    }
    await page.getByRole('link', { name: 'Sent' }).click();
    await page.getByRole('link', { name: 'From the web ✓' }).click();
    await page.getByText('this came through the webmail.').waitFor();
  });

  it('deletes to Trash', async () => {
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('heading', { name: 'Sent' }).waitFor();
    await page.getByText('No messages.').waitFor();
    await page.getByRole('link', { name: /^Trash/ }).click();
    await page.getByRole('link', { name: 'From the web ✓' }).waitFor();
  });

  it('stays signed in when the node that served the session stops and another answers', async () => {
    // The relay takes node1 out and cuts its connections first: with the
    // browser's keep-alive connections still open, node1's HTTP close waits
    // for them in ServiceListener.stopAccepting (net.Server.close) before
    // its own 5 s grace starts, which took ~55 s here (reported, not
    // worked around in src/web/server.ts).
    relay.target = node2.ports.http;
    relay.dropAll();
    await node1.node.stop();
    node1Stopped = true;
    await page.getByRole('link', { name: /^INBOX/ }).click();
    await page.getByRole('heading', { name: 'INBOX' }).waitFor();
    await page.getByRole('link', { name: 'Hello from SMTP' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    assert.equal((await node1.store.tokens.list({ kind: 'session' })).length, 0, 'signing out ends the session everywhere');
    await page.goto(`${base}/mail?box=INBOX`);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
  });

  it('throttles repeated failed sign-ins from one address', async () => {
    const url = `http://127.0.0.1:${node2.ports.http}/login`;
    const attempt = () => fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: 'rookery_login=tok' },
      body: 'csrf=tok&address=alice%40example.test&password=nope',
      redirect: 'manual',
    });
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) statuses.push((await attempt()).status);
    // The node's shared throttle also counted this address's earlier failures (the wrong password, the API call without CSRF).
    const firstRefusal = statuses.indexOf(429);
    assert.ok(firstRefusal >= 15 && firstRefusal <= 20, `refused after about 20 failures (${statuses.join(' ')})`);
    assert.deepEqual(statuses.slice(0, firstRefusal), Array(firstRefusal).fill(401));
    assert.deepEqual(statuses.slice(firstRefusal), Array(21 - firstRefusal).fill(429));
    const forged = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=tok&address=a&password=b' });
    assert.equal(forged.status, 429, 'throttled before anything else is looked at');
  });
});
