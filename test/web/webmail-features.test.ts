/**
 * The webmail's working features in a real browser (Debian's chromium
 * driven by playwright-core), checked against what IMAP clients see:
 * search and sort of the list, remote images blocked until asked, reply
 * (In-Reply-To and References over IMAP), forward with the original's
 * attachment, compose with uploaded files, move, mark unread, new mail
 * appearing without a reload, reading with the keyboard alone, and the
 * pages at phone width. One node, mail delivered over SMTP by Python.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { run } from '../helpers/clients.js';
import { startTestNode, type TestNode } from '../helpers/test-node.js';
import { tempDir } from '../helpers/temp.js';
import { rm } from 'node:fs/promises';

const chromiumPath = '/usr/bin/chromium';

/** Sends each message of a JSON list [[from, to, body]] over SMTP in one session. */
const SEND_MANY = `
import json, smtplib, sys
port = int(sys.argv[1])
with smtplib.SMTP('127.0.0.1', port, local_hostname='client.test', timeout=20) as s:
    for sender, rcpt, body in json.load(sys.stdin):
        s.sendmail(sender, [rcpt], body.encode('utf-8'))
`;

function message(headers: string[], body: string[]): string {
  return [...headers, '', ...body, ''].join('\r\n');
}

const pixel = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');

async function smtpSend(port: number, messages: [string, string, string][]): Promise<void> {
  const res = await run('python3', ['-c', SEND_MANY, String(port)], { input: JSON.stringify(messages), timeoutMs: 20000 });
  if (res.code !== 0) throw new Error(`python3 exited ${res.code}: ${res.stderr}`);
}

