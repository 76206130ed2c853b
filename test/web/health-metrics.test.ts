/** /healthz (200 while the store answers, 503 when it does not) and /metrics in the Prometheus text format. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { python } from '../helpers/clients.js';
import { call, startApiNode, type ApiNode } from './helpers.js';

let n: ApiNode;
before(async () => {
  n = await startApiNode();
});
after(async () => {
  await n.close();
});

test('/healthz answers 200 with the node\'s state', async () => {
  const r = await call(n.base, 'GET', '/healthz');
  assert.equal(r.status, 200);
  assert.equal(r.body.status, 'ok');
  assert.equal(r.body.node, 'test-node');
  assert.equal(r.body.state, 'up');
  assert.equal(r.body.store.reachable, true);
  assert.equal(typeof r.body.store.latencyMs, 'number');
});

/** Parses the text exposition format strictly enough to catch a malformed line. */
function parseProm(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      if (meta[1] === 'TYPE') {
        assert.match(meta[3]!, /^(counter|gauge|histogram|summary|untyped)$/);
        types.set(meta[2]!, meta[3]!);
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    const family = m[1]!.replace(/_(bucket|sum|count)$/, '');
    assert.ok(types.has(m[1]!) || types.has(family), `${m[1]} has a TYPE`);
    samples.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return samples;
}

test('/metrics is Prometheus text with HTTP, auth, store and queue figures', async () => {
  await call(n.base, 'GET', '/api/v1/users', { token: n.tokens.admin });
  await call(n.base, 'GET', '/api/v1/users', { token: 'rookery_000000000000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
  const res = await fetch(`${n.base}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const samples = parseProm(await res.text());
  assert.ok((samples.get('rookery_http_requests_total{method="GET",route="/api/v1/users",status="200"}') ?? 0) >= 1);
  assert.ok((samples.get('rookery_http_requests_total{method="GET",route="/api/v1/users",status="401"}') ?? 0) >= 1);
  assert.ok((samples.get('rookery_auth_failures_total{protocol="http"}') ?? 0) >= 1);
  assert.ok((samples.get('rookery_connections_total{protocol="http"}') ?? 0) >= 1);
  assert.equal(samples.get('rookery_store_up'), 1);
  assert.ok((samples.get('rookery_store_probe_seconds') ?? -1) >= 0);
  assert.equal(samples.get('rookery_queue_messages'), 0);
  assert.equal(samples.get('rookery_directory_entries{kind="user"}'), 3);
  assert.equal(samples.get('rookery_cluster_members{role="node",state="up"}'), 1);
  assert.ok((samples.get('rookery_store_call_seconds_count{interface="directory",method="listUsers"}') ?? 0) >= 1);
  assert.ok(samples.has('rookery_http_request_seconds_bucket{route="/api/v1/users",le="+Inf"}'));
});

// Python's smtplib delivers a message, then poplib and imaplib sign in and,
// while their sessions are open, the scrape must show them.
const MAIL_CLIENTS = `
import imaplib, poplib, smtplib, sys, urllib.request
smtp, pop3, imap, http = (int(p) for p in sys.argv[1:5])
with smtplib.SMTP('127.0.0.1', smtp, timeout=20) as s:
    s.sendmail('a@elsewhere.test', ['me@example.test'], b'Subject: metrics\\r\\n\\r\\nhi\\r\\n')
p = poplib.POP3('127.0.0.1', pop3, timeout=20)
p.user('me@example.test'); p.pass_('secret')
i = imaplib.IMAP4('127.0.0.1', imap); i.login('you@example.test', 'secret2')
print(urllib.request.urlopen(f'http://127.0.0.1:{http}/metrics').read().decode())
p.quit()
i.logout()
`;

test('/metrics counts connections, sessions, deliveries and store calls of the mail protocols', async () => {
  const during = parseProm(await python(MAIL_CLIENTS, [String(n.ports.smtp), String(n.ports.pop3), String(n.ports.imap), String(n.ports.http)]));
  assert.equal(during.get('rookery_sessions_open{protocol="pop3"}'), 1, 'the signed-in POP3 session');
  assert.equal(during.get('rookery_sessions_open{protocol="imap"}'), 1, 'the signed-in IMAP session');
  assert.ok((during.get('rookery_connections_total{protocol="smtp"}') ?? 0) >= 1);
  assert.ok((during.get('rookery_deliveries_total{path="local",result="delivered"}') ?? 0) >= 1);
  assert.ok((during.get('rookery_store_call_seconds_count{interface="mail",method="deliver"}') ?? 0) >= 1);
  // The server notices the clients' goodbyes a moment after they have left.
  let after = new Map<string, number>();
  for (let i = 0; i < 40; i++) {
    after = parseProm(await (await fetch(`${n.base}/metrics`)).text());
    if (after.get('rookery_sessions_open{protocol="imap"}') === 0 && after.get('rookery_sessions_open{protocol="pop3"}') === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(after.get('rookery_sessions_open{protocol="pop3"}'), 0, 'the POP3 session ended');
  assert.equal(after.get('rookery_sessions_open{protocol="imap"}'), 0, 'the IMAP session ended');
  assert.ok((after.get('rookery_connections_total{protocol="imap"}') ?? 0) >= 1);
  assert.ok((after.get('rookery_connections_total{protocol="pop3"}') ?? 0) >= 1);
  assert.equal(after.get('rookery_connections_open{protocol="smtp"}'), 0);
});

test('/healthz answers 503 once the store is gone', async () => {
  const { startTestNode } = await import('../helpers/test-node.js');
  const other = await startTestNode();
  try {
    const base = `http://127.0.0.1:${other.ports.http}`;
    assert.equal((await call(base, 'GET', '/healthz')).status, 200);
    // A store that cannot answer: every registry read fails.
    other.store.cluster.get = () => Promise.reject(new Error('connection refused'));
    const r = await call(base, 'GET', '/healthz');
    assert.equal(r.status, 503);
    assert.equal(r.body.status, 'unavailable');
    assert.equal(r.body.store.reachable, false);
  } finally {
    await other.close();
  }
});
