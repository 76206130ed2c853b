/**
 * DNS messages on the wire (RFC 1035 4.1), pure: bytes in, a typed query
 * or a reason out; sections in, bytes out. dns-packet does the record
 * encoding and checks the rest of the query (EDNS lives in the additional
 * section); the question is read here byte by byte so that it can be echoed
 * exactly as asked (RFC 1035 4.1.1: copied into the response), including
 * the mixed case some resolvers use to detect spoofing and labels that are
 * not UTF-8.
 */
import dnsPacket from 'dns-packet';
import type { Answer, Packet } from 'dns-packet';
import { Rcode, type Question, type Resolution } from './resolve.js';
import type { ZoneRecord } from './records.js';

/** A UDP answer without EDNS fits in 512 bytes (RFC 1035 4.2.1). */
export const classicUdpBytes = 512;

/**
 * The UDP payload size we offer and honour with EDNS: the 2020 DNS flag
 * day's 1232, which avoids IP fragmentation on common paths.
 */
export const ednsUdpBytes = 1232;

/** A DNS message can never exceed 65535 bytes (a TCP length prefix is 16 bits, RFC 1035 4.2.2). */
export const maxMessageBytes = 65535;

/** The header fields a response copies from its query. */
export interface QueryHeader {
  id: number;
  opcode: number;
  /** RD is copied into the response (RFC 1035 4.1.1); we never recurse. */
  recursionDesired: boolean;
  /** CD is copied too (RFC 4035 3.2.2). */
  checkingDisabled: boolean;
}

export interface Query extends QueryHeader {
  question: Question;
  /** The question section exactly as received. */
  rawQuestion: Buffer;
  /** EDNS (RFC 6891) from the query's OPT record, or null without one. */
  edns: { udpPayloadBytes: number; version: number } | null;
}

export type ParseResult =
  | { kind: 'query'; query: Query }
  /** A query we can answer only with an error code (FORMERR, NOTIMP, BADVERS). */
  | { kind: 'error'; header: QueryHeader; rcode: number; rawQuestion: Buffer | null; edns: boolean; reason: string }
  /** Nothing to answer: no header to answer to, or a response (answering one could loop between servers). */
  | { kind: 'drop'; reason: string };

