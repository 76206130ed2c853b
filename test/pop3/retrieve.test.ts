/**
 * Real clients are the judges: Python's poplib and curl retrieve a message
 * with dot lines, 8-bit UTF-8, a binary attachment and 1 MB of text, over
 * plain text, STLS and implicit TLS, and get back exactly the stored bytes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { python, run } from '../helpers/clients.js';
import { tempDir } from '../helpers/test-node.js';
import { ALICE, PASSWORD, startPop3, type Pop3Harness } from './harness.js';

/** A message that exercises byte-stuffing and 8-bit transparency, CRLF throughout. */
function awkwardMessage(): Buffer {
  // Deterministic "binary" bytes: every value 0-255 appears.
  const binary = Buffer.concat(Array.from({ length: 200 }, (_, i) => createHash('sha256').update(String(i)).digest()));
  const base64 = binary.toString('base64').replace(/.{76}/g, '$&\r\n');
  const text: string[] = [];
  for (let i = 0, bytes = 0; bytes < 1024 * 1024; i++) {
    const line = i % 97 === 0 ? `.line ${i} starts with a dot` : i % 101 === 0 ? '.' : i % 103 === 0 ? '..' : `line ${i}: the quick brown fox jumps over the lazy dog`;
    text.push(line);
    bytes += line.length + 2;
  }
  const lines = [
    'From: Jörg <joerg@example.test>',
    'To: alice@example.test',
    'Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    '.',
    '..',
    '.hidden',
    'Grüße aus Köln, 🐦 und ½ — naïve café',
    '',
    '--b1',
    'Content-Type: application/octet-stream; name="blob.bin"',
    'Content-Transfer-Encoding: base64',
    '',
    base64,
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    ...text,
    '--b1--',
    '',
  ];
  return Buffer.from(lines.join('\r\n'), 'utf8');
}

const POPLIB_RETR = `
import poplib, ssl, sys
mode, port, user, password, out = sys.argv[1:6]
context = ssl._create_unverified_context()
if mode == 'ssl':
    p = poplib.POP3_SSL('127.0.0.1', int(port), context=context, timeout=20)
else:
    p = poplib.POP3('127.0.0.1', int(port), timeout=20)
if mode == 'stls':
    p.stls(context)
p.user(user)
p.pass_(password)
count, size = p.stat()
resp, lines, octets = p.retr(1)
with open(out, 'wb') as f:
    f.write(b'\\r\\n'.join(lines) + b'\\r\\n')
p.quit()
print(mode, count, size, octets, resp.decode())
`;

const SECOND = 'Subject: second\r\nX-Tag: two\r\n\r\nbody a\r\nbody b\r\n';
const N2 = Buffer.byteLength(SECOND);

let h: Pop3Harness;
let message: Buffer;
let dir: string;
before(async () => {
  h = await startPop3({ users: { [ALICE]: PASSWORD } });
  message = awkwardMessage();
  await h.deliver(ALICE, message);
  await h.deliver(ALICE, SECOND);
  dir = await tempDir('rookery-pop3-out-');
});
after(() => h.close());

for (const mode of ['plain', 'stls', 'ssl'] as const) {
  test(`poplib RETR returns the stored bytes exactly (${mode})`, async () => {
    assert.ok(message.length > 1024 * 1024);
    const out = join(dir, `poplib-${mode}.eml`);
    const port = mode === 'ssl' ? h.tlsPort : h.port;
    const printed = await python(POPLIB_RETR, [mode, String(port), ALICE, PASSWORD, out]);
    const [, count] = printed.trim().split(' ');
    assert.equal(count, '2');
    const got = await readFile(out);
    assert.equal(got.length, message.length);
    assert.ok(got.equals(message), 'byte-exact');
  });
}

