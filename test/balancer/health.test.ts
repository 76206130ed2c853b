/**
 * Health checks: a backend killed with SIGKILL is out within 3 seconds and
 * back after `rise` passed checks once restarted; a failing service is
 * withdrawn alone (SMTP sick, POP3 healthy on the same server).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { backendOf, backendUp, fakeServer, freeBase, greet, randomLoopback, startTestLb, waitFor } from './helpers.js';

const fakeMain = fileURLToPath(new URL('./fake-backend-main.js', import.meta.url));

async function startFake(name: string, host: string, smtpPort: number, pop3Port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [fakeMain, name, host, String(smtpPort), String(pop3Port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`fake backend exited with ${code}`)));
  });
  return child;
}

test('a backend killed with SIGKILL is out within 3 s, and back after rise once restarted', async () => {
  const host = randomLoopback();
  const base = await freeBase(host, [25, 110]);
  const steady = await fakeServer('smtp', { name: 'steady', host });
  let victim = await startFake('victim', host, base + 25, base + 110);
  const lb = await startTestLb(`check-interval-ms 500\ncheck-timeout-ms 500\nrise 2\nfall 2
server victim ${host} port-base ${base}
server steady ${host}
pool p
  add victim smtp/1
  add steady smtp/1:${steady.port}
end`, ['smtp']);
  try {
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add(backendOf((await greet(lb.host, lb.port('smtp'))).greeting));
    assert.deepEqual([...seen].sort(), ['steady', 'victim']);

    victim.kill('SIGKILL');
    const killedAt = Date.now();
    await waitFor(() => backendUp(lb, 'smtp', 'victim') === false, 3000, 'the killed backend is still in the pool');
    assert.ok(Date.now() - killedAt <= 3000);
    for (let i = 0; i < 6; i++) assert.equal(backendOf((await greet(lb.host, lb.port('smtp'))).greeting), 'steady');

    victim = await startFake('victim', host, base + 25, base + 110);
    await waitFor(() => backendUp(lb, 'smtp', 'victim') === true, 5000, 'the restarted backend did not come back');
    const after = new Set<string>();
    for (let i = 0; i < 4; i++) after.add(backendOf((await greet(lb.host, lb.port('smtp'))).greeting));
    assert.deepEqual([...after].sort(), ['steady', 'victim']);
  } finally {
    victim.kill('SIGKILL');
    await lb.balancer.stop();
    await steady.close();
  }
});

test('rise: a backend that fails and recovers needs `rise` passes in a row before it gets clients', async () => {
  const host = randomLoopback();
  const smtp = await fakeServer('smtp', { name: 'flaky', host });
  const lb = await startTestLb(`check-interval-ms 200\nrise 3\nfall 1\nserver flaky ${host}\npool p\n  add flaky smtp/1:${smtp.port}\nend`, ['smtp']);
  try {
    smtp.sick = true;
    await waitFor(() => backendUp(lb, 'smtp', 'flaky') === false, 2000, 'a sick backend stayed up');
    assert.match((await greet(lb.host, lb.port('smtp'))).greeting, /^421 4\.3\.2 Service not available/, 'the balancer answers, not the sick backend');
    smtp.sick = false;
    const backAfterMs = await waitFor(() => backendUp(lb, 'smtp', 'flaky') === true, 3000, 'the recovered backend stayed down');
    // Three passes 200 ms apart: at least two intervals after the first pass.
    assert.ok(backAfterMs >= 300, `back after ${backAfterMs} ms, sooner than 3 checks allow`);
  } finally {
    await lb.balancer.stop();
    await smtp.close();
  }
});

test('per-service withdrawal: SMTP failing on a server leaves its POP3 in the POP3 pool', async () => {
  const host = randomLoopback();
  const smtpA = await fakeServer('smtp', { name: 'a', host });
  const pop3A = await fakeServer('pop3', { name: 'a', host });
  const smtpB = await fakeServer('smtp', { name: 'b', host });
  const pop3B = await fakeServer('pop3', { name: 'b', host });
  const lb = await startTestLb(`check-interval-ms 200\nfall 2
server a ${host}
server b ${host}
pool p
  add a smtp/1:${smtpA.port} pop3/1:${pop3A.port}
  add b smtp/1:${smtpB.port} pop3/1:${pop3B.port}
end`, ['smtp', 'pop3']);
  try {
    smtpA.sick = true;
    await waitFor(() => backendUp(lb, 'smtp', 'a') === false, 3000, 'sick SMTP on a stayed in the pool');
    assert.equal(backendUp(lb, 'pop3', 'a'), true, 'POP3 on a stays');
    const smtpSeen = new Set<string>();
    const pop3Seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      smtpSeen.add(backendOf((await greet(lb.host, lb.port('smtp'))).greeting));
      pop3Seen.add(backendOf((await greet(lb.host, lb.port('pop3'))).greeting));
    }
    assert.deepEqual([...smtpSeen], ['b']);
    assert.deepEqual([...pop3Seen].sort(), ['a', 'b']);
    assert.match(lb.balancer.status().smtp!.backends.find((b) => b.name === 'a')!.lastFailure ?? '', /greeting.*421/);
  } finally {
    await lb.balancer.stop();
    for (const s of [smtpA, pop3A, smtpB, pop3B]) await s.close();
  }
});
