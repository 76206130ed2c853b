/**
 * One POP3 connection: the state machine of RFC 1939 (AUTHORIZATION,
 * TRANSACTION, UPDATE) and everything around it: line framing, the guards
 * before dispatch (bad-command count, state checks, overlong lines), the
 * idle timer, writing with backpressure, STLS, and cleanup. What each verb
 * does is in commands.ts; how bytes become commands is in wire.ts.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../log.js';
import type { ServiceContext } from '../../net/service.js';
import { limitSpecs, type Limits } from '../../config/limits.js';
import { loginThrottleFor } from '../../net/login-throttle.js';
import { metrics } from '../../metrics/index.js';
import { LineSplitter, type LineEvent } from '../../net/line-reader.js';
import { upgradeToTls } from '../../net/tls-upgrade.js';
import { ConnectionGone, drained } from '../../net/socket-drain.js';
import { verbs, type VerbSpec } from './commands.js';
import { Pop3Error, replyFor } from './errors.js';
import { Maildrop, type MaildropEntry } from './maildrop.js';
import { DotStuffer, TopCutter } from './message-encoder.js';
import { decodeSaslPlain, err, isParseError, ok, parseCommand, type Pop3Verb } from './wire.js';

export type Pop3State = 'AUTHORIZATION' | 'TRANSACTION' | 'UPDATE';

/** Pause after a first failed login (the shared throttle's default; it grows with further failures). */
export const AUTH_FAILURE_DELAY_MS = limitSpecs.loginFailureDelayMs.default;
/** Lines read ahead of the command being run before we stop reading the socket. */
const MAX_QUEUED_LINES = 64;
/** How long a closing connection may take to say goodbye before it is cut. */
const END_GRACE_MS = 2000;

/** How long a TLS handshake (pop3s, STLS) may take: the idle timeout, at most a minute; read when it starts. */
export function tlsHandshakeTimeoutMs(limits: Limits): number {
  return Math.min(limits.pop3IdleTimeoutMs, 60_000);
}


export interface SessionOptions {
  /** True when the connection is already encrypted (implicit TLS). */
  secure: boolean;
  /** The real client's address (from a traffic manager's PROXY header, or the peer). */
  clientAddress?: string;
  /** Called once when the connection is gone and the session cleaned up. */
  onClosed(): void;
}

export class Pop3Session {
  /** Short random id that ties log lines of one connection together. */
  readonly id = randomBytes(6).toString('hex');
  readonly ctx: ServiceContext;
  readonly log: Logger;
  state: Pop3State = 'AUTHORIZATION';
  /** Whether the connection is encrypted (implicit TLS or after STLS). */
  secure: boolean;
  /** The name from USER, waiting for PASS. */
  pendingUser: string | null = null;
  /** The real client's address (a trusted PROXY header's, or the peer's). */
  readonly clientAddress: string | undefined;

  private socket: Socket | TLSSocket;
  private readonly splitter: LineSplitter;
  private readonly queue: LineEvent[] = [];
  private running = false;
  private closing = false;
  private closed = false;
  private badCommands = 0;
  private authFailures = 0;
  /** Set while an AUTH exchange waits for the client's response line. */
  private saslPending = false;
  private drop: Maildrop | null = null;
  private readonly idleTimer: NodeJS.Timeout;
  private readonly onClosed: () => void;
  /** The service name (pop3 or pop3s), the metrics' protocol label. */
  private readonly service: string;

  constructor(socket: Socket | TLSSocket, ctx: ServiceContext, opts: SessionOptions) {
    this.socket = socket;
    this.ctx = ctx;
    this.secure = opts.secure;
    this.onClosed = opts.onClosed;
    this.clientAddress = opts.clientAddress ?? socket.remoteAddress;
    this.service = opts.secure ? 'pop3s' : 'pop3';
    this.log = ctx.logger.child({ service: this.service, session: this.id, remote: this.clientAddress });
    this.splitter = new LineSplitter(ctx.limits.maxPop3LineBytes);
    // RFC 1939 section 3: an autologout timer closes the connection without
    // a reply and without entering UPDATE.
    this.idleTimer = setTimeout(() => {
      this.log.info('idle timeout');
      this.socket.destroy();
    }, ctx.limits.pop3IdleTimeoutMs);
  }