/** A label in presentation form (RFC 1035 5.1): ASCII letters lower-cased, "." "\" and odd bytes escaped. */
function labelText(bytes: Buffer): string {
  let out = '';
  for (const b of bytes) {
    if (b >= 0x41 && b <= 0x5a) out += String.fromCharCode(b + 32);
    else if (b === 0x2e || b === 0x5c) out += `\\${String.fromCharCode(b)}`;
    else if (b > 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\${String(b).padStart(3, '0')}`;
  }
  return out;
}

/** Parses a query message. Never throws. */
export function parseQuery(msg: Buffer): ParseResult {
  if (msg.length < 12) return { kind: 'drop', reason: `a message of ${msg.length} bytes is shorter than a DNS header` };
  const flags = msg.readUInt16BE(2);
  if (flags & 0x8000) return { kind: 'drop', reason: 'the message is a response, not a query' };
  const header: QueryHeader = {
    id: msg.readUInt16BE(0),
    opcode: (flags >> 11) & 0xf,
    recursionDesired: (flags & 0x0100) !== 0,
    checkingDisabled: (flags & 0x0010) !== 0,
  };
  const error = (rcode: number, reason: string, rawQuestion: Buffer | null = null, edns = false): ParseResult =>
    ({ kind: 'error', header, rcode, rawQuestion, edns, reason });
  // An authoritative-only server answers standard queries; NOTIFY, UPDATE and
  // the obsolete IQUERY/STATUS get NOTIMP, as RFC 1035 4.1.1 prescribes.
  if (header.opcode !== 0) return error(Rcode.NOTIMP, `opcode ${header.opcode} is not supported`);
  const count = msg.readUInt16BE(4);
  if (count !== 1) return error(Rcode.FORMERR, `a query must ask exactly one question, not ${count}`);

  const labels: string[] = [];
  let offset = 12;
  let nameBytes = 0;
  for (;;) {
    if (offset >= msg.length) return error(Rcode.FORMERR, 'the question name runs past the end of the message');
    const length = msg[offset]!;
    if (length === 0) {
      offset += 1;
      break;
    }
    // A compression pointer (0xC0) could only point into the header here; 0x40 and 0x80 are reserved label types.
    if (length > 63) return error(Rcode.FORMERR, 'the question name holds a compression pointer or a reserved label type');
    if (offset + 1 + length > msg.length) return error(Rcode.FORMERR, 'a label of the question runs past the end of the message');
    nameBytes += 1 + length;
    if (nameBytes + 1 > 255) return error(Rcode.FORMERR, 'the question name is longer than 255 bytes (RFC 1035 2.3.4)');
    labels.push(labelText(msg.subarray(offset + 1, offset + 1 + length)));
    offset += 1 + length;
  }
  if (offset + 4 > msg.length) return error(Rcode.FORMERR, 'the question ends before its type and class');
  const question: Question = { labels, type: msg.readUInt16BE(offset), class: msg.readUInt16BE(offset + 2) };
  const rawQuestion = Buffer.from(msg.subarray(12, offset + 4));

  // The other sections must parse too; the one thing we use from them is EDNS's OPT record.
  let opts: Answer[];
  try {
    opts = (dnsPacket.decode(msg).additionals ?? []).filter((a) => a.type === 'OPT');
  } catch (err) {
    return error(Rcode.FORMERR, `the message does not parse: ${(err as Error).message}`, rawQuestion);
  }
  if (opts.length > 1) return error(Rcode.FORMERR, 'a query may carry one OPT record only (RFC 6891 6.1.1)', rawQuestion);
  const opt = opts[0] as { udpPayloadSize: number; ednsVersion: number } | undefined;
  // EDNS versions above 0 are answered BADVERS with our version, 0 (RFC 6891 6.1.3).
  if (opt && opt.ednsVersion !== 0) return error(Rcode.BADVERS, `EDNS version ${opt.ednsVersion} is not supported`, null, true);
  return {
    kind: 'query',
    query: {
      ...header,
      question,
      rawQuestion,
      // RFC 6891 6.2.5: values below 512 are treated as 512.
      edns: opt ? { udpPayloadBytes: Math.max(classicUdpBytes, opt.udpPayloadSize), version: opt.ednsVersion } : null,
    },
  };
}

/** What goes into a response besides the header fields copied from the query. */
export interface ResponseSpec {
  header: QueryHeader;
  rawQuestion: Buffer | null;
  resolution: Resolution;
  /** Include an OPT record (when the query had one: RFC 6891 7). */
  edns: boolean;
}

const AA = 0x0400;
const TC = 0x0200;
const RD = 0x0100;
const CD = 0x0010;

function toAnswer(r: ZoneRecord): Answer {
  return r as Answer;
}

function encodeSections(spec: ResponseSpec, answers: ZoneRecord[], authorities: ZoneRecord[], additionals: ZoneRecord[], truncated: boolean): Buffer {
  const { header, resolution } = spec;
  const flags = (header.opcode << 11) | (resolution.authoritative ? AA : 0) | (truncated ? TC : 0)
    | (header.recursionDesired ? RD : 0) | (header.checkingDisabled ? CD : 0) | (resolution.rcode & 0xf);
  const extra: Answer[] = additionals.map(toAnswer);
  if (spec.edns) {
    // The upper 8 bits of a 12-bit rcode live in the OPT record (RFC 6891 6.1.3).
    extra.push({ type: 'OPT', name: '.', udpPayloadSize: ednsUdpBytes, extendedRcode: resolution.rcode >> 4, ednsVersion: 0, flags: 0, flag_do: false, options: [] });
  }
  const packet: Packet = { type: 'response', id: header.id, flags, questions: [], answers: answers.map(toAnswer), authorities: authorities.map(toAnswer), additionals: extra };
  const body = dnsPacket.encode(packet);
  if (!spec.rawQuestion) return body;
  // dns-packet does not compress names, so splicing the question in moves no pointer.
  const out = Buffer.concat([body.subarray(0, 12), spec.rawQuestion, body.subarray(12)]);
  out.writeUInt16BE(1, 4);
  return out;
}

/**
 * Encodes a response that fits in maxBytes: first without the additional
 * records, then, if the answer itself does not fit, empty with TC set so
 * that the client asks again over TCP (RFC 2181 9, RFC 7766 5).
 */
export function encodeResponse(spec: ResponseSpec, maxBytes: number): Buffer {
  const { answers, authorities, additionals } = spec.resolution;
  const full = encodeSections(spec, answers, authorities, additionals, false);
  if (full.length <= maxBytes) return full;
  const lean = encodeSections(spec, answers, authorities, [], false);
  if (lean.length <= maxBytes) return lean;
  return encodeSections(spec, [], [], [], true);
}

/** The largest UDP response a query allows. */
export function udpLimitBytes(query: { edns: { udpPayloadBytes: number } | null } | null): number {
  return query?.edns ? Math.min(query.edns.udpPayloadBytes, ednsUdpBytes) : classicUdpBytes;
}
