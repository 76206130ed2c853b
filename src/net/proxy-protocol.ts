/**
 * The PROXY protocol (HAProxy's proxy-protocol.txt), pure: bytes in, a typed
 * header or a typed error out; no sockets here.
 *
 * - encode: version 2 (binary) for TCP over IPv4 or IPv6, and the LOCAL
 *   command a proxy sends on its own connections (health checks).
 * - parse: version 1 (one text line, at most 107 bytes) and version 2
 *   (16 fixed bytes, then addresses and TLVs), with a bound on the header size
 *   so a peer cannot make the receiver buffer without limit.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** The 12 bytes that open every version 2 header: "\r\n\r\n\0\r\nQUIT\n". */
export const proxyV2Signature = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

const v1Prefix = Buffer.from('PROXY ', 'latin1');
/** Spec section 2.1: the longest possible v1 line, CRLF included. */
export const maxProxyV1LineBytes = 107;
/**
 * Default bound on a whole header: 16 fixed bytes + 216 bytes of UNIX
 * addresses + room for TLVs (SSL, unique id); larger headers are refused.
 */
export const defaultMaxProxyHeaderBytes = 536;

/** An address and port on one side of the relayed connection. */
export interface ProxyEndpoint {
  /** Textual IP address: dotted quad for IPv4, RFC 5952 form for IPv6. */
  address: string;
  port: number;
}

/** One type-length-value extension of a v2 header (spec section 2.2.7). */
export interface ProxyTlv {
  type: number;
  value: Buffer;
}

/** What a version 1 or 2 header says. */
export interface ProxyHeader {
  version: 1 | 2;
  /**
   * 'proxy': a relayed connection, addresses given (when the family is
   * known); 'local': the proxy's own connection (v2 LOCAL, v1 UNKNOWN), to be
   * treated as coming from the proxy itself.
   */
  command: 'proxy' | 'local';
  /** tcp4/tcp6 for relayed TCP; 'unspec' when no usable address is carried. */
  family: 'tcp4' | 'tcp6' | 'udp4' | 'udp6' | 'unix' | 'unspec';
  /** The real client; null for 'local', 'unix' and 'unspec'. */
  source: ProxyEndpoint | null;
  /** The address the client connected to (the proxy's); null as for source. */
  destination: ProxyEndpoint | null;
  /** v2 extensions, in order; empty for v1. */
  tlvs: ProxyTlv[];
  /** Bytes the header took; the connection's own data starts at this offset. */
  headerBytes: number;
}

export type ProxyErrorCode =
  /** The data does not begin with a PROXY signature (v1 or v2). */
  | 'not-proxy'
  /** The header is longer than the receiver's bound. */
  | 'too-long'
  /** A v1 line that breaks the grammar. */
  | 'bad-v1'
  /** A v2 version nibble other than 2, or a command other than LOCAL/PROXY. */
  | 'bad-version'
  /** A v2 family/transport byte the spec does not define. */
  | 'bad-family'
  /** A v2 address block shorter than its family needs. */
  | 'bad-length'
  /** An address or port that is not valid for its family. */
  | 'bad-address'
  /** TLVs that overrun the header. */
  | 'bad-tlv';

/** A header that cannot be accepted; the receiver should close the connection. */
export class ProxyProtocolError extends Error {
  constructor(readonly code: ProxyErrorCode, message: string) {
    super(message);
    this.name = 'ProxyProtocolError';
  }
}

export type ProxyParseResult =
  | { kind: 'header'; header: ProxyHeader }
  /** More bytes are needed to decide; read more (within the bound) and parse again. */
  | { kind: 'incomplete' }
  | { kind: 'error'; error: ProxyProtocolError };

// ---------------------------------------------------------------- addresses

/** Parses a textual IPv4 address into 4 bytes, or null. */
function ipv4Bytes(text: string): Buffer | null {
  if (!isIPv4(text)) return null;
  return Buffer.from(text.split('.').map(Number));
}

