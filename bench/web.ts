/**
 * `npm run bench -- --only web`: the message list of a 10,000-message
 * folder through the API (GET /api/v1/mailboxes/INBOX/messages, first page
 * of 50, newest first), on one Rookery node (its own process, HTTP only,
 * embedded store) with a bearer token of the user:
 *
 * - latency of one request at a time: p50 and p95 (target: p95 < 100 ms);
 * - 50 concurrent clients (keep-alive) for a fixed time: requests per
 *   second, p50 and p95;
 * - the same two for GET /api/v1/me (authentication and a small JSON
 *   answer, no mail), measured in the same run: the floor the list is
 *   compared against, as a ratio, since the machine is shared and noisy.
 *
 * The folder is loaded through the store directly (distinct messages
 * delivered, then copied up to the count), before the node starts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeBase } from './lib/net.js';
import { isAlive, sleep, start, stopPid, type Spawned } from './lib/proc.js';

const rookeryEntry = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
const httpOffset = 80;
const user = 'u@example.test';

export interface WebBenchOptions {
  messages: number;
  /** Distinct messages stored; the rest are copies (a copy shares its blob, as IMAP COPY does). */
  distinct: number;
  rounds: number;
  /** Sequential requests per round. */
  sequential: number;
  concurrency: number;
  /** How long each concurrent phase runs. */
  seconds: number;
  keep: boolean;
  onCleanup(fn: () => Promise<void> | void): void;
  onExit(fn: () => void): void;
}

interface Phase {
  p50: number;
  p95: number;
  perSecond: number;
  count: number;
}

function percentile(sortedMs: number[], p: number): number {
  if (sortedMs.length === 0) return NaN;
  return sortedMs[Math.min(sortedMs.length - 1, Math.ceil((p / 100) * sortedMs.length) - 1)]!;
}

function summarise(latencies: number[], seconds: number): Phase {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), perSecond: latencies.length / seconds, count: latencies.length };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

/** One GET; resolves with its latency in ms; rejects on anything but 200 with the expected body. */
function get(agent: Agent, port: number, path: string, token: string, check: (body: string) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = request({ host: '127.0.0.1', port, path, agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) return reject(new Error(`${path} answered ${res.statusCode}: ${body.slice(0, 200)}`));
        try {
          check(body);
        } catch (err) {
          return reject(err as Error);
        }
        resolve(ms);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function sequential(agent: Agent, port: number, path: string, token: string, n: number, check: (b: string) => void): Promise<Phase> {
  const latencies: number[] = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) latencies.push(await get(agent, port, path, token, check));
  return summarise(latencies, Number(process.hrtime.bigint() - t0) / 1e9);
}

async function concurrent(port: number, path: string, token: string, clients: number, seconds: number, check: (b: string) => void): Promise<Phase> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const latencies: number[] = [];
  const t0 = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (Date.now() < deadline) latencies.push(await get(agent, port, path, token, check));
  }));
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  agent.destroy();
  return summarise(latencies, elapsed);
}

/** Loads the folder through the store and mints the user's token; returns the token text. */
async function prepare(storeDir: string, messages: number, distinct: number): Promise<string> {
  const { openStore } = await import('../src/store/open.js');
  const { storeMessageIndex } = await import('../src/mail/message-index.js');
  const { mintToken } = await import('../src/web/tokens.js');
  const store = await openStore(storeDir);
  try {
    // 50 clients from one address would meet the per-address cap (50 by default); real ones come from many.
    await store.settings.set('limits.maxConnectionsPerIp', '1000');
    await store.directory.addDomain('example.test');
    const u = await store.directory.addUser({ address: user, password: 'bench-password' });
    const inbox = (await store.mail.getMailbox(u.id, 'INBOX'))!;
    const base = Date.UTC(2025, 0, 1);
    const blobs = await Promise.all(Array.from({ length: Math.min(distinct, messages) }, async (_, i) => {
      const bytes = Buffer.from(`From: "Sender ${i % 97}" <s${i}@example.net>\r\nTo: ${user}\r\nSubject: Report number ${i} about the quarterly numbers\r\n`
        + `Date: Wed, 1 Jan 2025 00:00:00 +0000\r\nMessage-ID: <${i}@bench.test>\r\n\r\n${'Some words of a body line.\r\n'.repeat(40)}`);
      const blob = await store.blobs.put(bytes);
      await storeMessageIndex(store, blob.id, bytes);
      return blob;
    }));
    for (const [i, blob] of blobs.entries()) {
      await store.mail.deliver({ blobId: blob.id, size: blob.size, internalDate: new Date(base + i * 60_000), onOverQuota: 'fail', targets: [{ userId: u.id, flags: i % 3 === 0 ? ['\\Seen'] : [] }] });
    }
    let uids = (await store.mail.listMessages(inbox.id)).map((r) => r.uid);
    while (uids.length < messages) {
      const take = uids.slice(0, Math.min(uids.length, messages - uids.length));
      await store.mail.copyMessages(inbox.id, take, inbox.id);
      uids = (await store.mail.listMessages(inbox.id)).map((r) => r.uid);
    }
    return (await mintToken(store, { role: 'user', subject: user, label: 'bench' })).text;
  } finally {
    await store.close();
  }
}