  /** Sends the greeting and starts reading commands. */
  start(): void {
    this.attach(this.socket);
    // A node that cannot reach its store could not open a maildrop: say so
    // now (RFC 2449's SYS/TEMP: try later), not after the password.
    if (this.ctx.storeHealthy?.() === false) {
      this.closing = true;
      this.write(err(`${this.ctx.hostname} the mail store is unreachable; try again later`, 'SYS/TEMP')).then(() => this.end(), () => undefined);
      return;
    }
    this.write(ok(`${this.ctx.hostname} Rookery POP3 server ready`)).catch(() => undefined);
  }

  /** The open maildrop; only in TRANSACTION and UPDATE. */
  get maildrop(): Maildrop {
    if (!this.drop) throw new Error('no maildrop open in state ' + this.state);
    return this.drop;
  }

  /**
   * Ends the session without UPDATE (server shutdown): after the command
   * in progress, if any, the connection is closed and nothing is deleted.
   */
  shutdown(): void {
    this.closing = true;
    if (!this.running) this.end();
  }

  // ------------------------------------------------------------ output

  /** Writes a reply, waiting for the socket to drain when its buffer is full. */
  async write(data: string | Buffer): Promise<void> {
    const socket = this.socket;
    if (this.closed || socket.destroyed || !socket.writable) throw new ConnectionGone();
    this.idleTimer.refresh();
    if (socket.write(data)) return;
    await drained(socket);
    // A client that reads, however slowly, is not idle.
    this.idleTimer.refresh();
  }

  /**
   * Streams a message as the reply to RETR (topLines null) or TOP: byte-
   * stuffed, terminated, with backpressure. The +OK goes out only once the
   * first bytes are read, so a missing blob still gets a clean -ERR.
   */
  async sendMessage(entry: MaildropEntry, topLines: number | null): Promise<void> {
    const stream: Readable = this.ctx.store.blobs.createReadStream(entry.blobId);
    const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    try {
      let next = await chunks.next();
      await this.write(ok(topLines === null ? `${entry.size} octets` : 'top of message follows'));
      const stuffer = new DotStuffer();
      const cutter = topLines === null ? null : new TopCutter(topLines);
      try {
        while (!next.done) {
          const part = cutter ? cutter.push(next.value) : next.value;
          const out = stuffer.push(part);
          if (out.length > 0) await this.write(out);
          if (cutter?.finished) break;
          next = await chunks.next();
        }
      } catch (e) {
        if (e instanceof ConnectionGone) throw e;
        // The +OK is out and part of the message with it: no -ERR can follow.
        // Cutting the connection is the only honest end (the client sees no
        // terminator and knows the retrieval failed).
        this.log.error({ err: e, uid: entry.uid }, 'reading the message failed mid-reply');
        this.socket.destroy();
        throw new ConnectionGone();
      }
      await this.write(stuffer.finish());
    } finally {
      stream.destroy();
    }
  }

  // ------------------------------------------------------------ authentication

