/**
 * The signed-in user's mail through the API: /api/v1/mailboxes with unread
 * counts, and pages of /api/v1/mailboxes/{name}/messages in each order,
 * with bearer, Basic (curl) and session-cookie credentials; nobody reads
 * another user's mail, and a token of no user has none.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { createSession } from '../../src/web/webmail/session.js';
import { run } from '../helpers/clients.js';
import { call, startApiNode, type ApiNode } from './helpers.js';

const COUNT = 23;

function message(i: number): Buffer {
  const from = i % 2 === 0 ? `"Zoë ${String.fromCharCode(65 + (i % 26))}" <z${i}@example.net>` : `a${i}@example.net`;
  // Subject i has an encoded word when i is 7, to see it decoded.
  const subject = i === 7 ? '=?UTF-8?B?w6l0w6k=?=' : `Message ${String(i).padStart(2, '0')}`;
  return Buffer.from(`From: ${from}\r\nTo: me@example.test\r\nSubject: ${subject}\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nBody ${i}\r\n`);
}

describe('the mail API', () => {
  let n: ApiNode;
  before(async () => {
    n = await startApiNode();
    const me = (await n.store.directory.getUser('me@example.test'))!;
    await n.store.mail.createMailbox(me.id, 'Lists/Rust');
    for (let i = 0; i < COUNT; i++) {
      const bytes = message(i);
      const blob = await n.store.blobs.put(bytes);
      await n.store.mail.deliver({
        blobId: blob.id, size: blob.size, internalDate: new Date(Date.UTC(2024, 0, 1) + ((i * 7) % COUNT) * 60_000), onOverQuota: 'fail',
        targets: [{ userId: me.id, flags: i % 3 === 0 ? ['\\Seen'] : [] }],
      });
    }
    const blob = await n.store.blobs.put(message(99));
    await n.store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), onOverQuota: 'fail', targets: [{ userId: me.id, mailboxName: 'Lists/Rust' }] });
  });
  after(async () => n.close());

  it('lists your mailboxes with message and unread counts, INBOX first', async () => {
    const r = await call(n.base, 'GET', '/api/v1/mailboxes', { token: n.tokens.user });
    assert.equal(r.status, 200);
    const inbox = r.body.mailboxes[0];
    assert.equal(inbox.name, 'INBOX');
    assert.equal(inbox.messages, COUNT);
    assert.equal(inbox.unread, COUNT - Math.ceil(COUNT / 3));
    const rust = r.body.mailboxes.find((b: { name: string }) => b.name === 'Lists/Rust');
    assert.deepEqual([rust.messages, rust.unread], [1, 1]);
    assert.ok(r.body.mailboxes.some((b: { specialUse: string | null }) => b.specialUse === '\\Sent'));
  });

  it('answers pages in every order with uid, flags, date, from, subject and size', async () => {
    const first = await call(n.base, 'GET', '/api/v1/mailboxes/INBOX/messages?pageSize=10', { token: n.tokens.user });
    assert.equal(first.status, 200);
    assert.deepEqual([first.body.total, first.body.page, first.body.pages, first.body.sort, first.body.messages.length], [COUNT, 1, 3, '-date', 10]);
    const dates = first.body.messages.map((m: { date: string }) => Date.parse(m.date));
    assert.deepEqual(dates, [...dates].sort((a, b) => b - a), 'newest first by default');
    const m7 = (await call(n.base, 'GET', '/api/v1/mailboxes/INBOX/messages?sort=uid&pageSize=100', { token: n.tokens.user })).body.messages[7];
    assert.equal(m7.uid, 8);
    assert.equal(m7.subject, 'été', 'encoded words decoded');
    assert.deepEqual(m7.from, [{ name: '', address: 'a7@example.net' }]);
    assert.equal(m7.size, message(7).length);
    const m0 = (await call(n.base, 'GET', '/api/v1/mailboxes/INBOX/messages?sort=uid&pageSize=1', { token: n.tokens.user })).body.messages[0];
    assert.deepEqual(m0.flags, ['\\Seen']);
    assert.deepEqual(m0.from, [{ name: 'Zoë A', address: 'z0@example.net' }]);

    const last = await call(n.base, 'GET', '/api/v1/mailboxes/INBOX/messages?pageSize=10&page=3&sort=-uid', { token: n.tokens.user });
    assert.deepEqual(last.body.messages.map((m: { uid: number }) => m.uid), [3, 2, 1]);
    const past = await call(n.base, 'GET', '/api/v1/mailboxes/INBOX/messages?page=9', { token: n.tokens.user });
    assert.deepEqual(past.body.messages, []);
    const bySize = (await call(n.base, 'GET', '/api/v1/mailboxes/INBOX/messages?sort=-size&pageSize=100', { token: n.tokens.user })).body.messages.map((m: { size: number }) => m.size);
    assert.deepEqual(bySize, [...bySize].sort((a, b) => b - a));
    const bySubject = (await call(n.base, 'GET', '/api/v1/mailboxes/INBOX/messages?sort=subject&pageSize=3', { token: n.tokens.user })).body.messages.map((m: { subject: string }) => m.subject);
    assert.deepEqual(bySubject, ['été', 'Message 00', 'Message 01'], 'by subject, accents and case aside');
    const byFrom = (await call(n.base, 'GET', '/api/v1/mailboxes/INBOX/messages?sort=-from&pageSize=1', { token: n.tokens.user })).body.messages[0];
    assert.match(byFrom.from[0].name, /^Zoë /);

    const nested = await call(n.base, 'GET', '/api/v1/mailboxes/Lists%2FRust/messages', { token: n.tokens.user });
    assert.equal(nested.status, 200);
    assert.equal(nested.body.messages[0].subject, 'Message 99');
  });

  it('refuses bad parameters, unknown mailboxes, and principals with no mail', async () => {
    for (const q of ['pageSize=0', 'pageSize=501', 'page=0', 'sort=flags', 'pageSize=ten', 'colour=red']) {
      const r = await call(n.base, 'GET', `/api/v1/mailboxes/INBOX/messages?${q}`, { token: n.tokens.user });
      assert.equal(r.status, 400, q);
      assert.equal(r.body.error.code, 'bad-request');
    }
    const missing = await call(n.base, 'GET', '/api/v1/mailboxes/Nope/messages', { token: n.tokens.user });
    assert.equal(missing.status, 404);
    const admin = await call(n.base, 'GET', '/api/v1/mailboxes', { token: n.tokens.admin });
    assert.equal(admin.status, 403, 'an admin token is nobody\'s and has no mail');
    assert.equal((await call(n.base, 'GET', '/api/v1/mailboxes')).status, 401);
    // Another user sees its own (empty) INBOX, not mine.
    const you = await run('curl', ['-s', '-u', 'you@example.test:secret2', `${n.base}/api/v1/mailboxes/INBOX/messages`]);
    assert.equal(JSON.parse(you.stdout).total, 0);
  });

  it('takes the webmail session cookie (a GET needs no CSRF header)', async () => {
    const me = (await n.store.directory.getUser('me@example.test'))!;
    const text = await createSession(n.store, me);
    const r = await call(n.base, 'GET', '/api/v1/mailboxes', { headers: { cookie: `rookery_session=${text}` } });
    assert.equal(r.status, 200);
    assert.equal(r.body.mailboxes[0].messages, COUNT);
  });

  it('shows changes made since the last listing (flags, expunges, new mail)', async () => {
    const list = async () => (await call(n.base, 'GET', '/api/v1/mailboxes/INBOX/messages?sort=uid&pageSize=100', { token: n.tokens.user })).body;
    const before = await list();
    assert.deepEqual(before.messages[1].flags, []);
    const me = (await n.store.directory.getUser('me@example.test'))!;
    const inbox = (await n.store.mail.getMailbox(me.id, 'INBOX'))!;
    await n.store.mail.updateFlags(inbox.id, [before.messages[1].uid], { operation: 'add', flags: ['\\Flagged'] });
    assert.deepEqual((await list()).messages[1].flags, ['\\Flagged']);
    await n.store.mail.expunge(inbox.id, [before.messages[2].uid]);
    const blob = await n.store.blobs.put(message(50));
    await n.store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(), onOverQuota: 'fail', targets: [{ userId: me.id }] });
    const after = await list();
    assert.equal(after.total, COUNT);
    assert.ok(!after.messages.some((m: { uid: number }) => m.uid === before.messages[2].uid));
    assert.equal(after.messages.at(-1).subject, 'Message 50');
    await n.store.mail.expunge(inbox.id, [after.messages.at(-1).uid]);
    await n.store.mail.updateFlags(inbox.id, [before.messages[1].uid], { operation: 'remove', flags: ['\\Flagged'] });
  });
});
