/**
 * The round trip a user makes: a message sent with Python's smtplib comes
 * back through Python's poplib byte for byte, after the two trace headers
 * the server adds (Return-Path and Received). The message has lines that
 * start with ".", 8-bit UTF-8, a binary attachment and 1 MB of text.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { python } from '../helpers/clients.js';
import { startTestNode, type TestNode } from '../helpers/test-node.js';

let node: TestNode;
before(async () => {
  node = await startTestNode({ users: { 'reader@example.test': 'pw' } });
});
after(async () => {
  await node.close();
});

function trickyMessage(): Buffer {
  const boundary = 'b0undary';
  const attachment = randomBytes(48 * 1024).toString('base64').replace(/.{76}/g, '$&\r\n');
  const bigText = Array.from({ length: 16 * 1024 }, (_, i) => `line ${i} ${'x'.repeat(56)}`).join('\r\n');
  return Buffer.from([
    'From: Zoë <zoe@remote.test>',
    'To: reader@example.test',
    'Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=',
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    '.a line that starts with a dot',
    '..two dots',
    '.',
    'Grüße aus Köln — ünïcödé ✓',
    bigText,
    `--${boundary}`,
    'Content-Type: application/octet-stream; name="blob.bin"',
    'Content-Transfer-Encoding: base64',
    '',
    attachment,
    `--${boundary}--`,
    '',
  ].join('\r\n'), 'utf8');
}

test('smtplib in, poplib out: the same bytes after the trace headers', async () => {
  const message = trickyMessage();
  assert.ok(message.length > 1024 * 1024);
  await python(`
import smtplib, sys
data = open(sys.argv[2], 'rb').read()
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]))
s.ehlo('client.test')
s.sendmail('zoe@remote.test', ['reader@example.test'], data, mail_options=['BODY=8BITMIME'])
s.quit()
`, [String(node.ports.smtp), await writeTemp(message)]);

  const out = await python(`
import poplib, sys
p = poplib.POP3('127.0.0.1', int(sys.argv[1]))
p.user('reader@example.test'); p.pass_('pw')
resp, lines, octets = p.retr(1)
sys.stdout.buffer.write(b'\\r\\n'.join(lines) + b'\\r\\n')
p.quit()
`, [String(node.ports.pop3)]);
  const received = Buffer.from(out, 'utf8');
  const text = received.toString('utf8');
  assert.match(text, /^Return-Path: <zoe@remote\.test>\r\nReceived: from client\.test /);
  // The message proper starts at its first header after the trace block.
  const start = received.indexOf(Buffer.from('From: Zo'));
  assert.ok(start > 0);
  assert.ok(received.subarray(start).equals(message), 'the body came back changed');
});

async function writeTemp(data: Buffer): Promise<string> {
  const path = join(node.dir, 'message.eml');
  await writeFile(path, data);
  return path;
}
