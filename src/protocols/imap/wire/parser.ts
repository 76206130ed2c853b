/**
 * The IMAP command parser: a framed command (see framer.ts) to a typed
 * request (see request.ts) or a typed error, following the command grammar
 * of RFC 3501 section 9 and RFC 9051 section 9 with the extension grammars
 * named in request.ts:
 *
 *     command  = tag SP (command-any / command-auth / command-nonauth / command-select) CRLF
 *     tag      = 1*<any ASTRING-CHAR except "+">
 *     uid      = "UID" SP ("COPY" / "MOVE" / "FETCH" / "SEARCH" / "STORE" / "EXPUNGE") ...
 *     mailbox  = "INBOX" / astring       ; INBOX is case-insensitive
 *
 * Pure: no I/O, no session. It never throws: malformed input, NUL bytes,
 * invalid UTF-8, runaway nesting and its own bugs all come back as
 * {@link ImapWireError}. Mailbox names are decoded from modified UTF-7
 * (RFC 3501 section 5.1.3) unless the session has enabled UTF8=ACCEPT
 * (RFC 6855 section 3), in which case they are taken as UTF-8.
 * The IDLE terminator ("DONE") and AUTHENTICATE continuation lines are not
 * commands; {@link isIdleDone} and {@link parseAuthenticateResponse} read them.
 */
import { WireSyntaxError, syntaxError, type ImapWireError } from './errors.js';
import { readFetchItems, readFetchModifiers } from './fetch-attributes.js';
import type { FramedCommand } from './framer.js';
import { isTagByte } from './framer.js';
import { decodeModifiedUtf7, ModifiedUtf7Error } from './mutf7.js';
import { bytesToText, CommandReader, isAtomChar, type StringToken } from './reader.js';
import type { AppendMessage, ImapCommandName, ImapRequest, ImapRequestBody, ListReturnOptions, ListSelectionOptions, MessageFlag, QresyncParameters, StatusItem, SystemFlag } from './request.js';
import { readSearchProgram, readSequenceSet } from './search-keys.js';
import { parseDateTimeText } from './dates.js';

/** How the parser reads commands for one session. */
export interface ParserOptions {
  /** UTF8=ACCEPT is enabled (RFC 6855): mailbox names are UTF-8, not modified UTF-7. */
  readonly utf8Accept?: boolean;
  /** Deepest nesting of parentheses and NOT/OR allowed; default {@link DEFAULT_MAX_NESTING_DEPTH}. */
  readonly maxNestingDepth?: number;
}

/** Default nesting limit: real clients stay under 10; Dovecot CVE-2026-27857 was unbounded nesting. */
export const DEFAULT_MAX_NESTING_DEPTH = 32;

/** RFC 2971 section 3.3: at most 30 field/value pairs. */
export const MAX_ID_PAIRS = 30;

/** The parser's answer. */
export type ParseResult = { readonly ok: true; readonly request: ImapRequest } | { readonly ok: false; readonly error: ImapWireError };

interface Context {
  readonly r: CommandReader;
  readonly utf8Accept: boolean;
  readonly uid: boolean;
}

type CommandParser = (ctx: Context) => ImapRequestBody;

const SYSTEM_FLAGS: ReadonlyMap<string, SystemFlag> = new Map(
  (['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'] as const).map((f) => [f.toUpperCase(), f]),
);

const STATUS_ITEMS = new Set<string>(['MESSAGES', 'RECENT', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'HIGHESTMODSEQ', 'SIZE', 'DELETED', 'APPENDLIMIT']);

/** Special-use attributes a client may give to CREATE (RFC 6154 section 2). */
const SPECIAL_USES: ReadonlyMap<string, string> = new Map(
  ['\\All', '\\Archive', '\\Drafts', '\\Flagged', '\\Junk', '\\Sent', '\\Trash'].map((u) => [u.toUpperCase(), u]),
);

/** Commands that take the UID prefix. */
const UID_COMMANDS = new Set(['COPY', 'MOVE', 'FETCH', 'SEARCH', 'STORE', 'EXPUNGE']);

// ---------------------------------------------------------------- helpers

