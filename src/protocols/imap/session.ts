/**
 * One IMAP connection's state machine (RFC 3501 section 3, RFC 9051
 * section 3) and its dispatcher: the only place that reads input, decides
 * on literals, checks states, counts bad commands, maps errors to replies,
 * catches up with the store around commands and says goodbye. What each
 * command does is in commands/; how bytes become requests is in wire/.
 *
 * Input is pulled, one command at a time: bytes wait in the Connection
 * until the dispatcher is ready, so input pipelined after STARTTLS is
 * thrown away unread, and before login the framer is fed one line at a
 * time, so it never holds bytes past a command boundary when the session
 * swaps the small pre-login framer for the full one.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../log.js';
import type { Limits } from '../../config/limits.js';
import type { ServiceContext } from '../../net/service.js';
import type { Store, User } from '../../store/types.js';
import { plaintextAuthAllowed } from '../../net/plaintext-auth.js';
import { capabilityList, type EnableableCapability } from './capabilities.js';
import { COMMANDS } from './commands/index.js';
import { refusedSearchSaves } from './commands/search.js';
import { Connection } from './connection.js';
import { ConnectionGone } from '../../net/socket-drain.js';
import { bad, ImapError, no, replyForError } from './errors.js';
import { canonicalName } from './mailbox-names.js';
import { StoreMessageContent, type MessageContent } from './message-content.js';
import { encodeUpdates } from './responses.js';
import type { MailboxUpdates, SelectedMailbox } from './selected-mailbox.js';
import type { LoginThrottle } from '../../net/login-throttle.js';
import { metrics } from '../../metrics/index.js';
import type { MailboxWatcher } from './session-changes.js';
import type { CommandContext, CommandOutcome, ImapCommand, SessionState } from './session-context.js';
import {
  CommandFramer,
  encodeChallenge,
  encodeContinuation,
  encodeTagged,
  encodeUntagged,
  encodeUntaggedStatus,
  isIdleDone,
  parseAuthenticateResponse,
  parseCommand,
  type EncodeOptions,
  type FramedCommand,
  type FramerEvent,
  type ImapCommandName,
  type ImapRequest,
  type ImapValue,
  type ResponseCode,
} from './wire/index.js';

/** Ends the command loop: the session says BYE and closes. */
class SessionEnding extends Error {
  constructor(readonly byeText: string) {
    super(byeText);
    this.name = 'SessionEnding';
  }
}

/** Longest pre-login silence: RFC 3501 5.4's 30 minutes is for logged-in users only. */
const MAX_PRE_LOGIN_IDLE_MS = 60_000;
/** How long a STARTTLS or implicit-TLS handshake may take. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 30_000;

/** What the service gives each session. */
export interface SessionOptions {
  /** The connection is already encrypted (implicit TLS, port 993). */
  readonly secure: boolean;
  /** The service's watcher of mailbox changes (IDLE). */
  readonly watcher: MailboxWatcher;
  /** The node's login throttle, shared by every protocol and (through the store) every node. */
  readonly authThrottle: LoginThrottle;
  /** Called once when the connection is gone. */
  onClosed(): void;
}

function framerFor(limits: Limits, authenticated: boolean): CommandFramer {
  const maxLiteralBytes = authenticated ? limits.maxImapLiteralBytes : limits.maxImapPreLoginLiteralBytes;
  const maxLineBytes = limits.maxImapLineBytes;
  // Room for one APPEND: its message literal plus the text around it.
  return new CommandFramer({ maxLineBytes, maxLiteralBytes, maxCommandBytes: maxLiteralBytes + 2 * maxLineBytes + 1024 });
}

export class ImapSession implements CommandContext {
  /** Short random id that ties one connection's log lines together. */
  readonly id = randomBytes(6).toString('hex');
  readonly store: Store;
  readonly limits: Limits;
  readonly log: Logger;
  readonly hostname: string;
  state: SessionState = 'not-authenticated';

