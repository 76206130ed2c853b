/**
 * The IMAP benchmark, Rookery vs Dovecot, run from bench/run.ts
 * (`npm run bench -- --only imap`). See bench/README.md.
 *
 * Both servers hold the same messages for one user: INBOX (10), Headers
 * (1,000 distinct), Big (100,000: 400 distinct messages repeated) and Text
 * (10,000 distinct). The same minimal client (lib/imap-client.ts) measures,
 * per round and side:
 *
 *   headers   connect + LOGIN + SELECT Headers + UID FETCH 1:* (UID FLAGS
 *             RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (...)])
 *   select    SELECT Big (100,000 messages), on a fresh logged-in connection
 *   flags     FETCH 1:* (FLAGS) on Big
 *   search    SEARCH TEXT <word> on Text (10,000 messages)
 *
 * then, once per side, the memory of N connections idling in IDLE: the
 * server's growth from before they connect to after they all idle (Rookery:
 * the node process; Dovecot: the master and every child, as PSS and as
 * summed RSS).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { DovecotInstance, type DovecotTools } from './lib/dovecot.js';
import { ImapConnection, quoted } from './lib/imap-client.js';
import { recipient } from './lib/load.js';
import { generateMessage, marker, type GeneratedMessage } from './lib/mailgen.js';
import { median } from './lib/measure.js';
import { freeBase } from './lib/net.js';
import { machineCpu, processesMemory, processMemory, selfCpu, sleep, type MemorySample } from './lib/proc.js';
import { imapPortOffset, RookeryNode } from './lib/rookery.js';

export type ImapSideName = 'rookery' | 'dovecot';

export interface ImapBenchOptions {
  repoRoot: string;
  /** A directory for both servers' data (created by the caller, removed by the caller). */
  root: string;
  sides: ImapSideName[];
  rounds: number;
  /** Connections held in IDLE for the memory measurement (0: skip it). */
  idle: number;
  tools: DovecotTools | null;
  /** Registers a clean-up step (servers are stopped by the caller's clean-up). */
  onCleanup(fn: () => Promise<void>): void;
  onExit(fn: () => void): void;
}

const password = 'bench-password';
/** Dovecot's password scheme: bcrypt at a cost near Rookery's scrypt (N=16384, r=8), so LOGIN costs about the same on both. */
const dovecotScheme = { scheme: 'BLF-CRYPT', rounds: 10 };

const sets = {
  inbox: { mailbox: 'INBOX', count: 10, distinct: 10, set: 'i' },
  headers: { mailbox: 'Headers', count: 1_000, distinct: 1_000, set: 'h' },
  big: { mailbox: 'Big', count: 100_000, distinct: 400, set: 'b' },
  text: { mailbox: 'Text', count: 10_000, distinct: 10_000, set: 't' },
} as const;
type SetName = keyof typeof sets;

const headerFields = 'DATE FROM TO CC SUBJECT MESSAGE-ID CONTENT-TYPE';
const fetchHeaders = `UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (${headerFields})])`;

function messagesOf(name: SetName): GeneratedMessage[] {
  const s = sets[name];
  return Array.from({ length: s.distinct }, (_, i) => generateMessage(s.set, i, { bodyBytes: name === 'text' ? 3072 : 1536 }));
}

/** Expected SEARCH TEXT hits in Text. */
function expectedTextHits(messages: GeneratedMessage[]): number {
  return messages.filter((m) => m.marked).length;
}

interface Sample {
  ms: number;
  /** Server CPU ms during the operation (Rookery: node process; Dovecot: master and children). */
  cpuMs: number;
  /** Rookery only: CPU ms of the event-loop thread. */
  mainMs: number | null;
  /** CPU ms used on the machine by processes other than the server and the bench (other people's work). */
  othersMs: number;
}

interface RoundResult {
  side: ImapSideName;
  round: number;
  headers: Sample & { loginMs: number; selectMs: number; fetchMs: number };
  select: Sample;
  flags: Sample;
  search: Sample;
}

interface IdleResult {
  side: ImapSideName;
  connections: number;
  setupSeconds: number;
  before: MemorySample & { processes: number };
  after: MemorySample & { processes: number };
  /** Server CPU share of one core while the connections idle. */
  idleCpu: number;
}

