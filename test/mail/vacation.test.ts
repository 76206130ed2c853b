/**
 * The vacation auto-reply through real deliveries: Python's smtplib hands
 * messages to the MX of an in-process node; the replies to remote senders
 * leave through the outbound queue to a sink SMTP server (the transport
 * map sends far.test there), the reply to a local sender lands in its
 * INBOX. One reply per sender per period; none to lists, bulk mail,
 * automatic mail, the null sender, or a copy that does not name the user.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../helpers/clients.js';
import { startTestNode, type TestNode } from '../helpers/test-node.js';
import { Sink, randomLoopback } from '../outbound/sink.js';
import { addTransport } from '../../src/outbound/transport-map.js';
import { buildReply, incomingFacts, settleAutoReplies } from '../../src/mail/vacation.js';
import type { User } from '../../src/store/types.js';
import type { UserId } from '../../src/store/types.js';

/** Sends every message of a JSON list [{from, to, data}] in one SMTP session; prints each reply code. */
const SEND = `
import json, smtplib, sys
port = int(sys.argv[1])
with smtplib.SMTP('127.0.0.1', port, local_hostname='client.far.test', timeout=20) as s:
    for m in json.load(sys.stdin):
        refused = s.sendmail(m['from'], m['to'], m['data'].encode())
        print('ok' if not refused else 'refused')
`;

interface Outgoing {
  from: string;
  to: string[];
  headers: string[];
}

function message(o: Outgoing, n: number): { from: string; to: string[]; data: string } {
  const headers = o.headers.some((h) => /^message-id:/i.test(h)) ? o.headers : [...o.headers, `Message-ID: <m${n}.${Date.now()}@far.test>`];
  return { from: o.from, to: o.to, data: `${headers.join('\r\n')}\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n\r\nHello.\r\n` };
}

