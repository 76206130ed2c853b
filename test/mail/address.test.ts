import { test } from 'node:test';
import assert from 'node:assert/strict';
import { domainOf, normaliseAddress, splitAddress } from '../../src/mail/address.js';

test('splitting at the last @', () => {
  assert.deepEqual(splitAddress('"a@b"@example.test'), { local: '"a@b"', domain: 'example.test' });
  assert.equal(splitAddress('nobody'), null);
  assert.equal(splitAddress('@example.test'), null);
  assert.equal(splitAddress('a@'), null);
});

test('domains are lower-cased and IDNs unified, local parts kept', () => {
  assert.equal(normaliseAddress('User@EXAMPLE.Test'), 'User@example.test');
  assert.equal(normaliseAddress('a@xn--bcher-kva.example'), 'a@bücher.example');
  assert.equal(normaliseAddress('a@Bücher.Example.'), 'a@bücher.example');
  assert.equal(normaliseAddress('a@[192.0.2.1]'), 'a@[192.0.2.1]');
  assert.equal(domainOf('x@Example.TEST'), 'example.test');
  assert.equal(normaliseAddress('broken'), null);
});
