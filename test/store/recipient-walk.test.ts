/**
 * The recipient walk alone (src/store/recipient-walk.ts), over a directory
 * held in maps: what both backends answer through it (the conformance
 * suite runs it on each), here with the edge cases spelt out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recipientWalk, walkAsync, walkSync, type RecipientQuestion } from '../../src/store/recipient-walk.js';
import type { User, UserId } from '../../src/store/types.js';

const user = (id: number, address: string): User => ({ id: id as UserId, address, quotaBytes: 0, usedBytes: 0, customerId: null, enabled: true, role: 'user', createdAt: new Date(0) }) as unknown as User;

const domains = new Set(['example.test', 'other.test']);
const users = new Map([['ann@example.test', user(1, 'ann@example.test')], ['bob@example.test', user(2, 'bob@example.test')], ['off@example.test', user(3, 'off@example.test')]]);
const disabled = new Set(['off@example.test']);
const aliases = new Map<string, string[]>([
  ['team@example.test', ['ann@example.test', 'bob@example.test', 'far@remote.test']],
  ['loop1@example.test', ['loop2@example.test']],
  ['loop2@example.test', ['loop1@example.test', 'ann@example.test']],
  ['@other.test', ['bob@example.test']],
  ['deep0@example.test', ['deep1@example.test']],
  ...Array.from({ length: 12 }, (_, i) => [`deep${i + 1}@example.test`, [`deep${i + 2}@example.test`]] as [string, string[]]),
  ['deep13@example.test', ['ann@example.test']],
  ['via-alias@example.test', ['nobody@other.test']],
]);
const forwards = new Map([['bob@example.test', [{ target: 'bob@away.test', keepCopy: false }]], ['ann@example.test', [] as { target: string; keepCopy: boolean }[]]]);
const asked: RecipientQuestion[] = [];
const answer = (q: RecipientQuestion): unknown => {
  asked.push(q);
  switch (q.ask) {
    case 'local-domain': return domains.has(q.domain);
    case 'alias-targets': return aliases.get(q.address) ?? [];
    case 'user': { const u = users.get(q.address); return u ? { user: u, enabled: !disabled.has(q.address) } : null; }
    case 'forwards': return forwards.get(q.address) ?? [];
  }
};
const resolve = (address: string) => walkSync(recipientWalk(address), answer);
const summary = (address: string) => {
  const r = resolve(address);
  return r && { local: r.localUsers.map((u) => u.address), remote: r.remoteTargets };
};

test('aliases, loops, forwards without a copy, disabled users and foreign domains', () => {
  assert.deepEqual(summary('team@example.test'), { local: ['ann@example.test'], remote: ['bob@away.test', 'far@remote.test'] });
  assert.deepEqual(summary('loop1@example.test'), { local: ['ann@example.test'], remote: [] });
  assert.equal(resolve('off@example.test'), null, 'a disabled user takes no mail');
  assert.equal(resolve('nobody@example.test'), null);
  assert.equal(resolve('someone@remote.test'), null, 'not a local domain: no relaying');
});

test('the catch-all answers for the address first asked only, and nesting stops at the depth limit', () => {
  assert.deepEqual(summary('anything@other.test'), { local: [], remote: ['bob@away.test'] });
  assert.equal(resolve('via-alias@example.test'), null, 'an alias target that exists nowhere is not caught by its domain\'s catch-all');
  assert.equal(resolve('deep0@example.test'), null, 'thirteen aliases deep is past the limit');
  assert.deepEqual(summary('deep4@example.test'), { local: ['ann@example.test'], remote: [] });
});

test('each domain is asked once per walk, and the async runner gives the same answer', async () => {
  asked.length = 0;
  resolve('team@example.test');
  const domainQuestions = asked.filter((q) => q.ask === 'local-domain').map((q) => (q as { domain: string }).domain);
  assert.deepEqual(domainQuestions, ['example.test', 'away.test', 'remote.test']);
  const viaAsync = await walkAsync(recipientWalk('team@example.test'), async (q) => answer(q));
  assert.deepEqual(viaAsync, resolve('team@example.test'));
});