describe('vacation auto-reply over SMTP', () => {
  let node: TestNode;
  let sink: Sink;
  let away: UserId;

  const send = async (list: Outgoing[]): Promise<void> => {
    const res = await run('python3', ['-c', SEND, String(node.ports.smtp)], { input: JSON.stringify(list.map(message)), timeoutMs: 60000 });
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(res.stdout.trim().split('\n'), list.map(() => 'ok'), 'every message is answered 250, vacation or not');
    await settleAutoReplies();
    // Every queued reply has left for the sink (or nothing was queued).
    for (let i = 0; (await node.store.queue.list()).length > 0; i++) {
      assert.ok(i < 300, 'the queue empties');
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  before(async () => {
    sink = new Sink(randomLoopback());
    await sink.start();
    node = await startTestNode({ users: { 'away@example.test': 'pw', 'bob@example.test': 'pw' }, limits: { queuePollMs: 100 } });
    await node.store.directory.addAlias('holiday@example.test', ['away@example.test']);
    await addTransport(node.store.settings, 'far.test', `${sink.host}:${sink.port}`);
    away = (await node.store.directory.getUser('away@example.test'))!.id;
    await node.store.vacation.set(away, { enabled: true, subject: '', body: 'I am away until Monday.\nÀ bientôt.', startsAt: null, endsAt: null, periodDays: 7 });
  });

  after(async () => {
    await settleAutoReplies();
    await node?.close();
    await sink?.stop();
  });

  test('a remote sender gets one reply, with the null sender and RFC 3834 fields; not a second one within the period', async () => {
    await send([{ from: 'friend@far.test', to: ['away@example.test'], headers: ['From: Friend <friend@far.test>', 'To: away@example.test', 'Subject: Lunch?', 'Message-ID: <lunch.1@far.test>', 'References: <earlier@far.test>'] }]);
    assert.equal(sink.received.length, 1);
    const reply = sink.received[0]!;
    assert.equal(reply.from, '', 'MAIL FROM:<>');
    assert.deepEqual(reply.to, ['friend@far.test']);
    const text = reply.data.toString('utf8');
    assert.match(text, /^From: away@example\.test\r$/m);
    assert.match(text, /^To: friend@far\.test\r$/m);
    assert.match(text, /^Subject: Auto: Lunch\?\r$/m);
    assert.match(text, /^In-Reply-To: <lunch\.1@far\.test>\r$/m);
    assert.match(text, /^References: <earlier@far\.test> <lunch\.1@far\.test>\r$/m);
    assert.match(text, /^Auto-Submitted: auto-replied\r$/m);
    const body = text.slice(text.indexOf('\r\n\r\n') + 4).replace(/\r\n/g, '');
    assert.equal(Buffer.from(body, 'base64').toString('utf8'), 'I am away until Monday.\r\nÀ bientôt.');

    await send([{ from: 'Friend@Far.Test', to: ['away@example.test'], headers: ['From: friend@far.test', 'To: away@example.test', 'Subject: Lunch, again?'] }]);
    assert.equal(sink.received.length, 1, 'once per sender per period');
  });

  test('no reply to a list, bulk or automatic message, the null sender, a robot, or a copy that does not name the user', async () => {
    const before = sink.received.length;
    await send([
      { from: 'list@far.test', to: ['away@example.test'], headers: ['From: list@far.test', 'To: away@example.test', 'List-Id: Talk <talk.far.test>', 'Subject: list'] },
      { from: 'news@far.test', to: ['away@example.test'], headers: ['From: news@far.test', 'To: away@example.test', 'Precedence: bulk', 'Subject: bulk'] },
      { from: 'robot@far.test', to: ['away@example.test'], headers: ['From: robot@far.test', 'To: away@example.test', 'Auto-Submitted: auto-generated', 'Subject: automatic'] },
      { from: '', to: ['away@example.test'], headers: ['From: daemon@far.test', 'To: away@example.test', 'Subject: null sender'] },
      { from: 'MAILER-DAEMON@far.test', to: ['away@example.test'], headers: ['From: MAILER-DAEMON@far.test', 'To: away@example.test', 'Subject: robot'] },
      { from: 'blind@far.test', to: ['away@example.test'], headers: ['From: blind@far.test', 'To: someone@far.test', 'Subject: bcc'] },
    ]);
    assert.equal(sink.received.length, before, `no replies, got: ${sink.received.slice(before).map((r) => r.to.join()).join('; ')}`);
    const inbox = (await node.store.mail.getMailbox(away, 'INBOX'))!;
    assert.ok((await node.store.mail.listMessages(inbox.id)).length >= 6, 'the messages themselves were delivered');
  });

  test('an alias of the user in Cc counts; Auto-Submitted: no is a person; a local sender gets the reply in its INBOX', async () => {
    const before = sink.received.length;
    await send([
      { from: 'cc@far.test', to: ['holiday@example.test'], headers: ['From: cc@far.test', 'To: other@far.test', 'Cc: Holiday <holiday@example.test>', 'Auto-Submitted: no', 'Subject: via alias'] },
      { from: 'bob@example.test', to: ['away@example.test'], headers: ['From: bob@example.test', 'To: away@example.test', 'Subject: from a colleague'] },
    ]);
    assert.equal(sink.received.length, before + 1);
    assert.deepEqual(sink.received[before]!.to, ['cc@far.test']);
    assert.match(sink.received[before]!.data.toString(), /^Subject: Auto: via alias\r$/m);

    const bob = (await node.store.directory.getUser('bob@example.test'))!;
    const inbox = (await node.store.mail.getMailbox(bob.id, 'INBOX'))!;
    const messages = await node.store.mail.listMessages(inbox.id);
    assert.equal(messages.length, 1);
    const text = (await node.store.blobs.get(messages[0]!.blobId)).toString('utf8');
    assert.match(text, /^Return-Path: <>\r\n/, 'delivered with the null envelope sender');
    assert.match(text, /^Auto-Submitted: auto-replied\r$/m);
    assert.match(text, /^Subject: Auto: from a colleague\r$/m);
    // The reply is itself automatic: bob's own vacation would not answer it.
    await node.store.vacation.set(bob.id, { enabled: true, subject: 'Out', body: 'Out too.', startsAt: null, endsAt: null, periodDays: 1 });
    await send([{ from: 'carol@far.test', to: ['away@example.test'], headers: ['From: carol@far.test', 'To: away@example.test', 'Subject: ping'] }]);
    assert.equal((await node.store.mail.listMessages(inbox.id)).length, 1);
  });

  test('the configured subject, and nothing outside the dates or when switched off', async () => {
    const before = sink.received.length;
    const day = 86_400_000;
    await node.store.vacation.set(away, { enabled: true, subject: 'Congés', body: 'Away.', startsAt: new Date(Date.now() + day), endsAt: null, periodDays: 7 });
    await send([{ from: 'early@far.test', to: ['away@example.test'], headers: ['From: early@far.test', 'To: away@example.test', 'Subject: too early'] }]);
    assert.equal(sink.received.length, before, 'not before the start');
    await node.store.vacation.set(away, { enabled: false, subject: 'Congés', body: 'Away.', startsAt: null, endsAt: null, periodDays: 7 });
    await send([{ from: 'off@far.test', to: ['away@example.test'], headers: ['From: off@far.test', 'To: away@example.test', 'Subject: off'] }]);
    assert.equal(sink.received.length, before, 'not when off');
    await node.store.vacation.set(away, { enabled: true, subject: 'Congés', body: 'Away.', startsAt: new Date(Date.now() - day), endsAt: new Date(Date.now() + day), periodDays: 7 });
    await send([{ from: 'late@far.test', to: ['away@example.test'], headers: ['From: late@far.test', 'To: away@example.test', 'Subject: in time'] }]);
    assert.equal(sink.received.length, before + 1);
    assert.match(sink.received[before]!.data.toString(), /^Subject: =\?UTF-8\?B\?Q29uZ8Opcw==\?=\r$/m);
  });

  test('a vacation lookup that fails costs the delivery nothing: 250, and the message is in the INBOX', async () => {
    const vacation = node.store.vacation;
    const original = vacation.activeAmong;
    vacation.activeAmong = async () => { throw new Error('the vacation table is unreadable'); };
    try {
      const inbox = (await node.store.mail.getMailbox(away, 'INBOX'))!;
      const count = (await node.store.mail.listMessages(inbox.id)).length;
      await send([{ from: 'during@far.test', to: ['away@example.test'], headers: ['From: during@far.test', 'To: away@example.test', 'Subject: still delivered'] }]);
      assert.equal((await node.store.mail.listMessages(inbox.id)).length, count + 1);
    } finally {
      vacation.activeAmong = original;
    }
  });
});

describe('what decides a reply (the header alone)', () => {
  const facts = (lines: string[]) => incomingFacts(Buffer.from(`${lines.join('\r\n')}\r\n`));

  test('the sender is the first Return-Path; none, the null one or a robot\'s is refused', () => {
    assert.equal(facts(['Return-Path: <a@far.test>', 'Return-Path: <forged@far.test>', 'To: me@example.test']).sender, 'a@far.test');
    assert.equal(facts(['To: me@example.test']).refusal, 'the envelope sender is null');
    assert.equal(facts(['Return-Path: <>', 'To: me@example.test']).refusal, 'the envelope sender is null');
    assert.equal(facts(['Return-Path: <not-an-address>']).refusal, 'the envelope sender is not an address');
    for (const robot of ['MAILER-DAEMON@far.test', 'owner-talk@far.test', 'talk-request@far.test', 'majordomo@far.test']) {
      assert.match(facts([`Return-Path: <${robot}>`]).refusal ?? '', /mailer daemon or a list/, robot);
    }
  });

  test('Auto-Submitted other than no (with comments, any case), List-*, Precedence and X-Auto-Response-Suppress refuse', () => {
    const rp = 'Return-Path: <a@far.test>';
    assert.equal(facts([rp, 'Auto-Submitted: No']).refusal, null);
    assert.equal(facts([rp, 'Auto-Submitted: no (a person)']).refusal, null);
    assert.match(facts([rp, 'Auto-Submitted: Auto-Replied; owner-email="x@far.test"']).refusal ?? '', /Auto-Submitted/);
    assert.match(facts([rp, 'List-Unsubscribe: <mailto:u@far.test>']).refusal ?? '', /List-/);
    assert.match(facts([rp, 'Precedence: JUNK']).refusal ?? '', /Precedence/);
    assert.equal(facts([rp, 'Precedence: first-class']).refusal, null);
    assert.match(facts([rp, 'X-Auto-Response-Suppress: DR, OOF']).refusal ?? '', /X-Auto-Response-Suppress/);
  });

  test('To, Cc and Resent fields are read, folded or grouped', () => {
    const f = facts(['Return-Path: <a@far.test>', 'To: Me <ME@Example.Test>,', ' other@far.test', 'Cc: friends: x@far.test;', 'Resent-To: r@example.test']);
    assert.deepEqual(f.addressed, ['me@example.test', 'other@far.test', 'x@far.test', 'r@example.test']);
  });

  test('the reply threads under the original and carries an encoded subject of its own', () => {
    const user = { address: 'me@example.test' } as User;
    const f = facts(['Return-Path: <a@far.test>', 'Subject: =?UTF-8?Q?caf=C3=A9?=', 'Message-ID: <x@far.test>']);
    const text = buildReply(user, { enabled: true, subject: '', body: 'Away.', startsAt: null, endsAt: null, periodDays: 7 }, f, new Date(0)).toString();
    assert.match(text, /^Subject: Auto: =\?UTF-8\?Q\?caf=C3=A9\?=\r$/m);
    assert.match(text, /^In-Reply-To: <x@far\.test>\r\nReferences: <x@far\.test>\r$/m);
    assert.match(text, /^Message-ID: <[^@>]+@example\.test>\r$/m);
    assert.match(text, /\r\n\r\nAway\.\r\n$/);
  });
});
