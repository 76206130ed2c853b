/**
 * The MIME indexer: one pass over a message's exact bytes giving the part
 * tree with byte offsets (RFC 2045, RFC 2046 5.1.1 boundaries, 5.1.5
 * digest defaults, 5.2.1 message/rfc822), part numbers (RFC 3501 6.4.5),
 * ENVELOPE, BODY and BODYSTRUCTURE (RFC 3501 7.4.2).
 *
 * Why a hand-written scanner rather than mailsplit: mailsplit is a stream
 * transform built to rewrite messages; it hands out header objects and body
 * chunks but not the offsets of each header and body in the input, and it
 * re-serialises headers it has parsed. FETCH BODY[1.2.MIME] must return the
 * stored bytes exactly, so offsets are counted here on the real bytes (bare
 * LF included). libmime is still used for what it does well: RFC 2047
 * encoded words and charset tables.
 *
 * How boundaries are found, as Dovecot does: a line is a delimiter when it
 * starts with "--" and a boundary of any open multipart, innermost first (so
 * an outer boundary that is a prefix of an inner one is not mistaken), with
 * anything allowed after it (RFC 2046 says only white space; mailers differ).
 * A delimiter of an outer multipart ends every inner one still open, so an
 * unterminated multipart ends where its parent goes on.
 *
 * Cost: the message is scanned once (plus one pass for line counts); each
 * line starting with "--" is compared with at most maxDepth boundaries. The
 * limits of MimeLimits bound the depth, the parts, the header bytes read and
 * the addresses kept, so hostile input stays cheap and the index small.
 */

import { ENVELOPE_FIELDS, envelopeOf } from './envelope.js';
import { breakBefore, fieldValue, scanHeader } from './header.js';
import {
  emptyEnvelope,
  emptyTextStructure,
  leafStructure,
  messageStructure,
  multipartStructure,
  opaqueStructure,
  type PartHeaders,
} from './bodystructure.js';
import {
  decodedParam,
  paramValue,
  parseLanguages,
  parseStructured,
  parseTransferEncoding,
  splitMediaType,
} from './params.js';
import {
  defaultMimeLimits,
  MIME_INDEX_VERSION,
  type DecodedHeaders,
  type ImapValue,
  type MimeAnomaly,
  type MimeIndex,
  type MimeLimits,
  type MimePart,
} from './types.js';

const LF = 0x0a;
const DASH = 0x2d;
const LF_DASH_DASH = Buffer.from('\n--');

const MIME_FIELDS = [
  'content-type',
  'content-transfer-encoding',
  'content-id',
  'content-description',
  'content-disposition',
  'content-language',
  'content-location',
  'content-md5',
];
const PART_FIELDS: ReadonlySet<string> = new Set(MIME_FIELDS);
const MESSAGE_FIELDS: ReadonlySet<string> = new Set([...MIME_FIELDS, ...ENVELOPE_FIELDS]);

/** Encodings under which a message/rfc822 body is readable as a message (RFC 2046 5.2.1). */
const IDENTITY_ENCODINGS = new Set(['7bit', '8bit', 'binary']);

/** A boundary delimiter line found in the body. */
interface Hit {
  /** Index in the stack of open multiparts (0 = outermost). */
  level: number;
  /** The close delimiter ("--boundary--"). */
  close: boolean;
  /** Where the content before the delimiter ends (the line break before it belongs to it). */
  contentEnd: number;
  /** Start of the line after the delimiter line. */
  next: number;
}

/** One entity as built: its stored part and its structure values. */
interface Built {
  part: MimePart;
  structure: ImapValue;
  body: ImapValue;
  hit: Hit | null;
  /** For a message (the root or one inside message/rfc822). */
  envelope: ImapValue;
  headers: DecodedHeaders | null;
}

/**
 * Indexes a message from its exact bytes. Never throws for any input: a
 * malformed message gets the most useful reading and its anomalies listed.
 */
export function indexMessage(message: Buffer, limits: Partial<MimeLimits> = {}): MimeIndex {
  const indexer = new Indexer(message, { ...defaultMimeLimits, ...limits });
  const root = indexer.entity(0, 0, true, false);
  assignSections(root.part, '');
  return {
    version: MIME_INDEX_VERSION,
    size: message.length,
    root: root.part,
    envelope: root.envelope,
    bodyStructure: root.structure,
    body: root.body,
    headers: root.headers!,
    anomalies: [...indexer.anomalies],
  };
}

class Indexer {
  /** Boundaries of the multiparts open around the current position, outermost first. */
  private readonly stack: Buffer[] = [];
  private partCount = 0;
  readonly anomalies = new Set<MimeAnomaly>();

