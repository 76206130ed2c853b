/**
 * Quota: refused at RCPT when the declared SIZE (or a full mailbox) says
 * so, and again after DATA inside the store transaction; 452 4.2.2 or
 * 552 5.2.2 as limits.quotaExceeded says, and nothing half delivered.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtpNode, type SmtpNode, Wire, expectCode, inbox } from './support.js';
import { python } from '../helpers/clients.js';

const SEND = `
import smtplib, sys
port, rcpts, size = int(sys.argv[1]), sys.argv[2].split(','), int(sys.argv[3])
body = b'Subject: q\\r\\n\\r\\n' + b'z' * size + b'\\r\\n'
try:
    with smtplib.SMTP('127.0.0.1', port, timeout=20) as s:
        s.ehlo('client.test')
        print(s.sendmail('a@remote.test', rcpts, body))
except smtplib.SMTPRecipientsRefused as e:
    print('refused', {k: (v[0], v[1].decode()) for k, v in e.recipients.items()})
except smtplib.SMTPDataError as e:
    print('data', e.smtp_code, e.smtp_error.decode())
`;

for (const mode of ['temporary', 'permanent'] as const) {
  const [code, enhanced] = mode === 'temporary' ? [452, '4.2.2'] : [552, '5.2.2'];
  describe(`quota (${mode})`, () => {
    let node: SmtpNode;
    before(async () => {
      node = await startSmtpNode({ users: { 'small@example.test': 'pw', 'roomy@example.test': 'pw' }, limits: { quotaExceeded: mode } });
      await node.store.directory.updateUser('small@example.test', { quotaBytes: 2000 });
    });
    after(() => node.close());

    test(`SIZE over the room left gets ${code} ${enhanced} at RCPT (smtplib sends SIZE)`, async () => {
      const out = await python(SEND, [String(node.port), 'small@example.test', '5000']);
      assert.match(out, new RegExp(`refused .*\\(${code}, '${enhanced.replace(/\./g, '\\.')} Mailbox full`));
      assert.equal((await inbox(node.store, 'small@example.test')).length, 0);
    });

    test(`without SIZE the store's check after DATA answers ${code} ${enhanced} and stores nothing`, async () => {
      const w = await Wire.open(node.port);
      await w.hello();
      await w.begin('a@remote.test', ['small@example.test']);
      w.write('Subject: big\r\n\r\n' + 'z'.repeat(5000) + '\r\n.\r\n');
      const r = await w.reply();
      assert.equal(r.code, code);
      assert.match(r.raw, new RegExp(`^${code} ${enhanced.replace(/\./g, '\\.')} `));
      w.end();
      assert.equal((await inbox(node.store, 'small@example.test')).length, 0);
    });

    test('with one of two recipients over quota, nothing is stored and the reply is temporary', async () => {
      const w = await Wire.open(node.port);
      await w.hello();
      await w.begin('a@remote.test', ['small@example.test', 'roomy@example.test']);
      w.write('Subject: big\r\n\r\n' + 'z'.repeat(5000) + '\r\n.\r\n');
      const r = await w.reply();
      assert.match(r.raw, /^452 4\.2\.2 /);
      w.end();
      assert.equal((await inbox(node.store, 'roomy@example.test')).length, 0);
      assert.equal((await inbox(node.store, 'small@example.test')).length, 0);
    });

    test('a message that fits is delivered, and a full mailbox is then refused at RCPT without SIZE', async () => {
      const out = await python(SEND, [String(node.port), 'small@example.test', '1000']);
      assert.match(out, /^\{\}/);
      const used = (await node.store.directory.getUser('small@example.test'))!.usedBytes;
      assert.ok(used > 1000);
      await node.store.directory.updateUser('small@example.test', { quotaBytes: used });
      const w = await Wire.open(node.port);
      await w.hello();
      await expectCode(w.cmd('MAIL FROM:<a@remote.test>'), 250);
      const r = await w.cmd('RCPT TO:<small@example.test>');
      assert.match(r.raw, new RegExp(`^${code} ${enhanced.replace(/\./g, '\\.')} `));
      w.end();
    });
  });
}
