/** The webmail's HTML sanitiser: what hostile mail tries, and what normal mail keeps. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sanitizeHtml } from '../../src/web/webmail/sanitize.js';
import { buildMessage, recipientsOf } from '../../src/web/webmail/send.js';

describe('webmail HTML sanitiser', () => {
  it('drops scripts, styles and frames with their content', () => {
    const out = sanitizeHtml('<p>a</p><script>alert(1)</script><style>body{background:url(http://x)}</style><iframe src="http://x">y</iframe><p>b</p>');
    assert.equal(out, '<p>a</p><p>b</p>');
  });

  it('drops event handlers, style and unknown attributes', () => {
    const out = sanitizeHtml('<div onclick="x()" style="background:url(http://t)" class="c" title="t" onmouseover=y()>hi</div>');
    assert.equal(out, '<div title="t">hi</div>');
  });

  it('keeps only http, https and mailto links, however the scheme is disguised', () => {
    assert.match(sanitizeHtml('<a href="https://example.org/?a=1&amp;b=2">x</a>'), /href="https:\/\/example\.org\/\?a=1&amp;b=2"/);
    for (const bad of ['javascript:alert(1)', 'java\tscript:alert(1)', '&#106;avascript:alert(1)', 'data:text/html,<script>', ' vbscript:x']) {
      assert.doesNotMatch(sanitizeHtml(`<a href="${bad}">x</a>`), /href/, bad);
    }
  });

  it('replaces images by their alternative text instead of loading them', () => {
    assert.equal(sanitizeHtml('<img src="http://tracker.invalid/p.gif" alt="logo">'), '<span class="blocked-image">[image: logo]</span>');
  });

  it('balances tags so mail cannot close the page around it', () => {
    assert.equal(sanitizeHtml('</div></main><b>x'), '<b>x</b>');
    assert.equal(sanitizeHtml('<div><b>x</div>'), '<div><b>x</b></div>');
  });

  it('escapes text and attribute values', () => {
    assert.equal(sanitizeHtml('a &lt;b&gt; "c" <span title="&quot;><script>">d</span>'), 'a &lt;b&gt; &quot;c&quot; <span title="&quot;&gt;&lt;script&gt;">d</span>');
  });

  it('takes linear time on tags that never close', () => {
    for (const hostile of ['<a'.repeat(200_000), '<img'.repeat(100_000), '<a "'.repeat(100_000), `<a title='${'<b '.repeat(100_000)}`]) {
      const started = performance.now();
      sanitizeHtml(hostile, { images: true });
      const ms = performance.now() - started;
      assert.ok(ms < 1000, `${hostile.slice(0, 8)}... took ${ms.toFixed(0)} ms`);
    }
  });

  it('drops a tag left open at the end, as a browser does', () => {
    assert.equal(sanitizeHtml('<p>ok</p><a title="x>never closed'), '<p>ok</p>');
  });

  it('drops comments and unterminated scripts', () => {
    assert.equal(sanitizeHtml('x<!-- <script>alert(1)</script> -->y<script>z'), 'xy');
  });
});

describe('webmail message building', () => {
  it('reads recipients and encodes a non-ASCII subject and body', () => {
    assert.deepEqual(recipientsOf('Bob <bob@example.test>, carol@elsewhere.test'), ['bob@example.test', 'carol@elsewhere.test']);
    const text = buildMessage('alice@example.test', ['bob@example.test'], [], { to: '', cc: '', subject: 'Grüße', body: 'Schöne Grüße\n' }, 'mx.example.test').toString('utf8');
    assert.match(text, /^Subject: =\?UTF-8\?B\?R3LDvMOfZQ==\?=\r$/m);
    assert.match(text, /Content-Transfer-Encoding: base64\r\n/);
    assert.match(text, /^From: alice@example\.test\r$/m);
    assert.doesNotMatch(text, /[^\r]\n/);
  });
});

describe('webmail cookies', () => {
  it('are HttpOnly and SameSite=Lax, and Secure under HTTPS', async () => {
    const { cookieHeader } = await import('../../src/web/webmail/session.js');
    assert.equal(cookieHeader('rookery_session', 'v', { secure: false }), 'rookery_session=v; Path=/; HttpOnly; SameSite=Lax');
    assert.equal(cookieHeader('rookery_session', 'v', { secure: true, maxAgeS: 60 }), 'rookery_session=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure');
  });
});

describe('webmail remote images', () => {
  it('are blocked by default and shown only when asked, without handlers or other schemes', async () => {
    const { sanitizeMailHtml } = await import('../../src/web/webmail/sanitize.js');
    const html = '<img src="https://img.example/a.png" alt="a" width="10" onerror="x()"><img src="javascript:alert(1)" alt="b"><img src="cid:part1" alt="c">';
    assert.equal(sanitizeMailHtml(html).remoteImages, true);
    assert.equal(sanitizeMailHtml('<img src="cid:x">').remoteImages, false);
    assert.equal(sanitizeHtml(html), '<span class="blocked-image">[image: a]</span><span class="blocked-image">[image: b]</span><span class="blocked-image">[image: c]</span>');
    assert.equal(sanitizeHtml(html, { images: true }),
      '<img src="https://img.example/a.png" alt="a" width="10" referrerpolicy="no-referrer" loading="lazy"><span class="blocked-image">[image: b]</span><span class="blocked-image">[image: c]</span>');
    assert.doesNotMatch(sanitizeHtml('<img src="https://x/&quot; onload=&quot;y()" alt=z>', { images: true }), /"\s*onload=/);
  });
});

describe('webmail messages with attachments and thread fields', () => {
  it('builds multipart/mixed with base64 parts, RFC 2231 names and In-Reply-To/References', async () => {
    const { indexMessage } = await import('../../src/mail/mime/index.js');
    const data = Buffer.from([0, 1, 2, 255]);
    const bytes = buildMessage('alice@example.test', ['bob@example.test'], [], {
      to: '', cc: '', subject: 'Re: files', body: 'See attached.\n',
      attachments: [{ fileName: 'Grüße "x".bin', mediaType: 'application/octet-stream', data }, { fileName: 'a.txt', mediaType: 'text/plain; evil=1', data: Buffer.from('hi') }],
      inReplyTo: '<orig.1@example.test>', references: ['<root.0@example.test>', 'not-an-id', '<orig.1@example.test>'],
    }, 'mx.example.test');
    const text = bytes.toString('latin1');
    assert.match(text, /^In-Reply-To: <orig\.1@example\.test>\r$/m);
    assert.match(text, /^References: <root\.0@example\.test>\r\n <orig\.1@example\.test>\r$/m);
    assert.doesNotMatch(text, /not-an-id|evil/);
    assert.doesNotMatch(text, /[^\r]\n/);
    const index = indexMessage(bytes);
    assert.equal(index.anomalies.length, 0);
    const parts = index.root.parts!;
    assert.equal(index.root.mediaType, 'multipart/mixed');
    assert.deepEqual(parts.map((p) => [p.mediaType, p.fileName ?? null]), [['text/plain', null], ['application/octet-stream', 'Grüße "x".bin'], ['application/octet-stream', 'a.txt']]);
    const { partBytes } = await import('../../src/web/webmail/message-view.js');
    assert.deepEqual(partBytes(bytes, parts[1]!), data);
  });

  it('drops thread fields that are not message ids', () => {
    const text = buildMessage('a@example.test', ['b@example.test'], [], { to: '', cc: '', subject: 's', body: 'b', inReplyTo: '<x@y>\r\nBcc: evil@example.test', references: ['<a b@c>'] }, 'mx.example.test').toString();
    assert.doesNotMatch(text, /In-Reply-To|References|evil/);
  });
});

describe('webmail reply, reply to all and forward', () => {
  it('quotes, prefixes the subject once, leaves the user out of reply-all, and threads', async () => {
    const { indexMessage } = await import('../../src/mail/mime/index.js');
    const { composeSeed, threadOf } = await import('../../src/web/webmail/reply.js');
    const original = Buffer.from([
      'From: Bob <bob@example.test>', 'To: Alice <ALICE@example.test>, dave@example.test', 'Cc: carol@elsewhere.test, bob@example.test',
      'Subject: Re: plans', 'Message-ID: <m2@example.test>', 'References: <m0@example.test> <m1@example.test>', '', 'line one', '> older', '',
    ].join('\r\n'));
    const index = indexMessage(original);
    const reply = composeSeed('reply', index, 'line one\n> older', 'alice@example.test', 'then');
    assert.deepEqual([reply.to, reply.cc, reply.subject], ['Bob <bob@example.test>', '', 'Re: plans']);
    assert.equal(reply.body, '\n\nOn then, Bob <bob@example.test> wrote:\n> line one\n>> older\n');
    const all = composeSeed('reply-all', index, '', 'alice@example.test', 'then');
    assert.deepEqual([all.to, all.cc], ['Bob <bob@example.test>', 'dave@example.test, carol@elsewhere.test']);
    const fwd = composeSeed('forward', index, 'line one', 'alice@example.test', 'then');
    assert.equal(fwd.subject, 'Fwd: Re: plans');
    assert.match(fwd.body, /---------- Forwarded message ----------\nFrom: Bob <bob@example\.test>\nDate: then\nSubject: Re: plans/);
    assert.deepEqual(threadOf(original, index), { inReplyTo: '<m2@example.test>', references: ['<m0@example.test>', '<m1@example.test>', '<m2@example.test>'] });
  });
});

describe('webmail list queries', () => {
  it('read sort and search from the URL, with defaults, and build IMAP SEARCH criteria', async () => {
    const { criteriaOf, listParams, readListQuery, searchWords } = await import('../../src/web/webmail/list-query.js');
    const q = readListQuery(new URLSearchParams('sort=bogus&in=nowhere&page=-3'));
    assert.deepEqual([q.sort, q.descending, q.field, q.page], ['date', true, 'all', 1]);
    assert.equal(criteriaOf(q), null);
    const s = readListQuery(new URLSearchParams('sort=subject&q=hello "big world"&in=subject&unread=1'));
    assert.equal(s.descending, false, 'subjects A to Z by default');
    assert.deepEqual(searchWords(s.q), ['hello', 'big world']);
    assert.deepEqual(criteriaOf(s), { key: 'AND', operands: [{ key: 'SUBJECT', value: 'hello' }, { key: 'SUBJECT', value: 'big world' }, { key: 'UNSEEN' }] });
    assert.equal(listParams(s, { descending: true }).toString(), 'q=hello+%22big+world%22&in=subject&unread=1&sort=subject&order=desc');
  });
});