  private readonly ctx: ServiceContext;
  private readonly conn: Connection;
  private readonly opts: SessionOptions;
  private framer: CommandFramer;
  private events: FramerEvent[] = [];
  private currentUser: User | null = null;
  private selectedMailbox: SelectedMailbox | null = null;
  private readonly enabled = new Set<EnableableCapability>();
  private badCommands = 0;
  private authFailures = 0;
  private commandContent: MessageContent | null = null;
  private tlsAfterReply = false;
  /** Set when the session must end after the current command, with the BYE text. */
  private ending: string | null = null;
  private byeSent = false;
  private idling = false;
  private kicked = false;
  private kickWaiter: (() => void) | null = null;
  private idleTimer: NodeJS.Timeout;
  private closedNotified = false;

  /** The service name (imap or imaps), the metrics' protocol label. */
  private readonly service: string;

  constructor(conn: Connection, ctx: ServiceContext, opts: SessionOptions) {
    this.conn = conn;
    this.ctx = ctx;
    this.opts = opts;
    this.service = opts.secure ? 'imaps' : 'imap';
    this.store = ctx.store;
    this.limits = ctx.limits;
    this.hostname = ctx.hostname;
    this.log = ctx.logger.child({ service: this.service, session: this.id, remote: conn.remoteAddress });
    this.framer = framerFor(ctx.limits, false);
    this.idleTimer = setTimeout(() => this.onIdleTimeout(), this.idleTimeoutMs());
    conn.onClose(() => this.cleanup());
  }

  // ------------------------------------------------------------ CommandContext

  get secure(): boolean {
    return this.conn.secure;
  }

  get plaintextAuthAllowed(): boolean {
    return plaintextAuthAllowed(this.conn.secure, this.conn.remoteAddress);
  }

  get encodeOptions(): EncodeOptions {
    return { utf8: this.utf8Mode };
  }

  /**
   * Mailbox names are UTF-8 on the wire, and UTF-8 may go in quoted strings:
   * after ENABLE UTF8=ACCEPT (RFC 6855 section 3) or ENABLE IMAP4rev2 (RFC
   * 9051 section 5.1: rev2 names are Net-Unicode; Appendix A: a server
   * announcing both revisions sends UTF-8 quoted strings only after the
   * client enabled IMAP4rev2). Otherwise names are modified UTF-7.
   */
  private get utf8Mode(): boolean {
    return this.enabled.has('UTF8=ACCEPT') || this.enabled.has('IMAP4REV2');
  }

  user(): User {
    if (!this.currentUser) throw new Error('no user is logged in');
    return this.currentUser;
  }

  selected(): SelectedMailbox {
    if (!this.selectedMailbox) throw new Error('no mailbox is selected');
    return this.selectedMailbox;
  }

  isEnabled(capability: EnableableCapability): boolean {
    return this.enabled.has(capability);
  }

  enable(capability: EnableableCapability): void {
    this.enabled.add(capability);
    // RFC 7162 3.2.3: QRESYNC implies CONDSTORE.
    if (capability === 'QRESYNC') this.enabled.add('CONDSTORE');
  }

  capabilities(): string[] {
    return capabilityList({
      authenticated: this.currentUser !== null,
      secure: this.conn.secure,
      plaintextAuth: this.plaintextAuthAllowed,
      appendLimitBytes: this.limits.maxImapLiteralBytes,
    });
  }

  content(): MessageContent {
    return (this.commandContent ??= new StoreMessageContent(this.store));
  }

  async untagged(values: readonly ImapValue[]): Promise<void> {
    await this.send(encodeUntagged(values, this.encodeOptions));
  }

  async untaggedStatus(status: 'OK' | 'NO' | 'BAD' | 'BYE', text: string, code?: ResponseCode): Promise<void> {
    await this.send(encodeUntaggedStatus(status, text, code));
  }

  async send(chunks: Buffer | readonly Buffer[]): Promise<void> {
    // Output keeps a session alive, except IDLE's own pushes (a dead IDLE client must time out).
    if (!this.idling) this.idleTimer.refresh();
    await this.conn.write(chunks);
  }