interface Server {
  name: ImapSideName;
  label: string;
  port: number;
  cpu(): number;
  mainCpu(): number | null;
  memory(): MemorySample & { processes: number };
}

// ------------------------------------------------------------------ loading

async function loadRookery(node: RookeryNode, idle: number): Promise<number> {
  const started = Date.now();
  await node.prepare(password);
  // Loaded here so that the SMTP bench never loads the store or the MIME code.
  const { openStore } = await import('../src/store/open.js');
  const { storeMessageIndex } = await import('../src/mail/message-index.js');
  const store = await openStore(node.storeDir);
  try {
    // Enough connections from 127.0.0.1 for the IDLE measurement (the default is 50 per address).
    await store.settings.set('limits.maxConnectionsPerIp', String(Math.max(50, idle + 100)));
    const user = await store.directory.getUser(recipient);
    if (!user) throw new Error(`${recipient} is not in the store`);
    for (const name of Object.keys(sets) as SetName[]) {
      const s = sets[name];
      if (s.mailbox !== 'INBOX') await store.mail.createMailbox(user.id, s.mailbox);
      const mailbox = (await store.mail.getMailbox(user.id, s.mailbox))!;
      const messages = messagesOf(name);
      // Blobs are written (each fsynced) and indexed a batch at a time, then delivered in order, one transaction each.
      for (let i = 0; i < messages.length; i += 64) {
        const batch = messages.slice(i, i + 64);
        const blobs = await Promise.all(batch.map(async (m) => {
          const blob = await store.blobs.put(m.bytes);
          await storeMessageIndex(store, blob.id, m.bytes);
          return blob;
        }));
        for (const [j, blob] of blobs.entries()) {
          const m = batch[j]!;
          await store.mail.deliver({
            blobId: blob.id,
            size: blob.size,
            internalDate: m.internalDate,
            targets: [{ userId: user.id, mailboxName: s.mailbox, flags: m.seen ? ['\\Seen'] : [] }],
            onOverQuota: 'fail',
          });
        }
      }
      // Repeated messages: the mailbox is doubled into itself (copies share blobs and keep flags).
      let uids = (await store.mail.listMessages(mailbox.id)).map((r) => r.uid);
      let count = uids.length;
      while (count < s.count) {
        const copied = await store.mail.copyMessages(mailbox.id, uids.slice(0, Math.min(uids.length, s.count - count)), mailbox.id);
        uids = uids.concat(copied.mapping.map((m) => m.destinationUid));
        count += copied.mapping.length;
      }
    }
  } finally {
    await store.close();
  }
  return (Date.now() - started) / 1000;
}

function loadDovecot(d: DovecotInstance): number {
  const started = Date.now();
  for (const name of Object.keys(sets) as SetName[]) {
    const s = sets[name];
    const folder = d.folder(s.mailbox);
    const messages = messagesOf(name);
    const paths = messages.map((m) => d.addMessage(folder, m.bytes, { seen: m.seen, date: m.internalDate, size: m.bytes.length }));
    // The same repetition as Rookery's copies: message k is distinct message k % distinct.
    for (let k = s.distinct; k < s.count; k++) {
      const m = messages[k % s.distinct]!;
      d.addMessage(folder, null, { seen: m.seen, date: m.internalDate, size: m.bytes.length, linkTo: paths[k % s.distinct]! });
    }
  }
  d.chownMail();
  return (Date.now() - started) / 1000;
}

// ------------------------------------------------------------------ measuring

async function login(port: number): Promise<ImapConnection> {
  const c = await ImapConnection.open(port);
  await c.command(`LOGIN ${quoted(recipient)} ${quoted(password)}`);
  return c;
}

