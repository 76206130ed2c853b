/**
 * FETCH data items and modifiers (RFC 3501 sections 6.4.5 and 9, RFC 9051
 * section 6.4.5, RFC 3516 BINARY, RFC 7162 sections 3.1.4 and 3.2.6):
 *
 *     fetch        = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" /
 *                    fetch-att / "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]
 *     fetch-att    = "ENVELOPE" / "FLAGS" / "INTERNALDATE" / "RFC822" [".HEADER" / ".SIZE" / ".TEXT"] /
 *                    "BODY" ["STRUCTURE"] / "UID" / "MODSEQ" /
 *                    "BODY" section [partial] / "BODY.PEEK" section [partial] /
 *                    "BINARY" [".PEEK"] section-binary [partial] / "BINARY.SIZE" section-binary
 *     section      = "[" [section-spec] "]"
 *     section-spec = section-msgtext / (section-part ["." section-text])
 *     section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"
 *     section-text = section-msgtext / "MIME"
 *     section-part = nz-number *("." nz-number)
 *     section-binary = "[" [section-part] "]"
 *     partial      = "<" number "." nz-number ">"
 *     header-list  = "(" header-fld-name *(SP header-fld-name) ")"
 *     fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")"
 *     fetch-modifier  = "CHANGEDSINCE" SP mod-sequence-value / "VANISHED"
 *
 * Also the reverse: the name a FETCH response uses for an item
 * ("BODY[1.2.HEADER.FIELDS (FROM TO)]<0>"), in {@link fetchResponseItemName}.
 */
import { bytesToText, type CommandReader } from './reader.js';
import { syntaxError } from './errors.js';
import type { FetchAttribute, PartialRange, SectionSpec } from './request.js';

/** The macros of RFC 3501 section 6.4.5, expanded. */
export const FETCH_MACROS: Readonly<Record<'ALL' | 'FAST' | 'FULL', readonly FetchAttribute[]>> = {
  FAST: [{ kind: 'FLAGS' }, { kind: 'INTERNALDATE' }, { kind: 'RFC822.SIZE' }],
  ALL: [{ kind: 'FLAGS' }, { kind: 'INTERNALDATE' }, { kind: 'RFC822.SIZE' }, { kind: 'ENVELOPE' }],
  FULL: [{ kind: 'FLAGS' }, { kind: 'INTERNALDATE' }, { kind: 'RFC822.SIZE' }, { kind: 'ENVELOPE' }, { kind: 'BODY' }],
};

const SIMPLE = new Set(['FLAGS', 'INTERNALDATE', 'RFC822', 'RFC822.HEADER', 'RFC822.SIZE', 'RFC822.TEXT', 'ENVELOPE', 'BODY', 'BODYSTRUCTURE', 'UID', 'MODSEQ']);

function isNameChar(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x2e;
}

/** A header field name (RFC 5322 section 3.6.8 `ftext`): printable ASCII except ":". */
function isFieldName(name: string): boolean {
  return /^[\x21-\x39\x3b-\x7e]+$/.test(name);
}

/** Reads the items of a FETCH: a macro, one item, or a parenthesised list. */
export function readFetchItems(r: CommandReader): { attributes: FetchAttribute[]; macro: 'ALL' | 'FAST' | 'FULL' | null } {
  if (r.peek() === 0x28) {
    const attributes = r.list('the FETCH item list', () => readFetchAttribute(r));
    return { attributes, macro: null };
  }
  const start = r.readWhile(isNameChar).toUpperCase();
  if (start === 'ALL' || start === 'FAST' || start === 'FULL') return { attributes: [...FETCH_MACROS[start]], macro: start };
  return { attributes: [readFetchAttributeAfterName(r, start)], macro: null };
}

/** Reads one fetch-att. */
export function readFetchAttribute(r: CommandReader): FetchAttribute {
  const name = r.readWhile(isNameChar).toUpperCase();
  return readFetchAttributeAfterName(r, name);
}

function readFetchAttributeAfterName(r: CommandReader, name: string): FetchAttribute {
  if (name.length === 0) throw syntaxError('a FETCH item is missing or malformed');
  const hasSection = r.peek() === 0x5b;
  if (name === 'BODY' || name === 'BODY.PEEK') {
    if (!hasSection) {
      if (name === 'BODY.PEEK') throw syntaxError('BODY.PEEK needs a section, e.g. BODY.PEEK[]');
      return { kind: 'BODY' };
    }
    const section = readSection(r);
    return { kind: 'BODY[]', peek: name === 'BODY.PEEK', section, partial: readPartial(r) };
  }
  if (name === 'BINARY' || name === 'BINARY.PEEK' || name === 'BINARY.SIZE') {
    if (!hasSection) throw syntaxError(`${name} needs a part number in brackets, e.g. ${name}[1]`);
    const part = readBinarySection(r);
    if (name === 'BINARY.SIZE') return { kind: 'BINARY.SIZE', part };
    return { kind: 'BINARY[]', peek: name === 'BINARY.PEEK', part, partial: readPartial(r) };
  }
  if (SIMPLE.has(name) && !hasSection) return { kind: name as 'FLAGS' };
  if (name === 'ALL' || name === 'FAST' || name === 'FULL') throw syntaxError(`the ${name} macro cannot be used inside a list`);
  throw syntaxError(`"${name}" is not a FETCH item`);
}