  /**
   * Checks credentials and, when they are good, locks the maildrop and
   * enters TRANSACTION. Replies in every case.
   */
  async login(address: string, password: string): Promise<void> {
    const throttle = loginThrottleFor(this.ctx.store, this.ctx.limits, (e) => this.log.warn({ err: e }, 'login throttle: the store is out of reach'));
    const client = this.clientAddress ?? '';
    const verdict = await throttle.check(client, address);
    if (!verdict.allowed) {
      this.authFailures++;
      this.log.info({ address, failures: this.authFailures }, 'login refused by the throttle');
      throw new Pop3Error(verdict.sentence, 'SYS/TEMP', { closeAfter: this.authFailures >= this.ctx.limits.maxAuthFailures });
    }
    const user = await this.ctx.store.directory.authenticate(address, password);
    if (!user) {
      this.authFailures++;
      const delayMs = await throttle.failed(this.service, client, address);
      this.log.info({ address, failures: this.authFailures, delayMs }, 'login failed');
      await new Promise((r) => setTimeout(r, delayMs));
      if (this.authFailures >= this.ctx.limits.maxAuthFailures) {
        throw new Pop3Error('invalid credentials; too many failures, closing', 'AUTH', { closeAfter: true });
      }
      throw new Pop3Error('invalid credentials', 'AUTH');
    }
    const owner = `${this.ctx.hostname}/${process.pid}/${this.id}`;
    this.drop = await Maildrop.open(this.ctx.store, user, owner, this.ctx.limits.maildropLeaseMs, this.log);
    this.state = 'TRANSACTION';
    metrics.sessionsOpen.inc({ protocol: this.service });
    this.pendingUser = null;
    const { count, octets } = this.drop.totals();
    this.log.info({ user: user.address, messages: count }, 'logged in');
    await this.write(ok(`${user.address} has ${count} messages (${octets} octets)`));
  }

  /** Asks for the SASL PLAIN response on the next line (RFC 5034 section 4). */
  async awaitSaslResponse(): Promise<void> {
    this.saslPending = true;
    await this.write('+ \r\n');
  }

  /** Handles an AUTH PLAIN response, given inline or on its own line. */
  async saslPlain(response: string): Promise<void> {
    if (response === '*') throw new Pop3Error('authentication cancelled');
    const creds = decodeSaslPlain(response);
    if (!creds) {
      this.noteBadCommand();
      throw new Pop3Error('invalid SASL PLAIN response');
    }
    // No proxy logins: an authorization identity must be the user itself.
    if (creds.authzid !== '' && creds.authzid !== creds.authcid) {
      throw new Pop3Error('authorization identity not permitted', 'AUTH');
    }
    await this.login(creds.authcid, creds.password);
  }

  // ------------------------------------------------------------ STLS and QUIT

  /**
   * RFC 2595 section 4: answers +OK, then negotiates TLS. Whatever the client
   * sent after STLS in plain text is thrown away, never run as a command
   * (CVE-2011-0411: commands injected before the handshake).
   */
  async startTls(): Promise<void> {
    const plain = this.socket as Socket;
    plain.removeAllListeners('data');
    this.queue.length = 0;
    this.splitter.reset();
    await new Promise<void>((resolve) => plain.write(ok('Begin TLS negotiation'), () => resolve()));
    if (this.closed) throw new ConnectionGone();
    let secure: TLSSocket;
    try {
      secure = await upgradeToTls(plain, this.ctx.tls(), { handshakeTimeoutMs: tlsHandshakeTimeoutMs(this.ctx.limits) });
    } catch (e) {
      this.log.info({ err: e }, 'STLS handshake failed');
      throw new ConnectionGone();
    }
    // Anything that arrived in plain text while we waited is gone too.
    this.queue.length = 0;
    this.splitter.reset();
    this.socket = secure;
    this.secure = true;
    this.attach(secure);
    this.log.info('STLS done');
  }

  /**
   * QUIT: from TRANSACTION, enters UPDATE and removes the marked messages in
   * one atomic step; then says goodbye and closes.
   */
  async quit(): Promise<void> {
    const drop = this.drop;
    if (!drop) {
      this.closing = true;
      await this.write(ok(`${this.ctx.hostname} signing off`));
      return;
    }
    this.state = 'UPDATE';
    this.closing = true;
    try {
      await drop.commit();
    } catch (e) {
      this.log.error({ err: e }, 'expunge at QUIT failed; nothing deleted');
      await drop.release();
      await this.write(e instanceof Pop3Error ? replyFor(e, '') : err('some deleted messages not removed; try again later', 'SYS/TEMP'));
      return;
    }
    await drop.release();
    const { count } = drop.totals();
    await this.write(ok(`${this.ctx.hostname} signing off (${count} messages left)`));
  }

