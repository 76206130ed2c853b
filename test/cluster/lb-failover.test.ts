/**
 * The traffic manager itself killed (SIGKILL) and restarted, with real
 * nodes and a real client (nodemailer) through the virtual address: the
 * nodes keep working when reached directly, the standby takes the virtual
 * address over within 5 seconds, the old active comes back as the standby
 * of the new one, and takes over in its turn when that one is killed.
 * Every message acknowledged is in the store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer from 'nodemailer';
import { openStore } from '../../src/store/open.js';
import { startLbProcess, type LbProcess } from '../helpers/lb-process.js';
import { heartbeatOffset, startCluster, statusJson, virtualAddress, waitFor, waitUntilInPools } from './harness.js';

function send(host: string, port: number, subject: string): Promise<string> {
  const transport = nodemailer.createTransport({ host, port, secure: false, ignoreTLS: true, connectionTimeout: 1000, greetingTimeout: 1000, socketTimeout: 5000 });
  return transport.sendMail({ envelope: { from: 'friend@example.net', to: ['me@example.org'] }, raw: `Subject: ${subject}\r\n\r\nbody\r\n` })
    .then((info: { response: string }) => info.response)
    .finally(() => transport.close());
}

/** Sends through the virtual address until it is acknowledged; resolves with the time it took. */
async function sendUntilAcknowledged(port: number, subject: string, timeoutMs: number): Promise<number> {
  return waitFor(() => send(virtualAddress, port, subject).then((r) => /^250 /.test(r), () => false), timeoutMs, `${subject}: the virtual address did not come back`, 50);
}

test('the traffic manager killed: nodes answer directly, the standby takes over within 5 s, the old one comes back as standby', async (t) => {
  const cluster = await startCluster({ nodes: 3, services: ['smtp'] });
  const port = cluster.base + 25;
  const heartbeat = `${virtualAddress}:${cluster.base + heartbeatOffset}`;
  const extra: LbProcess[] = [];
  const acknowledged: string[] = [];
  try {
    const standby = await startLbProcess([...cluster.lbArgs('lb2'), '--standby-of', heartbeat], 20000, { ready: /standing by/, logLevel: 'info' });
    extra.push(standby);
    await waitUntilInPools(standby, cluster.nodes.map((n) => n.name), ['smtp']);
    assert.match(await send(virtualAddress, port, 'before'), /^250 /);
    acknowledged.push('before');

    cluster.lb!.child.kill('SIGKILL');
    await cluster.lb!.exited;
    const killedAt = Date.now();

    // Nobody serves the virtual address for a moment; every node still answers directly.
    for (const [i, node] of cluster.nodes.entries()) {
      assert.match(await send(node.address, port, `direct-${i}`), /^250 /, `${node.name} answers directly`);
      acknowledged.push(`direct-${i}`);
    }
    await sendUntilAcknowledged(port, 'after-takeover', 5000);
    acknowledged.push('after-takeover');
    const tookOverIn = Date.now() - killedAt;
    assert.ok(tookOverIn <= 5000, `the standby served the virtual address ${tookOverIn} ms after the kill`);
    assert.match(standby.stdout(), /lb lb2: took over/);

    // The old active restarted, as the standby of the new one.
    const restarted = await startLbProcess([...cluster.lbArgs('lb1'), '--standby-of', heartbeat], 20000, { ready: /standing by/, logLevel: 'info' });
    extra.push(restarted);
    await waitUntilInPools(restarted, cluster.nodes.map((n) => n.name), ['smtp']);
    assert.match(await send(virtualAddress, port, 'with-new-standby'), /^250 /);
    acknowledged.push('with-new-standby');

    standby.child.kill('SIGKILL');
    await standby.exited;
    const secondKill = Date.now();
    await sendUntilAcknowledged(port, 'after-second-takeover', 5000);
    acknowledged.push('after-second-takeover');
    const secondTakeover = Date.now() - secondKill;
    assert.ok(secondTakeover <= 5000, `the restarted one took over ${secondTakeover} ms after the second kill`);
    assert.match(restarted.stdout(), /lb lb1: took over/);

    // rookery status: the killed one is down once its heartbeat is stale; the new active is up.
    await waitFor(async () => {
      const lbState = Object.fromEntries((await statusJson(cluster.store)).balancers.map((b) => [b.name, b.state]));
      return lbState.lb1 === 'up' && lbState.lb2 === 'down';
    }, 6000, 'rookery status does not show lb1 up and lb2 down', 250);

    const store = await openStore(cluster.store);
    try {
      const user = (await store.directory.getUser('me@example.org'))!;
      const inbox = (await store.mail.getMailbox(user.id, 'INBOX'))!;
      const subjects: string[] = [];
      for (const m of await store.mail.listMessages(inbox.id)) subjects.push(/^Subject: (\S+)/m.exec((await store.blobs.get(m.blobId)).toString('latin1'))![1]!);
      assert.deepEqual(subjects.sort(), [...acknowledged].sort(), 'every acknowledged message stored once');
    } finally {
      await store.close();
    }
    t.diagnostic(`lb killed: the standby served the virtual address after ${tookOverIn} ms; the restarted one, as standby, took over after ${secondTakeover} ms; ${acknowledged.length} messages stored once`);
  } finally {
    for (const lb of extra) await lb.stop();
    await cluster.stop();
  }
});
