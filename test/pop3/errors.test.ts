import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreError, type StoreErrorCategory } from '../../src/store/errors.js';
import { Pop3Error, replyFor } from '../../src/protocols/pop3/errors.js';

test('every store error category maps to a POP3 response code', () => {
  const expected: Record<StoreErrorCategory, string> = {
    'in-use': 'IN-USE',
    temporary: 'SYS/TEMP',
    unavailable: 'SYS/TEMP',
    permission: 'AUTH',
    'not-found': 'SYS/PERM',
    exists: 'SYS/PERM',
    'over-quota': 'SYS/PERM',
    'too-big': 'SYS/PERM',
    'bad-parameters': 'SYS/PERM',
  };
  for (const [category, code] of Object.entries(expected)) {
    const reply = replyFor(new StoreError(category as StoreErrorCategory, 'internal detail /var/lib/x'), 'open the maildrop');
    assert.match(reply, new RegExp(`^-ERR \\[${code.replace('/', '\\/')}\\] cannot open the maildrop: [a-z]`), category);
    assert.ok(reply.endsWith('\r\n'));
    assert.doesNotMatch(reply, /internal detail/, 'internal detail never reaches the client');
  }
});

test('unexpected failures are SYS/TEMP; Pop3Errors pass through as they are', () => {
  assert.match(replyFor(new Error('ENOENT: /secret/path'), 'retrieve the message'), /^-ERR \[SYS\/TEMP\] cannot retrieve the message: .*try again later\r\n$/);
  assert.doesNotMatch(replyFor(new Error('ENOENT: /secret/path'), 'x'), /secret/);
  assert.equal(replyFor(new Pop3Error('no such message'), 'x'), '-ERR no such message\r\n');
  assert.equal(replyFor(new Pop3Error('invalid credentials', 'AUTH'), 'x'), '-ERR [AUTH] invalid credentials\r\n');
});
