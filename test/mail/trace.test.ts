import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressLiteral, formatDate, protocolName, receivedHeader, returnPathHeader } from '../../src/mail/trace.js';

const date = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));

test('protocol names follow RFC 3848 and RFC 6531', () => {
  assert.equal(protocolName({ ehlo: false, tls: false }), 'SMTP');
  assert.equal(protocolName({ ehlo: true, tls: false }), 'ESMTP');
  assert.equal(protocolName({ ehlo: true, tls: true }), 'ESMTPS');
  assert.equal(protocolName({ ehlo: true, tls: true, auth: true }), 'ESMTPSA');
  assert.equal(protocolName({ ehlo: true, tls: false, utf8: true }), 'UTF8SMTP');
  assert.equal(protocolName({ ehlo: true, tls: true, utf8: true }), 'UTF8SMTPS');
});

test('dates are RFC 5322 in UTC', () => {
  assert.equal(formatDate(date), 'Fri, 02 Jan 2026 03:04:05 +0000');
});

test('address literals', () => {
  assert.equal(addressLiteral('192.0.2.1'), '[192.0.2.1]');
  assert.equal(addressLiteral('::1'), '[IPv6:::1]');
});

test('Received with one recipient names it', () => {
  const h = receivedHeader({ heloName: 'client.test', clientAddress: '192.0.2.1', byHost: 'mx.example.test', protocol: 'ESMTPS', id: 'abc.1', recipient: 'a@example.test', tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' }, date });
  assert.equal(
    h,
    'Received: from client.test ([192.0.2.1])\r\n' +
      '\tby mx.example.test (Rookery) with ESMTPS (TLSv1.3 cipher TLS_AES_256_GCM_SHA384)\r\n' +
      '\tid abc.1\r\n' +
      '\tfor <a@example.test>; Fri, 02 Jan 2026 03:04:05 +0000\r\n',
  );
});

test('Received with several recipients names none', () => {
  const h = receivedHeader({ heloName: null, clientAddress: '::1', byHost: 'mx', protocol: 'SMTP', id: 'x', recipient: null, date });
  assert.equal(h, 'Received: from [IPv6:::1] ([IPv6:::1])\r\n\tby mx (Rookery) with SMTP\r\n\tid x; Fri, 02 Jan 2026 03:04:05 +0000\r\n');
});

test('client text cannot break the header', () => {
  const h = receivedHeader({ heloName: 'evil\r\nX-Injected: 1 (x)', clientAddress: '192.0.2.1', byHost: 'mx', protocol: 'ESMTP', id: 'x', recipient: 'a\r\nb@c', date });
  assert.equal(h.split('\r\n').length, 5); // four lines and the final empty split
  assert.ok(!h.includes('\r\nX-Injected'));
});

test('Return-Path, including the null sender', () => {
  assert.equal(returnPathHeader('bob@remote.test'), 'Return-Path: <bob@remote.test>\r\n');
  assert.equal(returnPathHeader(''), 'Return-Path: <>\r\n');
});
