/**
 * SMTP smuggling (CVE-2023-51764 and kin): only CRLF.CRLF ends DATA. Every
 * other "end of data" lookalike stays in the message, rewritten to CRLF (or
 * refused), and the commands hidden behind it are never run.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtpNode, type SmtpNode, Wire, expectCode, inbox, splitTrace } from './support.js';

const USERS = { 'alice@example.test': 'pw', 'bob@example.test': 'pw' };
const HIDDEN = 'MAIL FROM:<evil@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n';

const variants: [string, string][] = [
  ['LF.LF', '\n.\n'],
  ['CR.CR', '\r.\r'],
  ['LF.CRLF', '\n.\r\n'],
  ['CRLF.LF', '\r\n.\n'],
  ['CR.CRLF', '\r.\r\n'],
  ['CRLF.CR', '\r\n.\r'],
  ['LF.CR', '\n.\r'],
];

describe('smuggling', () => {
  let node: SmtpNode;
  before(async () => {
    node = await startSmtpNode({ users: USERS });
  });
  after(() => node.close());

  for (const [name, terminator] of variants) {
    test(`${name} does not end DATA and is stored with CRLF only`, async () => {
      const w = await Wire.open(node.port);
      await w.hello();
      await w.begin('x@remote.test', ['alice@example.test']);
      w.write(`Subject: ${name}\r\n\r\nbefore${terminator}${HIDDEN}.\r\n`);
      const r = await expectCode(w.reply(), 250);
      assert.match(r.raw, /^250 2\.6\.0 /);
      // Exactly one reply: nothing hidden in the body was run as a command.
      await expectCode(w.cmd('NOOP'), 250);
      w.end();
      const msg = (await inbox(node.store, 'alice@example.test')).at(-1)!;
      const rest = splitTrace(msg.data).rest.toString('latin1');
      assert.ok(rest.startsWith(`Subject: ${name}\r\n\r\nbefore`));
      assert.ok(rest.includes('MAIL FROM:<evil@remote.test>'), 'the hidden commands are content');
      assert.doesNotMatch(rest, /\r(?!\n)|(?<!\r)\n/, 'a bare CR or LF was stored');
      assert.equal((await inbox(node.store, 'bob@example.test')).length, 0);
    });
  }

  test('dot-stuffing is undone, including on the first line and across TCP segments', async () => {
    const w = await Wire.open(node.port);
    w.socket.setNoDelay(true);
    await w.hello();
    await w.begin('x@remote.test', ['alice@example.test']);
    const wire = '..\r\n..leading\r\n...\r\nend\r\n.\r\n';
    for (const byte of Buffer.from(wire)) {
      w.write(Buffer.from([byte]));
      await new Promise((r) => setImmediate(r));
    }
    await expectCode(w.reply(), 250);
    w.end();
    const msg = (await inbox(node.store, 'alice@example.test')).at(-1)!;
    assert.equal(splitTrace(msg.data).rest.toString(), '.\r\n.leading\r\n..\r\nend\r\n');
  });

  test('a first line of a single dot ends an empty message', async () => {
    const w = await Wire.open(node.port);
    await w.hello();
    await w.begin('x@remote.test', ['alice@example.test']);
    w.write('.\r\n');
    await expectCode(w.reply(), 250);
    w.end();
    const msg = (await inbox(node.store, 'alice@example.test')).at(-1)!;
    assert.equal(splitTrace(msg.data).rest.length, 0);
  });
});

describe('smuggling with bareLineEndings=reject', () => {
  let node: SmtpNode;
  before(async () => {
    node = await startSmtpNode({ users: USERS, limits: { bareLineEndings: 'reject' } });
  });
  after(() => node.close());

  for (const [name, terminator] of variants) {
    test(`${name} gets the message refused with 554 5.6.0`, async () => {
      const w = await Wire.open(node.port);
      await w.hello();
      await w.begin('x@remote.test', ['alice@example.test']);
      w.write(`Subject: ${name}\r\n\r\nbefore${terminator}${HIDDEN}.\r\n`);
      const r = await expectCode(w.reply(), 554);
      assert.match(r.raw, /^554 5\.6\.0 /);
      await expectCode(w.cmd('NOOP'), 250);
      w.end();
      assert.equal((await inbox(node.store, 'alice@example.test')).length, 0);
      assert.equal((await inbox(node.store, 'bob@example.test')).length, 0);
    });
  }

  test('a clean CRLF message still passes', async () => {
    const w = await Wire.open(node.port);
    await w.hello();
    await w.begin('x@remote.test', ['alice@example.test']);
    w.write('Subject: clean\r\n\r\nok\r\n.\r\n');
    await expectCode(w.reply(), 250);
    w.end();
  });
});