async function measured<T>(server: Server, fn: () => Promise<T>): Promise<{ value: T; cpuMs: number; mainMs: number | null; othersMs: number }> {
  const machine0 = machineCpu();
  const self0 = selfCpu().own;
  const cpu0 = server.cpu();
  const main0 = server.mainCpu();
  const value = await fn();
  const cpuMs = (server.cpu() - cpu0) * 1000;
  const main1 = server.mainCpu();
  const machine1 = machineCpu();
  const machineMs = (machine1.busy + machine1.steal - machine0.busy - machine0.steal) * 1000;
  const othersMs = Math.max(0, machineMs - cpuMs - (selfCpu().own - self0) * 1000);
  return { value, cpuMs, mainMs: main0 === null || main1 === null ? null : (main1 - main0) * 1000, othersMs };
}

const isFetch = (line: string) => / FETCH \(/.test(line);

async function round(server: Server, n: number, expected: { textHits: number }): Promise<RoundResult> {
  // 1. login + select + fetch headers of 1,000 messages.
  const h = await measured(server, async () => {
    const t0 = process.hrtime.bigint();
    const c = await login(server.port);
    const loginMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const sel = await c.command(`SELECT ${sets.headers.mailbox}`, { keep: (l) => / EXISTS$/.test(l) });
    const exists = Number(/^\* (\d+) EXISTS/.exec(sel.kept[0] ?? '')?.[1]);
    if (exists !== sets.headers.count) throw new Error(`${server.label}: SELECT Headers says ${exists} messages, not ${sets.headers.count}`);
    const f = await c.command(fetchHeaders, { keep: isFetch });
    if (f.kept.length !== sets.headers.count) throw new Error(`${server.label}: header FETCH gave ${f.kept.length} responses, not ${sets.headers.count}`);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    await c.logout();
    return { ms, loginMs, selectMs: sel.ms, fetchMs: f.ms };
  });
  // 2. and 3. SELECT of 100,000 messages, then FETCH 1:* (FLAGS), on a fresh connection.
  const c = await login(server.port);
  const s = await measured(server, () => c.command(`SELECT ${sets.big.mailbox}`, { keep: (l) => / EXISTS$/.test(l) }));
  const exists = Number(/^\* (\d+) EXISTS/.exec(s.value.kept[0] ?? '')?.[1]);
  if (exists !== sets.big.count) throw new Error(`${server.label}: SELECT Big says ${exists} messages, not ${sets.big.count}`);
  const f = await measured(server, () => c.command('FETCH 1:* (FLAGS)', { keep: isFetch }));
  if (f.value.kept.length !== sets.big.count) throw new Error(`${server.label}: FETCH 1:* (FLAGS) gave ${f.value.kept.length} responses, not ${sets.big.count}`);
  await c.logout();
  // 4. SEARCH TEXT on 10,000 messages.
  const t = await login(server.port);
  await t.command(`SELECT ${sets.text.mailbox}`);
  const q = await measured(server, () => t.command(`SEARCH TEXT ${marker}`, { keep: (l) => l.startsWith('* SEARCH') }));
  const hits = (q.value.kept[0] ?? '* SEARCH').split(' ').length - 2;
  if (hits !== expected.textHits) throw new Error(`${server.label}: SEARCH TEXT found ${hits} messages, not ${expected.textHits}`);
  await t.logout();
  return {
    side: server.name,
    round: n,
    headers: { ...h.value, cpuMs: h.cpuMs, mainMs: h.mainMs, othersMs: h.othersMs },
    select: { ms: s.value.ms, cpuMs: s.cpuMs, mainMs: s.mainMs, othersMs: s.othersMs },
    flags: { ms: f.value.ms, cpuMs: f.cpuMs, mainMs: f.mainMs, othersMs: f.othersMs },
    search: { ms: q.value.ms, cpuMs: q.cpuMs, mainMs: q.mainMs, othersMs: q.othersMs },
  };
}

/** Runs `fn` over 0..n-1 with at most `width` at a time. */
async function pool(n: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, n) }, async () => {
    while (next < n) await fn(next++);
  }));
}

async function idleConnection(port: number): Promise<ImapConnection> {
  const c = await login(port);
  await c.command('SELECT INBOX');
  await c.idle();
  return c;
}

