/**
 * 250 only after the blob is durable and the delivery committed; any
 * failure in between answers 451 4.3.0 with nothing filed; and a delivery
 * that committed for a client that is already gone is rolled back
 * (RFC 5321 4.2.5), because that client will send the message again.
 */
import { test, describe, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtpNode, type SmtpNode, Wire, expectCode, inbox, override, eventually } from './support.js';
import { StoreError } from '../../src/store/errors.js';
import type { BlobWriter, Delivery, MessageRecord, Store } from '../../src/store/types.js';

type Fault = 'none' | 'create' | 'commit' | 'deliver' | 'hold';

describe('durability', () => {
  let node: SmtpNode;
  let fault: Fault = 'none';
  let events: string[] = [];
  let delivered: (() => void) | null = null;
  let release: (() => void) | null = null;
  let undelivered: MessageRecord[] = [];

  const wrap = (store: Store): Store =>
    override(store, {
      blobs: override(store.blobs, {
        createWriter(): BlobWriter {
          if (fault === 'create') throw new StoreError('unavailable', 'injected: cannot create');
          const real = store.blobs.createWriter();
          return override(real, {
            async commit() {
              if (fault === 'commit') {
                events.push('commit-failed');
                throw new StoreError('temporary', 'injected: fsync failed');
              }
              const r = await real.commit();
              events.push('committed');
              return r;
            },
          });
        },
      }),
      mail: override(store.mail, {
        async deliver(d: Delivery) {
          events.push('deliver');
          if (fault === 'deliver') throw new StoreError('unavailable', 'injected: database gone');
          const r = await store.mail.deliver(d);
          if (fault === 'hold') {
            delivered?.();
            await new Promise<void>((resolve) => (release = resolve));
          }
          return r;
        },
        async undeliver(records: MessageRecord[]) {
          undelivered.push(...records);
          return store.mail.undeliver(records);
        },
      }),
    });

  before(async () => {
    node = await startSmtpNode({ users: { 'alice@example.test': 'pw', 'bob@example.test': 'pw' }, wrap });
  });
  after(() => node.close());
  beforeEach(() => {
    fault = 'none';
    events = [];
    undelivered = [];
  });

  async function attempt(): Promise<string> {
    const w = await Wire.open(node.port);
    await w.hello();
    await w.begin('x@remote.test', ['alice@example.test', 'bob@example.test']);
    w.write('Subject: durable\r\n\r\n' + 'line\r\n'.repeat(1000) + '.\r\n');
    const r = await w.reply();
    await expectCode(w.cmd('NOOP'), 250);
    w.end();
    return r.raw;
  }

  const stored = async () => (await inbox(node.store, 'alice@example.test')).length + (await inbox(node.store, 'bob@example.test')).length;

  test('the 250 comes after the blob commit and the delivery, in that order', async () => {
    const before = await stored();
    assert.match(await attempt(), /^250 2\.6\.0 /);
    assert.deepEqual(events, ['committed', 'deliver']);
    assert.equal(await stored(), before + 2);
  });

  for (const f of ['create', 'commit', 'deliver'] as const) {
    test(`a failure at ${f} answers 451 4.3.0 and files nothing`, async () => {
      const before = await stored();
      fault = f;
      assert.match(await attempt(), /^451 4\.3\.0 /);
      assert.equal(await stored(), before);
      if (f !== 'deliver') assert.ok(!events.includes('deliver'), 'deliver ran without a durable blob');
    });
  }

  test('a client gone before the 250 gets its committed delivery rolled back', async () => {
    const before = await stored();
    fault = 'hold';
    const reached = new Promise<void>((resolve) => (delivered = resolve));
    const w = await Wire.open(node.port);
    await w.hello();
    await w.begin('x@remote.test', ['alice@example.test', 'bob@example.test']);
    w.write('Subject: orphan\r\n\r\nnobody hears the reply\r\n.\r\n');
    await reached;
    assert.equal(await stored(), before + 2, 'the delivery did commit');
    w.socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    release!();
    await eventually(async () => undelivered.length === 2);
    assert.equal(await stored(), before);

    // And the node still serves.
    fault = 'none';
    assert.match(await attempt(), /^250 /);
  });
});
