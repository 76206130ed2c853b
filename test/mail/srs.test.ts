/**
 * SRS (mail/srs.ts): the forms of the SRS paper's examples (SRS0 by the
 * first forwarder, SRS1 by the second, the reverse of each), hash checks
 * without regard to case, timestamps and their expiry across the 1024-day
 * wrap, and the key kept in the store's settings (first writer wins).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { Srs, SRS_KEY_SETTING, isSrsLocalPart, srsKey } from '../../src/mail/srs.js';
import { openStore } from '../../src/store/open.js';
import { tempDir } from '../helpers/temp.js';

const DAY = 86_400_000;
const at = (ms: number) => () => new Date(ms);
const T0 = Date.UTC(2026, 0, 15, 12);

describe('SRS forward', () => {
  const srs = new Srs({ key: 'secret', now: at(T0) });

  test('SRS0=HHHH=TT=orig-domain=orig-local@forwarder, as in the paper', () => {
    const out = srs.forward('user@orig-domain.com', 'forwarder.com');
    const m = /^SRS0=([A-Za-z0-9+/]{4})=([A-Z2-7]{2})=orig-domain\.com=user@forwarder\.com$/.exec(out);
    assert.ok(m, out);
    assert.equal(m[2], srs.timestamp());
  });

  test('the timestamp is the day number mod 1024 in base32', () => {
    const day = Math.floor(T0 / DAY) % 1024;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    assert.equal(srs.timestamp(), alphabet[day >> 5]! + alphabet[day & 31]!);
  });

  test('the null sender stays null; a sender of the forwarder domain is left alone', () => {
    assert.equal(srs.forward('', 'forwarder.com'), '');
    assert.equal(srs.forward('me@Forwarder.com', 'forwarder.com'), 'me@Forwarder.com');
  });

  test("someone else's SRS0 becomes SRS1=HHHH=first-forwarder==HHHH=TT=domain=local", () => {
    const first = new Srs({ key: 'first key', now: at(T0) });
    const srs0 = first.forward('user@orig-domain.com', 'first.example');
    const srs1 = srs.forward(srs0, 'second.example');
    const rest = srs0.slice('SRS0'.length, srs0.indexOf('@'));
    const m = /^SRS1=([A-Za-z0-9+/]{4})=first\.example=(=.*)@second\.example$/.exec(srs1);
    assert.ok(m, srs1);
    assert.equal(m[2], rest);
  });

  test('an SRS1 forwarded again keeps the first forwarder and its part, with our hash', () => {
    const first = new Srs({ key: 'k1', now: at(T0) });
    const second = new Srs({ key: 'k2', now: at(T0) });
    const srs1 = second.forward(first.forward('user@orig.example', 'first.example'), 'second.example');
    const again = srs.forward(srs1, 'third.example');
    assert.match(again, /^SRS1=[A-Za-z0-9+/]{4}=first\.example==[^@]+@third\.example$/);
    assert.equal(again.split('=').slice(2).join('='), srs1.split('=').slice(2).join('=').replace('second.example', 'third.example'));
    // The third forwarder reverses to the first forwarder's SRS0, like the second would.
    const back = srs.reverse(again);
    assert.deepEqual(back, { ok: true, address: first.forward('user@orig.example', 'first.example').replace(/@.*$/, '@first.example') });
  });
});

describe('SRS reverse', () => {
  const srs = new Srs({ key: 'secret', now: at(T0) });

  test('round trip through SRS0', () => {
    const out = srs.forward('Some.User@Orig-Domain.com', 'forwarder.com');
    assert.deepEqual(srs.reverse(out), { ok: true, address: 'Some.User@Orig-Domain.com' });
  });

  test('round trip through SRS1 gives the SRS0 address at the first forwarder', () => {
    const first = new Srs({ key: 'other', now: at(T0) });
    const srs0 = first.forward('user@orig-domain.com', 'first.example');
    const srs1 = srs.forward(srs0, 'second.example');
    assert.deepEqual(srs.reverse(srs1), { ok: true, address: srs0 });
    assert.deepEqual(first.reverse(srs0), { ok: true, address: 'user@orig-domain.com' });
  });

  test('the hash is checked without regard to case (a hop that lower-cased the local part)', () => {
    const out = srs.forward('user@orig-domain.com', 'forwarder.com');
    assert.deepEqual(srs.reverse(out.toLowerCase()), { ok: true, address: 'user@orig-domain.com' });
    assert.deepEqual(srs.reverse(out.toUpperCase()), { ok: true, address: 'USER@ORIG-DOMAIN.COM' });
  });

  test('"+" and "-" are accepted as the separator after SRS0', () => {
    const out = srs.forward('user@orig-domain.com', 'forwarder.com');
    assert.equal(srs.reverse(out.replace(/^SRS0=/, 'SRS0+')).ok, true);
    assert.equal(srs.reverse(out.replace(/^SRS0=/, 'SRS0-')).ok, true);
  });

  test('a forged hash, another key, a changed address: bad-hash', () => {
    const out = srs.forward('user@orig-domain.com', 'forwarder.com');
    const [, hash] = /^SRS0=([^=]+)=/.exec(out)!;
    const flipped = hash!.replace(/^./, (c) => (c.toLowerCase() === 'a' ? 'b' : 'a'));
    assert.deepEqual(srs.reverse(out.replace(hash!, flipped)), { ok: false, reason: 'bad-hash' });
    assert.deepEqual(new Srs({ key: 'not the key', now: at(T0) }).reverse(out), { ok: false, reason: 'bad-hash' });
    assert.deepEqual(srs.reverse(out.replace('=user@', '=admin@')), { ok: false, reason: 'bad-hash' });
    assert.deepEqual(srs.reverse(out.replace(/=[A-Z2-7]{2}=/, '=AA=')), { ok: false, reason: 'bad-hash' });
  });

  test('too short a hash and malformed addresses are refused', () => {
    assert.deepEqual(srs.reverse('SRS0=ab=AA=orig.example=user@forwarder.com'), { ok: false, reason: 'bad-hash' });
    assert.deepEqual(srs.reverse('SRS0=abcd=orig.example@forwarder.com'), { ok: false, reason: 'malformed' });
    assert.deepEqual(srs.reverse('SRS1=abcd=first.example@forwarder.com'), { ok: false, reason: 'malformed' });
    assert.deepEqual(srs.reverse('user@forwarder.com'), { ok: false, reason: 'not-srs' });
  });

  test('expiry: accepted up to maxAgeDays (21), refused after, across the 1024-day wrap', () => {
    const sent = new Srs({ key: 'secret', now: at(T0) }).forward('user@orig-domain.com', 'forwarder.com');
    assert.equal(new Srs({ key: 'secret', now: at(T0 + 21 * DAY) }).reverse(sent).ok, true);
    assert.deepEqual(new Srs({ key: 'secret', now: at(T0 + 22 * DAY) }).reverse(sent), { ok: false, reason: 'expired' });
    // A timestamp from "tomorrow" is 1023 days old in the cycle: expired.
    assert.deepEqual(new Srs({ key: 'secret', now: at(T0 - DAY) }).reverse(sent), { ok: false, reason: 'expired' });
    // Day 1023 of one cycle seen on day 3 of the next: 4 days old.
    const cycleEnd = (Math.floor(T0 / DAY / 1024) * 1024 + 1023) * DAY;
    const late = new Srs({ key: 'secret', now: at(cycleEnd) }).forward('user@orig-domain.com', 'forwarder.com');
    assert.equal(new Srs({ key: 'secret', now: at(cycleEnd + 4 * DAY) }).reverse(late).ok, true);
  });

  test('isSrsLocalPart', () => {
    for (const yes of ['SRS0=a', 'srs0+a', 'SRS1-x', 'srs1=b']) assert.equal(isSrsLocalPart(yes), true, yes);
    for (const no of ['srs', 'SRS2=a', 'xSRS0=a', 'srs0']) assert.equal(isSrsLocalPart(no), false, no);
  });
});

describe('the SRS key in the store', () => {
  test('made on first use, kept, and the same for every caller (first writer wins)', async () => {
    const dir = await tempDir();
    const store = await openStore(dir);
    try {
      assert.equal(await store.settings.get(SRS_KEY_SETTING), null);
      const [a, b] = await Promise.all([srsKey(store.settings), srsKey(store.settings)]);
      assert.equal(a.length, 32);
      assert.deepEqual(a, b);
      assert.deepEqual(await srsKey(store.settings), a);
      assert.equal(await store.settings.get(SRS_KEY_SETTING), a.toString('base64'));
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