  async sendUpdates(updates: MailboxUpdates): Promise<void> {
    if (updates.mailboxGone) {
      this.ending = 'the selected mailbox was deleted by another session';
      return;
    }
    const chunks = encodeUpdates(updates, { qresync: this.enabled.has('QRESYNC'), condstore: this.enabled.has('CONDSTORE'), utf8: this.utf8Mode });
    if (chunks.length > 0) await this.send(chunks);
  }

  async login(address: string, password: string): Promise<User> {
    if (!this.plaintextAuthAllowed) throw new ImapError('NO', 'log in over TLS (use STARTTLS or port 993)', { name: 'PRIVACYREQUIRED' });
    const client = this.conn.remoteAddress ?? '';
    const verdict = await this.opts.authThrottle.check(client, address);
    if (!verdict.allowed) {
      this.authFailures++;
      this.log.info({ address, failures: this.authFailures }, 'login refused by the throttle');
      if (this.authFailures >= this.limits.maxAuthFailures) this.ending = 'too many failed logins';
      throw no(verdict.sentence, 'UNAVAILABLE');
    }
    const user = await this.store.directory.authenticate(address, password);
    if (!user) {
      this.authFailures++;
      const delayMs = await this.opts.authThrottle.failed(this.service, client, address);
      this.log.info({ address, failures: this.authFailures }, 'login failed');
      await new Promise((r) => setTimeout(r, delayMs));
      if (this.authFailures >= this.limits.maxAuthFailures) this.ending = 'too many failed logins';
      throw no('invalid user name or password', 'AUTHENTICATIONFAILED');
    }
    this.currentUser = user;
    this.state = 'authenticated';
    metrics.sessionsOpen.inc({ protocol: this.service });
    // The pre-login framer holds nothing now (it is fed one line at a time): swap in the full limits.
    if (this.framer.bufferedBytes === 0) this.framer = framerFor(this.limits, true);
    else this.log.warn('pre-login framer not empty at login; keeping its limits');
    this.idleTimer = this.restartTimer();
    this.log.info({ user: user.address }, 'logged in');
    return user;
  }

  async saslExchange(challenge: Buffer): Promise<Buffer | null> {
    await this.send(encodeChallenge(challenge));
    const event = await this.nextEvent();
    if (!event) throw new ConnectionGone();
    if (event.kind === 'literal-request') {
      this.events.push(...this.framer.refuseLiteral());
      throw bad('an authentication response is one line of base64, not a literal');
    }
    if (event.kind === 'error') throw bad(event.sentence);
    const answer = parseAuthenticateResponse(event.command);
    if (answer.kind === 'cancel') return null;
    if (answer.kind === 'invalid') throw bad(answer.sentence);
    return answer.data;
  }

  setSelected(mailbox: SelectedMailbox | null): void {
    this.selectedMailbox = mailbox;
    this.state = mailbox ? 'selected' : this.currentUser ? 'authenticated' : 'not-authenticated';
  }

  startTlsAfterReply(): void {
    this.tlsAfterReply = true;
  }

  logout(): void {
    this.state = 'logout';
  }

  announceChange(mailboxId: number): void {
    this.opts.watcher.announce(mailboxId as never);
  }

  async idle(): Promise<void> {
    await this.send(encodeContinuation('idling'));
    const selected = this.selectedMailbox;
    this.idling = true;
    this.kicked = false;
    const unwatch = selected
      ? this.opts.watcher.watch(selected.id, (modSeq) => {
          if (modSeq === null || modSeq !== selected.highestModSeq) this.kick();
        })
      : null;
    try {
      const next = this.nextEvent();
      for (;;) {
        // RFC 2177: changes are pushed while idling; expunges are allowed.
        if (selected && this.selectedMailbox === selected) await this.catchUp(true);
        if (this.ending) throw new SessionEnding(this.ending);
        const woken = this.waitForKick();
        const result = await Promise.race([next.then((event) => ({ event })), woken.then(() => null)]);
        if (this.ending) throw new SessionEnding(this.ending);
        if (result === null) continue;
        const { event } = result;
        if (!event) throw new ConnectionGone();
        if (event.kind === 'command' && isIdleDone(event.command)) return;
        if (event.kind === 'literal-request') this.events.push(...this.framer.refuseLiteral());
        throw bad('IDLE ends with DONE; the command was ignored');
      }
    } finally {
      this.idling = false;
      unwatch?.();
    }
  }