/** Decodes a mailbox name per the session's mode and normalises INBOX. */
function mailboxFromToken(token: StringToken, utf8Accept: boolean, what = 'the mailbox name'): string {
  const raw = bytesToText(token.bytes, what);
  let name: string;
  if (utf8Accept) {
    name = raw;
  } else {
    try {
      name = decodeModifiedUtf7(raw);
    } catch (e) {
      if (e instanceof ModifiedUtf7Error) throw syntaxError(`${what} is not valid modified UTF-7: ${e.message}`);
      throw e;
    }
  }
  return name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
}

function readMailbox(ctx: Context, what = 'the mailbox name'): string {
  return mailboxFromToken(ctx.r.astring(what), ctx.utf8Accept, what);
}

/** Reads one `flag` for STORE/APPEND: a system flag (canonical) or a keyword. */
function readFlag(ctx: Context): MessageFlag {
  const { r } = ctx;
  if (r.tryByte('\\')) {
    const name = r.atom('a system flag');
    const flag = SYSTEM_FLAGS.get('\\' + name.toUpperCase());
    if (!flag) {
      if (name.toUpperCase() === 'RECENT') throw syntaxError('\\Recent cannot be set by a client');
      throw syntaxError(`\\${name} is not a system flag`);
    }
    return flag;
  }
  return r.atom('a flag');
}

function readFlagList(ctx: Context): MessageFlag[] {
  return dedupe(ctx.r.list('the flag list', () => readFlag(ctx), { allowEmpty: true }));
}

function dedupe<T>(items: T[]): T[] {
  return [...new Set(items)];
}

function readStatusItems(ctx: Context): StatusItem[] {
  return dedupe(
    ctx.r.list('the STATUS items', () => {
      const item = ctx.r.atom('a STATUS item').toUpperCase();
      if (!STATUS_ITEMS.has(item)) throw syntaxError(`"${item}" is not a STATUS item`);
      return item as StatusItem;
    }),
  );
}

function noArguments(command: 'CAPABILITY' | 'NOOP' | 'LOGOUT' | 'STARTTLS' | 'CHECK' | 'CLOSE' | 'UNSELECT' | 'NAMESPACE' | 'IDLE'): CommandParser {
  return ({ r }) => {
    r.expectEnd(command);
    return { command };
  };
}

