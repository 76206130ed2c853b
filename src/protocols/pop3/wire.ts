/**
 * POP3 wire parsing: one command line (bytes, line end already removed) to a
 * typed command or a parse error. Pure: no sockets, no session, no store.
 *
 * Grammar (RFC 1939 section 3, RFC 2449 section 3): a case-insensitive
 * keyword of 3 or 4 letters, then arguments separated by spaces. PASS takes
 * the rest of the line as the password (passwords contain spaces; RFC 1939
 * section 7 leaves it to the server, and Dovecot does the same).
 */
import { TextDecoder } from 'node:util';

/** A message number as the client sees it: 1-based, fixed for the session. */
export type MsgNumber = number & { readonly __msgNumber: true };

/** Every command this server understands, with its parsed arguments. */
export type Pop3Command =
  | { verb: 'USER'; name: string }
  | { verb: 'PASS'; password: string }
  | { verb: 'AUTH'; mechanism: string | null; initialResponse: string | null }
  | { verb: 'STLS' }
  | { verb: 'CAPA' }
  | { verb: 'QUIT' }
  | { verb: 'STAT' }
  | { verb: 'LIST'; msg: MsgNumber | null }
  | { verb: 'UIDL'; msg: MsgNumber | null }
  | { verb: 'RETR'; msg: MsgNumber }
  | { verb: 'TOP'; msg: MsgNumber; lines: number }
  | { verb: 'DELE'; msg: MsgNumber }
  | { verb: 'NOOP' }
  | { verb: 'RSET' };

export type Pop3Verb = Pop3Command['verb'];

/** Why a line is not a command we can run. */
export interface Pop3ParseError {
  /** 'unknown' for a keyword we do not implement; 'syntax' for anything malformed. */
  error: 'unknown' | 'syntax';
  /** A sentence for the client. */
  message: string;
}

export function isParseError(x: Pop3Command | Pop3ParseError): x is Pop3ParseError {
  return 'error' in x;
}

/** RFC 2449 section 4: arguments are at most 40 octets (PASS and AUTH data excepted). */
const MAX_ARG_CHARS = 40;
/** The largest message number we accept; far above any real maildrop. */
const MAX_MSG_NUMBER = 2 ** 31 - 1;

/** Verbs whose arguments may exceed MAX_ARG_CHARS. */
const longArgVerbs = new Set(['USER', 'PASS', 'AUTH']);

const utf8 = new TextDecoder('utf-8', { fatal: true });

const syntax = (message: string): Pop3ParseError => ({ error: 'syntax', message });

type ArgParser = (args: string[], rest: string) => Pop3Command | Pop3ParseError;

function noArgs<V extends 'STLS' | 'CAPA' | 'QUIT' | 'STAT' | 'NOOP' | 'RSET'>(verb: V): ArgParser {
  return (args) => (args.length === 0 ? ({ verb } as Pop3Command) : syntax(`${verb} takes no arguments`));
}

/** A message number: decimal digits only, no sign, 1 or more. */
export function parseMsgNumber(text: string): MsgNumber | null {
  if (!/^[0-9]{1,10}$/.test(text)) return null;
  const n = Number(text);
  return n >= 1 && n <= MAX_MSG_NUMBER ? (n as MsgNumber) : null;
}

function optionalMsg<V extends 'LIST' | 'UIDL'>(verb: V): ArgParser {
  return (args) => {
    if (args.length === 0) return { verb, msg: null } as Pop3Command;
    if (args.length > 1) return syntax(`${verb} takes at most one message number`);
    const msg = parseMsgNumber(args[0]!);
    return msg === null ? syntax('invalid message number') : ({ verb, msg } as Pop3Command);
  };
}

function oneMsg<V extends 'RETR' | 'DELE'>(verb: V): ArgParser {
  return (args) => {
    if (args.length !== 1) return syntax(`${verb} needs one message number`);
    const msg = parseMsgNumber(args[0]!);
    return msg === null ? syntax('invalid message number') : ({ verb, msg } as Pop3Command);
  };
}

