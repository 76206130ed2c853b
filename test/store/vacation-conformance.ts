/**
 * The vacation auto-reply's part of the store conformance suite (called
 * from conformance.ts, so every backend runs it unchanged): settings,
 * which users are away at a moment, the once-per-sender-per-period claim
 * (also under concurrent claims), and the dump.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStoreError } from '../../src/store/errors.js';
import type { Store, StoreDumpBatch, VacationSettings } from '../../src/store/types.js';

async function rejectsWith(p: Promise<unknown>, category: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isStoreError(err), `expected a StoreError, got ${String(err)}`);
    assert.equal(err.category, category);
    return true;
  });
}

const day = 86_400_000;

export function vacationConformance(getStore: () => Store): void {
  const away: VacationSettings = { enabled: true, subject: 'Away', body: 'Back on Monday.\nAsk bob@example.test.', startsAt: null, endsAt: null, periodDays: 7 };

  test('vacation: settings are stored per user, replaced, checked, and go with the user', async () => {
    const store = getStore();
    const u = await store.directory.addUser({ address: 'holiday@example.test', password: 'pw' });
    assert.equal(await store.vacation.get(u.id), null);
    const start = new Date(Date.UTC(2030, 0, 1));
    const end = new Date(Date.UTC(2030, 0, 15));
    await store.vacation.set(u.id, { ...away, subject: '  Away  ', body: 'a\r\nb', startsAt: start, endsAt: end, periodDays: 3 });
    assert.deepEqual(await store.vacation.get(u.id), { enabled: true, subject: 'Away', body: 'a\nb', startsAt: start, endsAt: end, periodDays: 3 });
    await store.vacation.set(u.id, { ...away, enabled: false });
    assert.deepEqual(await store.vacation.get(u.id), { ...away, enabled: false });

    await rejectsWith(store.vacation.set(u.id, { ...away, periodDays: 0 }), 'bad-parameters');
    await rejectsWith(store.vacation.set(u.id, { ...away, periodDays: 1.5 }), 'bad-parameters');
    await rejectsWith(store.vacation.set(u.id, { ...away, subject: 'two\r\nlines' }), 'bad-parameters');
    await rejectsWith(store.vacation.set(u.id, { ...away, body: '  ' }), 'bad-parameters');
    await rejectsWith(store.vacation.set(u.id, { ...away, startsAt: end, endsAt: start }), 'bad-parameters');
    await rejectsWith(store.vacation.set(u.id, { ...away, startsAt: new Date(NaN) }), 'bad-parameters');
    await rejectsWith(store.vacation.set(999_999 as typeof u.id, away), 'not-found');
    assert.equal((await store.vacation.get(u.id))?.enabled, false, 'a refused change leaves the settings alone');

    await store.vacation.set(u.id, away);
    assert.equal(await store.vacation.claimReply(u.id, 'x@far.test', day, new Date()), true);
    assert.equal(await store.vacation.claimReply(u.id, 'x@far.test', day, new Date()), false);
    await store.vacation.set(u.id, { ...away, body: 'New text.' });
    assert.equal(await store.vacation.claimReply(u.id, 'x@far.test', day, new Date()), true, 'saved settings start the periods over');
    await rejectsWith(store.vacation.set(u.id, { ...away, periodDays: 0 }), 'bad-parameters');
    assert.equal(await store.vacation.claimReply(u.id, 'x@far.test', day, new Date()), false, 'a refused change forgets nothing');
    await store.directory.removeUser(u.address);
    const again = await store.directory.addUser({ address: 'holiday@example.test', password: 'pw' });
    assert.equal(await store.vacation.get(again.id), null, 'a removed user\'s settings do not come back');
    assert.equal(await store.vacation.claimReply(again.id, 'x@far.test', day, new Date()), true);
    await store.directory.removeUser(again.address);
  });

  test('vacation: activeAmong names only enabled users inside their dates', async () => {
    const store = getStore();
    const on = await store.directory.addUser({ address: 'on@example.test', password: 'pw' });
    const off = await store.directory.addUser({ address: 'off@example.test', password: 'pw' });
    const later = await store.directory.addUser({ address: 'later@example.test', password: 'pw' });
    const never = await store.directory.addUser({ address: 'never@example.test', password: 'pw' });
    const now = new Date();
    await store.vacation.set(on.id, away);
    await store.vacation.set(off.id, { ...away, enabled: false });
    await store.vacation.set(later.id, { ...away, startsAt: new Date(now.getTime() + day), endsAt: new Date(now.getTime() + 2 * day) });
    const active = await store.vacation.activeAmong([on.id, off.id, later.id, never.id], now);
    assert.deepEqual([...active.keys()], [on.id]);
    assert.deepEqual(active.get(on.id), away);
    assert.deepEqual([...(await store.vacation.activeAmong([later.id], new Date(now.getTime() + day))).keys()], [later.id], 'the start is inclusive');
    assert.equal((await store.vacation.activeAmong([later.id], new Date(now.getTime() + 2 * day))).size, 0, 'the end is exclusive');
    assert.equal((await store.vacation.activeAmong([], now)).size, 0);
    for (const u of [on, off, later, never]) await store.directory.removeUser(u.address);
  });

  test('vacation: one reply per sender per period, case-insensitively, and old replies are pruned', async () => {
    const store = getStore();
    const u = await store.directory.addUser({ address: 'claims@example.test', password: 'pw' });
    const other = await store.directory.addUser({ address: 'claims2@example.test', password: 'pw' });
    const t0 = new Date(Date.now() - 30 * day);
    assert.equal(await store.vacation.claimReply(u.id, 'Friend@Far.Test', 7 * day, t0), true);
    assert.equal(await store.vacation.claimReply(u.id, 'friend@far.test', 7 * day, new Date(t0.getTime() + day)), false);
    assert.equal(await store.vacation.claimReply(u.id, 'someone@far.test', 7 * day, new Date(t0.getTime() + day)), true, 'another sender');
    assert.equal(await store.vacation.claimReply(other.id, 'friend@far.test', 7 * day, new Date(t0.getTime() + day)), true, 'another user');
    assert.equal(await store.vacation.claimReply(u.id, 'friend@far.test', 7 * day, new Date(t0.getTime() + 7 * day)), true, 'the period has passed');
    assert.equal(await store.vacation.claimReply(u.id, 'friend@far.test', 7 * day, new Date(t0.getTime() + 8 * day)), false, 'counted from the last reply');
    await rejectsWith(store.vacation.claimReply(u.id, '', day, new Date()), 'bad-parameters');

    // Several nodes taking mail from one sender at once: exactly one answers.
    const at = new Date();
    const racers = await Promise.all([1, 2, 3, 4, 5].map(() => store.vacation.claimReply(u.id, 'racer@far.test', day, at)));
    assert.equal(racers.filter(Boolean).length, 1);

    assert.equal(await store.vacation.pruneReplies(new Date(t0.getTime() + 2 * day)), 2, 'someone@ and claims2\'s friend@ are older');
    assert.equal(await store.vacation.claimReply(u.id, 'someone@far.test', 7 * day, new Date(t0.getTime() + 3 * day)), true, 'forgotten');
    await store.directory.removeUser(u.address);
    await store.directory.removeUser(other.address);
  });

  test('vacation: settings and the reply log are part of the dump', async () => {
    const store = getStore();
    const u = await store.directory.addUser({ address: 'dumped@example.test', password: 'pw' });
    await store.vacation.set(u.id, { ...away, startsAt: new Date(1_900_000_000_000), endsAt: null });
    await store.vacation.claimReply(u.id, 'Dump@Far.Test', day, new Date(1_800_000_000_000));
    const batches: StoreDumpBatch[] = [];
    for await (const b of store.transfer.exportState()) batches.push(b);
    const vacations = batches.flatMap((b) => (b.table === 'vacations' ? b.rows : []));
    const replies = batches.flatMap((b) => (b.table === 'vacationReplies' ? b.rows : []));
    const row = vacations.find((r) => Number(r.userId) === u.id);
    assert.ok(row, 'the vacation row is dumped');
    assert.deepEqual({ ...row, userId: Number(row.userId), startsAt: Number(row.startsAt), periodDays: Number(row.periodDays), updatedAt: 0 },
      { userId: u.id, enabled: true, subject: away.subject, body: away.body, startsAt: 1_900_000_000_000, endsAt: null, periodDays: 7, updatedAt: 0 });
    const reply = replies.find((r) => Number(r.userId) === u.id);
    assert.deepEqual(reply && { userId: Number(reply.userId), sender: reply.sender, repliedAt: Number(reply.repliedAt) }, { userId: u.id, sender: 'dump@far.test', repliedAt: 1_800_000_000_000 });
    const order = batches.map((b) => b.table);
    assert.ok(order.indexOf('users') < order.indexOf('vacations'), 'users come before what refers to them');
    await store.directory.removeUser(u.address);
  });
}
