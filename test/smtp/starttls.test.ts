/**
 * STARTTLS on the MX's port with python smtplib and swaks, on a node
 * started the way `rookery up` does; the implicit TLS port (465) is
 * submission's, tested in test/submission/.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestNode, type TestNode } from '../helpers/test-node.js';
import { python, run } from '../helpers/clients.js';
import { connect } from 'node:tls';
import { selfSigned } from '../../src/net/tls.js';
import { Wire, inbox, splitTrace, startSmtpNode } from './support.js';

const PY = `
import smtplib, ssl, sys
mode, port, rcpt = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl._create_unverified_context()
body = b'Subject: over tls\\r\\n\\r\\nsecret\\r\\n'
if mode == 'starttls':
    s = smtplib.SMTP('127.0.0.1', port, local_hostname='client.test', timeout=20)
    s.ehlo()
    assert s.has_extn('starttls'), s.esmtp_features
    s.starttls(context=ctx)
    s.ehlo()
    assert not s.has_extn('starttls'), 'STARTTLS offered again after TLS'
else:
    s = smtplib.SMTP_SSL('127.0.0.1', port, local_hostname='client.test', context=ctx, timeout=20)
    s.ehlo()
    assert not s.has_extn('starttls'), 'STARTTLS offered on implicit TLS'
assert not s.has_extn('auth'), 'AUTH offered on the MX'
for ext in ('pipelining', 'size', '8bitmime', 'smtputf8', 'enhancedstatuscodes'):
    assert s.has_extn(ext), ext
print(s.sendmail('bob@remote.test', [rcpt], body))
s.quit()
`;

describe('TLS', () => {
  let node: TestNode;
  before(async () => {
    node = await startTestNode({ users: { 'alice@example.test': 'pw' } });
  });
  after(() => node.close());

  test('smtplib STARTTLS on the plain port; Received says ESMTPS', async () => {
    const out = await python(PY, ['starttls', String(node.ports.smtp), 'alice@example.test']);
    assert.equal(out.trim(), '{}');
    const msg = (await inbox(node.store, 'alice@example.test')).at(-1)!;
    assert.match(splitTrace(msg.data).received, /with ESMTPS \(TLSv1\.[23] cipher [A-Z0-9_-]+\)/);
  });

  test('swaks --tls', async () => {
    const res = await run('swaks', ['--server', '127.0.0.1', '--port', String(node.ports.smtp), '--tls', '--from', 'bob@remote.test', '--to', 'alice@example.test', '--header', 'Subject: swaks --tls'], { timeoutMs: 20000 });
    assert.equal(res.code, 0, res.stdout + res.stderr);
    const subjects = (await inbox(node.store, 'alice@example.test')).map((m) => /Subject: (.*)\r\n/.exec(m.data.toString())?.[1]);
    assert.ok(subjects.includes('swaks --tls'));
  });

  test('STARTTLS is refused on the implicit TLS port (submissions)', async () => {
    const w = await Wire.open(node.ports.submissions, { tls: true });
    await w.hello();
    assert.ok((await w.cmd('STARTTLS')).code >= 500);
    w.end();
  });
});

describe('certificate replacement', () => {
  test('a certificate replaced in the store is presented to the next connection, STARTTLS and implicit', async () => {
    const first = await selfSigned('first.example.test');
    const second = await selfSigned('second.example.test');
    let current = first;
    const node = await startSmtpNode({ tls: () => current });
    const implicitCn = () =>
      new Promise<string>((resolve, reject) => {
        const s = connect({ port: node.tlsPort, host: '127.0.0.1', rejectUnauthorized: false }, () => {
          resolve(String(s.getPeerCertificate().subject.CN));
          s.destroy();
        });
        s.on('error', reject);
      });
    const starttlsCn = async () => {
      const w = await Wire.open(node.port);
      await w.hello();
      assert.equal((await w.cmd('STARTTLS')).code, 220);
      w.socket.removeAllListeners('data');
      return new Promise<string>((resolve, reject) => {
        const s = connect({ socket: w.socket, rejectUnauthorized: false }, () => {
          resolve(String(s.getPeerCertificate().subject.CN));
          s.destroy();
        });
        s.on('error', reject);
      });
    };
    try {
      assert.equal(await implicitCn(), 'first.example.test');
      assert.equal(await starttlsCn(), 'first.example.test');
      current = second;
      assert.equal(await implicitCn(), 'second.example.test');
      assert.equal(await starttlsCn(), 'second.example.test');
    } finally {
      await node.close();
    }
  });
});