  // ------------------------------------------------------------ input and dispatch

  private attach(socket: Socket | TLSSocket): void {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e: Error) => this.log.debug({ err: e }, 'socket error'));
    socket.once('close', () => void this.cleanup());
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    for (const event of this.splitter.push(chunk)) this.queue.push(event);
    // Pipelining (RFC 2449) lets clients send ahead; past a point we stop
    // reading and let TCP hold the rest.
    if (this.queue.length > MAX_QUEUED_LINES) this.socket.pause();
    void this.pump();
  }

  /** Runs queued lines one at a time, in order. */
  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.closing && !this.closed) {
        const event = this.queue.shift()!;
        this.idleTimer.refresh();
        await this.handle(event);
      }
    } finally {
      this.running = false;
    }
    if (this.closing) this.end();
    else if (!this.closed && this.socket.isPaused()) this.socket.resume();
  }

  private async handle(event: LineEvent): Promise<void> {
    try {
      if (event.kind === 'overlong') {
        this.saslPending = false;
        await this.bad(`line too long (limit ${this.ctx.limits.maxPop3LineBytes} octets)`);
        return;
      }
      if (this.saslPending) {
        this.saslPending = false;
        await this.run('AUTH', () => this.saslPlain(event.line.toString('latin1')));
        return;
      }
      const cmd = parseCommand(event.line);
      if (isParseError(cmd)) {
        await this.bad(cmd.message);
        return;
      }
      const spec = verbs[cmd.verb] as VerbSpec<Pop3Verb>;
      if (!spec.states.includes(this.state)) {
        await this.bad(`${cmd.verb} is not valid in the ${this.state} state`);
        return;
      }
      if (this.drop?.lockLost) {
        this.closing = true;
        await this.write(err('the maildrop lock was lost; closing without deleting anything', 'IN-USE'));
        return;
      }
      await this.run(cmd.verb, () => spec.run(this, cmd as never));
    } catch (e) {
      if (!(e instanceof ConnectionGone)) this.log.error({ err: e }, 'unexpected failure');
      this.socket.destroy();
    }
  }

  /** Runs one command, turning its failure into the mapped -ERR reply. */
  private async run(verb: Pop3Verb, body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (e) {
      if (e instanceof ConnectionGone) throw e;
      if (!(e instanceof Pop3Error)) this.log.warn({ err: e, verb }, 'command failed');
      if (e instanceof Pop3Error && e.closeAfter) this.closing = true;
      await this.write(replyFor(e, verbs[verb].what));
    }
  }

  /** Counts a bad command and replies; closes after too many. */
  private async bad(message: string): Promise<void> {
    if (this.noteBadCommand()) {
      this.closing = true;
      await this.write(err(`${message}; too many bad commands, closing`));
      return;
    }
    await this.write(err(message));
  }

  /** Counts a bad command; true when the limit is reached. */
  private noteBadCommand(): boolean {
    this.badCommands++;
    return this.badCommands >= this.ctx.limits.maxPop3BadCommands;
  }

  /** Closes politely: pending replies go out first. */
  private end(): void {
    if (this.closed) return;
    this.socket.end();
    const socket = this.socket;
    setTimeout(() => socket.destroy(), END_GRACE_MS).unref();
  }

  private async cleanup(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.queue.length = 0;
    // A dropped connection never enters UPDATE (RFC 1939 section 6): the
    // lock goes, the deletion marks with it.
    if (this.drop) {
      metrics.sessionsOpen.dec({ protocol: this.service });
      await this.drop.release();
    }
    this.log.debug('closed');
    this.onClosed();
  }
}