function oneMailbox(command: 'DELETE' | 'SUBSCRIBE' | 'UNSUBSCRIBE'): CommandParser {
  return (ctx) => {
    ctx.r.sp('the mailbox name');
    const mailbox = readMailbox(ctx);
    ctx.r.expectEnd('the mailbox name');
    return { command, mailbox };
  };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes strict base64 (RFC 4648 with padding), or null when malformed. */
export function decodeBase64Strict(text: string): Buffer | null {
  return BASE64.test(text) ? Buffer.from(text, 'base64') : null;
}

// ---------------------------------------------------------------- commands

function parseAuthenticate(ctx: Context): ImapRequestBody {
  const { r } = ctx;
  r.sp('the SASL mechanism');
  const mechanism = r.atom('the SASL mechanism').toUpperCase();
  let initialResponse: Buffer | null = null;
  if (r.trySp()) {
    // SASL-IR (RFC 4959): base64, or "=" for an empty initial response.
    const text = r.readWhile((b) => isAtomChar(b) || b === 0x3d);
    if (text === '=') initialResponse = Buffer.alloc(0);
    else {
      initialResponse = text.length > 0 ? decodeBase64Strict(text) : null;
      if (!initialResponse) throw syntaxError('the initial response is not valid base64');
    }
  }
  r.expectEnd('the AUTHENTICATE arguments');
  return { command: 'AUTHENTICATE', mechanism, initialResponse };
}

function parseLogin(ctx: Context): ImapRequestBody {
  const { r } = ctx;
  r.sp('the user name');
  const username = r.astringText('the user name');
  r.sp('the password');
  const password = r.astringText('the password');
  r.expectEnd('the password');
  return { command: 'LOGIN', username, password };
}

function parseSelect(command: 'SELECT' | 'EXAMINE'): CommandParser {
  return (ctx) => {
    const { r } = ctx;
    r.sp('the mailbox name');
    const mailbox = readMailbox(ctx);
    let condstore = false;
    let qresync: QresyncParameters | null = null;
    if (r.trySp()) {
      // select-params (RFC 4466 section 2.1): CONDSTORE and QRESYNC (RFC 7162).
      r.list('the SELECT parameters', () => {
        const name = r.atom('a SELECT parameter').toUpperCase();
        if (name === 'CONDSTORE') condstore = true;
        else if (name === 'QRESYNC') {
          if (qresync) throw syntaxError('QRESYNC is given twice');
          r.sp('the QRESYNC parameters');
          qresync = readQresync(ctx);
        } else throw syntaxError(`"${name}" is not a SELECT parameter`);
      });
    }
    r.expectEnd(`the ${command} arguments`);
    return { command, mailbox, condstore, qresync };
  };
}

/** `"(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")"` (RFC 7162 section 3.2.5). */
function readQresync(ctx: Context): QresyncParameters {
  const { r } = ctx;
  r.expect('(', 'to open the QRESYNC parameters');
  r.enter();
  const uidValidity = r.nzNumber('the QRESYNC UIDVALIDITY');
  r.sp('the QRESYNC modseq');
  const modSeq = r.modSeq('the QRESYNC modseq');
  let knownUids = null;
  let sequenceMatch = null;
  if (r.trySp()) {
    if (r.peek() !== 0x28) {
      knownUids = readSequenceSet(r, 'the known UIDs', { allowSaved: false, allowStar: false });
      if (r.trySp() && r.peek() !== 0x28) throw syntaxError('expected the sequence match data in parentheses');
    }
    if (r.peek() === 0x28) {
      r.expect('(', 'to open the sequence match data');
      r.enter();
      const sequences = readSequenceSet(r, 'the known sequence set', { allowSaved: false, allowStar: false });
      r.sp('the known UID set');
      const uids = readSequenceSet(r, 'the known UID set', { allowSaved: false, allowStar: false });
      r.expect(')', 'to close the sequence match data');
      r.leave();
      sequenceMatch = { sequences, uids };
    }
  }
  r.expect(')', 'to close the QRESYNC parameters');
  r.leave();
  return { uidValidity, modSeq, knownUids, sequenceMatch };
}

function parseCreate(ctx: Context): ImapRequestBody {
  const { r } = ctx;
  r.sp('the mailbox name');
  const mailbox = readMailbox(ctx);
  let specialUse: string[] = [];
  if (r.trySp()) {
    // create-param (RFC 4466): only USE (RFC 6154 section 3) is known.
    r.list('the CREATE parameters', () => {
      const name = r.atom('a CREATE parameter').toUpperCase();
      if (name !== 'USE') throw syntaxError(`"${name}" is not a CREATE parameter`);
      r.sp('the special-use list');
      specialUse = dedupe(
        r.list('the special-use list', () => {
          r.expect('\\', 'before a special-use attribute');
          const attr = SPECIAL_USES.get('\\' + r.atom('a special-use attribute').toUpperCase());
          if (!attr) throw syntaxError('unknown special-use attribute');
          return attr;
        }),
      );
    });
  }
  r.expectEnd('the CREATE arguments');
  return { command: 'CREATE', mailbox, specialUse };
}

function parseRename(ctx: Context): ImapRequestBody {
  const { r } = ctx;
  r.sp('the mailbox name');
  const from = readMailbox(ctx);
  r.sp('the new mailbox name');
  const to = readMailbox(ctx, 'the new mailbox name');
  r.expectEnd('the new mailbox name');
  return { command: 'RENAME', from, to };
}

function readListMailbox(ctx: Context): string {
  const token = ctx.r.listMailbox('the mailbox pattern');
  const text = mailboxFromToken(token, ctx.utf8Accept, 'the mailbox pattern');
  // A pattern keeps its spelling; only a whole-name INBOX was normalised, which is harmless.
  return text;
}

function parseList(ctx: Context): ImapRequestBody {
  const { r } = ctx;
  let extended = false;
  const selection = { subscribed: false, remote: false, recursiveMatch: false, specialUse: false };
  const returns: { subscribed: boolean; children: boolean; specialUse: boolean; status: StatusItem[] | null } = { subscribed: false, children: false, specialUse: false, status: null };
  r.sp('the reference name');
  if (r.peek() === 0x28) {
    extended = true;
    // list-select-opts (RFC 5258 section 3.1); unknown options are BAD (section 3.1 last paragraph).
    r.list('the LIST selection options', () => {
      const option = r.atom('a LIST selection option').toUpperCase();
      if (option === 'SUBSCRIBED') selection.subscribed = true;
      else if (option === 'REMOTE') selection.remote = true;
      else if (option === 'RECURSIVEMATCH') selection.recursiveMatch = true;
      else if (option === 'SPECIAL-USE') selection.specialUse = true;
      else throw syntaxError(`"${option}" is not a LIST selection option`);
    }, { allowEmpty: true });
    if (selection.recursiveMatch && !selection.subscribed && !selection.specialUse) {
      throw syntaxError('RECURSIVEMATCH needs another selection option, such as SUBSCRIBED');
    }
    r.sp('the reference name');
  }
  const reference = mailboxFromToken(r.astring('the reference name'), ctx.utf8Accept, 'the reference name');
  r.sp('the mailbox pattern');
  let patterns: string[];
  if (r.peek() === 0x28) {
    extended = true;
    patterns = r.list('the mailbox patterns', () => readListMailbox(ctx));
  } else {
    patterns = [readListMailbox(ctx)];
  }
  if (r.trySp()) {
    const word = r.atom('RETURN').toUpperCase();
    if (word !== 'RETURN') throw syntaxError(`expected RETURN, not "${word}"`);
    extended = true;
    r.sp('the LIST return options');
    r.list('the LIST return options', () => {
      const option = r.atom('a LIST return option').toUpperCase();
      if (option === 'SUBSCRIBED') returns.subscribed = true;
      else if (option === 'CHILDREN') returns.children = true;
      else if (option === 'SPECIAL-USE') returns.specialUse = true;
      else if (option === 'STATUS') {
        // RFC 5819 section 2.
        r.sp('the STATUS items');
        returns.status = readStatusItems(ctx);
      } else throw syntaxError(`"${option}" is not a LIST return option`);
    }, { allowEmpty: true });
  }
  r.expectEnd('the LIST arguments');
  return { command: 'LIST', reference, patterns, selection: selection as ListSelectionOptions, returns: returns as ListReturnOptions, extended };
}

function parseLsub(ctx: Context): ImapRequestBody {
  const { r } = ctx;
  r.sp('the reference name');
  const reference = mailboxFromToken(r.astring('the reference name'), ctx.utf8Accept, 'the reference name');
  r.sp('the mailbox pattern');
  const pattern = readListMailbox(ctx);
  r.expectEnd('the LSUB arguments');
  return { command: 'LSUB', reference, pattern };
}

function parseStatus(ctx: Context): ImapRequestBody {
  const { r } = ctx;
  r.sp('the mailbox name');
  const mailbox = readMailbox(ctx);
  r.sp('the STATUS items');
  const items = readStatusItems(ctx);
  r.expectEnd('the STATUS items');
  return { command: 'STATUS', mailbox, items };
}

/**
 * APPEND (RFC 3501 section 6.3.11) with MULTIAPPEND (RFC 3502), literal8
 * (RFC 3516) and `UTF8 (literal8)` (RFC 6855 section 4):
 *
 *     append = "APPEND" SP mailbox 1*append-message
 *     append-message = [SP flag-list] [SP date-time] SP append-data
 *     append-data = literal / literal8 / "UTF8" SP "(" literal8 ")"
 */
function parseAppend(ctx: Context): ImapRequestBody {
  const { r } = ctx;
  r.sp('the mailbox name');
  const mailbox = readMailbox(ctx);
  const messages: AppendMessage[] = [];
  do {
    r.sp('the message');
    let flags: MessageFlag[] = [];
    if (r.peek() === 0x28) {
      flags = readFlagList(ctx);
      r.sp('the message');
    }
    let internalDate = null;
    if (r.peek() === 0x22) {
      const text = bytesToText(r.string('the internal date').bytes, 'the internal date');
      internalDate = parseDateTimeText(text);
      if (!internalDate) throw syntaxError('the internal date must look like "17-Jul-1996 02:44:25 -0700"');
      r.sp('the message');
    }
    let utf8 = false;
    if (r.peek() === 0x55 || r.peek() === 0x75) {
      const word = r.atom('the message').toUpperCase();
      if (word !== 'UTF8') throw syntaxError('the message must be a literal');
      r.sp('the UTF8 message');
      r.expect('(', 'after UTF8');
      utf8 = true;
    }
    if (r.peek() !== 0x7b && r.peek() !== 0x7e) throw syntaxError('the message must be a literal');
    const literal = r.literal('the message');
    if (utf8) {
      if (!literal.binary) throw syntaxError('UTF8 ( ) must hold a literal8 ("~{")');
      r.expect(')', 'to close UTF8 (');
    }
    // CHAR8 excludes NUL (RFC 3501 section 9); only literal8 may carry it (RFC 3516).
    if (!literal.binary && literal.data.includes(0)) throw new WireSyntaxError('nul-byte', 'the message contains a NUL byte; send it as a literal8 (~{n}) if the server announced BINARY');
    messages.push({ flags, internalDate, data: literal.data, binary: literal.binary, utf8 });
  } while (!r.atEnd());
  return { command: 'APPEND', mailbox, messages };
}

function parseSearch(ctx: Context): ImapRequestBody {
  const { r } = ctx;
  r.sp('the search criteria');
  const program = readSearchProgram(r);
  return { command: 'SEARCH', uid: ctx.uid, charset: program.charset, returnOptions: program.returnOptions, criteria: program.criteria };
}

function parseFetch(ctx: Context): ImapRequestBody {
  const { r } = ctx;
  r.sp('the sequence set');
  const sequenceSet = readSequenceSet(r, 'the sequence set');
  r.sp('the FETCH items');
  const { attributes, macro } = readFetchItems(r);
  let changedSince: number | null = null;
  let vanished = false;
  if (r.trySp()) ({ changedSince, vanished } = readFetchModifiers(r));
  r.expectEnd('the FETCH items');
  // RFC 7162 section 3.2.6: VANISHED only with UID FETCH and CHANGEDSINCE.
  if (vanished && (!ctx.uid || changedSince === null)) throw syntaxError('VANISHED needs UID FETCH and CHANGEDSINCE');
  return { command: 'FETCH', uid: ctx.uid, sequenceSet, attributes, macro, changedSince, vanished };
}

function parseStore(ctx: Context): ImapRequestBody {
  const { r } = ctx;
  r.sp('the sequence set');
  const sequenceSet = readSequenceSet(r, 'the sequence set');
  r.sp('the STORE action');
  let unchangedSince: number | null = null;
  if (r.peek() === 0x28) {
    // store-modifiers (RFC 7162 section 3.1.3).
    r.list('the STORE modifiers', () => {
      const name = r.atom('a STORE modifier').toUpperCase();
      if (name !== 'UNCHANGEDSINCE') throw syntaxError(`"${name}" is not a STORE modifier`);
      if (unchangedSince !== null) throw syntaxError('UNCHANGEDSINCE is given twice');
      r.sp('the UNCHANGEDSINCE value');
      unchangedSince = r.modSeq('the UNCHANGEDSINCE value');
    });
    r.sp('the STORE action');
  }
  const word = r.readWhile((b) => isAtomChar(b) || b === 0x2b).toUpperCase();
  const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(word);
  if (!m) throw syntaxError('the STORE action must be FLAGS, +FLAGS or -FLAGS, optionally with .SILENT');
  const action = m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'set';
  r.sp('the flags');
  let flags: MessageFlag[];
  if (r.peek() === 0x28) flags = readFlagList(ctx);
  else {
    flags = [readFlag(ctx)];
    while (r.trySp()) flags.push(readFlag(ctx));
    flags = dedupe(flags);
  }
  r.expectEnd('the flags');
  return { command: 'STORE', uid: ctx.uid, sequenceSet, unchangedSince, action, silent: m[2] !== undefined, flags };
}

function parseCopy(command: 'COPY' | 'MOVE'): CommandParser {
  return (ctx) => {
    const { r } = ctx;
    r.sp('the sequence set');
    const sequenceSet = readSequenceSet(r, 'the sequence set');
    r.sp('the mailbox name');
    const mailbox = readMailbox(ctx);
    r.expectEnd('the mailbox name');
    return { command, uid: ctx.uid, sequenceSet, mailbox };
  };
}

function parseExpunge(ctx: Context): ImapRequestBody {
  const { r } = ctx;
  if (!ctx.uid) {
    r.expectEnd('EXPUNGE');
    return { command: 'EXPUNGE', uids: null };
  }
  r.sp('the UID set');
  const uids = readSequenceSet(r, 'the UID set');
  r.expectEnd('the UID set');
  return { command: 'EXPUNGE', uids };
}

function parseEnable(ctx: Context): ImapRequestBody {
  const { r } = ctx;
  const capabilities: string[] = [];
  r.sp('the capability to enable');
  do capabilities.push(r.atom('a capability name').toUpperCase());
  while (r.trySp());
  r.expectEnd('the capabilities');
  return { command: 'ENABLE', capabilities: dedupe(capabilities) };
}

function parseId(ctx: Context): ImapRequestBody {
  const { r } = ctx;
  r.sp('the ID parameters');
  if (r.peek() !== 0x28) {
    if (r.atom('the ID parameters').toUpperCase() !== 'NIL') throw syntaxError('the ID parameters must be a list or NIL');
    r.expectEnd('ID NIL');
    return { command: 'ID', parameters: null };
  }
  // id-params-list: field/value pairs; a bare atom is tolerated where a string belongs.
  const flat = r.list(
    'the ID parameters',
    () => {
      const token = r.nstringOrAtom('an ID field or value');
      return token === null ? null : bytesToText(token.bytes, 'an ID value');
    },
    { allowEmpty: true },
  );
  r.expectEnd('the ID parameters');
  if (flat.length % 2 !== 0) throw syntaxError('the ID parameters must come in field/value pairs');
  if (flat.length / 2 > MAX_ID_PAIRS) throw syntaxError(`ID takes at most ${MAX_ID_PAIRS} field/value pairs`);
  const parameters: Array<readonly [string, string | null]> = [];
  for (let i = 0; i < flat.length; i += 2) {
    const field = flat[i];
    if (field === null || field === undefined) throw syntaxError('an ID field name cannot be NIL');
    parameters.push([field, flat[i + 1] ?? null]);
  }
  return { command: 'ID', parameters };
}

function parseGetQuota(ctx: Context): ImapRequestBody {
  const { r } = ctx;
  r.sp('the quota root');
  const root = r.astringText('the quota root');
  r.expectEnd('the quota root');
  return { command: 'GETQUOTA', root };
}

function parseGetQuotaRoot(ctx: Context): ImapRequestBody {
  const { r } = ctx;
  r.sp('the mailbox name');
  const mailbox = readMailbox(ctx);
  r.expectEnd('the mailbox name');
  return { command: 'GETQUOTAROOT', mailbox };
}

function parseSetQuota(ctx: Context): ImapRequestBody {
  const { r } = ctx;
  r.sp('the quota root');
  const root = r.astringText('the quota root');
  r.sp('the quota limits');
  r.expect('(', 'to open the quota limits');
  r.enter();
  const limits: Array<{ resource: string; limit: number }> = [];
  if (!r.tryByte(')')) {
    for (;;) {
      const resource = r.atom('a quota resource name').toUpperCase();
      r.sp('the resource limit');
      limits.push({ resource, limit: r.number64('the resource limit') });
      if (r.tryByte(')')) break;
      r.sp('the next quota resource');
    }
  }
  r.leave();
  r.expectEnd('the quota limits');
  return { command: 'SETQUOTA', root, limits };
}

/** The command table: upper-case name to argument parser. */
const COMMANDS: ReadonlyMap<string, CommandParser> = new Map<ImapCommandName, CommandParser>([
  ['CAPABILITY', noArguments('CAPABILITY')],
  ['NOOP', noArguments('NOOP')],
  ['LOGOUT', noArguments('LOGOUT')],
  ['STARTTLS', noArguments('STARTTLS')],
  ['CHECK', noArguments('CHECK')],
  ['CLOSE', noArguments('CLOSE')],
  ['UNSELECT', noArguments('UNSELECT')],
  ['NAMESPACE', noArguments('NAMESPACE')],
  ['IDLE', noArguments('IDLE')],
  ['EXPUNGE', parseExpunge],
  ['AUTHENTICATE', parseAuthenticate],
  ['LOGIN', parseLogin],
  ['SELECT', parseSelect('SELECT')],
  ['EXAMINE', parseSelect('EXAMINE')],
  ['CREATE', parseCreate],
  ['DELETE', oneMailbox('DELETE')],
  ['SUBSCRIBE', oneMailbox('SUBSCRIBE')],
  ['UNSUBSCRIBE', oneMailbox('UNSUBSCRIBE')],
  ['RENAME', parseRename],
  ['LIST', parseList],
  ['LSUB', parseLsub],
  ['STATUS', parseStatus],
  ['APPEND', parseAppend],
  ['SEARCH', parseSearch],
  ['FETCH', parseFetch],
  ['STORE', parseStore],
  ['COPY', parseCopy('COPY')],
  ['MOVE', parseCopy('MOVE')],
  ['ENABLE', parseEnable],
  ['ID', parseId],
  ['GETQUOTA', parseGetQuota],
  ['GETQUOTAROOT', parseGetQuotaRoot],
  ['SETQUOTA', parseSetQuota],
]);

/** The command names this parser knows, for CAPABILITY sanity checks and tests. */
export const KNOWN_COMMANDS: readonly string[] = [...COMMANDS.keys()];

// ---------------------------------------------------------------- entry points

/** Parses one framed command. Never throws. */
export function parseCommand(command: FramedCommand, options: ParserOptions = {}): ParseResult {
  let tag: string | null = null;
  let name: string | null = null;
  try {
    if (command.lines.length === 0) throw new WireSyntaxError('empty-command', 'empty command line');
    const r = new CommandReader(command, options.maxNestingDepth ?? DEFAULT_MAX_NESTING_DEPTH);
    if (r.atEnd()) throw new WireSyntaxError('empty-command', 'empty command line');
    const tagText = r.readWhile(isTagByte);
    if (tagText.length > 0 && r.peek() === 0x20) tag = tagText;
    r.validateText();
    if (tagText.length === 0) throw new WireSyntaxError('bad-tag', 'the command must start with a tag');
    if (r.peek() !== 0x20) {
      if (r.atEnd()) {
        tag = tagText;
        throw new WireSyntaxError('syntax', 'the command name is missing');
      }
      throw new WireSyntaxError('bad-tag', 'the tag contains a character that is not allowed');
    }
    tag = tagText;
    r.sp('the command name');
    const first = r.atom('the command name').toUpperCase();
    let uid = false;
    name = first;
    let commandName = first;
    if (first === 'UID') {
      r.sp('the command after UID');
      commandName = r.atom('the command after UID').toUpperCase();
      name = `UID ${commandName}`;
      if (!UID_COMMANDS.has(commandName)) throw syntaxError(`UID cannot be used with ${commandName}`);
      uid = true;
    }
    const parser = COMMANDS.get(commandName);
    if (!parser) throw new WireSyntaxError('unknown-command', `unknown command ${commandName.slice(0, 40)}`);
    const body = parser({ r, utf8Accept: options.utf8Accept ?? false, uid });
    return { ok: true, request: { ...body, tag } };
  } catch (e) {
    if (e instanceof WireSyntaxError) {
      return { ok: false, error: { code: e.code, tag, command: name, sentence: e.sentence, status: e.reply.status, responseCode: e.reply.responseCode } };
    }
    // A bug here must not take the session down; the fuzz test checks this never happens.
    return { ok: false, error: { code: 'internal', tag, command: name, sentence: 'the server could not parse this command', status: 'BAD', responseCode: null } };
  }
}

/** Builds a one-line framed command from text (tests, and the IDLE/AUTHENTICATE helpers). */
export function framedLine(line: Buffer | string): FramedCommand {
  return { lines: [typeof line === 'string' ? Buffer.from(line, 'utf8') : line], literals: [] };
}

/** True when a framed command is the IDLE terminator "DONE" (RFC 2177; case-insensitive). */
export function isIdleDone(command: FramedCommand): boolean {
  return command.literals.length === 0 && command.lines.length === 1 && command.lines[0]!.toString('latin1').toUpperCase() === 'DONE';
}

/** A client's answer to an AUTHENTICATE challenge (RFC 3501 section 6.2.2, RFC 9051 section 6.2.2). */
export type AuthenticateResponse = { readonly kind: 'cancel' } | { readonly kind: 'data'; readonly data: Buffer } | { readonly kind: 'invalid'; readonly sentence: string };

/** Reads an AUTHENTICATE continuation line: "*" cancels, otherwise base64 (may be empty). */
export function parseAuthenticateResponse(command: FramedCommand): AuthenticateResponse {
  if (command.literals.length > 0 || command.lines.length !== 1) return { kind: 'invalid', sentence: 'an authentication response is one line of base64' };
  const text = command.lines[0]!.toString('latin1');
  if (text === '*') return { kind: 'cancel' };
  const data = decodeBase64Strict(text);
  if (!data) return { kind: 'invalid', sentence: 'the authentication response is not valid base64' };
  return { kind: 'data', data };
}
