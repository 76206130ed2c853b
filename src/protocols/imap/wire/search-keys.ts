/**
 * SEARCH arguments (RFC 3501 sections 6.4.4 and 9, RFC 9051 section 6.4.4,
 * RFC 4731 ESEARCH, RFC 5182 SEARCHRES, RFC 7162 section 3.1.5 MODSEQ):
 *
 *     search       = "SEARCH" [search-return-opts] [SP "CHARSET" SP astring] 1*(SP search-key)
 *     search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"
 *     search-return-opt  = "MIN" / "MAX" / "ALL" / "COUNT" / "SAVE"
 *     search-key   = "ALL" / "ANSWERED" / "BCC" SP astring / "BEFORE" SP date / "BODY" SP astring /
 *                    "CC" SP astring / "DELETED" / "FLAGGED" / "FROM" SP astring / "KEYWORD" SP flag-keyword /
 *                    "NEW" / "OLD" / "ON" SP date / "RECENT" / "SEEN" / "SINCE" SP date /
 *                    "SUBJECT" SP astring / "TEXT" SP astring / "TO" SP astring / "UNANSWERED" /
 *                    "UNDELETED" / "UNFLAGGED" / "UNKEYWORD" SP flag-keyword / "UNSEEN" /
 *                    "DRAFT" / "HEADER" SP header-fld-name SP astring / "LARGER" SP number /
 *                    "NOT" SP search-key / "OR" SP search-key SP search-key / "SENTBEFORE" SP date /
 *                    "SENTON" SP date / "SENTSINCE" SP date / "SMALLER" SP number / "UID" SP sequence-set /
 *                    "UNDRAFT" / sequence-set / "(" search-key *(SP search-key) ")" /
 *                    "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer
 *
 * Keys are case-insensitive. NOT, OR and parentheses count toward the
 * reader's nesting limit, so "NOT NOT NOT ..." cannot exhaust the stack.
 * Only US-ASCII and UTF-8 are accepted as CHARSET (RFC 3501 requires both);
 * any other answers NO [BADCHARSET (US-ASCII UTF-8)].
 */
import { parseDateText } from './dates.js';
import { WireSyntaxError, syntaxError } from './errors.js';
import { bytesToText, isAtomChar, type CommandReader } from './reader.js';
import type { ImapDate, SearchFlagKey, SearchKey, SearchReturnOption } from './request.js';
import { parseSequenceSet, SequenceSetError, type SequenceSet } from './sequence-set.js';

/** The charsets SEARCH accepts, as the BADCHARSET response code lists them. */
export const SEARCH_CHARSETS = ['US-ASCII', 'UTF-8'] as const;

const FLAG_KEYS = new Set<string>(['ALL', 'ANSWERED', 'DELETED', 'DRAFT', 'FLAGGED', 'NEW', 'OLD', 'RECENT', 'SEEN', 'UNANSWERED', 'UNDELETED', 'UNDRAFT', 'UNFLAGGED', 'UNSEEN']);
const STRING_KEYS = new Set<string>(['BCC', 'BODY', 'CC', 'FROM', 'SUBJECT', 'TEXT', 'TO']);
const DATE_KEYS = new Set<string>(['BEFORE', 'ON', 'SINCE', 'SENTBEFORE', 'SENTON', 'SENTSINCE']);
const RETURN_OPTIONS = new Set<string>(['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE']);

function isSequenceChar(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || b === 0x2a || b === 0x3a || b === 0x2c || b === 0x24;
}

/** Reads a sequence-set token and parses it; errors become syntax errors. */
export function readSequenceSet(r: CommandReader, what: string, options: { allowSaved?: boolean; allowStar?: boolean } = {}): SequenceSet {
  const text = r.readWhile(isSequenceChar);
  if (text.length === 0) throw syntaxError(`${what} is missing or malformed`);
  try {
    return parseSequenceSet(text, options);
  } catch (e) {
    if (e instanceof SequenceSetError) throw syntaxError(`${what}: ${e.message}`);
    throw e;
  }
}

/** Reads `date` for SEARCH: bare or quoted date-text. */
function readDate(r: CommandReader, key: string): ImapDate {
  const quoted = r.tryByte('"');
  const text = r.readWhile((b) => b !== 0x22 && b !== 0x20 && b !== 0x29 && isAtomChar(b));
  if (quoted) r.expect('"', `to close the date of ${key}`);
  const date = parseDateText(text);
  if (!date) throw syntaxError(`${key} needs a date like 1-Feb-1994`);
  return date;
}

/** The parsed arguments of SEARCH. */
export interface SearchProgram {
  /** CHARSET as given (upper case), or null. */
  readonly charset: string | null;
  /** RETURN options, or null when RETURN was not given. */
  readonly returnOptions: SearchReturnOption[] | null;
  /** All keys, AND-ed. */
  readonly criteria: SearchKey & { readonly key: 'AND' };
}