async function imap(port: number, user: string, pass: string): Promise<ImapFlow> {
  const client = new ImapFlow({ host: '127.0.0.1', port, secure: false, doSTARTTLS: false, auth: { user, pass }, logger: false, disableAutoIdle: true } as ConstructorParameters<typeof ImapFlow>[0]);
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

async function withImap<T>(port: number, user: string, pass: string, fn: (c: ImapFlow) => Promise<T>): Promise<T> {
  const client = await imap(port, user, pass);
  try {
    return await fn(client);
  } finally {
    await client.logout().catch(() => undefined);
  }
}

async function download(client: ImapFlow, uid: number, part: string): Promise<Buffer> {
  const { content } = await client.download(String(uid), part, { uid: true });
  const chunks: Buffer[] = [];
  for await (const c of content!) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

interface Leaf { part?: string; type?: string; disposition?: string; dispositionParameters?: Record<string, string>; parameters?: Record<string, string>; childNodes?: Leaf[] }

/** The attachments of a BODYSTRUCTURE as [file name, part number]. */
function attachmentsOf(node: Leaf | undefined): [string, string][] {
  if (!node) return [];
  const own: [string, string][] = node.disposition === 'attachment' ? [[node.dispositionParameters?.filename ?? node.parameters?.name ?? '', node.part ?? '1']] : [];
  return [...own, ...(node.childNodes ?? []).flatMap(attachmentsOf)];
}

describe('webmail features in a browser', { timeout: 90_000 }, () => {
  let node: TestNode;
  let base: string;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  let images: Server;
  let imageHits = 0;
  let imageUrl = '';

  const subjects = () => page.locator('#message-list a.subject').allTextContents();
  const openInbox = () => page.goto(`${base}/mail?box=INBOX`);

  before(async () => {
    node = await startTestNode({ users: { 'alice@example.test': 'alice-pw', 'bob@example.test': 'bob-pw' } });
    base = `http://127.0.0.1:${node.ports.http}`;
    images = createServer((req, res) => {
      imageHits++;
      res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': pixel.length });
      res.end(pixel);
    });
    await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
    imageUrl = `http://127.0.0.1:${(images.address() as { port: number }).port}/pixel.png`;
    const alice = 'alice@example.test';
    await smtpSend(node.ports.smtp, [
      ['anna@elsewhere.test', alice, message(['From: Anna <anna@elsewhere.test>', `To: ${alice}`, 'Subject: Budget for March', 'Message-ID: <budget.1@elsewhere.test>'], ['Numbers attached soon.'])],
      ['carl@elsewhere.test', alice, message(['From: Carl <carl@elsewhere.test>', `To: ${alice}`, 'Subject: Agenda', 'Message-ID: <agenda.1@elsewhere.test>'],
        ['We saw a quokka sighting near the lake.', ...Array(60).fill('Padding line to make this the largest message in the folder.')])],
      ['bob@example.test', alice, message(['From: Bob <bob@example.test>', `To: ${alice}`, 'Cc: Carol <carol@elsewhere.test>', 'Subject: Lunch on Friday?',
        'Message-ID: <lunch.1@example.test>', 'References: <earlier.0@example.test>'], ['Shall we meet at noon?'])],
      ['dora@elsewhere.test', alice, message(['From: Dora <dora@elsewhere.test>', `To: ${alice}`, 'Subject: Report with notes', 'Message-ID: <report.1@elsewhere.test>',
        'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b1"'],
      ['--b1', 'Content-Type: text/plain; charset=utf-8', '', 'The report is attached.', '--b1', 'Content-Type: text/plain; name="notes.txt"',
        'Content-Disposition: attachment; filename="notes.txt"', 'Content-Transfer-Encoding: base64', '', Buffer.from('attached notes\n').toString('base64'), '--b1--'])],
      ['eve@elsewhere.test', alice, message(['From: Eve <eve@elsewhere.test>', `To: ${alice}`, 'Subject: Newsletter', 'Message-ID: <news.1@elsewhere.test>',
        'MIME-Version: 1.0', 'Content-Type: text/html; charset=utf-8'], [`<p>Our news.</p><img src="${imageUrl}" alt="logo" width="1" height="1" onerror="window.pwned=1">`])],
    ]);
    profile = await tempDir();
    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(10_000);
    await page.goto(`${base}/`);
    await page.getByLabel('Address').fill(alice);
    await page.getByLabel('Password').fill('alice-pw');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'INBOX (5 unread)' }).waitFor();
  });

  after(async () => {
    await context?.close().catch(() => undefined);
    await new Promise<void>((resolve) => (images ? images.close(() => resolve()) : resolve()));
    await node?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('lists newest first and sorts by subject, sender and size, both ways', async () => {
    assert.deepEqual(await subjects(), ['Newsletter', 'Report with notes', 'Lunch on Friday?', 'Agenda', 'Budget for March']);
    await page.getByRole('link', { name: 'Subject', exact: true }).click();
    await page.waitForURL(/sort=subject/);
    assert.deepEqual(await subjects(), ['Agenda', 'Budget for March', 'Lunch on Friday?', 'Newsletter', 'Report with notes']);
    assert.equal(await page.locator('th[aria-sort="ascending"]').textContent(), 'Subject ▲');
    await page.getByRole('link', { name: 'Subject', exact: true }).click();
    await page.waitForURL(/order=desc/);
    assert.deepEqual(await subjects(), ['Report with notes', 'Newsletter', 'Lunch on Friday?', 'Budget for March', 'Agenda']);
    await page.getByRole('link', { name: 'From', exact: true }).click();
    await page.waitForURL(/sort=from/);
    assert.deepEqual(await subjects(), ['Budget for March', 'Lunch on Friday?', 'Agenda', 'Report with notes', 'Newsletter']);
    await page.getByRole('link', { name: 'Size', exact: true }).click();
    await page.waitForURL(/sort=size/);
    assert.equal((await subjects())[0], 'Agenda', 'largest first');
    await page.getByRole('link', { name: 'Size', exact: true }).click();
    await page.waitForURL(/order=asc/);
    assert.equal((await subjects())[4], 'Agenda', 'largest last');
  });

  it('searches with the IMAP SEARCH evaluator: body text, a field, unread only', async () => {
    await openInbox();
    await page.getByLabel('Search', { exact: true }).fill('QUOKKA');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('1 message matches.').waitFor();
    assert.deepEqual(await subjects(), ['Agenda']);
    // The same words over IMAP find the same message.
    const uids = await withImap(node.ports.imap, 'alice@example.test', 'alice-pw', async (c) => {
      await c.mailboxOpen('INBOX');
      return c.search({ body: 'quokka' }, { uid: true });
    });
    assert.equal(uids && uids.length, 1);
    await page.getByLabel('Search', { exact: true }).fill('bob');
    await page.getByLabel('Search in').selectOption('from');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/in=from/);
    assert.deepEqual(await subjects(), ['Lunch on Friday?']);
    await page.getByLabel('Search', { exact: true }).fill('lunch friday');
    await page.getByLabel('Search in').selectOption('subject');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/q=lunch/);
    assert.deepEqual(await subjects(), ['Lunch on Friday?'], 'every word must match');
    await page.getByRole('link', { name: 'Clear search' }).click();
    assert.equal((await subjects()).length, 5);
  });

  it('blocks remote images until "Show images", then allows them on that page only', async () => {
    await openInbox();
    await page.getByRole('link', { name: 'Newsletter' }).click();
    await page.getByText('Our news.').waitFor();
    assert.match(await page.locator('article.message-body').innerHTML(), /\[image: logo\]/);
    const blockedCsp = (await page.request.get(page.url())).headers()['content-security-policy']!;
    assert.match(blockedCsp, /img-src 'self';/);
    assert.equal(imageHits, 0, 'nothing was fetched from the sender');
    await page.getByRole('link', { name: 'Show images' }).click();
    await page.getByRole('link', { name: 'Hide images' }).waitFor();
    await page.waitForFunction(() => { const img = document.querySelector('article.message-body img') as HTMLImageElement | null; return img !== null && img.complete && img.naturalWidth === 1; });
    assert.equal(imageHits, 1);
    assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined, 'no handler came along');
    const shownCsp = (await page.request.get(page.url())).headers()['content-security-policy']!;
    assert.match(shownCsp, /img-src 'self' https: http:;/);
    assert.match(shownCsp, /script-src 'self';/);
  });

  it('replies: quoted, threaded, arrives over IMAP with In-Reply-To and References; the original is answered', async () => {
    await openInbox();
    await page.getByRole('link', { name: 'Lunch on Friday?' }).click();
    // Only opening the compose form: a GET that changes nothing.
    await page.getByRole('link', { name: 'Reply', exact: true }).click();
    await page.getByRole('heading', { name: 'Reply' }).waitFor();
    assert.equal(await page.getByLabel('To').inputValue(), 'Bob <bob@example.test>');
    assert.equal(await page.getByLabel('Cc').inputValue(), '');
    assert.equal(await page.getByLabel('Subject').inputValue(), 'Re: Lunch on Friday?');
    const quoted = await page.getByLabel('Message').inputValue();
    assert.match(quoted, /Bob <bob@example\.test> wrote:\n> Shall we meet at noon\?/);
    await page.getByLabel('Message').fill(`Yes, noon works.${quoted}`);
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByText('Message sent.').waitFor();
    await withImap(node.ports.imap, 'bob@example.test', 'bob-pw', async (c) => {
      await c.mailboxOpen('INBOX');
      const msg = await c.fetchOne('*', { envelope: true, headers: ['in-reply-to', 'references'], source: true });
      assert.ok(msg);
      assert.equal(msg.envelope?.subject, 'Re: Lunch on Friday?');
      assert.equal(msg.envelope?.inReplyTo, '<lunch.1@example.test>');
      assert.match(msg.headers!.toString(), /References: <earlier\.0@example\.test>\s+<lunch\.1@example\.test>/);
      assert.match(msg.source!.toString(), /Yes, noon works\.\r\n\r\nOn .*wrote:\r\n> Shall we meet at noon\?/);
    });
    await withImap(node.ports.imap, 'alice@example.test', 'alice-pw', async (c) => {
      await c.mailboxOpen('INBOX');
      const [uid] = (await c.search({ header: { 'message-id': '<lunch.1@example.test>' } }, { uid: true })) || [];
      const msg = await c.fetchOne(String(uid), { flags: true }, { uid: true });
      assert.ok(msg && msg.flags?.has('\\Answered'), 'the original is answered, over IMAP too');
    });
  });

  it('replies to all without the user themself', async () => {
    await openInbox();
    await page.getByRole('link', { name: 'Lunch on Friday?' }).click();
    await page.getByRole('link', { name: 'Reply all' }).click();
    assert.equal(await page.getByLabel('To').inputValue(), 'Bob <bob@example.test>');
    assert.equal(await page.getByLabel('Cc').inputValue(), 'Carol <carol@elsewhere.test>');
  });

  it('forwards with the original attachment', async () => {
    await openInbox();
    await page.getByRole('link', { name: 'Report with notes' }).click();
    await page.getByRole('link', { name: 'Forward' }).click();
    assert.equal(await page.getByLabel('Subject').inputValue(), 'Fwd: Report with notes');
    assert.ok(await page.getByLabel('Include notes.txt').isChecked());
    assert.match(await page.getByLabel('Message').inputValue(), /Forwarded message[\s\S]*From: Dora <dora@elsewhere\.test>[\s\S]*The report is attached\./);
    const forwarded = () => withImap(node.ports.imap, 'alice@example.test', 'alice-pw', async (c) => {
      await c.mailboxOpen('INBOX');
      const [uid] = (await c.search({ subject: 'Report with notes' }, { uid: true })) || [];
      return (await c.fetchOne(String(uid), { flags: true }, { uid: true }) || null)?.flags?.has('$Forwarded');
    });
    assert.equal(await forwarded(), false, 'opening the form (a GET) changed nothing');
    await page.getByLabel('To').fill('bob@example.test');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByText('Message sent.').waitFor();
    assert.equal(await forwarded(), true, 'sending marked the original $Forwarded');
    await withImap(node.ports.imap, 'bob@example.test', 'bob-pw', async (c) => {
      await c.mailboxOpen('INBOX');
      const msg = await c.fetchOne('*', { envelope: true, bodyStructure: true, uid: true });
      assert.ok(msg);
      assert.equal(msg.envelope?.subject, 'Fwd: Report with notes');
      const found = attachmentsOf(msg.bodyStructure as Leaf);
      assert.deepEqual(found.map(([name]) => name), ['notes.txt']);
      assert.equal((await download(c, msg.uid, found[0]![1])).toString(), 'attached notes\n');
    });
  });

  it('sends uploaded attachments (multipart/form-data) that arrive over IMAP intact, and saves them to Sent', async () => {
    await page.getByRole('link', { name: 'Write' }).click();
    await page.getByLabel('To').fill('bob@example.test');
    await page.getByLabel('Subject').fill('With uploads');
    await page.getByLabel('Message').fill('Two files.');
    const binary = Buffer.from([0, 1, 2, 254, 255, 13, 10, 0]);
    await page.getByLabel('Attachments', { exact: true }).setInputFiles([
      { name: 'tiny.bin', mimeType: 'application/octet-stream', buffer: binary },
      { name: 'Grüße.txt', mimeType: 'text/plain', buffer: Buffer.from('Schöne Grüße\n') },
    ]);
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByText('Message sent.').waitFor();
    await withImap(node.ports.imap, 'bob@example.test', 'bob-pw', async (c) => {
      await c.mailboxOpen('INBOX');
      const msg = await c.fetchOne('*', { envelope: true, bodyStructure: true, uid: true });
      assert.ok(msg);
      assert.equal(msg.envelope?.subject, 'With uploads');
      const found = attachmentsOf(msg.bodyStructure as Leaf);
      assert.deepEqual(found.map(([name]) => name), ['tiny.bin', 'Grüße.txt']);
      assert.deepEqual(await download(c, msg.uid, found[0]![1]), binary);
      assert.equal((await download(c, msg.uid, found[1]![1])).toString('utf8'), 'Schöne Grüße\n');
    });
    await page.getByRole('link', { name: 'Sent' }).click();
    await page.getByRole('link', { name: 'With uploads' }).click();
    await page.getByRole('link', { name: 'Grüße.txt' }).waitFor();
  });

  it('refuses state changes without the CSRF token, multipart included', async () => {
    for (const path of ['/move', '/seen', '/flag', '/delete']) {
      const res = await page.request.post(`${base}${path}`, { form: { box: 'INBOX', uid: '1', to: 'Trash', seen: '0' } });
      assert.equal(res.status(), 403, path);
    }
    const res = await page.request.post(`${base}/compose`, { multipart: { to: 'bob@example.test', subject: 'forged', body: 'x' } });
    assert.equal(res.status(), 403);
    const anonymous = await fetch(`${base}/mail/events`);
    assert.equal(anonymous.status, 401, 'the live stream needs a session');
    await anonymous.body?.cancel();
    const forged = await page.request.post(`${base}/compose`, { multipart: { to: 'bob@example.test', subject: 'forged', body: 'x', csrf: 'nope' }, headers: { origin: 'http://evil.example' } });
    assert.equal(forged.status(), 403);
  });

  it('marks a message unread, as IMAP sees it', async () => {
    await openInbox();
    await page.getByRole('link', { name: 'Budget for March' }).click();
    await page.getByRole('button', { name: 'Mark unread' }).click();
    await page.getByRole('heading', { name: 'INBOX' }).waitFor();
    await page.locator('tr.unread', { hasText: 'Budget for March' }).waitFor();
    await withImap(node.ports.imap, 'alice@example.test', 'alice-pw', async (c) => {
      await c.mailboxOpen('INBOX');
      const [uid] = (await c.search({ subject: 'Budget for March' }, { uid: true })) || [];
      const msg = await c.fetchOne(String(uid), { flags: true }, { uid: true });
      assert.ok(msg && !msg.flags?.has('\\Seen'));
    });
  });

  it('moves a message to a folder made over IMAP, and IMAP sees it there', async () => {
    await withImap(node.ports.imap, 'alice@example.test', 'alice-pw', (c) => c.mailboxCreate('Archive'));
    await openInbox();
    await page.getByRole('link', { name: 'Agenda' }).click();
    await page.getByLabel('Move to').selectOption('Archive');
    await page.getByRole('button', { name: 'Move' }).click();
    await page.getByText('Moved to Archive.').waitFor();
    assert.ok(!(await subjects()).includes('Agenda'));
    await withImap(node.ports.imap, 'alice@example.test', 'alice-pw', async (c) => {
      const status = await c.status('Archive', { messages: true });
      assert.equal(status && status.messages, 1);
      await c.mailboxOpen('Archive');
      const msg = await c.fetchOne('*', { envelope: true });
      assert.equal(msg && msg.envelope?.subject, 'Agenda');
    });
  });

  it('shows new mail delivered over SMTP in an open page without a reload', async () => {
    await openInbox();
    await page.evaluate(() => { (window as unknown as { stillHere: boolean }).stillHere = true; });
    const before = await page.locator('nav.folders a', { hasText: 'INBOX' }).textContent();
    await page.locator('body[data-live="on"]').waitFor({ state: 'attached' });
    await smtpSend(node.ports.smtp, [['zoe@elsewhere.test', 'alice@example.test', message(['From: Zoe <zoe@elsewhere.test>', 'To: alice@example.test', 'Subject: Fresh arrival'], ['Hot off the wire.'])]]);
    await page.getByRole('link', { name: 'Fresh arrival' }).waitFor();
    assert.equal(await page.evaluate(() => (window as unknown as { stillHere?: boolean }).stillHere), true, 'the page was not reloaded');
    const after = await page.locator('nav.folders a', { hasText: 'INBOX' }).textContent();
    assert.notEqual(after, before, `the unread count changed (${before} -> ${after})`);
    // A flag set over IMAP shows too.
    await withImap(node.ports.imap, 'alice@example.test', 'alice-pw', async (c) => {
      await c.mailboxOpen('INBOX');
      await c.messageFlagsAdd({ subject: 'Fresh arrival' }, ['\\Flagged']);
    });
    await page.locator('tr', { hasText: 'Fresh arrival' }).getByText('★ Flagged').waitFor();
    assert.equal(await page.evaluate(() => (window as unknown as { stillHere?: boolean }).stillHere), true);
  });

  it('reads mail with the keyboard alone', async () => {
    await openInbox();
    await page.keyboard.press('j');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Fresh arrival');
    await page.keyboard.press('j');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('k');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Newsletter');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Newsletter' }).waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('heading', { name: 'INBOX' }).waitFor();
    // "/" goes to the search field; typing and Enter search.
    await page.keyboard.press('/');
    await page.keyboard.type('quokka');
    await page.keyboard.press('Enter');
    await page.getByText('No messages.').waitFor();
    // Plain Tab order: the first stop is the skip link, which leads to the content.
    await openInbox();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to the content');
    const stops: string[] = [];
    for (let i = 0; i < 40 && !stops.includes('Fresh arrival'); i++) {
      await page.keyboard.press('Tab');
      stops.push(await page.evaluate(() => (document.activeElement?.textContent ?? '').trim()));
    }
    assert.ok(stops.includes('Fresh arrival'), `Tab reaches the messages (${stops.join(' | ')})`);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Fresh arrival' }).waitFor();
  });

  it('links to the settings from the top bar', async () => {
    await openInbox();
    const href = await page.getByRole('link', { name: 'Settings' }).getAttribute('href');
    assert.equal(href, '/settings');
    assert.equal((await page.request.get(`${base}${href}`)).status(), 200, 'the self-care pages answer there');
  });

  it('works without the script: search, sort, read, mark unread', async () => {
    await context.route('**/assets/webmail.js', (route) => route.abort());
    try {
      await openInbox();
      assert.equal(await page.locator('body').getAttribute('data-live'), null, 'the script did not run');
      await page.getByLabel('Search', { exact: true }).fill('noon');
      await page.getByLabel('Search', { exact: true }).press('Enter');
      await page.getByText('1 message matches.').waitFor();
      await page.getByRole('link', { name: 'Received' }).click();
      await page.waitForURL(/order=asc/);
      await page.getByRole('link', { name: 'Lunch on Friday?' }).click();
      await page.getByRole('button', { name: 'Mark unread' }).click();
      await page.locator('tr.unread', { hasText: 'Lunch on Friday?' }).waitFor();
    } finally {
      await context.unroute('**/assets/webmail.js');
    }
  });

  it('allows a few live streams per session and ends them when the session ends', async () => {
    const login = await fetch(`${base}/`);
    const token = /name="csrf" value="([^"]+)"/.exec(await login.text())![1]!;
    const signIn = await fetch(`${base}/login`, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `rookery_login=${token}` },
      body: `csrf=${token}&address=alice%40example.test&password=alice-pw`,
    });
    const sessionText = /rookery_session=([^;]+)/.exec(signIn.headers.get('set-cookie') ?? '')![1]!;
    const cookie = `rookery_session=${sessionText}`;
    const streams: Response[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${base}/mail/events`, { headers: { cookie } });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
      streams.push(res);
    }
    const fifth = await fetch(`${base}/mail/events`, { headers: { cookie } });
    assert.equal(fifth.status, 503, 'a fifth tab works without live updates');
    await fifth.body?.cancel();
    const { csrfFor } = await import('../../src/web/webmail/session.js');
    const out = await fetch(`${base}/logout`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${csrfFor(sessionText)}` });
    assert.equal(out.status, 303);
    // The next change of the user's mail finds the session gone and ends its streams.
    await smtpSend(node.ports.smtp, [['zoe@elsewhere.test', 'alice@example.test', message(['From: zoe@elsewhere.test', 'Subject: After sign-out'], ['x'])]]);
    const ended = streams.map(async (res) => {
      let text = '';
      for await (const chunk of res.body!) text += Buffer.from(chunk).toString();
      return text;
    });
    const texts = await Promise.race([Promise.all(ended), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the streams did not end')), 10_000))]);
    for (const t of texts) assert.doesNotMatch(t, /event: mailbox/, 'nothing sent after the session ended');
  });

  it('fits a phone (375 px): nothing overflows sideways and the controls are on screen', async () => {
    await page.setViewportSize({ width: 375, height: 740 });
    try {
      const check = async (what: string, controls: ReturnType<Page['getByRole']>[]) => {
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(width <= 375, `${what}: no sideways scrolling (page is ${width} px wide)`);
        for (const c of controls) {
          const box = await c.boundingBox();
          assert.ok(box && box.x >= 0 && box.x + box.width <= 375, `${what}: a control is on screen (${JSON.stringify(box)})`);
        }
      };
      await openInbox();
      await check('list', [page.getByRole('button', { name: 'Search' }), page.getByRole('link', { name: 'Report with notes' }), page.getByRole('link', { name: 'Settings' })]);
      await page.getByRole('link', { name: 'Report with notes' }).click();
      await check('message', [page.getByRole('link', { name: 'Reply', exact: true }), page.getByRole('button', { name: 'Move' }), page.getByRole('button', { name: 'Delete' })]);
      await page.getByRole('link', { name: 'Write' }).click();
      await check('compose', [page.getByRole('button', { name: 'Send' })]);
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });
});