  constructor(
    private readonly buf: Buffer,
    private readonly limits: MimeLimits,
  ) {}

  /** The open multipart whose delimiter the line at `lineStart` is, innermost first. */
  private match(lineStart: number): { level: number; close: boolean } | null {
    const buf = this.buf;
    if (buf[lineStart] !== DASH || buf[lineStart + 1] !== DASH) return null;
    const at = lineStart + 2;
    for (let level = this.stack.length - 1; level >= 0; level--) {
      const b = this.stack[level]!;
      if (at + b.length <= buf.length && buf.compare(b, 0, b.length, at, at + b.length) === 0) {
        const end = at + b.length;
        return { level, close: buf[end] === DASH && buf[end + 1] === DASH };
      }
    }
    return null;
  }

  private readonly isBoundary = (lineStart: number): boolean => this.match(lineStart) !== null;

  /** Makes a Hit of the delimiter line at `lineStart`. */
  private hitAt(lineStart: number, m: { level: number; close: boolean }): Hit {
    const lf = this.buf.indexOf(LF, lineStart);
    return {
      level: m.level,
      close: m.close,
      contentEnd: lineStart - breakBefore(this.buf, lineStart),
      next: lf === -1 ? this.buf.length : lf + 1,
    };
  }

  /** The first delimiter line of an open multipart at or after the line starting at `pos`. */
  private findBoundary(pos: number): Hit | null {
    if (this.stack.length === 0) return null;
    let line = pos;
    while (line < this.buf.length) {
      const m = this.match(line);
      if (m) return this.hitAt(line, m);
      const found = this.buf.indexOf(LF_DASH_DASH, line);
      if (found === -1) return null;
      line = found + 1;
    }
    return null;
  }

  /** Offsets of every LF in the message, ascending; built on first use. */
  private lineFeeds: Uint32Array | null = null;

  /**
   * Line count of a body: its LF characters, as Dovecot counts (RFC 3501
   * body-fld-lines). The LF offsets are found once per message, so nested
   * message/rfc822 parts do not each rescan their content.
   */
  private lines(start: number, end: number): number {
    if (this.lineFeeds === null) {
      let found = new Uint32Array(1024);
      let n = 0;
      for (let i = this.buf.indexOf(LF); i !== -1; i = this.buf.indexOf(LF, i + 1)) {
        if (n === found.length) {
          const grown = new Uint32Array(found.length * 2);
          grown.set(found);
          found = grown;
        }
        found[n++] = i;
      }
      this.lineFeeds = found.subarray(0, n);
    }
    return lowerBound(this.lineFeeds, end) - lowerBound(this.lineFeeds, start);
  }

