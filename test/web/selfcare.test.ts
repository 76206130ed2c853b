/**
 * Self-care in a real browser (Debian's chromium driven by playwright-core):
 * sign in to the webmail, open Settings, change the password with the
 * keyboard alone (then IMAP takes the new password and not the old, and
 * another session of the user has ended), add, change and remove a forward,
 * set the vacation auto-reply; every field is found by its label and every
 * button by its text, the page fits a phone's width, and a post without the
 * session's CSRF token or from another origin changes nothing.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { run } from '../helpers/clients.js';
import { startTestNode, type TestNode } from '../helpers/test-node.js';

const chromiumPath = '/usr/bin/chromium';

const IMAP_LOGIN = `
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL('127.0.0.1', int(sys.argv[1]), ssl_context=ctx, timeout=20)
try:
    print(m.login(sys.argv[2], sys.argv[3])[0])
    m.logout()
except imaplib.IMAP4.error as e:
    print('NO', e)
`;

async function imapLogin(port: number, user: string, password: string): Promise<string> {
  const res = await run('python3', ['-c', IMAP_LOGIN, String(port), user, password]);
  assert.equal(res.code, 0, res.stderr);
  return res.stdout.trim();
}

/** Signs in over plain HTTP as the login form does; returns the session cookie's value. */
async function signInWithFetch(base: string, address: string, password: string): Promise<string> {
  const first = await fetch(`${base}/`);
  const token = /rookery_login=([^;]+)/.exec(first.headers.get('set-cookie') ?? '')![1]!;
  const res = await fetch(`${base}/login`, {
    method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `rookery_login=${token}` },
    body: new URLSearchParams({ csrf: token, address, password }).toString(),
  });
  assert.equal(res.status, 303);
  return /rookery_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')![1]!;
}