test('poplib STAT, LIST, UIDL, TOP, DELE and QUIT', async () => {
  const script = `
import poplib, sys
p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=20)
print(p.getwelcome().decode())
print(sorted(p.capa().keys()))
p.user(sys.argv[2]); p.pass_(sys.argv[3])
print(p.stat())
print([l.decode() for l in p.list()[1]])
print([l.decode() for l in p.uidl()[1]])
print(p.uidl(2).decode())
print([l.decode() for l in p.top(2, 1)[1]])
print(p.dele(2).decode())
print(p.stat())
print(p.rset().decode())
print(p.stat())
p.dele(2)
print(p.quit().decode())
`;
  const lines = (await python(script, [String(h.port), ALICE, PASSWORD])).trim().split('\n');
  assert.match(lines[0]!, /^\+OK .*ready/);
  for (const cap of ['PIPELINING', 'RESP-CODES', 'SASL', 'STLS', 'TOP', 'UIDL', 'USER']) assert.ok(lines[1]!.includes(`'${cap}'`), cap);
  assert.equal(lines[2], `(2, ${message.length + N2})`);
  assert.equal(lines[3], `['1 ${message.length}', '2 ${N2}']`);
  assert.match(lines[4]!, /^\['1 \S+', '2 \S+'\]$/);
  assert.match(lines[5]!, /^\+OK 2 \S+$/);
  assert.equal(lines[6], "['Subject: second', 'X-Tag: two', '', 'body a']");
  assert.equal(lines[7], '+OK message 2 deleted');
  assert.equal(lines[8], `(1, ${message.length})`);
  assert.match(lines[9]!, /^\+OK maildrop has 2 messages/);
  assert.equal(lines[10], `(2, ${message.length + N2})`);
  assert.match(lines[11]!, /^\+OK .*\(1 messages left\)/);
  await h.deliver(ALICE, SECOND);
});

test('poplib: a second session is refused with [IN-USE] until the first quits', async () => {
  const script = `
import poplib, sys
port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
a = poplib.POP3('127.0.0.1', port, timeout=20)
a.user(user); a.pass_(pw)
b = poplib.POP3('127.0.0.1', port, timeout=20)
b.user(user)
try:
    b.pass_(pw)
    print('second login succeeded')
except poplib.error_proto as e:
    print(e.args[0].decode())
a.quit()
b.user(user)
print(b.pass_(pw).decode())
b.quit()
`;
  const lines = (await python(script, [String(h.port), ALICE, PASSWORD])).trim().split('\n');
  assert.match(lines[0]!, /^-ERR \[IN-USE\] /);
  assert.match(lines[1]!, /^\+OK .*has 2 messages/);
});

test('curl pop3:// RETR (AUTH PLAIN via "+ " continuation) returns the stored bytes', async () => {
  const out = join(dir, 'curl-plain.eml');
  const res = await run('curl', ['-s', '-S', '-o', out, `pop3://127.0.0.1:${h.port}/1`, '-u', `${ALICE}:${PASSWORD}`]);
  assert.equal(res.code, 0, res.stderr);
  assert.ok((await readFile(out)).equals(message));
});

test('curl with --ssl-reqd (STLS) and pop3s:// (implicit TLS)', async () => {
  const stls = join(dir, 'curl-stls.eml');
  const a = await run('curl', ['-s', '-S', '-k', '--ssl-reqd', '-o', stls, `pop3://127.0.0.1:${h.port}/1`, '-u', `${ALICE}:${PASSWORD}`]);
  assert.equal(a.code, 0, a.stderr);
  assert.ok((await readFile(stls)).equals(message));
  const b = await run('curl', ['-s', '-S', '-k', `pop3s://127.0.0.1:${h.tlsPort}/`, '-u', `${ALICE}:${PASSWORD}`]);
  assert.equal(b.code, 0, b.stderr);
  assert.deepEqual(b.stdout.trim().split(/\r?\n/), [`1 ${message.length}`, `2 ${N2}`]);
});

test('curl with a wrong password fails with a login error', async () => {
  const res = await run('curl', ['-s', `pop3://127.0.0.1:${h.port}/1`, '-u', `${ALICE}:wrong`]);
  assert.equal(res.code, 67, 'CURLE_LOGIN_DENIED');
});
