/**
 * The admin console at /admin in a real browser (Debian's chromium driven
 * by playwright-core): sign-in with the webmail's session cookie, an admin
 * creates a user who then logs in over IMAP (Python's imaplib), two admins
 * edit one user and the second is told about the 412, live updates over
 * the event stream, the cluster map with connections and drain, the queue
 * with flush and delete, the DNS records, a domain admin's narrower view,
 * a plain user turned away, the CSRF header on cookie-authenticated API
 * calls, the Content-Security-Policy, keyboard use and phone width.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { request } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { python } from '../helpers/clients.js';
import { tempDir } from '../helpers/temp.js';
import { openStore } from '../../src/store/open.js';
import { startNode, type RunningNode } from '../../src/node.js';
import type { Store } from '../../src/store/types.js';

const chromiumPath = '/usr/bin/chromium';

const IMAP_LOGIN = `
import imaplib, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
m = imaplib.IMAP4('127.0.0.1', port, timeout=20)
typ, _ = m.login(user, password)
typ2, data = m.select('INBOX')
print(typ, typ2, data[0].decode())
m.logout()
`;

describe('admin console in a browser', { timeout: 90_000 }, () => {
  let dir: string;
  let store: Store;
  let node: RunningNode;
  let base: string;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  async function newPage(): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    return page;
  }

  /** The pages of the two admins, signed in once (each page is a browser context of its own: its own cookies). */
  const signedIn = new Map<string, Page>();
  async function adminPage(address: 'root@example.test' | 'ops@example.test'): Promise<Page> {
    let page = signedIn.get(address);
    if (!page) {
      page = await newPage();
      await signIn(page, address, address === 'root@example.test' ? 'root-pw' : 'ops-pw');
      await page.getByRole('heading', { name: 'Cluster', level: 1 }).waitFor();
      signedIn.set(address, page);
    }
    return page;
  }

  /** Shows a section of the console (a same-document navigation when the page is on it already). */
  async function show(page: Page, section: string, title: string): Promise<void> {
    await page.goto(`${base}/admin#${section}`);
    await page.getByRole('heading', { name: title, level: 1 }).waitFor();
  }

  async function signIn(page: Page, address: string, password: string): Promise<void> {
    await page.goto(`${base}/admin`);
    await page.getByLabel('Address').fill(address);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  before(async () => {
    dir = await tempDir();
    store = await openStore(dir);
    await store.directory.addDomain('example.test');
    await store.directory.addDomain('other.test');
    await store.directory.addUser({ address: 'root@example.test', password: 'root-pw', role: 'admin' });
    await store.directory.addUser({ address: 'ops@example.test', password: 'ops-pw', role: 'admin' });
    await store.directory.addUser({ address: 'boss@other.test', password: 'boss-pw', role: 'domain-admin' });
    await store.directory.addUser({ address: 'staff@other.test', password: 'staff-pw' });
    await store.directory.addUser({ address: 'plain@example.test', password: 'plain-pw' });
    // No queue worker: the queued test message must stay where the console can see it.
    node = await startNode({ store, name: 'node-a', address: '127.0.0.1', hostname: 'mx.example.test', ports: { smtp: 0, http: 0, https: 0, imap: 0 }, queue: false });
    base = `http://127.0.0.1:${node.ports.http}`;
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await node?.stop();
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('signs an admin in with the session cookie under a strict CSP, with no inline script', async () => {
    const page = await newPage();
    const signInPage = await page.request.get(`${base}/admin`);
    assert.equal(signInPage.status(), 200);
    await signIn(page, 'root@example.test', 'wrong');
    await page.getByText('The address or password is wrong.').waitFor();
    await page.getByLabel('Password').fill('root-pw');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Cluster', level: 1 }).waitFor();
    signedIn.set('root@example.test', page);

    const cookie = (await page.context().cookies()).find((c) => c.name === 'rookery_session');
    assert.ok(cookie);
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Lax');
    const res = await page.request.get(`${base}/admin`);
    const csp = res.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const html = await res.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'every script element names a file');
    assert.doesNotMatch(html, /https?:\/\//, 'no asset from elsewhere');
    for (const asset of ['/admin/console.js', '/admin/console.css']) assert.equal((await page.request.get(`${base}${asset}`)).status(), 200);
  });

  it('refuses a cookie-authenticated state-changing API call without the CSRF header', async () => {
    const page = await adminPage('root@example.test');
    const forged = await page.request.post(`${base}/api/v1/users`, { data: { address: 'forged@example.test', password: 'x' } });
    assert.equal(forged.status(), 403);
    assert.equal(await store.directory.getUser('forged@example.test'), null);
    const wrong = await page.request.post(`${base}/api/v1/users`, { data: { address: 'forged@example.test', password: 'x' }, headers: { 'x-csrf-token': 'not-it' } });
    assert.equal(wrong.status(), 403);
    const logoutWithoutToken = await page.request.post(`${base}/admin/logout`, { form: { csrf: 'nope' }, maxRedirects: 0 });
    assert.equal(logoutWithoutToken.status(), 403);
    const crossSite = await page.request.post(`${base}/admin/login`, { form: { csrf: 'x', address: 'root@example.test', password: 'root-pw' }, headers: { origin: 'https://evil.invalid' }, maxRedirects: 0 });
    assert.equal(crossSite.status(), 403);
  });

  it('an admin creates a user in the console and that user logs in over IMAP', async () => {
    const page = await adminPage('root@example.test');
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    await page.getByLabel('New user address').fill('carol@example.test');
    await page.getByLabel('Password', { exact: true }).fill('carol-secret');
    await page.getByLabel('Quota in MiB (0 for unlimited)').fill('10');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByText('carol@example.test created; it can sign in now.').waitFor();
    await page.getByRole('button', { name: 'Edit carol@example.test' }).waitFor();
    const carol = await store.directory.getUser('carol@example.test');
    assert.equal(carol?.quotaBytes, 10 * 1024 * 1024);

    const out = await python(IMAP_LOGIN, [String(node.ports.imap), 'carol@example.test', 'carol-secret']);
    assert.match(out, /^OK OK 0/);
    // A mistake is shown as the API's sentence, naming the field.
    await page.getByLabel('New user address').fill('carol@example.test');
    await page.getByLabel('Password', { exact: true }).fill('again');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByRole('alert').filter({ hasText: /exists/ }).waitFor();
  });

  it('two admins edit one user: the second gets 412 and is told, then reloads and saves', async () => {
    const a = await adminPage('root@example.test');
    const b = await adminPage('ops@example.test');
    for (const p of [a, b]) {
      await show(p, 'users', 'Users');
      await p.getByRole('button', { name: 'Edit carol@example.test' }).click();
      await p.getByRole('heading', { name: 'Edit carol@example.test' }).waitFor();
    }
    await a.getByLabel('Quota in MiB (0 for unlimited)').first().fill('50');
    await a.getByRole('button', { name: 'Save changes' }).click();
    await a.getByText('Saved carol@example.test.').waitFor();

    await b.getByLabel('Customer id').fill('acct-7');
    await b.getByRole('button', { name: 'Save changes' }).click();
    const alert = b.getByRole('alert').filter({ hasText: 'someone else changed carol@example.test' });
    await alert.waitFor();
    let carol = await store.directory.getUser('carol@example.test');
    assert.equal(carol?.quotaBytes, 50 * 1024 * 1024, 'the first edit stands');
    assert.equal(carol?.customerId, '', 'the second, made over a stale read, was refused');

    await b.getByRole('button', { name: 'Reload carol@example.test' }).click();
    await b.waitForFunction(() => (document.activeElement?.textContent ?? '') === 'Edit carol@example.test');
    assert.equal(await b.getByLabel('Quota in MiB (0 for unlimited)').first().inputValue(), '50');
    await b.getByLabel('Customer id').fill('acct-7');
    await b.getByRole('button', { name: 'Save changes' }).click();
    await b.getByText('Saved carol@example.test.').waitFor();
    carol = await store.directory.getUser('carol@example.test');
    assert.equal(carol?.customerId, 'acct-7');
    assert.equal(carol?.quotaBytes, 50 * 1024 * 1024);
  });

  it('shows a change made by another admin without a reload (the event stream)', async () => {
    const a = await adminPage('root@example.test');
    const b = await adminPage('ops@example.test');
    await show(a, 'aliases', 'Aliases');
    await a.getByText('Live: changes made on any node show up here.').waitFor();
    await show(b, 'aliases', 'Aliases');
    await b.getByLabel('Alias address ("@domain" for the catch-all)').fill('info@example.test');
    await b.getByLabel('Targets (one per line)').fill('carol@example.test');
    await b.getByRole('button', { name: 'Add alias' }).click();
    await b.getByText('info@example.test added.').waitFor();
    await a.getByRole('button', { name: 'Edit info@example.test' }).waitFor();

    // Forwards: add one, keep copies, remove it.
    await show(a, 'forwards', 'Forwards');
    await a.getByLabel('User whose mail is forwarded').fill('carol@example.test');
    await a.getByLabel('Forward to').fill('carol@elsewhere.test');
    await a.getByRole('button', { name: 'Add forward' }).click();
    await a.getByRole('button', { name: 'Keep copies for carol@example.test to carol@elsewhere.test' }).click();
    await a.getByRole('button', { name: 'Stop keeping copies for carol@example.test to carol@elsewhere.test' }).waitFor();
    assert.equal((await store.directory.listForwards('example.test'))[0]?.keepCopy, true);
    await a.getByRole('button', { name: 'Remove forward of carol@example.test to carol@elsewhere.test' }).click();
    await a.getByText('No forwards.').waitFor();
  });

  it('shows the cluster map live: services, health, connections; drains and takes back a node', async () => {
    const page = await adminPage('root@example.test');
    await show(page, 'cluster', 'Cluster');
    const card = page.getByRole('region', { name: 'Node node-a' });
    await card.waitFor();
    await card.getByText('SIW', { exact: true }).waitFor();
    const imapConnections = () => page.evaluate(() => {
      const row = [...document.querySelectorAll('section.node tbody tr')].find((tr) => tr.querySelector('th')?.textContent === 'imap');
      return Number(row?.querySelectorAll('td')[2]?.textContent);
    });
    await page.waitForFunction(() => document.querySelector('section.node tbody tr') !== null);
    const before = await imapConnections();
    assert.ok(Number.isFinite(before), 'the map shows a connection count for imap');
    const client = new ImapFlow({ host: '127.0.0.1', port: node.ports.imap, secure: false, doSTARTTLS: false, auth: { user: 'carol@example.test', pass: 'carol-secret' }, logger: false, disableAutoIdle: true } as ConstructorParameters<typeof ImapFlow>[0]);
    client.on('error', () => undefined);
    await client.connect();
    try {
      // The heartbeat (1 s) carries the count; the map re-reads every 3 s.
      await page.waitForFunction((n) => {
        const row = [...document.querySelectorAll('section.node tbody tr')].find((tr) => tr.querySelector('th')?.textContent === 'imap');
        return Number(row?.querySelectorAll('td')[2]?.textContent) > n;
      }, before, { timeout: 10_000 });
    } finally {
      await client.logout().catch(() => undefined);
    }

    await page.getByRole('button', { name: 'Drain node-a' }).click();
    await page.getByText('node-a is draining: no new clients, open sessions go on.').waitFor();
    assert.equal((await store.cluster.get('node-a'))?.state, 'draining');
    await card.getByText('draining', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Undrain node-a' }).click();
    await page.getByText('node-a takes new clients again.').waitFor();
    assert.equal((await store.cluster.get('node-a'))?.state, 'up');
  });

  it('shows the queue with its depth, flushes it and deletes a message', async () => {
    const blob = await store.blobs.put(Buffer.from('Subject: q\r\n\r\nqueued\r\n'));
    const id = await store.queue.enqueue({ sender: 'root@example.test', blobId: blob.id, size: blob.size, recipients: ['far@remote.test', 'near@remote.test'], origin: 'test' });
    const page = await adminPage('root@example.test');
    await show(page, 'cluster', 'Cluster');
    await page.getByText('Queue depth: 1 message, 2 recipients waiting.').waitFor();
    await page.getByRole('link', { name: 'Open the queue' }).click();
    await page.getByRole('heading', { name: 'Queue', level: 1 }).waitFor();
    await page.getByRole('rowheader', { name: id }).waitFor();
    await page.getByRole('button', { name: 'Flush the whole queue' }).click();
    await page.getByText(/2 recipients are due now; the workers try them within a second\./).waitFor();
    await page.getByLabel('Recipient domain').fill('remote.test');
    await page.getByRole('button', { name: 'Flush this domain' }).click();
    await page.getByText(/due now for remote\.test/).waitFor();

    page.once('dialog', (d) => { void d.accept(); });
    await page.getByRole('button', { name: `Delete ${id}` }).click();
    await page.getByText(`${id} deleted from the queue.`).waitFor();
    await page.getByText('The queue is empty.').waitFor();
    assert.equal(await store.queue.get(id), null);
  });

  it('shows the DNS records to publish for a domain', async () => {
    await store.settings.set('dns.ns.addresses', '127.0.0.1');
    const page = await adminPage('root@example.test');
    await show(page, 'domains', 'Domains');
    await page.getByRole('link', { name: 'DNS records of other.test' }).click();
    await page.getByRole('heading', { name: 'Records to publish for other.test' }).waitFor();
    const zone = await page.getByLabel('Zone of other.test').textContent();
    assert.match(zone ?? '', /IN MX +\d+ /);
    await page.getByLabel('Domain', { exact: true }).selectOption('example.test');
    await page.getByRole('button', { name: 'Show records' }).click();
    await page.getByRole('heading', { name: 'Records to publish for example.test' }).waitFor();
  });

  it('over HTTPS, the sign-in and session cookies are Secure, HttpOnly and SameSite', async () => {
    // The node's own self-signed certificate: not what is being tested here.
    const fetchTls = (path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}) => new Promise<{ status: number; cookies: string[]; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: node.ports.https, path, method: opts.method ?? 'GET', headers: opts.headers, rejectUnauthorized: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, cookies: res.headers['set-cookie'] ?? [], body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      req.end(opts.body);
    });
    const form = await fetchTls('/admin');
    assert.equal(form.status, 200);
    const login = form.cookies.find((c) => c.startsWith('rookery_login='));
    assert.ok(login);
    assert.match(login, /; HttpOnly/);
    assert.match(login, /; SameSite=Lax/);
    assert.match(login, /; Secure/);
    const token = /^rookery_login=([^;]+)/.exec(login)![1]!;
    const signedIn = await fetchTls('/admin/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `rookery_login=${token}` },
      body: new URLSearchParams({ csrf: token, address: 'root@example.test', password: 'root-pw' }).toString(),
    });
    assert.equal(signedIn.status, 303);
    const session = signedIn.cookies.find((c) => c.startsWith('rookery_session='));
    assert.ok(session);
    for (const attribute of [/; HttpOnly/, /; SameSite=Lax/, /; Secure/]) assert.match(session, attribute);
  });

  it('gives a domain admin its own domain only, and turns a plain user away', async () => {
    const page = await newPage();
    await signIn(page, 'boss@other.test', 'boss-pw');
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Edit staff@other.test' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Edit carol@example.test' }).count(), 0);
    assert.equal(await page.getByRole('link', { name: 'Cluster' }).count(), 0);
    assert.equal(await page.getByRole('link', { name: 'Queue' }).count(), 0);
    // The API, not the page, is what refuses: another domain's user is 403 with this cookie.
    assert.equal((await page.request.get(`${base}/api/v1/users/carol@example.test`)).status(), 403);
    // Trying to create a user elsewhere shows the API's refusal.
    await page.getByLabel('New user address').fill('sneaky@example.test');
    await page.getByLabel('Password', { exact: true }).fill('x');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByRole('alert').filter({ hasText: 'does not administer example.test' }).waitFor();
    assert.equal(await store.directory.getUser('sneaky@example.test'), null);

    const plain = await newPage();
    await signIn(plain, 'plain@example.test', 'plain-pw');
    await plain.getByRole('heading', { name: 'Not an administrator' }).waitFor();
    assert.equal((await plain.request.get(`${base}/admin`)).status(), 403);
    await plain.getByRole('button', { name: 'Sign out' }).click();
    await plain.getByRole('button', { name: 'Sign in' }).waitFor();
  });

  it('works from the keyboard and at phone width', async () => {
    const page = await adminPage('root@example.test');
    await show(page, 'cluster', 'Cluster');
    await page.getByRole('link', { name: 'Users' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.activeElement?.tagName === 'H1' && document.activeElement.textContent === 'Users');
    // Tab into the form and type; Enter submits.
    await page.getByLabel('New user address').focus();
    await page.keyboard.type('dave@example.test');
    await page.keyboard.press('Tab');
    await page.keyboard.type('dave-pw');
    await page.keyboard.press('Enter');
    await page.getByText('dave@example.test created; it can sign in now.').waitFor();
    assert.ok(await store.directory.authenticate('dave@example.test', 'dave-pw'));

    await page.setViewportSize({ width: 360, height: 740 });
    for (const section of ['cluster', 'users', 'aliases', 'queue', 'dns']) {
      await page.goto(`${base}/admin#${section}`);
      await page.locator('main h1').waitFor();
      await page.waitForTimeout(200);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 360, `no sideways scrolling at 360 px on ${section} (page is ${width} px wide)`);
    }
  });
});