/** The argument grammar of every verb: the wire half of the verb table. */
const grammar: Record<Pop3Verb, ArgParser> = {
  USER: (args) => {
    // User names are addresses and never contain spaces.
    if (args.length !== 1) return syntax('USER needs one name');
    return { verb: 'USER', name: args[0]! };
  },
  PASS: (_args, rest) => (rest.length === 0 ? syntax('PASS needs a password') : { verb: 'PASS', password: rest }),
  AUTH: (args) => {
    if (args.length === 0) return { verb: 'AUTH', mechanism: null, initialResponse: null };
    if (args.length > 2) return syntax('AUTH takes a mechanism and an optional initial response');
    return { verb: 'AUTH', mechanism: args[0]!.toUpperCase(), initialResponse: args[1] ?? null };
  },
  STLS: noArgs('STLS'),
  CAPA: noArgs('CAPA'),
  QUIT: noArgs('QUIT'),
  STAT: noArgs('STAT'),
  NOOP: noArgs('NOOP'),
  RSET: noArgs('RSET'),
  LIST: optionalMsg('LIST'),
  UIDL: optionalMsg('UIDL'),
  RETR: oneMsg('RETR'),
  DELE: oneMsg('DELE'),
  TOP: (args) => {
    if (args.length !== 2) return syntax('TOP needs a message number and a line count');
    const msg = parseMsgNumber(args[0]!);
    if (msg === null) return syntax('invalid message number');
    if (!/^[0-9]{1,10}$/.test(args[1]!)) return syntax('invalid line count');
    return { verb: 'TOP', msg, lines: Math.min(Number(args[1]), MAX_MSG_NUMBER) };
  },
};

/** The verbs this server implements, for tests and documentation. */
export const knownVerbs = Object.keys(grammar) as Pop3Verb[];

/**
 * Parses one command line. The line must not contain its CRLF. Rejects NUL
 * and other control characters, invalid UTF-8, and unknown keywords.
 */
export function parseCommand(line: Buffer): Pop3Command | Pop3ParseError {
  let text: string;
  try {
    text = utf8.decode(line);
  } catch {
    return syntax('the command is not valid UTF-8');
  }
  // Control characters (NUL, bare CR, ESC, DEL...) never belong in a command;
  // TAB is tolerated as a separator like a space.
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(text)) return syntax('the command contains control characters');
  const trimmed = text.replace(/[ \t]+$/, '');
  const m = /^([A-Za-z]{3,4})(?:[ \t]+([^]*))?$/.exec(trimmed);
  if (!m) return trimmed.length === 0 ? syntax('empty command') : { error: 'unknown', message: 'unknown command' };
  const verb = m[1]!.toUpperCase();
  const rest = m[2] ?? '';
  const parse = (grammar as Record<string, ArgParser | undefined>)[verb];
  if (!parse) return { error: 'unknown', message: 'unknown command' };
  const args = rest.length === 0 ? [] : rest.split(/[ \t]+/);
  // Addresses, passwords and SASL responses may be longer; the line limit bounds them.
  if (!longArgVerbs.has(verb) && args.some((a) => a.length > MAX_ARG_CHARS)) return syntax('argument too long');
  return parse(args, rest);
}

/** What an AUTH PLAIN message (RFC 4616) carries. */
export interface PlainCredentials {
  /** The identity to act as; empty when the same as authcid. */
  authzid: string;
  /** The identity whose password this is. */
  authcid: string;
  password: string;
}

/**
 * Decodes the base64 SASL PLAIN response (RFC 4616: authzid NUL authcid NUL
 * passwd). "=" is the empty response (RFC 5034 section 4). Returns null when
 * it is not valid base64 or not three UTF-8 fields.
 */
export function decodeSaslPlain(response: string): PlainCredentials | null {
  if (response === '=') return null;
  if (response.length === 0 || response.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(response)) return null;
  const bytes = Buffer.from(response, 'base64');
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return null;
  }
  const fields = text.split('\0');
  if (fields.length !== 3) return null;
  const [authzid, authcid, password] = fields as [string, string, string];
  if (authcid.length === 0 || password.length === 0) return null;
  return { authzid, authcid, password };
}

// ---------------------------------------------------------------- replies

/** RFC 2449 / RFC 3206 response codes this server sends. */
export type ResponseCode = 'IN-USE' | 'LOGIN-DELAY' | 'SYS/TEMP' | 'SYS/PERM' | 'AUTH';

/** A single-line positive reply. */
export function ok(text: string): string {
  return `+OK ${text}\r\n`;
}

/** A single-line negative reply, with a response code when there is one. */
export function err(text: string, code?: ResponseCode): string {
  return code ? `-ERR [${code}] ${text}\r\n` : `-ERR ${text}\r\n`;
}

/** A complete multi-line reply made of short text lines (LIST, UIDL, CAPA), dot-stuffed. */
export function multiline(first: string, lines: readonly string[]): string {
  let out = ok(first);
  for (const line of lines) out += (line.startsWith('.') ? '.' : '') + line + '\r\n';
  return out + '.\r\n';
}
