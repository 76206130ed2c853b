/** The schedulers alone: weighted round robin spreads by weight, least connections follows the load. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeastConnectionsScheduler, RoundRobinScheduler } from '../../src/balancer/scheduler.js';

const backend = (key: string, weight = 1, activeConnections = 0) => ({ key, weight, activeConnections });

test('round robin with equal weights takes turns', () => {
  const s = new RoundRobinScheduler();
  const pool = [backend('a'), backend('b'), backend('c')];
  assert.deepEqual(Array.from({ length: 6 }, () => s.pick(pool)!.key), ['a', 'b', 'c', 'a', 'b', 'c']);
});

test('weighted round robin gives 5:1:1 spread out, not in a burst', () => {
  const s = new RoundRobinScheduler();
  const pool = [backend('a', 5), backend('b'), backend('c')];
  const picks = Array.from({ length: 7 }, () => s.pick(pool)!.key);
  assert.deepEqual(picks, ['a', 'a', 'b', 'a', 'c', 'a', 'a']);
  const counts = new Map<string, number>();
  for (let i = 0; i < 700; i++) { const k = s.pick(pool)!.key; counts.set(k, (counts.get(k) ?? 0) + 1); }
  assert.deepEqual([counts.get('a'), counts.get('b'), counts.get('c')], [500, 100, 100]);
});

test('a backend left out (tried, or down) is skipped and the others keep their share', () => {
  const s = new RoundRobinScheduler();
  const a = backend('a'), b = backend('b'), c = backend('c');
  assert.equal(s.pick([a, b, c])!.key, 'a');
  assert.equal(s.pick([a, c])!.key, 'c');
  assert.equal(s.pick([])!, null);
});

test('least connections picks the fewest per weight, and rotates among ties', () => {
  const s = new LeastConnectionsScheduler();
  assert.equal(s.pick([backend('a', 1, 3), backend('b', 1, 1), backend('c', 1, 2)])!.key, 'b');
  assert.equal(s.pick([backend('a', 4, 4), backend('b', 1, 2)])!.key, 'a', '4 of weight 4 is a lighter load than 2 of weight 1');
  const tied = [backend('a'), backend('b'), backend('c')];
  const picks = new Set(Array.from({ length: 3 }, () => s.pick(tied)!.key));
  assert.equal(picks.size, 3);
  assert.equal(s.pick([]), null);
});