async function idleMemory(server: Server, count: number): Promise<IdleResult> {
  // Warm-up: the code paths of login, SELECT and IDLE run before the baseline.
  const warm: ImapConnection[] = [];
  await pool(20, 10, async () => { warm.push(await idleConnection(server.port)); });
  for (const c of warm) c.destroy();
  await sleep(2_000);
  const before = server.memory();
  const conns: ImapConnection[] = [];
  const t0 = Date.now();
  try {
    try {
      await pool(count, 16, async () => { conns.push(await idleConnection(server.port)); });
    } catch (err) {
      throw new Error(`${server.label}: IDLE client ${conns.length + 1} of ${count}: ${(err as Error).message}`);
    }
    const setupSeconds = (Date.now() - t0) / 1000;
    await sleep(3_000);
    const cpu0 = server.cpu();
    await sleep(5_000);
    const idleCpu = (server.cpu() - cpu0) / 5;
    const after = server.memory();
    return { side: server.name, connections: conns.length, setupSeconds, before, after, idleCpu };
  } finally {
    for (const c of conns) c.destroy();
    await sleep(2_000);
  }
}

// ------------------------------------------------------------------ printing

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const lpad = (s: string, n: number) => s.padStart(n);
const kb = (bytes: number) => bytes / 1024;

function printRound(r: RoundResult, label: string): void {
  const cell = (s: Sample) => `${lpad(fmt(s.ms), 7)} (${lpad(fmt(s.cpuMs), 5)})`;
  console.log([
    lpad(String(r.round), 5),
    label.padEnd(8),
    `${cell(r.headers)} = ${lpad(fmt(r.headers.loginMs), 4)}+${lpad(fmt(r.headers.selectMs), 4)}+${lpad(fmt(r.headers.fetchMs), 4)}`,
    cell(r.select),
    cell(r.flags),
    cell(r.search),
  ].join('  '));
}

type Op = 'headers' | 'select' | 'flags' | 'search';
const ops: Array<{ op: Op; title: string }> = [
  { op: 'headers', title: 'login+select+fetch headers, 1,000 msgs' },
  { op: 'select', title: 'SELECT, 100,000 msgs' },
  { op: 'flags', title: 'FETCH 1:* (FLAGS), 100,000 msgs' },
  { op: 'search', title: 'SEARCH TEXT, 10,000 msgs' },
];

function medianSample(rs: RoundResult[], op: Op): Sample {
  const ms = median(rs.map((r) => r[op].ms));
  const cpuMs = median(rs.map((r) => r[op].cpuMs));
  const mains = rs.map((r) => r[op].mainMs).filter((m): m is number => m !== null);
  return { ms, cpuMs, mainMs: mains.length > 0 ? median(mains) : null, othersMs: median(rs.map((r) => r[op].othersMs)) };
}

/** What seems to limit one operation, from wall time against server CPU. */
function limitOf(side: ImapSideName, s: Sample, ncpu: number): string {
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  const busy = s.cpuMs / s.ms;
  const others = s.othersMs / s.ms;
  const noise = others >= 0.3 ? `; other processes used ${others.toFixed(1)} of ${ncpu} cores meanwhile` : '';
  if (s.ms < 20) return `too quick to tell (${s.ms.toFixed(1)} ms)${noise}`;
  if (side === 'rookery' && s.mainMs !== null) {
    const main = s.mainMs / s.ms;
    if (main >= 0.75) return `the event-loop thread, on CPU ${pct(main)} of the time (single-thread CPU; process ${pct(busy)})${noise}`;
    if (busy >= 0.75) return `CPU: process ${pct(busy)} of one core, event loop ${pct(main)} (the rest: libuv pool, GC)${noise}`;
    return `waiting: event loop on CPU ${pct(main)}, process ${pct(busy)} of the time (sequential I/O round trips or a busy machine)${noise}`;
  }
  if (busy >= 0.75) return `CPU: server processes ${pct(busy)} of one core${noise}`;
  return `waiting: server processes on CPU ${pct(busy)} of the time (client, I/O, process hand-offs)${noise}`;
}

// ------------------------------------------------------------------ main

/** The soft limit on open files of this process (the servers inherit it), or null if unreadable. */
function openFileLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? (m[1] === 'unlimited' ? Infinity : Number(m[1])) : null;
  } catch {
    return null;
  }
}