  // ------------------------------------------------------------ lifecycle

  /** Sends the greeting and runs the command loop until the connection ends. */
  start(): void {
    void this.loop();
  }

  /**
   * Ends the session for a server shutdown: at once when it is waiting for
   * the client (or idling), after the command in progress otherwise.
   */
  shutdown(): void {
    this.ending ??= 'server shutting down';
    if (this.idling) this.kick();
    else if (this.waitingForInput) this.endWithBye(this.ending);
  }

  private waitingForInput = false;

  private async loop(): Promise<void> {
    try {
      // A node that cannot reach its store says so at once (RFC 3501 7.1.5: BYE as the greeting).
      if (this.ctx.storeHealthy?.() === false) {
        await this.send(encodeUntaggedStatus('BYE', `${this.hostname} the mail store is unreachable; try again later`, { name: 'UNAVAILABLE' }));
        this.conn.end();
        return;
      }
      const greeting = `${this.hostname} Rookery IMAP4 server ready`;
      await this.send(encodeUntaggedStatus('OK', greeting, { name: 'CAPABILITY', args: this.capabilities().map((c) => ({ atom: c })) }));
      while (this.state !== 'logout' && !this.conn.closed) {
        if (this.ending) throw new SessionEnding(this.ending);
        const event = await this.nextEvent();
        if (!event) break;
        await this.handleEvent(event);
      }
      if (this.state === 'logout') this.conn.end();
    } catch (err) {
      if (err instanceof SessionEnding) this.endWithBye(err.byeText);
      else if (!(err instanceof ConnectionGone)) {
        this.log.error({ err }, 'session failed');
        this.endWithBye('internal server error');
      }
    }
    this.conn.end();
  }

  /** The next framing event, feeding the framer from the connection as needed; null when the connection closed. */
  private async nextEvent(): Promise<FramerEvent | null> {
    for (;;) {
      const event = this.events.shift();
      if (event) return event;
      if (this.conn.closed) return null;
      // Before login, one line at a time (see the file comment).
      const chunk = this.conn.take(this.currentUser ? 'all' : 'line');
      if (chunk) {
        this.idleTimer.refresh();
        this.events.push(...this.framer.push(chunk));
        continue;
      }
      this.waitingForInput = true;
      try {
        await this.conn.waitForInput();
      } finally {
        this.waitingForInput = false;
      }
      if (this.ending && !this.idling && !this.byeSent) throw new SessionEnding(this.ending);
    }
  }

  private async handleEvent(event: FramerEvent): Promise<void> {
    switch (event.kind) {
      case 'error': {
        // A literal over the limit is a refusal (RFC 7889: NO [TOOBIG]); an overlong line is a client error.
        const status = event.code === 'literal-too-big' ? 'NO' : 'BAD';
        const code = event.responseCode ? { name: event.responseCode } : undefined;
        await this.reply(event.tag, status, event.sentence, code);
        if (event.fatal) throw new SessionEnding('the client sent data the server cannot follow');
        if (status === 'BAD') await this.countBad();
        return;
      }
      case 'literal-request':
        await this.decideLiteral(event);
        return;
      case 'command':
        await this.runCommand(event.command);
        return;
    }
  }

