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
