/**
 * A private Dovecot instance for the IMAP benchmark. Everything lives in one
 * temporary directory: its own dovecot.conf (no !include of /etc/dovecot),
 * base_dir, state_dir, log file, a passwd-file with one user and that
 * user's Maildir. It listens on one loopback port, IMAP only, no TLS, and is
 * stopped by its master's PID. The system's Dovecot service is not touched.
 *
 * Mail is loaded by writing Maildir files directly (cur/, with the size and
 * flags in the file name, as Dovecot itself names them); Dovecot builds its
 * index on the first SELECT of each folder, which the benchmark's warm-up
 * does before anything is measured.
 */
import { chownSync, linkSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitForGreeting } from './net.js';
import { descendants, isAlive, run, start, stopPid, treeCpu, type Spawned } from './proc.js';

export interface DovecotTools {
  dovecot: string;
  doveadm: string;
}

/** uid and gid of a user in /etc/passwd, or null. */
export function userIds(name: string): { uid: number; gid: number } | null {
  try {
    const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
    if (!line) return null;
    const f = line.split(':');
    return { uid: Number(f[2]), gid: Number(f[3]) };
  } catch {
    return null;
  }
}

export class DovecotInstance {
  readonly configFile: string;
  readonly logFile: string;
  readonly maildir: string;
  private master: Spawned | null = null;
  private readonly owner: { uid: number; gid: number };
  private fileNo = 0;

  constructor(
    private readonly tools: DovecotTools,
    readonly dir: string,
    readonly port: number,
    readonly user: string,
    readonly password: string,
    /** Password scheme for the passwd-file (doveadm pw -s), e.g. BLF-CRYPT. */
    readonly scheme: string,
    readonly schemeRounds: number | null,
    /** Connections the instance must accept at once (IDLE measurement). */
    readonly maxConnections: number,
  ) {
    this.configFile = join(dir, 'dovecot.conf');
    this.logFile = join(dir, 'dovecot.log');
    this.maildir = join(dir, 'home', 'Maildir');
    // The mail user: nobody (as the Postfix instance delivers). Dovecot never runs mail processes as root.
    this.owner = userIds('nobody') ?? { uid: 65534, gid: 65534 };
  }

  get pid(): number | null {
    return this.master?.child.pid ?? null;
  }

  /** Writes the configuration, the passwd-file and an empty INBOX. */
  async prepare(): Promise<void> {
    const d = this.dir;
    for (const sub of ['run', 'state', 'home']) mkdirSync(join(d, sub), { recursive: true });
    this.folder('INBOX');
    const args = ['pw', '-s', this.scheme, '-p', this.password];
    if (this.schemeRounds !== null) args.push('-r', String(this.schemeRounds));
    const hash = (await run(this.tools.doveadm, args)).trim();
    const { uid, gid } = this.owner;
    const limit = this.maxConnections + 100;
    const internal = userIds('dovecot') ? 'dovecot' : 'nobody';
    // Read by the auth process, which runs as the internal user.
    const passwd = join(d, 'passwd');
    writeFileSync(passwd, `${this.user}:${hash}:${uid}:${gid}::${join(d, 'home')}::\n`, { mode: 0o640 });
    const auth = userIds(internal)!;
    chownSync(passwd, auth.uid, auth.gid);
    const login = userIds('dovenull') ? 'dovenull' : 'nobody';
    writeFileSync(this.configFile, `# Private benchmark instance; see bench/lib/dovecot.ts.
instance_name = rookery-bench-${this.port}
base_dir = ${join(d, 'run')}
state_dir = ${join(d, 'state')}
log_path = ${this.logFile}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = ${internal}
default_internal_group = ${internal}
default_login_user = ${login}
first_valid_uid = 1
mail_location = maildir:~/Maildir
mail_max_userip_connections = ${limit}
default_process_limit = ${limit}
default_client_limit = ${limit * 3 + 100}
passdb {
  driver = passwd-file
  args = ${join(d, 'passwd')}
}
userdb {
  driver = passwd-file
  args = ${join(d, 'passwd')}
}
service imap {
  process_limit = ${limit}
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${this.port}
  }
  inet_listener imaps {
    port = 0
  }
}
`);
  }

  /** Creates a Maildir folder ("INBOX" or a Maildir++ ".Name"); returns its path. */
  folder(name: string): string {
    const path = name === 'INBOX' ? this.maildir : join(this.maildir, `.${name}`);
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(path, sub), { recursive: true });
    if (name !== 'INBOX') writeFileSync(join(path, 'maildirfolder'), '');
    return path;
  }

  /**
   * Writes one message into a folder's cur/ with Dovecot's file naming
   * (S= size, :2,FLAGS); `linkTo` hard-links an earlier file instead of
   * writing the bytes again (identical messages, as Rookery shares blobs).
   * Returns the file's path.
   */
  addMessage(folderPath: string, bytes: Buffer | null, opts: { seen: boolean; date: Date; size: number; linkTo?: string }): string {
    const n = ++this.fileNo;
    const seconds = Math.floor(opts.date.getTime() / 1000);
    const name = `${seconds}.M${n}P${process.pid}.bench,S=${opts.size}:2,${opts.seen ? 'S' : ''}`;
    const path = join(folderPath, 'cur', name);
    if (opts.linkTo) linkSync(opts.linkTo, path);
    else writeFileSync(path, bytes!);
    return path;
  }

  /** Hands the Maildir to the mail user (nobody), as Dovecot's mail processes will write index files there. */
  chownMail(): void {
    const { uid, gid } = this.owner;
    const walk = (p: string) => {
      chownSync(p, uid, gid);
      for (const e of readdirSync(p, { withFileTypes: true })) {
        const q = join(p, e.name);
        if (e.isDirectory()) walk(q);
        else chownSync(q, uid, gid);
      }
    };
    walk(join(this.dir, 'home'));
  }

  /** Starts the master in the foreground (-F) as a child of the bench, so its PID is known and it is stopped by it. */
  async start(): Promise<void> {
    const master = start(this.tools.dovecot, ['-F', '-c', this.configFile]);
    this.master = master;
    const pid = master.child.pid;
    try {
      await waitForGreeting(this.port, '* OK', 30_000, () => pid !== undefined && isAlive(pid) && master.child.exitCode === null);
    } catch (err) {
      throw new Error(`${(err as Error).message}; Dovecot said: ${`${master.stderr}`.trim().split('\n').slice(-3).join(' | ')} ${this.logTail()}`);
    }
  }

  logTail(lines = 5): string {
    try {
      return readFileSync(this.logFile, 'utf8').trim().split('\n').slice(-lines).join(' | ') || '(empty)';
    } catch {
      return '(no log)';
    }
  }

  /** The master and every process under it (login, auth, imap, ...). */
  pids(): number[] {
    const pid = this.pid;
    return pid === null ? [] : [pid, ...descendants(pid)];
  }

  /** CPU seconds of the master and all its children, living or reaped. */
  cpu(): number {
    const pid = this.pid;
    return pid === null ? 0 : treeCpu(pid);
  }

  async stop(): Promise<void> {
    const master = this.master;
    const pid = this.pid;
    if (!master || pid === null) return;
    const children = descendants(pid);
    // The master stops its children on SIGTERM; any left over are stopped by PID.
    await stopPid(pid, 10_000);
    await master.exited;
    for (const c of children) await stopPid(c, 2_000);
    this.master = null;
  }

  killNow(): void {
    for (const pid of this.pids().reverse()) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
}