  /**
   * RFC 3501 section 7.5 / RFC 7888: a synchronising literal waits for "+".
   * Refusing it before any byte is sent is the whole point: wrong state,
   * unknown command, too big, no such mailbox (TRYCREATE) or over quota.
   */
  private async decideLiteral(event: Extract<FramerEvent, { kind: 'literal-request' }>): Promise<void> {
    const refuse = async (error: ImapError) => {
      this.events.push(...this.framer.refuseLiteral());
      await this.reply(event.tag, error.status, error.text, error.code);
      if (error.status === 'BAD') await this.countBad();
    };
    const name = event.commandName ?? '';
    const base = (name.startsWith('UID ') ? name.slice(4) : name) as ImapCommandName;
    const command = COMMANDS.get(base);
    if (!event.tag || !command) return refuse(bad(event.tag ? `unknown command ${name.slice(0, 40)}` : 'the command must start with a tag'));
    if (!command.states.includes(this.state)) return refuse(this.stateError(command));
    try {
      if (base === 'APPEND' && this.currentUser) await this.checkAppendLiteral(event.linesSoFar, event.literalBytes);
      else if (this.currentUser && event.literalBytes > this.limits.maxImapLineBytes) {
        throw new ImapError('NO', `a literal in ${base} may hold at most ${this.limits.maxImapLineBytes} bytes`, { name: 'TOOBIG' });
      }
    } catch (err) {
      return refuse(replyForError(err, this.log, base));
    }
    await this.send(encodeContinuation('ready for literal data'));
    this.events.push(...this.framer.acceptLiteral());
  }

  /** Before an APPEND's message is sent: the mailbox must exist and the message must fit the quota. */
  private async checkAppendLiteral(linesSoFar: readonly Buffer[], literalBytes: number): Promise<void> {
    // Only the first message's literal is checked: the mailbox name is then on the first line.
    if (linesSoFar.length !== 1) return;
    // Parse the line as if the literal were empty, to read the mailbox name with the real grammar.
    const probe: FramedCommand = { lines: [linesSoFar[0]!, Buffer.alloc(0)], literals: [{ data: Buffer.alloc(0), binary: false, synchronising: true }] };
    const parsed = parseCommand(probe, { utf8Accept: this.utf8Mode });
    if (!parsed.ok || parsed.request.command !== 'APPEND') return; // the full parse will answer it
    const user = this.user();
    const mailbox = await this.store.mail.getMailbox(user.id, canonicalName(parsed.request.mailbox));
    if (!mailbox) throw no('no such mailbox; create it first', 'TRYCREATE');
    const fresh = await this.store.directory.getUserById(user.id);
    if (fresh && fresh.quotaBytes > 0 && fresh.usedBytes + literalBytes > fresh.quotaBytes) {
      throw no('this message would exceed your storage quota', 'OVERQUOTA');
    }
  }

  private stateError(command: ImapCommand): ImapError {
    if (this.state === 'not-authenticated') return bad(`${command.name} is only allowed after login`);
    if (command.states.includes('selected')) return bad(`${command.name} needs a selected mailbox; use SELECT first`);
    if (command.states.includes('not-authenticated')) return bad(`${command.name} is not allowed after login`);
    return bad(`${command.name} is not allowed in this state`);
  }

  private async runCommand(framed: FramedCommand): Promise<void> {
    const parsed = parseCommand(framed, { utf8Accept: this.utf8Mode });
    if (!parsed.ok) {
      const error = parsed.error;
      // An empty line is ignored, as by Dovecot: some clients send a stray CRLF after a literal.
      if (error.code === 'empty-command') return;
      // RFC 5182 2.1: a saving SEARCH answered NO (BADCHARSET, found by the parser) empties "$".
      if (error.code === 'bad-charset' && this.selectedMailbox && framed.lines[0] && refusedSearchSaves(framed.lines[0])) this.selectedMailbox.saveResult([]);
      await this.reply(error.tag, error.status, error.sentence, error.responseCode ? { name: error.responseCode } : undefined);
      if (error.status === 'BAD') await this.countBad();
      return;
    }
    const request = parsed.request;
    const command = COMMANDS.get(request.command) as ImapCommand | undefined;
    const display = 'uid' in request && request.uid === true ? `UID ${request.command}` : request.command;
    if (!command) {
      // Parsed but not served (SETQUOTA is parsed for completeness).
      await this.reply(request.tag, 'BAD', `${display} is not supported`);
      await this.countBad();
      return;
    }
    if (!command.states.includes(this.state)) {
      const error = this.stateError(command);
      await this.reply(request.tag, error.status, error.text, error.code);
      await this.countBad();
      return;
    }
    const byUid = 'uid' in request && request.uid === true;
    // RFC 3501 7.4.1: no EXPUNGE while FETCH, STORE or SEARCH by number runs.
    const allowExpunge = !(command.flags.usesSequenceNumbers && !byUid);
    let outcome: CommandOutcome | void = undefined;
    let failure: ImapError | null = null;
    try {
      outcome = await command.run(this, request as never);
    } catch (err) {
      if (err instanceof ConnectionGone || err instanceof SessionEnding) throw err;
      failure = replyForError(err, this.log, display);
    } finally {
      this.commandContent = null;
    }
    if (this.state === 'selected') await this.catchUp(allowExpunge);
    if (failure) await this.reply(request.tag, failure.status, failure.text, failure.code);
    else await this.reply(request.tag, 'OK', outcome?.text ?? `${display} completed`, outcome?.code);
    if (failure?.status === 'BAD') await this.countBad();
    else this.badCommands = 0;
    await this.afterReply(request);
  }