/** Parses a textual IPv6 address (with "::" and an embedded IPv4 tail) into 16 bytes, or null. */
function ipv6Bytes(text: string): Buffer | null {
  if (!isIPv6(text) || text.includes('%')) return null;
  let t = text;
  const lastColon = t.lastIndexOf(':');
  const last = t.slice(lastColon + 1);
  if (last.includes('.')) {
    // "::ffff:1.2.3.4": the dotted tail is two 16-bit groups.
    const v4 = ipv4Bytes(last);
    if (!v4) return null;
    t = `${t.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const groups = (h: string) => (h === '' ? [] : h.split(':').map((g) => parseInt(g, 16)));
  let words: number[];
  const gap = t.indexOf('::');
  if (gap >= 0) {
    const left = groups(t.slice(0, gap));
    const right = groups(t.slice(gap + 2));
    const fill = 8 - left.length - right.length;
    if (fill < 1) return null;
    words = [...left, ...new Array<number>(fill).fill(0), ...right];
  } else {
    words = groups(t);
  }
  if (words.length !== 8 || words.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffff)) return null;
  const out = Buffer.alloc(16);
  words.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

/** IPv4-mapped IPv6 ("::ffff:1.2.3.4", as dual-stack sockets report) to plain IPv4; others unchanged. */
export function unmapIPv4(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m && isIPv4(m[1]!) ? m[1]! : address;
}

function ipv4Text(b: Buffer, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/** RFC 5952 text: lower case, no leading zeros, the longest run (2+) of zero groups as "::". */
function ipv6Text(b: Buffer, at: number): string {
  const words = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(at + i * 2));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

// ---------------------------------------------------------------- encode

/**
 * Encodes a v2 PROXY header for a relayed TCP connection. Both endpoints
 * IPv4 (or IPv4-mapped) give TCP4; otherwise TCP6, with an IPv4 side written
 * as ::ffff:a.b.c.d so both sides share one family.
 */
export function encodeProxyV2(source: ProxyEndpoint, destination: ProxyEndpoint, tlvs: ProxyTlv[] = []): Buffer {
  const src = unmapIPv4(source.address);
  const dst = unmapIPv4(destination.address);
  for (const e of [source, destination]) {
    if (!Number.isInteger(e.port) || e.port < 0 || e.port > 65535) throw new ProxyProtocolError('bad-address', `port ${e.port} is not from 0 to 65535`);
  }
  let familyByte: number;
  let addresses: Buffer;
  const s4 = ipv4Bytes(src);
  const d4 = ipv4Bytes(dst);
  if (s4 && d4) {
    familyByte = 0x11; // AF_INET, STREAM
    addresses = Buffer.concat([s4, d4, Buffer.alloc(4)]);
    addresses.writeUInt16BE(source.port, 8);
    addresses.writeUInt16BE(destination.port, 10);
  } else {
    const s6 = s4 ? ipv6Bytes(`::ffff:${src}`) : ipv6Bytes(src);
    const d6 = d4 ? ipv6Bytes(`::ffff:${dst}`) : ipv6Bytes(dst);
    if (!s6) throw new ProxyProtocolError('bad-address', `"${source.address}" is not an IP address`);
    if (!d6) throw new ProxyProtocolError('bad-address', `"${destination.address}" is not an IP address`);
    familyByte = 0x21; // AF_INET6, STREAM
    addresses = Buffer.concat([s6, d6, Buffer.alloc(4)]);
    addresses.writeUInt16BE(source.port, 32);
    addresses.writeUInt16BE(destination.port, 34);
  }
  return frameV2(0x21, familyByte, Buffer.concat([addresses, encodeTlvs(tlvs)]));
}

/** Encodes a v2 LOCAL header: the proxy's own connection, e.g. a health check. */
export function encodeProxyV2Local(): Buffer {
  return frameV2(0x20, 0x00, Buffer.alloc(0));
}

function encodeTlvs(tlvs: ProxyTlv[]): Buffer {
  return Buffer.concat(tlvs.map((t) => {
    if (!Number.isInteger(t.type) || t.type < 0 || t.type > 255 || t.value.length > 0xffff) {
      throw new ProxyProtocolError('bad-tlv', `TLV type ${t.type} with ${t.value.length} bytes cannot be encoded`);
    }
    const head = Buffer.alloc(3);
    head[0] = t.type;
    head.writeUInt16BE(t.value.length, 1);
    return Buffer.concat([head, t.value]);
  }));
}

function frameV2(versionCommand: number, familyByte: number, body: Buffer): Buffer {
  if (body.length > 0xffff) throw new ProxyProtocolError('too-long', `a v2 header body of ${body.length} bytes does not fit its 16-bit length`);
  const head = Buffer.alloc(16);
  proxyV2Signature.copy(head, 0);
  head[12] = versionCommand;
  head[13] = familyByte;
  head.writeUInt16BE(body.length, 14);
  return Buffer.concat([head, body]);
}

// ---------------------------------------------------------------- parse

const fail = (code: ProxyErrorCode, message: string): ProxyParseResult => ({ kind: 'error', error: new ProxyProtocolError(code, message) });

/** True while `data` could still grow into `prefix` (or already starts with it). */
function startsLike(data: Buffer, prefix: Buffer): boolean {
  const n = Math.min(data.length, prefix.length);
  return data.subarray(0, n).equals(prefix.subarray(0, n));
}

/**
 * Parses a PROXY header at the start of `data` (v1 or v2, whichever it is).
 * Returns 'incomplete' while more bytes are needed and the bound is not yet
 * passed. `maxHeaderBytes` bounds the whole header (default 536).
 */
export function parseProxyHeader(data: Buffer, opts: { maxHeaderBytes?: number } = {}): ProxyParseResult {
  const maxHeaderBytes = opts.maxHeaderBytes ?? defaultMaxProxyHeaderBytes;
  if (startsLike(data, proxyV2Signature)) {
    return data.length < proxyV2Signature.length ? { kind: 'incomplete' } : parseV2(data, maxHeaderBytes);
  }
  if (startsLike(data, v1Prefix)) {
    return data.length < v1Prefix.length ? { kind: 'incomplete' } : parseV1(data, Math.min(maxHeaderBytes, maxProxyV1LineBytes));
  }
  return fail('not-proxy', 'the connection did not begin with a PROXY protocol header');
}

function parsePort(text: string): number | null {
  // Spec 2.1: decimal, no leading zero (except "0" itself), 0..65535.
  if (!/^(0|[1-9]\d{0,4})$/.test(text)) return null;
  const n = Number(text);
  return n <= 65535 ? n : null;
}

function parseV1(data: Buffer, maxLineBytes: number): ProxyParseResult {
  const lf = data.indexOf(0x0a);
  if (lf < 0) {
    return data.length >= maxLineBytes ? fail('too-long', `a PROXY v1 line must end within ${maxLineBytes} bytes`) : { kind: 'incomplete' };
  }
  if (lf + 1 > maxLineBytes) return fail('too-long', `a PROXY v1 line must end within ${maxLineBytes} bytes`);
  if (lf === 0 || data[lf - 1] !== 0x0d) return fail('bad-v1', 'a PROXY v1 line must end with CRLF');
  const line = data.subarray(0, lf - 1).toString('latin1');
  const parts = line.split(' ');
  const headerBytes = lf + 1;
  if (parts[1] === 'UNKNOWN') {
    // Spec 2.1: the rest of an UNKNOWN line is ignored; the connection is the proxy's own.
    return { kind: 'header', header: { version: 1, command: 'local', family: 'unspec', source: null, destination: null, tlvs: [], headerBytes } };
  }
  if (parts.length !== 6) return fail('bad-v1', `a PROXY v1 line has 6 fields separated by single spaces, not "${line}"`);
  const [, proto, srcAddr, dstAddr, srcPortText, dstPortText] = parts as [string, string, string, string, string, string];
  const valid = proto === 'TCP4' ? isIPv4 : proto === 'TCP6' ? isIPv6 : null;
  if (!valid) return fail('bad-v1', `the PROXY v1 protocol must be TCP4, TCP6 or UNKNOWN, not "${proto}"`);
  if (!valid(srcAddr) || !valid(dstAddr)) return fail('bad-address', `"${srcAddr}" and "${dstAddr}" must be ${proto === 'TCP4' ? 'IPv4' : 'IPv6'} addresses`);
  const srcPort = parsePort(srcPortText);
  const dstPort = parsePort(dstPortText);
  if (srcPort === null || dstPort === null) return fail('bad-address', `"${srcPortText}" and "${dstPortText}" must be ports from 0 to 65535`);
  const norm = (a: string) => (proto === 'TCP6' ? ipv6Text(ipv6Bytes(a)!, 0) : a);
  return {
    kind: 'header',
    header: {
      version: 1,
      command: 'proxy',
      family: proto === 'TCP4' ? 'tcp4' : 'tcp6',
      source: { address: norm(srcAddr), port: srcPort },
      destination: { address: norm(dstAddr), port: dstPort },
      tlvs: [],
      headerBytes,
    },
  };
}

const v2Families: Record<number, { family: ProxyHeader['family']; addressBytes: number }> = {
  0x00: { family: 'unspec', addressBytes: 0 },
  0x11: { family: 'tcp4', addressBytes: 12 },
  0x12: { family: 'udp4', addressBytes: 12 },
  0x21: { family: 'tcp6', addressBytes: 36 },
  0x22: { family: 'udp6', addressBytes: 36 },
  0x31: { family: 'unix', addressBytes: 216 },
  0x32: { family: 'unix', addressBytes: 216 },
};

function parseV2(data: Buffer, maxHeaderBytes: number): ProxyParseResult {
  if (data.length < 16) return maxHeaderBytes < 16 ? fail('too-long', `a PROXY v2 header needs 16 bytes; the bound is ${maxHeaderBytes}`) : { kind: 'incomplete' };
  const versionCommand = data[12]!;
  if (versionCommand >> 4 !== 2) return fail('bad-version', `PROXY v2 version nibble ${versionCommand >> 4} is not 2`);
  const commandBits = versionCommand & 0x0f;
  if (commandBits > 1) return fail('bad-version', `PROXY v2 command ${commandBits} is neither LOCAL (0) nor PROXY (1)`);
  const bodyBytes = data.readUInt16BE(14);
  const headerBytes = 16 + bodyBytes;
  if (headerBytes > maxHeaderBytes) return fail('too-long', `a PROXY v2 header of ${headerBytes} bytes is over the bound of ${maxHeaderBytes}`);
  const familyByte = data[13]!;
  const fam = v2Families[familyByte];
  // Spec 2.2: a LOCAL header's family and addresses are to be ignored, so any family byte passes.
  if (!fam && commandBits === 1) return fail('bad-family', `PROXY v2 family/transport byte 0x${familyByte.toString(16).padStart(2, '0')} is not defined`);
  if (data.length < headerBytes) return { kind: 'incomplete' };
  const body = data.subarray(16, headerBytes);
  if (commandBits === 0) {
    // Spec 2.2: for LOCAL the receiver uses the real endpoints and discards the address block.
    return { kind: 'header', header: { version: 2, command: 'local', family: 'unspec', source: null, destination: null, tlvs: [], headerBytes } };
  }
  const { family, addressBytes } = fam!;
  if (body.length < addressBytes) return fail('bad-length', `a PROXY v2 ${family} header needs ${addressBytes} address bytes, it has ${body.length}`);
  let source: ProxyEndpoint | null = null;
  let destination: ProxyEndpoint | null = null;
  if (family === 'tcp4' || family === 'udp4') {
    source = { address: ipv4Text(body, 0), port: body.readUInt16BE(8) };
    destination = { address: ipv4Text(body, 4), port: body.readUInt16BE(10) };
  } else if (family === 'tcp6' || family === 'udp6') {
    source = { address: ipv6Text(body, 0), port: body.readUInt16BE(32) };
    destination = { address: ipv6Text(body, 16), port: body.readUInt16BE(34) };
  }
  const tlvs: ProxyTlv[] = [];
  for (let at = addressBytes; at < body.length;) {
    if (body.length - at < 3) return fail('bad-tlv', `${body.length - at} stray bytes after the PROXY v2 TLVs`);
    const length = body.readUInt16BE(at + 1);
    if (at + 3 + length > body.length) return fail('bad-tlv', `a PROXY v2 TLV of ${length} bytes overruns the header`);
    tlvs.push({ type: body[at]!, value: Buffer.from(body.subarray(at + 3, at + 3 + length)) });
    at += 3 + length;
  }
  return {
    kind: 'header',
    header: {
      version: 2,
      command: 'proxy',
      family,
      source,
      destination,
      tlvs,
      headerBytes,
    },
  };
}