function readPart(text: string): number[] {
  if (text === '') return [];
  return text.split('.').map((p) => {
    if (!/^[1-9][0-9]{0,9}$/.test(p) || Number(p) > 4294967295) throw syntaxError(`"${text}" is not a valid part number`);
    return Number(p);
  });
}

function readBinarySection(r: CommandReader): number[] {
  r.expect('[', 'to open the section');
  const text = r.readWhile((b) => (b >= 0x30 && b <= 0x39) || b === 0x2e);
  r.expect(']', 'to close the BINARY section (it takes only part numbers)');
  return readPart(text);
}

/** Reads `section` ("[" [section-spec] "]"). */
export function readSection(r: CommandReader): SectionSpec {
  r.expect('[', 'to open the section');
  const spec = r.readWhile(isNameChar).toUpperCase();
  // Leading all-digit pieces are the part number; the rest is the section text.
  const pieces = spec === '' ? [] : spec.split('.');
  let numeric = 0;
  while (numeric < pieces.length && /^[0-9]+$/.test(pieces[numeric]!)) numeric++;
  const partText = pieces.slice(0, numeric).join('.');
  const text = pieces.slice(numeric).join('.');
  if (numeric > 0 && numeric < pieces.length && text === '') throw syntaxError(`"${spec}" is not a valid section`);
  const part = readPart(partText);
  let kind: SectionSpec['text'];
  switch (text) {
    case '':
      kind = null;
      break;
    case 'HEADER':
    case 'TEXT':
    case 'HEADER.FIELDS':
    case 'HEADER.FIELDS.NOT':
      kind = text;
      break;
    case 'MIME':
      if (part.length === 0) throw syntaxError('MIME needs a part number, e.g. BODY[1.MIME]');
      kind = 'MIME';
      break;
    default:
      throw syntaxError(`"${spec}" is not a valid section`);
  }
  let fields: string[] = [];
  if (kind === 'HEADER.FIELDS' || kind === 'HEADER.FIELDS.NOT') {
    r.sp('the header field list');
    fields = r.list('the header field list', () => {
      const name = bytesToText(r.astring('a header field name').bytes, 'a header field name');
      if (!isFieldName(name)) throw syntaxError(`"${name}" is not a header field name`);
      return name.toUpperCase();
    });
  }
  r.expect(']', 'to close the section');
  return { part, text: kind, fields };
}

function readPartial(r: CommandReader): PartialRange | null {
  if (!r.tryByte('<')) return null;
  const offset = r.number('the partial offset');
  r.expect('.', 'between the partial offset and length');
  const length = r.nzNumber('the partial length');
  r.expect('>', 'to close the partial range');
  return { offset, length };
}

/** Reads `fetch-modifiers` after the items (the leading SP already consumed). */
export function readFetchModifiers(r: CommandReader): { changedSince: number | null; vanished: boolean } {
  let changedSince: number | null = null;
  let vanished = false;
  r.list('the FETCH modifiers', () => {
    const name = r.atom('a FETCH modifier').toUpperCase();
    if (name === 'CHANGEDSINCE') {
      if (changedSince !== null) throw syntaxError('CHANGEDSINCE is given twice');
      r.sp('the CHANGEDSINCE value');
      // RFC 7162 asks for a positive mod-sequence-value; 0 is accepted and means "everything".
      changedSince = r.modSeq('the CHANGEDSINCE value');
    } else if (name === 'VANISHED') {
      vanished = true;
    } else {
      throw syntaxError(`"${name}" is not a FETCH modifier`);
    }
  });
  return { changedSince, vanished };
}

/** Writes a section spec back ("1.2.HEADER.FIELDS (FROM TO)"), as responses echo it. */
export function formatSection(section: SectionSpec): string {
  const parts = section.part.join('.');
  const text = section.text ?? '';
  let out = parts && text ? `${parts}.${text}` : parts + text;
  if (section.text === 'HEADER.FIELDS' || section.text === 'HEADER.FIELDS.NOT') out += ` (${section.fields.join(' ')})`;
  return out;
}

/**
 * The name of a FETCH response item for a requested attribute (RFC 3501
 * section 7.4.2): BODY.PEEK answers as BODY, a partial fetch shows only its
 * origin octet ("BODY[]<0>"), BINARY.PEEK answers as BINARY.
 */
export function fetchResponseItemName(attribute: FetchAttribute): string {
  switch (attribute.kind) {
    case 'BODY[]':
      return `BODY[${formatSection(attribute.section)}]${attribute.partial ? `<${attribute.partial.offset}>` : ''}`;
    case 'BINARY[]':
      return `BINARY[${attribute.part.join('.')}]${attribute.partial ? `<${attribute.partial.offset}>` : ''}`;
    case 'BINARY.SIZE':
      return `BINARY.SIZE[${attribute.part.join('.')}]`;
    default:
      return attribute.kind;
  }
}