async function waitForHttp(port: number, node: Spawned, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      await res.text();
      return;
    } catch {
      const pid = node.child.pid;
      if (pid === undefined || !isAlive(pid) || node.child.exitCode !== null) throw new Error(`the node exited: ${node.stderr}`);
      if (Date.now() > deadline) throw new Error('the node did not answer HTTP in time');
      await sleep(100);
    }
  }
}

const fmt = (n: number, digits = 1) => n.toFixed(digits);

export async function runWebBench(o: WebBenchOptions): Promise<boolean> {
  const root = mkdtempSync(join(tmpdir(), 'rookery-bench-web-'));
  o.onCleanup(() => {
    if (o.keep) process.stderr.write(`bench: kept ${root}\n`);
    else rmSync(root, { recursive: true, force: true });
  });
  const storeDir = join(root, 'store');
  const loadStarted = Date.now();
  const token = await prepare(storeDir, o.messages, o.distinct);
  console.log(`web: ${o.messages} messages (${o.distinct} distinct) loaded through the store in ${fmt((Date.now() - loadStarted) / 1000)} s`);

  const base = await freeBase([httpOffset]);
  const port = base + httpOffset;
  const node = start(process.execPath, [rookeryEntry, 'node', '--store', storeDir, '--address', '127.0.0.1', '--port-base', String(base), '--services', 'http', '--name', 'bench'],
    { env: { ...process.env, ROOKERY_LOG_LEVEL: 'warn' } });
  const pid = node.child.pid;
  o.onExit(() => { if (pid !== undefined) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } });
  o.onCleanup(async () => { if (pid !== undefined) await stopPid(pid, 10_000); });
  await waitForHttp(port, node, 30_000);

  const listPath = '/api/v1/mailboxes/INBOX/messages?page=1&pageSize=50';
  const checkList = (body: string) => {
    const page = JSON.parse(body) as { total: number; messages: { subject: string }[] };
    if (page.total !== o.messages || page.messages.length !== 50 || !page.messages[0]!.subject) throw new Error(`unexpected page: total ${page.total}, ${page.messages.length} rows`);
  };
  const checkMe = (body: string) => {
    if ((JSON.parse(body) as { subject?: string }).subject !== user) throw new Error(`unexpected /me: ${body.slice(0, 100)}`);
  };
  try {
    return await measure(o, port, token, listPath, checkList, checkMe);
  } catch (err) {
    throw new Error(`${(err as Error).message}; the node said: ${`${node.stderr}${node.stdout}`.trim().split('\n').slice(-5).join(' | ') || '(nothing)'}`);
  }
}

async function measure(o: WebBenchOptions, port: number, token: string, listPath: string, checkList: (b: string) => void, checkMe: (b: string) => void): Promise<boolean> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const cold = await get(agent, port, listPath, token, checkList);
  console.log(`web: first request after start (from-and-subject cache cold): ${fmt(cold)} ms`);

  console.log('round  request             one at a time: p50 ms  p95 ms   |  50 clients: req/s  p50 ms  p95 ms');
  const rows: { list: Phase; me: Phase; listC: Phase; meC: Phase }[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    const list = await sequential(agent, port, listPath, token, o.sequential, checkList);
    const me = await sequential(agent, port, '/api/v1/me', token, o.sequential, checkMe);
    const listC = await concurrent(port, listPath, token, o.concurrency, o.seconds, checkList);
    const meC = await concurrent(port, '/api/v1/me', token, o.concurrency, o.seconds, checkMe);
    rows.push({ list, me, listC, meC });
    const line = (name: string, s: Phase, c: Phase) => console.log(
      `${String(round).padStart(5)}  ${name.padEnd(18)}  ${fmt(s.p50).padStart(20)}  ${fmt(s.p95).padStart(6)}   |  ${fmt(c.perSecond, 0).padStart(17)}  ${fmt(c.p50).padStart(6)}  ${fmt(c.p95).padStart(6)}`);
    line('message list', list, listC);
    line('/me (floor)', me, meC);
  }
  agent.destroy();
  const m = (f: (r: (typeof rows)[number]) => number) => median(rows.map(f));
  const p95 = m((r) => r.list.p95);
  console.log('');
  console.log(`web: median of ${o.rounds} rounds, first page of ${o.messages}: p50 ${fmt(m((r) => r.list.p50))} ms, p95 ${fmt(p95)} ms one at a time `
    + `(target p95 < 100 ms: ${p95 < 100 ? 'met' : 'NOT met'}); ${fmt(m((r) => r.listC.perSecond), 0)} req/s with ${o.concurrency} clients `
    + `(p50 ${fmt(m((r) => r.listC.p50))} ms, p95 ${fmt(m((r) => r.listC.p95))} ms)`);
  console.log(`web: against /api/v1/me in the same run: p50 ${fmt(m((r) => r.list.p50 / r.me.p50), 1)}x its latency, `
    + `${fmt(m((r) => r.listC.perSecond / r.meC.perSecond), 2)}x its throughput`);
  return p95 < 100;
}