  /**
   * Reads the entity whose header starts at `start`, and everything inside
   * it, up to the delimiter of an enclosing multipart (returned as `hit`) or
   * the end of the message.
   *
   * @param isMessage a message (the root, or inside message/rfc822): its envelope is read
   * @param inDigest a part of multipart/digest: the default type is message/rfc822
   */
  entity(start: number, depth: number, isMessage: boolean, inDigest: boolean): Built {
    const buf = this.buf;
    this.partCount++;
    const scan = scanHeader(buf, start, isMessage ? MESSAGE_FIELDS : PART_FIELDS, this.isBoundary, this.limits.maxHeaderBytes);
    if (scan.noEmptyLine) this.anomalies.add('header-without-empty-line');
    if (scan.junkLines) this.anomalies.add('header-junk-line');
    if (scan.truncated) this.anomalies.add('header-truncated');
    // The values read are bounded in total too, or one 20 MB Subject would be stored whole.
    const values = new Map<string, string[]>();
    let valueBudget = this.limits.maxHeaderBytes;
    for (const field of scan.fields) {
      const length = field.valueEnd - field.valueStart;
      if (length > valueBudget) this.anomalies.add('header-truncated');
      const value = fieldValue(buf, field, valueBudget);
      valueBudget = Math.max(0, valueBudget - length);
      const list = values.get(field.name);
      if (list) list.push(value);
      else values.set(field.name, [value]);
    }
    const h = this.partHeaders(values, inDigest);
    const type = h.type.toLowerCase();
    const subtype = h.subtype.toLowerCase();
    const bodyStart = scan.headerEnd;

    let envelope: ImapValue = null;
    let headers: DecodedHeaders | null = null;
    if (isMessage) {
      const env = envelopeOf(values, this.limits.maxAddressesPerField);
      if (env.truncated) this.anomalies.add('address-limit');
      envelope = env.envelope;
      headers = env.headers;
    }

    const part: MimePart = {
      section: '',
      kind: 'leaf',
      mediaType: `${type}/${subtype}`,
      charset: type === 'text' ? (paramValue(h.params, 'charset')?.toLowerCase() ?? null) : null,
      encoding: h.encoding.toLowerCase(),
      disposition: h.disposition?.value.toLowerCase() ?? null,
      fileName:
        (h.disposition && decodedParam(h.disposition.params, 'filename')) ?? decodedParam(h.params, 'name') ?? null,
      contentId: h.id,
      headerStart: start,
      headerEnd: bodyStart,
      bodyStart,
      bodyEnd: bodyStart,
    };
    if (type === 'text' && subtype === 'plain' && paramValue(h.params, 'format')?.toLowerCase() === 'flowed') {
      part.flowed = { delSp: paramValue(h.params, 'delsp')?.toLowerCase() === 'yes' };
    }
    const built: Built = { part, structure: null, body: null, hit: null, envelope, headers };
    const canOpen = depth < this.limits.maxDepth && this.partCount < this.limits.maxParts;
    const opaque = (): void => {
      this.anomalies.add(depth < this.limits.maxDepth ? 'part-limit' : 'depth-limit');
      this.leafExtent(built, scan.boundaryLine);
      part.mediaType = 'application/octet-stream';
      part.charset = null;
      const size = part.bodyEnd - bodyStart;
      built.structure = opaqueStructure(h, size, true);
      built.body = opaqueStructure(h, size, false);
    };

    if (type === 'multipart') {
      const boundary = paramValue(h.params, 'boundary');
      if (!canOpen) {
        opaque();
      } else {
        part.kind = 'multipart';
        const children: Built[] = [];
        if (!boundary) {
          // Dovecot's reading, kept: a multipart with no parts.
          this.anomalies.add('multipart-without-boundary');
          this.leafExtent(built, scan.boundaryLine);
        } else if (scan.boundaryLine !== -1) {
          built.hit = this.hitAt(scan.boundaryLine, this.match(scan.boundaryLine)!);
        } else {
          this.multipartBody(built, Buffer.from(boundary, 'utf8'), depth, subtype === 'digest', children);
        }
        if (children.length === 0) this.anomalies.add('multipart-without-parts');
        part.parts = children.map((c) => c.part);
        built.structure = multipartStructure(h, children.map((c) => c.structure), true);
        built.body = multipartStructure(h, children.map((c) => c.body), false);
      }
    } else if (type === 'message' && subtype === 'rfc822') {
      if (!canOpen) {
        opaque();
      } else {
        let innerEnvelope = emptyEnvelope();
        let innerStructure = emptyTextStructure(true);
        let innerBody = emptyTextStructure(false);
        if (scan.boundaryLine === -1 && IDENTITY_ENCODINGS.has(part.encoding)) {
          const inner = this.entity(bodyStart, depth + 1, true, false);
          part.kind = 'message';
          part.message = inner.part;
          part.bodyEnd = Math.max(bodyStart, inner.part.bodyEnd);
          built.hit = inner.hit;
          innerEnvelope = inner.envelope;
          innerStructure = inner.structure;
          innerBody = inner.body;
        } else {
          // Encoded (or empty): not readable as a message here. Dovecot's shape: an empty message.
          this.leafExtent(built, scan.boundaryLine);
        }
        const size = part.bodyEnd - bodyStart;
        const lines = this.lines(bodyStart, part.bodyEnd);
        built.structure = messageStructure(h, size, innerEnvelope, innerStructure, lines, true);
        built.body = messageStructure(h, size, innerEnvelope, innerBody, lines, false);
      }
    } else {
      this.leafExtent(built, scan.boundaryLine);
      const size = part.bodyEnd - bodyStart;
      const lines = type === 'text' ? this.lines(bodyStart, part.bodyEnd) : null;
      built.structure = leafStructure(h, size, lines, true);
      built.body = leafStructure(h, size, lines, false);
    }
    // The line break before a delimiter is the delimiter's (RFC 2046 5.1.1), even
    // when it was also read as this entity's empty line or its own delimiter's
    // end: the entity then shrinks to an empty one there. Only empty bodies
    // shrink, so the sizes already computed hold.
    if (built.hit && part.bodyEnd > built.hit.contentEnd) clampPart(part, built.hit.contentEnd);
    return built;
  }

  /** Sets the end of a body that is not opened: up to the next delimiter of an open multipart. */
  private leafExtent(built: Built, boundaryLine: number): void {
    const part = built.part;
    if (boundaryLine !== -1) {
      built.hit = this.hitAt(boundaryLine, this.match(boundaryLine)!);
      part.bodyEnd = part.bodyStart;
      return;
    }
    built.hit = this.findBoundary(part.bodyStart);
    part.bodyEnd = built.hit ? Math.max(part.bodyStart, built.hit.contentEnd) : this.buf.length;
  }

