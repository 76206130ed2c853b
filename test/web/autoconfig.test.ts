/**
 * Client autoconfiguration as clients fetch it: Thunderbird's
 * config-v1.1.xml with curl (by address, and by the autoconfig.DOMAIN host
 * name), Microsoft Autodiscover POSTed with curl, the Apple profile parsed
 * with Python's plistlib; the servers named are the ones that answer
 * (imaplib logs in on the advertised port), and a domain the directory
 * does not serve gets 404.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { python, run } from '../helpers/clients.js';
import { startTestNode, type TestNode } from '../helpers/test-node.js';

/** Prints the servers of a config-v1.1.xml as JSON: [[tag, type, hostname, port, socketType, username], ...]. */
const PARSE_THUNDERBIRD = `
import json, sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
provider = root.find('emailProvider')
out = {'domain': provider.findtext('domain'), 'servers': []}
for s in provider:
    if s.tag in ('incomingServer', 'outgoingServer'):
        out['servers'].append([s.tag, s.get('type'), s.findtext('hostname'), int(s.findtext('port')), s.findtext('socketType'), s.findtext('username')])
print(json.dumps(out))
`;

const PARSE_AUTODISCOVER = `
import json, sys, xml.etree.ElementTree as ET
ns = {'r': 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a'}
root = ET.fromstring(sys.stdin.buffer.read())
account = root.find('r:Response/r:Account', ns)
print(json.dumps({'type': account.findtext('r:AccountType', namespaces=ns), 'protocols': [
    [p.findtext('r:Type', namespaces=ns), p.findtext('r:Server', namespaces=ns), int(p.findtext('r:Port', namespaces=ns)), p.findtext('r:LoginName', namespaces=ns), p.findtext('r:SSL', namespaces=ns)]
    for p in account.findall('r:Protocol', ns)]}))
`;

const IMAP_LOGIN = `
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL('127.0.0.1', int(sys.argv[1]), ssl_context=ctx, timeout=20)
print(m.login(sys.argv[2], sys.argv[3])[0])
m.logout()
`;

const PARSE_PLIST = `
import json, plistlib, sys
p = plistlib.loads(sys.stdin.buffer.read())
print(json.dumps(p, default=str))
`;

