/** The PROXY protocol codec: v2 encoding, v1 and v2 parsing, and every error it must give. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeProxyV2, encodeProxyV2Local, parseProxyHeader, proxyV2Signature, unmapIPv4,
  type ProxyHeader, type ProxyParseResult,
} from '../../src/net/proxy-protocol.js';

function header(r: ProxyParseResult): ProxyHeader {
  assert.equal(r.kind, 'header', r.kind === 'error' ? r.error.message : r.kind);
  return (r as { header: ProxyHeader }).header;
}
function errorCode(r: ProxyParseResult): string {
  assert.equal(r.kind, 'error');
  return (r as { error: { code: string } }).error.code;
}

test('v2 TCP4: the exact bytes of the spec layout', () => {
  const bytes = encodeProxyV2({ address: '192.0.2.1', port: 56324 }, { address: '198.51.100.7', port: 25 });
  assert.deepEqual(bytes, Buffer.concat([
    proxyV2Signature,
    Buffer.from([0x21, 0x11, 0x00, 0x0c]),
    Buffer.from([192, 0, 2, 1, 198, 51, 100, 7, 0xdc, 0x04, 0x00, 0x19]),
  ]));
  const h = header(parseProxyHeader(Buffer.concat([bytes, Buffer.from('EHLO x\r\n')])));
  assert.deepEqual(h, {
    version: 2, command: 'proxy', family: 'tcp4',
    source: { address: '192.0.2.1', port: 56324 }, destination: { address: '198.51.100.7', port: 25 },
    tlvs: [], headerBytes: 28,
  });
});

test('v2 TCP6 round trip, with RFC 5952 text and mixed families promoted to IPv6', () => {
  const cases: [string, string, string, string][] = [
    ['2001:db8::1', '2001:DB8:0:0:1:0:0:2', '2001:db8::1', '2001:db8::1:0:0:2'],
    ['::1', 'fe80::1:2', '::1', 'fe80::1:2'],
    ['127.0.0.1', '::1', '::ffff:7f00:1', '::1'],
    ['1:2:3:4:5:6:7:8', '::', '1:2:3:4:5:6:7:8', '::'],
    ['::ffff:10.1.2.3', '2001:db8:0:1:1:1:1:1', '::ffff:a01:203', '2001:db8:0:1:1:1:1:1'],
  ];
  for (const [src, dst, srcText, dstText] of cases) {
    const bytes = encodeProxyV2({ address: src, port: 1 }, { address: dst, port: 65535 });
    assert.equal(bytes[13], 0x21, `${src} -> ${dst} is TCP6`);
    assert.equal(bytes.length, 16 + 36);
    const h = header(parseProxyHeader(bytes));
    assert.equal(h.family, 'tcp6');
    assert.deepEqual(h.source, { address: srcText, port: 1 });
    assert.deepEqual(h.destination, { address: dstText, port: 65535 });
  }
});

test('IPv4-mapped addresses from dual-stack sockets are sent as TCP4', () => {
  assert.equal(unmapIPv4('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(unmapIPv4('::1'), '::1');
  const h = header(parseProxyHeader(encodeProxyV2({ address: '::ffff:127.0.0.5', port: 4000 }, { address: '127.0.0.1', port: 10025 })));
  assert.equal(h.family, 'tcp4');
  assert.deepEqual(h.source, { address: '127.0.0.5', port: 4000 });
});

test('v2 TLVs round trip; LOCAL carries no addresses', () => {
  const tlvs = [{ type: 0x04, value: Buffer.from('x') }, { type: 0x05, value: Buffer.from('unique-id') }];
  const h = header(parseProxyHeader(encodeProxyV2({ address: '10.0.0.1', port: 1 }, { address: '10.0.0.2', port: 2 }, tlvs)));
  assert.deepEqual(h.tlvs, tlvs);
  const local = encodeProxyV2Local();
  assert.deepEqual(local, Buffer.concat([proxyV2Signature, Buffer.from([0x20, 0x00, 0x00, 0x00])]));
  assert.deepEqual(header(parseProxyHeader(local)), { version: 2, command: 'local', family: 'unspec', source: null, destination: null, tlvs: [], headerBytes: 16 });
  // LOCAL with an address block: the block is skipped (spec 2.2), its length still counts.
  const withBlock = Buffer.from(encodeProxyV2({ address: '10.0.0.1', port: 1 }, { address: '10.0.0.2', port: 2 }));
  withBlock[12] = 0x20;
  const lh = header(parseProxyHeader(withBlock));
  assert.equal(lh.command, 'local');
  assert.equal(lh.headerBytes, 28);
});

test('encoding refuses what it cannot represent', () => {
  assert.throws(() => encodeProxyV2({ address: 'mail.example', port: 1 }, { address: '::1', port: 2 }), { code: 'bad-address' });
  assert.throws(() => encodeProxyV2({ address: '10.0.0.1', port: 70000 }, { address: '10.0.0.2', port: 2 }), { code: 'bad-address' });
});

test('v1 lines: TCP4, TCP6, UNKNOWN; the payload starts after CRLF', () => {
  const data = Buffer.from('PROXY TCP4 192.0.2.1 198.51.100.7 56324 25\r\nEHLO x\r\n');
  const h = header(parseProxyHeader(data));
  assert.deepEqual(h, {
    version: 1, command: 'proxy', family: 'tcp4',
    source: { address: '192.0.2.1', port: 56324 }, destination: { address: '198.51.100.7', port: 25 },
    tlvs: [], headerBytes: 44,
  });
  assert.equal(data.subarray(h.headerBytes).toString(), 'EHLO x\r\n');
  const h6 = header(parseProxyHeader(Buffer.from('PROXY TCP6 2001:DB8::1 ::1 1 65535\r\n')));
  assert.deepEqual([h6.source, h6.destination], [{ address: '2001:db8::1', port: 1 }, { address: '::1', port: 65535 }]);
  const u = header(parseProxyHeader(Buffer.from('PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n')));
  assert.equal(u.command, 'local');
  assert.equal(header(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'))).command, 'local');
});

test('v1 errors: grammar, addresses, ports, missing CRLF', () => {
  const bad: [string, string][] = [
    ['PROXY TCP4 192.0.2.1 198.51.100.7 56324\r\n', 'bad-v1'],
    ['PROXY TCP5 192.0.2.1 198.51.100.7 1 2\r\n', 'bad-v1'],
    ['PROXY TCP4  192.0.2.1 198.51.100.7 1 2\r\n', 'bad-v1'],
    ['PROXY TCP4 ::1 198.51.100.7 1 2\r\n', 'bad-address'],
    ['PROXY TCP6 192.0.2.1 ::1 1 2\r\n', 'bad-address'],
    ['PROXY TCP4 192.0.2.1 198.51.100.7 01 2\r\n', 'bad-address'],
    ['PROXY TCP4 192.0.2.1 198.51.100.7 1 65536\r\n', 'bad-address'],
    ['PROXY TCP4 192.0.2.1 198.51.100.7 1 2\n', 'bad-v1'],
  ];
  for (const [line, code] of bad) assert.equal(errorCode(parseProxyHeader(Buffer.from(line))), code, JSON.stringify(line));
});

test('v1 is bounded at 107 bytes: a longer line is refused without waiting for its end', () => {
  assert.equal(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4')).kind, 'incomplete');
  assert.equal(errorCode(parseProxyHeader(Buffer.from('PROXY UNKNOWN ' + 'x'.repeat(200)))), 'too-long');
  const exactly107 = 'PROXY UNKNOWN ' + 'x'.repeat(107 - 14 - 2) + '\r\n';
  assert.equal(exactly107.length, 107);
  assert.equal(parseProxyHeader(Buffer.from(exactly107)).kind, 'header');
  assert.equal(errorCode(parseProxyHeader(Buffer.from('PROXY UNKNOWN ' + 'x'.repeat(92) + '\r\n'))), 'too-long');
});

test('incomplete input asks for more, at every cut of a valid header', () => {
  for (const full of [encodeProxyV2({ address: '2001:db8::1', port: 1 }, { address: '::1', port: 2 }), Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n')]) {
    for (let cut = 0; cut < full.length; cut++) assert.equal(parseProxyHeader(full.subarray(0, cut)).kind, 'incomplete', `cut at ${cut}`);
    assert.equal(parseProxyHeader(full).kind, 'header');
  }
});

test('v2 errors: version, command, family, short address block, TLV overrun, bound', () => {
  const good = encodeProxyV2({ address: '10.0.0.1', port: 1 }, { address: '10.0.0.2', port: 2 });
  const mutate = (at: number, value: number) => { const b = Buffer.from(good); b[at] = value; return b; };
  assert.equal(errorCode(parseProxyHeader(mutate(12, 0x11))), 'bad-version');
  assert.equal(errorCode(parseProxyHeader(mutate(12, 0x22))), 'bad-version');
  assert.equal(errorCode(parseProxyHeader(mutate(13, 0x41))), 'bad-family');
  const short = Buffer.from(good.subarray(0, 16 + 8));
  short.writeUInt16BE(8, 14);
  assert.equal(errorCode(parseProxyHeader(short)), 'bad-length');
  const overrun = Buffer.concat([good, Buffer.from([0x04, 0x00, 0x09, 0x41])]);
  overrun.writeUInt16BE(12 + 4, 14);
  assert.equal(errorCode(parseProxyHeader(overrun)), 'bad-tlv');
  const huge = Buffer.from(good);
  huge.writeUInt16BE(60000, 14);
  assert.equal(errorCode(parseProxyHeader(huge)), 'too-long', 'refused from the length field, before the bytes arrive');
  assert.equal(parseProxyHeader(huge, { maxHeaderBytes: 70000 }).kind, 'incomplete');
});

test('data that is not a PROXY header is said so at once', () => {
  assert.equal(errorCode(parseProxyHeader(Buffer.from('EHLO client\r\n'))), 'not-proxy');
  assert.equal(errorCode(parseProxyHeader(Buffer.from('\r\n\r\nX'))), 'not-proxy');
  assert.equal(errorCode(parseProxyHeader(Buffer.from('PROXX'))), 'not-proxy');
  assert.equal(parseProxyHeader(Buffer.alloc(0)).kind, 'incomplete');
});
