/**
 * Inbound mail (the MX, with Python's smtplib) for addresses that lead
 * outside the cluster: a forward with a local copy, an alias with a remote
 * member. Local users get their copy, the remote targets one queued copy
 * whose envelope sender is rewritten with SRS (the null sender stays null);
 * a bounce sent back to the SRS address is reversed and queued to the
 * original sender, and a forged or expired SRS address gets 550.
 * Also: when queueing fails, the local delivery is rolled back and the
 * client gets 451, so nothing is half-delivered behind a 4xx.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { python } from '../helpers/clients.js';
import { Srs, clusterSrs, srsKey } from '../../src/mail/srs.js';
import { Wire, expectCode, inbox, override } from '../smtp/support.js';
import { queued, startSubmissionNode, type SubmissionNode } from './support.js';
import type { Store } from '../../src/store/types.js';

const MX_SEND = `
import smtplib, sys
port, sender, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3].split(',')
msg = sys.argv[4].encode()
with smtplib.SMTP('127.0.0.1', port, local_hostname='client.test', timeout=20) as s:
    try:
        print(s.sendmail(sender, rcpts, msg))
    except smtplib.SMTPRecipientsRefused as e:
        print('refused', list(e.recipients.values())[0][0], list(e.recipients.values())[0][1].decode())
    except smtplib.SMTPResponseException as e:
        print('error', e.smtp_code, e.smtp_error.decode())
`;

describe('remote targets of inbound mail', () => {
  let node: SubmissionNode;
  const mx = (sender: string, rcpts: string[], subject: string) =>
    python(MX_SEND, [String(node.mx), sender, rcpts.join(','), `Subject: ${subject}\r\n\r\nbody\r\n`]).then((s) => s.trim());
  const queuedWith = async (subject: string) => (await queued(node.store)).filter((m) => m.data.toString().includes(`Subject: ${subject}\r\n`));

  before(async () => {
    node = await startSubmissionNode({ users: { 'fwd@example.test': 'pw', 'alice@example.test': 'pw', 'gone@example.test': 'pw' }, domains: ['lists.test'] });
    await node.store.directory.addForward('fwd@example.test', 'elsewhere@remote.test', true);
    await node.store.directory.addForward('gone@example.test', 'new-home@remote.test', false);
    await node.store.directory.addAlias('team@lists.test', ['alice@example.test', 'far@remote.test']);
  });
  after(() => node.close());

  test('a forward with keep-copy: a local copy, and a queued copy with an SRS sender', async () => {
    assert.equal(await mx('Bob@Sender.example', ['fwd@example.test'], 'forwarded'), '{}');
    const local = (await inbox(node.store, 'fwd@example.test')).at(-1)!.data.toString();
    assert.match(local, /^Return-Path: <Bob@Sender\.example>\r\n/);
    const q = await queuedWith('forwarded');
    assert.equal(q.length, 1);
    assert.match(q[0]!.sender, /^SRS0=[A-Za-z0-9+/]{4}=[A-Z2-7]{2}=Sender\.example=Bob@example\.test$/);
    assert.deepEqual(q[0]!.recipients.map((r) => r.address), ['elsewhere@remote.test']);
    assert.doesNotMatch(q[0]!.data.toString(), /^Return-Path:/m);
    assert.match(q[0]!.data.toString(), /^Received: from client\.test .*\r\n\tby mx\.example\.test \(Rookery\) with ESMTP\r\n/);
    // The rewritten sender reverses to the original one, with the cluster's key.
    const srs = await clusterSrs(node.store.settings);
    assert.deepEqual(srs.reverse(q[0]!.sender), { ok: true, address: 'Bob@Sender.example' });
  });

  test('a forward without a copy: only the queued copy', async () => {
    assert.equal(await mx('bob@sender.example', ['gone@example.test'], 'moved away'), '{}');
    assert.equal((await inbox(node.store, 'gone@example.test')).length, 0);
    assert.equal((await queuedWith('moved away')).length, 1);
  });

  test('an alias with local and remote members, the null sender stays null', async () => {
    assert.equal(await mx('', ['team@lists.test'], 'bounce-ish'), '{}');
    assert.ok((await inbox(node.store, 'alice@example.test')).some((m) => m.data.toString().includes('Subject: bounce-ish')));
    const q = await queuedWith('bounce-ish');
    assert.equal(q.length, 1);
    assert.equal(q[0]!.sender, '');
    assert.deepEqual(q[0]!.recipients.map((r) => r.address), ['far@remote.test']);
  });

  test('several forwarding recipients in one transaction share one queued copy', async () => {
    assert.equal(await mx('bob@sender.example', ['fwd@example.test', 'team@lists.test', 'gone@example.test'], 'fan out'), '{}');
    const q = await queuedWith('fan out');
    assert.equal(q.length, 1);
    assert.deepEqual(q[0]!.recipients.map((r) => r.address).sort(), ['elsewhere@remote.test', 'far@remote.test', 'new-home@remote.test']);
    assert.match(q[0]!.sender, /^SRS0=.*=sender\.example=bob@example\.test$/);
  });

  test('a bounce to our SRS address is reversed and queued to the original sender', async () => {
    assert.equal(await mx('someone@sender.example', ['fwd@example.test'], 'to be bounced'), '{}');
    const srsSender = (await queuedWith('to be bounced'))[0]!.sender;
    assert.equal(await mx('', [srsSender.toLowerCase()], 'the bounce'), '{}');
    const q = await queuedWith('the bounce');
    assert.equal(q.length, 1);
    assert.equal(q[0]!.sender, '');
    assert.deepEqual(q[0]!.recipients.map((r) => r.address.toLowerCase()), ['someone@sender.example']);
  });

  test('a forged or expired SRS address of ours gets 550 5.1.1; someone else\'s SRS domain is relaying', async () => {
    const forger = new Srs({ key: 'not our key' });
    assert.match(await mx('', [forger.forward('victim@sender.example', 'example.test')], 'forged'), /^refused 550 5\.1\.1 .*invalid SRS/);
    const old = new Srs({ key: await srsKey(node.store.settings), now: () => new Date(Date.now() - 40 * 86_400_000) });
    assert.match(await mx('', [old.forward('victim@sender.example', 'example.test')], 'expired'), /^refused 550 5\.1\.1 .*expired SRS/);
    assert.match(await mx('', ['SRS0=abcd=AA=sender.example=x@remote.test'], 'not ours'), /^refused 554 5\.7\.1 /);
    assert.equal((await queuedWith('forged')).length + (await queuedWith('expired')).length, 0);
  });
});

describe('queueing fails: nothing is half-delivered', () => {
  let node: SubmissionNode;
  let failQueue = true;
  before(async () => {
    node = await startSubmissionNode({
      users: { 'fwd@example.test': 'pw' },
      wrap: (store: Store) => override(store, {
        queue: override(store.queue, {
          enqueue: async (m) => {
            if (failQueue) throw new Error('queue table unavailable');
            return store.queue.enqueue(m);
          },
        }),
      }),
    });
    await node.store.directory.addForward('fwd@example.test', 'elsewhere@remote.test', true);
  });
  after(() => node.close());

  test('451 after DATA, and the local copy is rolled back; the retry delivers both once', async () => {
    const w = await Wire.open(node.mx);
    await w.hello();
    await w.begin('bob@sender.example', ['fwd@example.test']);
    w.write('Subject: retry me\r\n\r\nx\r\n.\r\n');
    const r = await w.reply();
    assert.match(r.raw, /^451 4\.3\.0 /);
    assert.equal((await inbox(node.store, 'fwd@example.test')).length, 0);
    assert.equal((await node.store.queue.list()).length, 0);

    failQueue = false;
    await expectCode(w.cmd('MAIL FROM:<bob@sender.example>'), 250);
    await expectCode(w.cmd('RCPT TO:<fwd@example.test>'), 250);
    await expectCode(w.cmd('DATA'), 354);
    w.write('Subject: retry me\r\n\r\nx\r\n.\r\n');
    await expectCode(w.reply(), 250);
    w.end();
    assert.equal((await inbox(node.store, 'fwd@example.test')).length, 1);
    assert.equal((await node.store.queue.list()).length, 1);
  });
});
