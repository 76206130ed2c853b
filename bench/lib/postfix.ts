/**
 * A private Postfix instance for the benchmark. Everything lives in one
 * temporary directory: its own config_directory (main.cf, master.cf),
 * queue_directory, data_directory, log file and the Maildir it delivers to.
 * The system's /etc/postfix is only read for Postfix's own file list
 * (meta_directory), never written; the instance listens on one loopback
 * port and nothing else.
 *
 * Mail for u@example.test goes through smtpd -> cleanup (queue file fsynced
 * before the 250) -> qmgr -> virtual(8), which writes a Maildir file,
 * fsyncs it and renames it into new/. A message counts as stored when its
 * file is in new/.
 */
import { chownSync, mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { waitForSmtp } from './net.js';
import { descendants, isAlive, run, sleep, stopPid, treeCpu, waitGone } from './proc.js';

export interface PostfixTools {
  postfix: string;
  postconf: string;
}

/** An unprivileged uid/gid for virtual(8) to deliver as: nobody, else 65534. */
function deliveryIds(): { uid: number; gid: number } {
  try {
    const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('nobody:'));
    if (line) {
      const f = line.split(':');
      return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch { /* fall through */ }
  return { uid: 65534, gid: 65534 };
}

export class PostfixInstance {
  readonly configDir: string;
  readonly queueDir: string;
  readonly maildirNew: string;
  readonly logFile: string;
  private masterPid: number | null = null;
  private started = false;

  constructor(private readonly tools: PostfixTools, readonly dir: string, readonly port: number) {
    this.configDir = join(dir, 'etc');
    this.queueDir = join(dir, 'queue');
    this.maildirNew = join(dir, 'maildirs', 'u', 'new');
    this.logFile = join(dir, 'maillog');
  }

  async start(): Promise<void> {
    const d = this.dir;
    const { uid, gid } = deliveryIds();
    for (const sub of ['etc', 'queue', 'data', 'maildirs']) mkdirSync(join(d, sub), { recursive: true });
    const mailOwner = (await run(this.tools.postconf, ['-h', '-d', 'mail_owner'])).trim() || 'postfix';
    const owner = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${mailOwner}:`));
    if (!owner) throw new Error(`the Postfix mail owner "${mailOwner}" is not a user on this machine; is Postfix installed completely?`);
    chownSync(join(d, 'data'), Number(owner.split(':')[2]), Number(owner.split(':')[3]));
    chownSync(join(d, 'maildirs'), uid, gid);

    // Postfix's own defaults for everything not named here; only what makes it a
    // private, loopback-only instance delivering u@example.test to a Maildir.
    writeFileSync(join(d, 'etc', 'main.cf'), [
      '# rookery bench: private Postfix instance; removed when the bench ends',
      'compatibility_level = 3.6',
      `queue_directory = ${this.queueDir}`,
      `data_directory = ${join(d, 'data')}`,
      `maillog_file = ${this.logFile}`,
      `maillog_file_prefixes = ${d}`,
      'inet_interfaces = 127.0.0.1',
      'inet_protocols = ipv4',
      'myhostname = postfix.bench.test',
      'mydomain = bench.test',
      'mydestination =',
      'local_recipient_maps =',
      'alias_maps =',
      'alias_database =',
      'relayhost =',
      'mynetworks = 127.0.0.0/8',
      'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination',
      'biff = no',
      'virtual_mailbox_domains = example.test',
      `virtual_mailbox_base = ${join(d, 'maildirs')}`,
      `virtual_mailbox_maps = texthash:${join(d, 'etc', 'vmailbox')}`,
      `virtual_uid_maps = static:${uid}`,
      `virtual_gid_maps = static:${gid}`,
      `virtual_minimum_uid = ${Math.min(uid, 100)}`,
      '',
    ].join('\n'));
    // The trailing slash makes virtual(8) deliver Maildir-style.
    writeFileSync(join(d, 'etc', 'vmailbox'), 'u@example.test u/\n');
    // Debian's master.cf, without chroot, with smtpd on one loopback port only.
    writeFileSync(join(d, 'etc', 'master.cf'), [
      '# service type  private unpriv  chroot  wakeup  maxproc command',
      `127.0.0.1:${this.port} inet n - n - - smtpd`,
      'pickup    unix  n - n 60 1 pickup',
      'cleanup   unix  n - n - 0 cleanup',
      'qmgr      unix  n - n 300 1 qmgr',
      'rewrite   unix  - - n - - trivial-rewrite',
      'bounce    unix  - - n - 0 bounce',
      'defer     unix  - - n - 0 bounce',
      'trace     unix  - - n - 0 bounce',
      'verify    unix  - - n - 1 verify',
      'flush     unix  n - n 1000? 0 flush',
      'proxymap  unix  - - n - - proxymap',
      'proxywrite unix - - n - 1 proxymap',
      'smtp      unix  - - n - - smtp',
      'relay     unix  - - n - - smtp',
      'showq     unix  n - n - - showq',
      'error     unix  - - n - - error',
      'retry     unix  - - n - - error',
      'discard   unix  - - n - - discard',
      'virtual   unix  - n n - - virtual',
      'anvil     unix  - - n - 1 anvil',
      'scache    unix  - - n - 1 scache',
      'postlog   unix-dgram n - n - 1 postlogd',
      '',
    ].join('\n'));

    this.started = true;
    await run(this.tools.postfix, ['-c', this.configDir, 'start']);
    this.masterPid = await this.readMasterPid(5_000);
    await waitForSmtp(this.port, 20_000, () => this.masterPid !== null && isAlive(this.masterPid));
  }

  private async readMasterPid(ms: number): Promise<number> {
    const file = join(this.queueDir, 'pid', 'master.pid');
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      try {
        const pid = Number(readFileSync(file, 'utf8').trim());
        if (pid > 0) return pid;
      } catch { /* not yet */ }
      await sleep(50);
    }
    throw new Error(`Postfix did not write ${file}; log: ${this.logTail()}`);
  }

  /** CPU seconds so far of the master and every process under it. */
  cpu(): number {
    return this.masterPid === null ? 0 : treeCpu(this.masterPid);
  }

  /** Messages in the Maildir's new/ directory. */
  delivered(): number {
    try {
      return readdirSync(this.maildirNew).length;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
  }

  /** Polls new/ until it holds `target` messages; returns the hrtime when it did. */
  async waitDelivered(target: number, timeoutMs: number): Promise<bigint> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const n = this.delivered();
      if (n >= target) return process.hrtime.bigint();
      if (Date.now() > deadline) {
        throw new Error(`Postfix delivered ${n} of ${target} messages to the Maildir within ${timeoutMs / 1000}s; log: ${this.logTail()}`);
      }
      await sleep(5);
    }
  }

  logTail(lines = 5): string {
    try {
      return readFileSync(this.logFile, 'utf8').trim().split('\n').slice(-lines).join(' | ');
    } catch {
      return '(no log)';
    }
  }

  /** `postfix stop`; if the master is still there after 10 s, kill it and its children by PID. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    if (existsSync(join(this.configDir, 'main.cf'))) {
      try { await run(this.tools.postfix, ['-c', this.configDir, 'stop']); } catch { /* not running, or already stopping */ }
    }
    const master = this.masterPid;
    if (master === null) return;
    const children = descendants(master);
    if (!(await waitGone(master, 10_000))) await stopPid(master, 2_000);
    for (const pid of children) if (isAlive(pid)) await stopPid(pid, 1_000);
  }

  /** Synchronous last resort at process exit: SIGKILL the master and its children by PID. */
  killNow(): void {
    if (!this.started || this.masterPid === null) return;
    for (const pid of [...descendants(this.masterPid), this.masterPid]) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
}
