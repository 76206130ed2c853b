/** Shared helpers for the IMAP wire tests: frame text with every literal accepted, then parse. */
import assert from 'node:assert/strict';
import { CommandFramer, type FramedCommand, type FramerEvent, type FramerOptions } from '../../../src/protocols/imap/wire/framer.js';
import type { ImapWireError } from '../../../src/protocols/imap/wire/errors.js';
import { parseCommand, type ParserOptions } from '../../../src/protocols/imap/wire/parser.js';
import type { ImapRequest } from '../../../src/protocols/imap/wire/request.js';

/** Generous limits for tests that are not about limits. */
export const ROOMY: FramerOptions = { maxLineBytes: 65536, maxLiteralBytes: 1 << 20, maxCommandBytes: 2 << 20 };

/** Feeds `input` to a framer (in one chunk, or byte by byte), accepting every literal; returns all events. */
export function frameEvents(input: string | Buffer, options: FramerOptions = ROOMY, byteByByte = false): FramerEvent[] {
  const framer = new CommandFramer(options);
  const data = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const events: FramerEvent[] = [];
  const take = (evs: FramerEvent[]): void => {
    for (const ev of evs) {
      events.push(ev);
      if (ev.kind === 'literal-request') take(framer.acceptLiteral());
    }
  };
  if (byteByByte) for (let i = 0; i < data.length; i++) take(framer.push(data.subarray(i, i + 1)));
  else take(framer.push(data));
  return events;
}

/** The commands framed from `input` (literal requests accepted). */
export function frameCommands(input: string | Buffer, options: FramerOptions = ROOMY): FramedCommand[] {
  return frameEvents(input, options).flatMap((e) => (e.kind === 'command' ? [e.command] : []));
}

/** Frames `input` plus a final CRLF and parses the one command in it. */
export function parseText(input: string | Buffer, options: ParserOptions = {}) {
  const data = Buffer.concat([typeof input === 'string' ? Buffer.from(input, 'utf8') : input, Buffer.from('\r\n')]);
  const commands = frameCommands(data);
  assert.equal(commands.length, 1, `expected one command in ${JSON.stringify(data.toString('latin1'))}`);
  return parseCommand(commands[0]!, options);
}

/** Parses and asserts success. */
export function parseOk(input: string | Buffer, options: ParserOptions = {}): ImapRequest {
  const result = parseText(input, options);
  if (!result.ok) assert.fail(`expected ${JSON.stringify(String(input))} to parse, got ${result.error.code}: ${result.error.sentence}`);
  return result.request;
}

/** Parses and asserts failure. */
export function parseErr(input: string | Buffer, options: ParserOptions = {}): ImapWireError {
  const result = parseText(input, options);
  if (result.ok) assert.fail(`expected ${JSON.stringify(String(input))} to fail, got ${JSON.stringify(result.request)}`);
  return result.error;
}