function autodiscoverRequest(address: string): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>${address}</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>`;
}

/** curl; prints the body, then the status and content type on a last line. */
async function curl(args: string[], input?: string): Promise<{ status: number; type: string; body: string }> {
  const res = await run('curl', ['-sS', '-w', '\n%{http_code} %{content_type}', ...args], input === undefined ? {} : { input });
  assert.equal(res.code, 0, res.stderr);
  const cut = res.stdout.lastIndexOf('\n');
  const [status, type] = res.stdout.slice(cut + 1).split(' ');
  return { status: Number(status), type: type ?? '', body: res.stdout.slice(0, cut) };
}

/** Runs a Python script on some input; its stdout. */
async function pipe(script: string, input: string | Buffer): Promise<string> {
  const res = await run('python3', ['-c', script], { input });
  assert.equal(res.code, 0, res.stderr);
  return res.stdout;
}

describe('client autoconfiguration', () => {
  let node: TestNode;
  let base: string;

  before(async () => {
    node = await startTestNode({ users: { 'me@example.test': 'secret' } });
    base = `http://127.0.0.1:${node.ports.http}`;
  });
  after(async () => {
    await node?.close();
  });

  test('Thunderbird: config-v1.1.xml by address names this node\'s IMAP, POP3 and submission ports; the IMAP one takes the login', async () => {
    const r = await curl([`${base}/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=me%40example.test`]);
    assert.equal(r.status, 200);
    assert.match(r.type, /^application\/xml/);
    const parsed = JSON.parse(await pipe(PARSE_THUNDERBIRD, r.body)) as { domain: string; servers: unknown[][] };
    assert.equal(parsed.domain, 'example.test');
    const h = 'mx.example.test';
    assert.deepEqual(parsed.servers, [
      ['incomingServer', 'imap', h, node.ports.imaps, 'SSL', '%EMAILADDRESS%'],
      ['incomingServer', 'imap', h, node.ports.imap, 'STARTTLS', '%EMAILADDRESS%'],
      ['incomingServer', 'pop3', h, node.ports.pop3s, 'SSL', '%EMAILADDRESS%'],
      ['incomingServer', 'pop3', h, node.ports.pop3, 'STARTTLS', '%EMAILADDRESS%'],
      ['outgoingServer', 'smtp', h, node.ports.submissions, 'SSL', '%EMAILADDRESS%'],
      ['outgoingServer', 'smtp', h, node.ports.submission, 'STARTTLS', '%EMAILADDRESS%'],
    ]);
    assert.equal((await python(IMAP_LOGIN, [String(parsed.servers[0]![3]), 'me@example.test', 'secret'])).trim(), 'OK');
  });

  test('Thunderbird: the same from autoconfig.DOMAIN; 404 for domains not served here', async () => {
    const r = await curl(['-H', 'Host: autoconfig.example.test', `${base}/mail/config-v1.1.xml`]);
    assert.equal(r.status, 200);
    assert.match(r.body, /<domain>example\.test<\/domain>/);
    assert.equal((await curl(['-H', 'Host: autoconfig.elsewhere.test', `${base}/mail/config-v1.1.xml`])).status, 404);
    assert.equal((await curl([`${base}/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=me%40elsewhere.test`])).status, 404);
    assert.equal((await curl(['-X', 'POST', `${base}/mail/config-v1.1.xml`])).status, 405);
  });

  test('Autodiscover: the outlook schema with the address from the request, on both spellings of the path; bad requests refused', async () => {
    for (const path of ['/autodiscover/autodiscover.xml', '/Autodiscover/Autodiscover.xml']) {
      const r = await curl(['-X', 'POST', '-H', 'Content-Type: text/xml', '--data-binary', '@-', `${base}${path}`], autodiscoverRequest('me@example.test'));
      assert.equal(r.status, 200, path);
      const parsed = JSON.parse(await pipe(PARSE_AUTODISCOVER, r.body)) as { type: string; protocols: unknown[][] };
      assert.equal(parsed.type, 'email');
      assert.deepEqual(parsed.protocols, [
        ['IMAP', 'mx.example.test', node.ports.imaps, 'me@example.test', 'on'],
        ['POP3', 'mx.example.test', node.ports.pop3s, 'me@example.test', 'on'],
        ['SMTP', 'mx.example.test', node.ports.submissions, 'me@example.test', 'on'],
      ]);
    }
    const post = (body: string) => curl(['-X', 'POST', '-H', 'Content-Type: text/xml', '--data-binary', '@-', `${base}/autodiscover/autodiscover.xml`], body);
    assert.equal((await post(autodiscoverRequest('me@elsewhere.test'))).status, 404);
    assert.equal((await post('<Autodiscover><Request></Request></Autodiscover>')).status, 400);
    const big = await post(`${autodiscoverRequest('me@example.test')}<!--${'x'.repeat(20_000)}-->`);
    assert.equal(big.status, 413);
    assert.equal((await curl([`${base}/autodiscover/autodiscover.xml`])).status, 405);
  });

  test('Apple: the profile from /settings for the signed-in user is a com.apple.mail.managed plist without a password; signed out, none', async () => {
    const signedOut = await fetch(`${base}/settings/apple.mobileconfig`, { redirect: 'manual' });
    assert.equal(signedOut.status, 303);

    // Sign in as the webmail's form does: the login cookie repeated in the form.
    const first = await fetch(`${base}/`);
    const loginCookie = /rookery_login=([^;]+)/.exec(first.headers.get('set-cookie') ?? '')![1]!;
    const signIn = await fetch(`${base}/login`, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `rookery_login=${loginCookie}` },
      body: new URLSearchParams({ csrf: loginCookie, address: 'me@example.test', password: 'secret' }).toString(),
    });
    assert.equal(signIn.status, 303);
    const session = /rookery_session=([^;]+)/.exec(signIn.headers.get('set-cookie') ?? '')![1]!;

    const res = await fetch(`${base}/settings/apple.mobileconfig`, { headers: { cookie: `rookery_session=${session}` } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-apple-aspen-config');
    assert.match(res.headers.get('content-disposition') ?? '', /attachment; filename="me@example\.test\.mobileconfig"/);
    const bytes = Buffer.from(await res.arrayBuffer());
    const profile = JSON.parse(await pipe(PARSE_PLIST, bytes)) as Record<string, unknown> & { PayloadContent: Record<string, unknown>[] };
    assert.equal(profile.PayloadType, 'Configuration');
    assert.equal(profile.PayloadContent.length, 1);
    const mail = profile.PayloadContent[0]!;
    assert.equal(mail.PayloadType, 'com.apple.mail.managed');
    assert.equal(mail.EmailAccountType, 'EmailTypeIMAP');
    assert.equal(mail.EmailAddress, 'me@example.test');
    assert.equal(mail.IncomingMailServerHostName, 'mx.example.test');
    assert.equal(mail.IncomingMailServerPortNumber, node.ports.imaps);
    assert.equal(mail.IncomingMailServerUseSSL, true);
    assert.equal(mail.OutgoingMailServerPortNumber, node.ports.submissions);
    assert.equal(mail.IncomingMailServerUsername, 'me@example.test');
    assert.ok(!Object.keys(mail).some((k) => /password$/i.test(k) && k !== 'OutgoingPasswordSameAsIncomingPassword'), 'no password inside');
    assert.ok(!bytes.includes('secret'), 'the password is nowhere in the file');
    assert.match(String(profile.PayloadUUID), /^[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/);
  });
});
