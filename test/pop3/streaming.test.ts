/** Large messages stream: the event loop stays responsive and a slow reader holds the server back. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Transform } from 'node:stream';
import type { Store } from '../../src/store/types.js';
import { ALICE, BOB, PASSWORD, RawClient, startPop3, type Pop3Harness } from './harness.js';

const SIZE = 16 * 1024 * 1024;
const line = '.0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n';
let h: Pop3Harness;
/** Bytes the service has read from blobs so far. */
let blobBytesRead = 0;

before(async () => {
  h = await startPop3({
    users: { [ALICE]: PASSWORD, [BOB]: PASSWORD },
    wrapStore: (store: Store): Store => {
      const blobs = Object.create(store.blobs) as Store['blobs'];
      blobs.createReadStream = (id, range) => {
        const counter = new Transform({
          transform(chunk: Buffer, _enc, done) {
            blobBytesRead += chunk.length;
            done(null, chunk);
          },
        });
        const source = store.blobs.createReadStream(id, range);
        source.on('error', (e) => counter.destroy(e));
        counter.on('close', () => source.destroy());
        return source.pipe(counter);
      };
      return { ...store, blobs };
    },
  });
  const big = Buffer.from('Subject: big\r\n\r\n' + line.repeat(Math.ceil(SIZE / line.length)));
  await h.deliver(ALICE, big);
  await h.deliver(BOB, big);
});
after(() => h.close());

test('a 16 MB RETR does not stall the event loop and arrives whole', async () => {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const { client } = await RawClient.open(h.port);
  await client.login(ALICE, PASSWORD);
  const reply = await client.command('RETR 1');
  const body = await client.until('\r\n.\r\n', 20_000);
  delay.disable();
  const octets = Number(/^\+OK (\d+) octets$/.exec(reply)![1]);
  // Every line starts with "." and is stuffed: one extra byte per line, plus the terminator.
  const lines = (octets - 'Subject: big\r\n\r\n'.length) / line.length;
  assert.equal(body.length, octets + lines + 3);
  const maxMs = delay.max / 1e6;
  assert.ok(maxMs < 200, `event loop blocked for ${maxMs.toFixed(1)} ms`);
  await client.command('QUIT');
});

test('a reader that stops reading stops the server from reading the blob (backpressure)', async () => {
  const { client } = await RawClient.open(h.port);
  await client.login(BOB, PASSWORD);
  const start = blobBytesRead;
  client.socket.pause();
  client.send('RETR 1\r\n');
  await new Promise((r) => setTimeout(r, 500));
  const whilePaused = blobBytesRead - start;
  assert.ok(whilePaused < SIZE / 2, `read ${whilePaused} bytes of ${SIZE} for a client that reads nothing`);
  // Other sessions are served meanwhile.
  const other = await RawClient.open(h.port);
  assert.match(await other.client.command('CAPA'), /^\+OK/);
  await other.client.body();
  await other.client.command('QUIT');
  client.socket.resume();
  const body = await client.until('\r\n.\r\n', 20_000);
  assert.ok(body.length > SIZE);
  assert.ok(blobBytesRead - start >= SIZE);
  await client.command('QUIT');
});