describe('self-care at /settings in a browser', () => {
  let node: TestNode;
  let base: string;
  let profile: string;
  let context: BrowserContext;
  let page: Page;

  before(async () => {
    node = await startTestNode({ users: { 'me@example.test': 'old-password' } });
    base = `http://127.0.0.1:${node.ports.http}`;
    profile = await mkdtemp(join(tmpdir(), 'rookery-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(10_000);
  });

  after(async () => {
    await context?.close().catch(() => undefined);
    await node?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('signs in and opens Settings from the webmail; the page runs no inline script', async () => {
    await page.goto(`${base}/`);
    await page.getByLabel('Address').fill('me@example.test');
    await page.getByLabel('Password').fill('old-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'INBOX' }).waitFor();
    const [response] = await Promise.all([page.waitForResponse(`${base}/settings`), page.getByRole('link', { name: 'Settings' }).click()]);
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
    const csp = response.headers()['content-security-policy'] ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(await page.locator('script:not([src])').count(), 0, 'no inline script');
  });

  it('changes the password with the keyboard: wrong current and differing new ones are refused; then IMAP takes only the new one and other sessions end', async () => {
    const otherSession = await signInWithFetch(base, 'me@example.test', 'old-password');

    await page.getByLabel('Current password').fill('not-it');
    await page.getByLabel('New password', { exact: true }).fill('new-password-1');
    await page.getByLabel('New password again').fill('new-password-1');
    await page.getByRole('button', { name: 'Change the password' }).click();
    await page.getByText('The current password is wrong.').waitFor();

    await page.getByLabel('Current password').fill('old-password');
    await page.getByLabel('New password', { exact: true }).fill('new-password-1');
    await page.getByLabel('New password again').fill('new-password-2');
    await page.getByRole('button', { name: 'Change the password' }).click();
    await page.getByText('The two new passwords differ.').waitFor();

    // Keyboard only: type into the focused field, Tab to the next, Enter submits.
    await page.getByLabel('Current password').focus();
    await page.keyboard.type('old-password');
    await page.keyboard.press('Tab');
    await page.keyboard.type('new-password-1');
    await page.keyboard.press('Tab');
    await page.keyboard.type('new-password-1');
    await page.keyboard.press('Enter');
    await page.getByText('Your password was changed.').waitFor();

    assert.equal(await imapLogin(node.ports.imaps, 'me@example.test', 'new-password-1'), 'OK');
    assert.match(await imapLogin(node.ports.imaps, 'me@example.test', 'old-password'), /^NO/);
    const stale = await fetch(`${base}/settings`, { headers: { cookie: `rookery_session=${otherSession}` }, redirect: 'manual' });
    assert.equal(stale.status, 303, 'the other session was signed out');
    await page.reload();
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
  });

  it('adds a forward keeping a copy, stops keeping the copy, removes it', async () => {
    await page.getByLabel('Forward to').fill('me@elsewhere.test');
    await page.getByRole('button', { name: 'Add the forward' }).click();
    await page.getByText('The forward was added.').waitFor();
    assert.deepEqual(await node.store.directory.listForwards('example.test'), [{ address: 'me@example.test', target: 'me@elsewhere.test', keepCopy: true }]);

    await page.getByRole('button', { name: 'Stop keeping a copy of mail forwarded to me@elsewhere.test' }).click();
    await page.getByText('The forward was changed.').waitFor();
    assert.deepEqual(await node.store.directory.listForwards('example.test'), [{ address: 'me@example.test', target: 'me@elsewhere.test', keepCopy: false }]);

    await page.getByLabel('Forward to').fill('me@elsewhere.test');
    await page.getByRole('button', { name: 'Add the forward' }).click();
    await page.getByRole('alert').getByText('forwards to me@elsewhere.test already').waitFor();

    await page.goto(`${base}/settings`);
    await page.getByRole('button', { name: 'Remove the forward to me@elsewhere.test' }).click();
    await page.getByText('The forward was removed.').waitFor();
    assert.deepEqual(await node.store.directory.listForwards('example.test'), []);
  });

  it('sets the vacation auto-reply: on, subject, text, last day, period; an enabled one without text is refused', async () => {
    await page.getByLabel('Send automatic replies').check();
    await page.getByLabel('Text').fill('');
    await page.getByRole('button', { name: 'Save the auto-reply' }).click();
    await page.getByText('An enabled auto-reply needs a text.').waitFor();
    assert.equal(await node.store.vacation.get((await node.store.directory.getUser('me@example.test'))!.id), null);

    await page.getByLabel('Send automatic replies').check();
    await page.getByLabel(/^Subject/).fill('Away until June');
    await page.getByLabel('Text').fill('I read mail again on 2 June.');
    await page.getByLabel(/^Last day/).fill('2030-06-01');
    await page.getByLabel(/^Reply period in days/).fill('3');
    await page.getByRole('button', { name: 'Save the auto-reply' }).click();
    await page.getByText('The auto-reply settings were saved.').waitFor();
    const me = (await node.store.directory.getUser('me@example.test'))!;
    assert.deepEqual(await node.store.vacation.get(me.id), {
      enabled: true, subject: 'Away until June', body: 'I read mail again on 2 June.', startsAt: null, endsAt: new Date(Date.UTC(2030, 5, 2)), periodDays: 3,
    });
    // The form shows what is stored.
    assert.equal(await page.getByLabel(/^Last day/).inputValue(), '2030-06-01');
    assert.equal(await page.getByLabel('Send automatic replies').isChecked(), true);
  });

  it('fits a phone\'s width, with every control reachable', async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    await page.goto(`${base}/settings`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
    for (const name of ['Change the password', 'Add the forward', 'Save the auto-reply']) {
      const box = await page.getByRole('button', { name }).boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 360, `${name} is on screen`);
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('refuses a post without the session\'s CSRF token, or from another origin', async () => {
    const session = (await context.cookies()).find((c) => c.name === 'rookery_session')!.value;
    const me = (await node.store.directory.getUser('me@example.test'))!;
    const before = await node.store.vacation.get(me.id);
    const post = (body: Record<string, string>, headers: Record<string, string> = {}) => fetch(`${base}/settings/vacation`, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `rookery_session=${session}`, ...headers },
      body: new URLSearchParams(body).toString(),
    });
    assert.equal((await post({ enabled: 'off', body: 'x', period: '7' })).status, 403);
    assert.equal((await post({ csrf: 'forged', enabled: 'off', body: 'x', period: '7' })).status, 403);
    const html = await (await fetch(`${base}/settings`, { headers: { cookie: `rookery_session=${session}` } })).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
    assert.equal((await post({ csrf, enabled: 'off', body: 'x', period: '7' }, { origin: 'http://evil.test' })).status, 403);
    assert.deepEqual(await node.store.vacation.get(me.id), before, 'nothing changed');
    assert.equal((await post({ csrf, body: 'x', period: '7' })).status, 303, 'the same post with the token is taken');
    assert.equal((await node.store.vacation.get(me.id))?.enabled, false);
  });
});