/** Reads everything after "SEARCH " up to the end of the command. */
export function readSearchProgram(r: CommandReader): SearchProgram {
  let returnOptions: SearchReturnOption[] | null = null;
  let charset: string | null = null;
  const operands: SearchKey[] = [];
  let first = true;
  for (;;) {
    // RETURN and CHARSET may only lead the program (RFC 4731 section 3.1, RFC 3501 section 6.4.4).
    const word = peekWord(r);
    if (first && word === 'RETURN' && returnOptions === null && charset === null) {
      r.readWhile(isAtomChar);
      r.sp('the RETURN options');
      const options = r.list('the RETURN options', () => {
        const option = r.atom('a RETURN option').toUpperCase();
        if (!RETURN_OPTIONS.has(option)) throw syntaxError(`"${option}" is not a SEARCH RETURN option`);
        return option as SearchReturnOption;
      }, { allowEmpty: true });
      returnOptions = [...new Set(options)];
      r.sp('the search criteria');
      continue;
    }
    if (first && word === 'CHARSET' && charset === null) {
      r.readWhile(isAtomChar);
      r.sp('the charset name');
      charset = bytesToText(r.astring('the charset name').bytes, 'the charset name').toUpperCase();
      if (!(SEARCH_CHARSETS as readonly string[]).includes(charset)) {
        throw new WireSyntaxError('bad-charset', `the charset ${charset} is not supported`, { status: 'NO', responseCode: `BADCHARSET (${SEARCH_CHARSETS.join(' ')})` });
      }
      r.sp('the search criteria');
      continue;
    }
    first = false;
    operands.push(readSearchKey(r));
    if (r.atEnd()) break;
    r.sp('the next search key');
  }
  return { charset, returnOptions, criteria: { key: 'AND', operands } };
}

/** The upper-cased atom at the cursor without consuming it ('' if none). */
function peekWord(r: CommandReader): string {
  let word = '';
  for (let i = 0; i < 8; i++) {
    const b = r.peekAt(i);
    if (b < 0 || !isAtomChar(b)) break;
    word += String.fromCharCode(b);
  }
  const next = r.peekAt(word.length);
  return next === 0x20 || next === -1 ? word.toUpperCase() : '';
}

function readText(r: CommandReader, key: string): string {
  r.sp(`the argument of ${key}`);
  return bytesToText(r.astring(`the argument of ${key}`).bytes, `the argument of ${key}`);
}

/** Reads one search-key. */
export function readSearchKey(r: CommandReader): SearchKey {
  const b = r.peek();
  if (b === 0x28) {
    const operands = r.list('a parenthesised search', () => readSearchKey(r));
    return { key: 'AND', operands };
  }
  if ((b >= 0x30 && b <= 0x39) || b === 0x2a || b === 0x24) return { key: 'SEQUENCE', set: readSequenceSet(r, 'the sequence set') };
  const key = r.atom('a search key').toUpperCase();
  if (FLAG_KEYS.has(key)) return { key: key as SearchFlagKey };
  if (STRING_KEYS.has(key)) return { key: key as 'BODY', value: readText(r, key) };
  if (DATE_KEYS.has(key)) {
    r.sp(`the date of ${key}`);
    return { key: key as 'ON', date: readDate(r, key) };
  }
  switch (key) {
    case 'HEADER': {
      r.sp('the header field name');
      const field = bytesToText(r.astring('the header field name').bytes, 'the header field name');
      if (!/^[\x21-\x39\x3b-\x7e]+$/.test(field)) throw syntaxError(`"${field}" is not a header field name`);
      return { key: 'HEADER', field, value: readText(r, 'HEADER') };
    }
    case 'KEYWORD':
    case 'UNKEYWORD': {
      r.sp(`the keyword of ${key}`);
      // flag-keyword is an atom; a leading "\" is tolerated (some clients search system flags this way).
      const backslash = r.tryByte('\\') ? '\\' : '';
      return { key, flag: backslash + r.atom(`the keyword of ${key}`) };
    }
    case 'LARGER':
    case 'SMALLER':
      r.sp(`the size of ${key}`);
      return { key, size: r.number64(`the size of ${key}`) };
    case 'UID':
      r.sp('the UID set');
      return { key: 'UID', set: readSequenceSet(r, 'the UID set') };
    case 'NOT': {
      r.sp('the operand of NOT');
      r.enter();
      const operand = readSearchKey(r);
      r.leave();
      return { key: 'NOT', operand };
    }
    case 'OR': {
      r.sp('the first operand of OR');
      r.enter();
      const left = readSearchKey(r);
      r.sp('the second operand of OR');
      const right = readSearchKey(r);
      r.leave();
      return { key: 'OR', left, right };
    }
    case 'MODSEQ': {
      r.sp('the MODSEQ value');
      let entry: { name: string; type: 'priv' | 'shared' | 'all' } | null = null;
      if (r.peek() === 0x22) {
        const name = bytesToText(r.string('the MODSEQ entry name').bytes, 'the MODSEQ entry name');
        if (!/^\/flags\/\\?[^\s\\]+$/i.test(name)) throw syntaxError('the MODSEQ entry name must look like "/flags/\\Seen"');
        r.sp('the MODSEQ entry type');
        const type = r.atom('the MODSEQ entry type').toLowerCase();
        if (type !== 'priv' && type !== 'shared' && type !== 'all') throw syntaxError('the MODSEQ entry type must be priv, shared or all');
        r.sp('the MODSEQ value');
        entry = { name, type };
      }
      return { key: 'MODSEQ', modSeq: r.modSeq('the MODSEQ value'), entry };
    }
    default:
      throw syntaxError(`"${key}" is not a search key`);
  }
}