  private async afterReply(request: ImapRequest): Promise<void> {
    if (this.tlsAfterReply) {
      this.tlsAfterReply = false;
      // Nothing the client pipelined after STARTTLS is read (CVE-2011-0411 class).
      this.events = [];
      this.framer = framerFor(this.limits, false);
      await this.conn.startTls(this.ctx.tls(), TLS_HANDSHAKE_TIMEOUT_MS);
      this.log.info('STARTTLS done');
    }
    if (this.ending && request.command !== 'LOGOUT') throw new SessionEnding(this.ending);
  }

  /** Catches up with the store and sends the updates. */
  private async catchUp(allowExpunge: boolean): Promise<void> {
    const selected = this.selectedMailbox;
    if (!selected) return;
    try {
      await this.sendUpdates(await selected.sync(this.store.mail, allowExpunge));
    } catch (err) {
      if (err instanceof ConnectionGone) throw err;
      // A failed catch-up is retried at the next command; the reply itself still goes out.
      this.log.warn({ err }, 'catching up with the mailbox failed');
    }
  }

  private async reply(tag: string | null, status: 'OK' | 'NO' | 'BAD', text: string, code?: ResponseCode): Promise<void> {
    await this.send(tag === null ? encodeUntaggedStatus(status === 'OK' ? 'OK' : status, text, code) : encodeTagged(tag, status, text, code));
  }

  /** Counts a bad command; ends the session after too many in a row. */
  private async countBad(): Promise<void> {
    this.badCommands++;
    if (this.badCommands >= this.limits.maxImapBadCommands) throw new SessionEnding('too many invalid commands');
  }

  private kick(): void {
    const waiter = this.kickWaiter;
    this.kickWaiter = null;
    if (waiter) waiter();
    else this.kicked = true;
  }

  private waitForKick(): Promise<void> {
    if (this.kicked) {
      this.kicked = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.kickWaiter = resolve;
    });
  }

  private idleTimeoutMs(): number {
    return this.currentUser ? this.limits.imapIdleTimeoutMs : Math.min(this.limits.imapIdleTimeoutMs, MAX_PRE_LOGIN_IDLE_MS);
  }

  private restartTimer(): NodeJS.Timeout {
    clearTimeout(this.idleTimer);
    return setTimeout(() => this.onIdleTimeout(), this.idleTimeoutMs());
  }

  private onIdleTimeout(): void {
    this.log.info('idle timeout');
    this.ending = 'autologout; idle for too long';
    if (this.idling) this.kick();
    else this.endWithBye(this.ending);
  }

  /** Sends BYE (once) and closes. */
  private endWithBye(text: string): void {
    if (this.byeSent || this.conn.closed) {
      this.conn.end();
      return;
    }
    this.byeSent = true;
    this.conn.write(encodeUntaggedStatus('BYE', text)).catch(() => undefined);
    this.conn.end();
  }

  private cleanup(): void {
    if (this.closedNotified) return;
    this.closedNotified = true;
    if (this.currentUser) metrics.sessionsOpen.dec({ protocol: this.service });
    clearTimeout(this.idleTimer);
    this.kick();
    this.log.debug('closed');
    this.opts.onClosed();
  }
}
