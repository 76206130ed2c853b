/**
 * Random and mutated input into the framer and the parser: nothing throws,
 * nothing hangs, no error is the parser's 'internal' catch-all. A seeded
 * PRNG keeps every run the same; the budget is well under 2 seconds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandFramer, type FramerEvent } from '../../../src/protocols/imap/wire/framer.js';
import { parseCommand } from '../../../src/protocols/imap/wire/parser.js';

/** mulberry32: a tiny deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOKENS = [
  'a1 ', 'tag ', 'UID ', 'FETCH ', 'SEARCH ', 'STORE ', 'APPEND ', 'LOGIN ', 'LIST ', 'SELECT ', 'STATUS ', 'ID ', 'ENABLE ', 'SETQUOTA ',
  'AUTHENTICATE ', 'COPY ', 'MOVE ', 'EXPUNGE', 'IDLE', 'DONE', 'NOT ', 'OR ', 'ALL', 'BODY[', ']', 'BODY.PEEK[', 'HEADER.FIELDS ', '1.2.',
  'MIME', 'TEXT', '<0.10>', '(', ')', '((', '))', '"', '\\', '\\"', '{', '}', '{3}', '{0}', '{2+}', '~{1}', '{99999999}', '\r\n', '\n', '\r',
  ' ', '  ', '*', '1:*', '$', '2,4:7', '0', '4294967296', 'NIL', 'INBOX', '&', '&-', '&AOk-', '&U,BTFw', '\0', '\xff', '\xc3\xa9', '\xed\xa0\x80',
  'FLAGS ', '+FLAGS.SILENT ', '\\Seen', '\\Recent', 'CHANGEDSINCE ', 'VANISHED', 'RETURN ', '(STATUS (MESSAGES))', 'CHARSET ', 'UTF-8 ',
  'QRESYNC ', 'CONDSTORE', '1-Feb-1994', '" 7-Feb-1994 21:52:25 -0800"', 'MODSEQ ', '"/flags/\\\\Seen" ', 'all ', '12345 ', 'UTF8 (',
];

const SEEDS_COMMANDS = [
  'a001 login mrc secret\r\n',
  'A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n',
  'A282 SEARCH RETURN (MIN COUNT) CHARSET UTF-8 OR (FROM "x" SEEN) NOT 1:4 SINCE 1-Feb-1994\r\n',
  'A003 APPEND saved-messages (\\Seen) " 7-Feb-1994 21:52:25 -0800" {5+}\r\nhello\r\n',
  'B160 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500 15000,22500)))\r\n',
  'A04 LIST (SUBSCRIBED RECURSIVEMATCH) "" ("Foo/*" "Bar/%") RETURN (CHILDREN STATUS (MESSAGES))\r\n',
  'a102 UID STORE 5 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted $x)\r\n',
  'a ID ("name" "x" "os" NIL)\r\n',
];

function randomInput(rand: () => number): Buffer {
  const parts: Buffer[] = [];
  const pieces = 1 + Math.floor(rand() * 40);
  for (let i = 0; i < pieces; i++) {
    const r = rand();
    if (r < 0.6) parts.push(Buffer.from(TOKENS[Math.floor(rand() * TOKENS.length)]!, 'latin1'));
    else if (r < 0.8) parts.push(Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 8) }, () => Math.floor(rand() * 256))));
    else parts.push(Buffer.from(String(Math.floor(rand() * 100)), 'latin1'));
  }
  return Buffer.concat(parts);
}

function mutate(rand: () => number, input: string): Buffer {
  const bytes = Buffer.from(input, 'latin1');
  const out = Buffer.from(bytes);
  const edits = 1 + Math.floor(rand() * 4);
  let result = out;
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(rand() * result.length);
    const kind = rand();
    if (kind < 0.4) result[at] = Math.floor(rand() * 256);
    else if (kind < 0.7) result = Buffer.concat([result.subarray(0, at), result.subarray(at + 1)]);
    else result = Buffer.concat([result.subarray(0, at), Buffer.from(TOKENS[Math.floor(rand() * TOKENS.length)]!, 'latin1'), result.subarray(at)]);
  }
  return result;
}

test('random and mutated bytes never make the framer or the parser throw', () => {
  const rand = prng(20240917);
  const started = Date.now();
  let commands = 0;
  let errors = 0;
  const limits = { maxLineBytes: 512, maxLiteralBytes: 256, maxCommandBytes: 2048 };
  for (let iteration = 0; iteration < 3000; iteration++) {
    const framer = new CommandFramer({ ...limits, nonSynchronisingLiterals: rand() < 0.5 ? 'plus' : 'minus' });
    const input = iteration % 3 === 0 ? mutate(rand, SEEDS_COMMANDS[iteration % SEEDS_COMMANDS.length]!) : randomInput(rand);
    const stream = Buffer.concat([input, Buffer.from('\r\n')]);
    const handle = (events: FramerEvent[]): void => {
      for (const event of events) {
        if (event.kind === 'command') {
          commands++;
          const result = parseCommand(event.command, { utf8Accept: rand() < 0.3, maxNestingDepth: 8 });
          if (!result.ok) {
            errors++;
            assert.notEqual(result.error.code, 'internal', `internal error on ${JSON.stringify(stream.toString('latin1'))}: ${result.error.sentence}`);
            assert.ok(result.error.sentence.length > 0);
          }
        } else if (event.kind === 'literal-request') {
          handle(rand() < 0.7 ? framer.acceptLiteral() : framer.refuseLiteral());
        }
      }
    };
    // Random chunking exercises every split point of the state machine.
    let pos = 0;
    while (pos < stream.length) {
      const size = 1 + Math.floor(rand() * 16);
      handle(framer.push(stream.subarray(pos, pos + size)));
      pos += size;
    }
    assert.ok(framer.bufferedBytes <= limits.maxCommandBytes + limits.maxLineBytes + 64, 'memory stays bounded');
  }
  assert.ok(commands > 1000, `enough commands were parsed (${commands})`);
  assert.ok(errors > 0 && errors < commands);
  assert.ok(Date.now() - started < 2000, 'within the time budget');
});