  /**
   * Reads a multipart body: preamble, parts, epilogue (RFC 2046 5.1.1).
   * A missing close delimiter ends the multipart at its parent's next
   * delimiter or at the end of the message.
   */
  private multipartBody(built: Built, boundary: Buffer, depth: number, digest: boolean, children: Built[]): void {
    const part = built.part;
    const level = this.stack.length;
    this.stack.push(boundary);
    let hit = this.findBoundary(part.bodyStart);
    for (;;) {
      if (hit === null || hit.level < level) {
        this.anomalies.add('multipart-unterminated');
        this.stack.pop();
        break;
      }
      if (hit.close) {
        // The epilogue runs to the parent's next delimiter.
        this.stack.pop();
        hit = this.findBoundary(hit.next);
        break;
      }
      if (this.partCount >= this.limits.maxParts) {
        // No more parts are split out; the rest stays in the multipart's body only.
        this.anomalies.add('part-limit');
        hit = this.findBoundary(hit.next);
        continue;
      }
      const child = this.entity(hit.next, depth + 1, false, digest);
      children.push(child);
      hit = child.hit;
    }
    built.hit = hit;
    part.bodyEnd = hit ? Math.max(part.bodyStart, hit.contentEnd) : this.buf.length;
  }

  /** Reads the MIME fields of an entity, with the defaults of RFC 2045 5.2 and RFC 2046 5.1.5. */
  private partHeaders(values: ReadonlyMap<string, readonly string[]>, inDigest: boolean): PartHeaders {
    const first = (name: string): string | null => values.get(name)?.[0] ?? null;
    let type = inDigest ? 'message' : 'text';
    let subtype = inDigest ? 'rfc822' : 'plain';
    let params: PartHeaders['params'] = [];
    const contentType = first('content-type');
    if (contentType !== null) {
      const parsed = parseStructured(contentType);
      const media = splitMediaType(parsed.value);
      if (media) {
        [type, subtype] = media;
        params = parsed.params;
      } else {
        // RFC 2045 5.2: an invalid Content-Type is read as text/plain; charset=us-ascii.
        this.anomalies.add('invalid-content-type');
        type = 'text';
        subtype = 'plain';
      }
    }
    const disposition = first('content-disposition');
    const parsedDisposition = disposition === null ? null : parseStructured(disposition);
    const languages = first('content-language');
    const parsedLanguages = languages === null ? [] : parseLanguages(languages);
    return {
      type,
      subtype,
      params,
      id: first('content-id') || null,
      description: first('content-description') || null,
      encoding: parseTransferEncoding(first('content-transfer-encoding') ?? '') ?? '7bit',
      md5: first('content-md5') || null,
      disposition: parsedDisposition && parsedDisposition.value !== '' ? parsedDisposition : null,
      languages: parsedLanguages.length > 0 ? parsedLanguages : null,
      location: first('content-location') || null,
    };
  }
}

/** The index of the first element of a sorted array that is >= `value`. */
function lowerBound(sorted: Uint32Array, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Moves every offset of a part and of what it contains to at most `limit`. */
function clampPart(part: MimePart, limit: number): void {
  part.headerStart = Math.min(part.headerStart, limit);
  part.headerEnd = Math.min(part.headerEnd, limit);
  part.bodyStart = Math.min(part.bodyStart, limit);
  part.bodyEnd = Math.min(part.bodyEnd, limit);
  part.parts?.forEach((p) => clampPart(p, limit));
  if (part.message) clampPart(part.message, limit);
}

/**
 * Numbers the parts (RFC 3501 6.4.5): the parts of a multipart message are
 * 1, 2...; a message that is not multipart is itself part 1; the message in
 * a message/rfc822 part numbered N has its parts numbered N.1, N.2...
 *
 * @param message a message entity (the root, or inside message/rfc822)
 * @param prefix the part number of the message/rfc822 part holding it ("" for the root)
 */
function assignSections(message: MimePart, prefix: string): void {
  const number = (n: number): string => (prefix === '' ? String(n) : `${prefix}.${n}`);
  if (message.kind === 'multipart') {
    message.section = '';
    message.parts!.forEach((p, i) => numberPart(p, number(i + 1)));
  } else {
    numberPart(message, number(1));
  }
}

/** Numbers a part and what it contains. */
function numberPart(part: MimePart, section: string): void {
  part.section = section;
  if (part.kind === 'multipart') part.parts!.forEach((p, i) => numberPart(p, `${section}.${i + 1}`));
  else if (part.kind === 'message') assignSections(part.message!, section);
}
