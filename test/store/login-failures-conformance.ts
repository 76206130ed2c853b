/**
 * The failed-login tallies every backend keeps for the shared login
 * throttle (src/net/login-throttle.ts): counted per key, concurrent
 * failures all counted, forgotten after their expiry, readable by what
 * changed since a moment (how each process's cache catches up).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../src/store/types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function loginFailuresConformance(getStore: () => Store): void {
  test('login failures: counted per key, in order, concurrently, and expire', async () => {
    const store = getStore();
    const failures = store.loginFailures;
    const before = new Date(Date.now() - 1000);
    const [a1, u1] = await failures.record(['address:192.0.2.7', 'account:me@example.test'], 60_000);
    assert.equal(a1!.key, 'address:192.0.2.7');
    assert.equal(a1!.failures, 1);
    assert.equal(u1!.key, 'account:me@example.test');
    assert.ok(a1!.expiresAt.getTime() - a1!.lastFailureAt.getTime() === 60_000, 'expiry is forgetAfterMs after the failure');

    // Ten concurrent failures (as from ten nodes) all count.
    await Promise.all(Array.from({ length: 10 }, () => failures.record(['address:192.0.2.7'], 60_000)));
    const [a] = await failures.get(['address:192.0.2.7']);
    assert.equal(a!.failures, 11);
    assert.deepEqual((await failures.get(['account:me@example.test', 'address:198.51.100.1'])).map((t) => [t.key, t.failures]),
      [['account:me@example.test', 1]], 'a key with no failures is left out');
    assert.deepEqual(await failures.record([], 60_000), []);

    const changed = await failures.changedSince(before);
    assert.deepEqual(changed.map((t) => t.key).sort(), ['account:me@example.test', 'address:192.0.2.7']);
    assert.deepEqual(await failures.changedSince(new Date(Date.now() + 60_000)), [], 'nothing changed in the future');

    // A short-lived tally expires: get() and changedSince() stop showing it, and the next failure starts again at 1.
    await failures.record(['address:203.0.113.9', 'address:203.0.113.9'], 150);
    assert.equal((await failures.get(['address:203.0.113.9']))[0]!.failures, 1, 'a key given twice counts once');
    await failures.record(['address:203.0.113.9'], 150);
    assert.equal((await failures.get(['address:203.0.113.9']))[0]!.failures, 2);
    await sleep(300);
    assert.deepEqual(await failures.get(['address:203.0.113.9']), []);
    assert.ok(!(await failures.changedSince(before)).some((t) => t.key === 'address:203.0.113.9'));
    assert.equal(await failures.removeExpired(), 1);
    assert.equal((await failures.record(['address:203.0.113.9'], 60_000))[0]!.failures, 1, 'an expired tally starts again');

    assert.equal(await failures.clear(['address:192.0.2.7', 'address:203.0.113.9', 'address:nobody']), 2);
    assert.deepEqual(await failures.get(['address:192.0.2.7']), []);
    assert.equal(await failures.clear(['account:me@example.test']), 1);
  });
}