export async function runImapBench(options: ImapBenchOptions): Promise<void> {
  const o = { ...options };
  // Each idle connection is a descriptor in the bench and one in the server (Rookery: one process holds them all).
  const fdLimit = openFileLimit();
  let idleNote = '';
  if (fdLimit !== null && o.idle + 300 > fdLimit) {
    const fewer = Math.max(0, fdLimit - 300);
    idleNote = ` (asked for ${o.idle}, but "ulimit -n" is ${fdLimit}; raise it to measure more)`;
    o.idle = fewer;
  }
  const wantRookery = o.sides.includes('rookery');
  const wantDovecot = o.sides.includes('dovecot');
  const servers: Server[] = [];
  const textHits = expectedTextHits(messagesOf('text'));

  let dovecot: DovecotInstance | null = null;
  let dovecotLoad = 0;
  if (wantDovecot) {
    if (!o.tools) throw new Error('Dovecot is not installed (needs dovecot and doveadm; on Debian: apt-get install -y dovecot-imapd)');
    const port = await freeBase([0]);
    dovecot = new DovecotInstance(o.tools, join(o.root, 'dovecot'), port, recipient, password, dovecotScheme.scheme, dovecotScheme.rounds, o.idle);
    const dc = dovecot;
    o.onCleanup(() => dc.stop());
    o.onExit(() => dc.killNow());
    mkdirSync(dc.dir, { recursive: true });
    await dc.prepare();
    dovecotLoad = loadDovecot(dc);
    await dc.start();
    servers.push({
      name: 'dovecot', label: 'Dovecot', port,
      cpu: () => dc.cpu(),
      mainCpu: () => null,
      memory: () => processesMemory(dc.pids()),
    });
  }

  let rookery: RookeryNode | null = null;
  let rookeryLoad = 0;
  if (wantRookery) {
    const base = await freeBase([imapPortOffset], dovecot ? [dovecot.port] : []);
    rookery = new RookeryNode(o.repoRoot, join(o.root, 'rookery-imap'), base, 'imap');
    const rk = rookery;
    o.onCleanup(() => rk.stop());
    o.onExit(() => rk.killNow());
    rookeryLoad = await loadRookery(rk, o.idle);
    await rk.start();
    servers.push({
      name: 'rookery', label: 'Rookery', port: rk.port,
      cpu: () => rk.cpu(),
      mainCpu: () => rk.mainThreadCpu(),
      memory: () => {
        const m = rk.pid === null ? null : processMemory(rk.pid);
        return { rss: m?.rss ?? 0, pss: m?.pss ?? -1, processes: m ? 1 : 0 };
      },
    });
  }
  // Rookery first in every table.
  servers.sort((a, b) => (a.name === 'rookery' ? -1 : b.name === 'rookery' ? 1 : 0));

  console.log('Rookery vs Dovecot: IMAP');
  console.log(`data:    one user; INBOX ${sets.inbox.count}, Headers ${sets.headers.count} distinct, Big ${sets.big.count} (${sets.big.distinct} distinct, repeated), Text ${sets.text.count} distinct (3 KB bodies, "${marker}" in ${textHits})`);
  if (wantRookery) console.log(`         Rookery: loaded through the store interfaces in ${fmt(rookeryLoad, 1)} s (blobs + MIME index + deliver; Big doubled with copyMessages); node on 127.0.0.1:${rookery!.port}`);
  if (wantDovecot) console.log(`         Dovecot: Maildir files written in ${fmt(dovecotLoad, 1)} s (Big: hard links); private instance on 127.0.0.1:${dovecot!.port}, ${dovecotScheme.scheme} cost ${dovecotScheme.rounds}, one imap process per connection (Dovecot's default)`);
  console.log(`plan:    IDLE memory with ${o.idle} connections${idleNote} per side first (fresh servers), then 1 warm-up round (builds Dovecot's indexes, not reported) and ${o.rounds} round(s), alternating; medians reported`);
  console.log('');

  // Memory per idle connection, on servers that have served nothing else yet.
  const idle: IdleResult[] = [];
  if (o.idle > 0) {
    for (const s of servers) idle.push(await idleMemory(s, o.idle));
  }

  for (const s of servers) await round(s, 0, { textHits });
  console.log('each cell: wall ms (server CPU ms); headers = login + select + fetch');
  console.log('round  side      login+select+fetch headers          SELECT 100k       FETCH FLAGS      SEARCH TEXT');
  const results: RoundResult[] = [];
  for (let n = 1; n <= o.rounds; n++) {
    const order = n % 2 === 1 ? servers : [...servers].reverse();
    for (const s of order) {
      const r = await round(s, n, { textHits });
      results.push(r);
      printRound(r, s.label);
    }
  }
  console.log('');
  console.log(`verified: every round saw ${sets.headers.count} header FETCH responses, ${sets.big.count} EXISTS and FLAGS responses and ${textHits} SEARCH TEXT hits on each side`);
  console.log('');

  const of = (n: ImapSideName) => results.filter((r) => r.side === n);
  const rk = of('rookery');
  const dc = of('dovecot');
  console.log('median ms                                   Rookery    Dovecot   ratio R/D   target <= 2');
  for (const { op, title } of ops) {
    const r = rk.length > 0 ? medianSample(rk, op).ms : NaN;
    const d = dc.length > 0 ? medianSample(dc, op).ms : NaN;
    const ratio = r / d;
    console.log(`${title.padEnd(42)} ${lpad(fmt(r, 1), 9)} ${lpad(fmt(d, 1), 10)} ${lpad(fmt(ratio, 2), 11)}   ${Number.isFinite(ratio) ? (ratio <= 2 ? 'met' : 'NOT met') : '-'}`);
  }
  console.log('');
  console.log('limited by (median round):');
  for (const { op, title } of ops) {
    if (rk.length > 0) console.log(`  ${title}: Rookery: ${limitOf('rookery', medianSample(rk, op), cpus().length)}`);
    if (dc.length > 0) console.log(`  ${title}: Dovecot: ${limitOf('dovecot', medianSample(dc, op), cpus().length)}`);
  }

  if (idle.length > 0) {
    console.log('');
    console.log(`memory per idle connection (${o.idle} clients logged in, INBOX selected, in IDLE; growth of the server from before they connected)`);
    console.log('side      conns  setup s  processes  RSS growth/conn  PSS growth/conn  idle CPU');
    for (const r of idle) {
      const rss = kb((r.after.rss - r.before.rss) / r.connections);
      const pss = r.after.pss < 0 || r.before.pss < 0 ? NaN : kb((r.after.pss - r.before.pss) / r.connections);
      console.log([
        (r.side === 'rookery' ? 'Rookery' : 'Dovecot').padEnd(8),
        lpad(String(r.connections), 5),
        lpad(fmt(r.setupSeconds, 1), 7),
        lpad(`${r.before.processes}->${r.after.processes}`, 9),
        lpad(`${fmt(rss, 1)} KB`, 15),
        lpad(`${fmt(pss, 1)} KB`, 15),
        lpad(`${fmt(r.idleCpu * 100, 1)}%`, 8),
      ].join('  '));
    }
    const r = idle.find((x) => x.side === 'rookery');
    const d = idle.find((x) => x.side === 'dovecot');
    if (r) {
      const per = kb((r.after.rss - r.before.rss) / r.connections);
      console.log(`Rookery per idle connection (VmRSS of the node): ${fmt(per, 1)} KB  (target < 64 KB: ${per < 64 ? 'met' : 'NOT met'})`);
    }
    if (r && d && d.after.pss >= 0 && d.before.pss >= 0) {
      const per = (r.after.rss - r.before.rss) / r.connections;
      const perD = (d.after.pss - d.before.pss) / d.connections;
      const ratio = per / perD;
      console.log(`ratio Rookery RSS / Dovecot PSS per connection: ${fmt(ratio, 3)}  (target <= 2: ${ratio <= 2 ? 'met' : 'NOT met'})`);
    }
    console.log('RSS counts shared pages (libraries) in every process; PSS shares them out, so for Dovecot\'s one process per');
    console.log('connection PSS is the fairer figure. Rookery is one process, where the two are close.');
  }
}
