/**
 * The contract between the dispatcher and the command files: the shape of
 * a command (states, flags, run) and what a command may use while it runs
 * (the store, the session's state, a way to send untagged responses and to
 * ask the session for the few things only it can do: log in, select,
 * start TLS, read an AUTHENTICATE response, idle).
 */
import type { Logger } from '../../log.js';
import type { Limits } from '../../config/limits.js';
import type { Store, User } from '../../store/types.js';
import type { EnableableCapability } from './capabilities.js';
import type { MessageContent } from './message-content.js';
import type { MailboxUpdates, SelectedMailbox } from './selected-mailbox.js';
import type { EncodeOptions, ImapCommandName, ImapRequest, ImapValue, ResponseCode } from './wire/index.js';

/** RFC 3501 section 3: the connection's state. */
export type SessionState = 'not-authenticated' | 'authenticated' | 'selected' | 'logout';

/** States after login. */
export const AUTHENTICATED_STATES: readonly SessionState[] = ['authenticated', 'selected'];
/** Every state in which commands are read. */
export const ANY_STATE: readonly SessionState[] = ['not-authenticated', 'authenticated', 'selected'];

/**
 * What a command does to message numbers and the mailbox, as in Dovecot's
 * command table. The dispatcher runs commands one at a time, so these
 * decide what it may report around a command, not what may run in parallel.
 */
export interface CommandFlags {
  /**
   * The command refers to messages by sequence number (FETCH, STORE,
   * SEARCH, COPY, MOVE without UID): no EXPUNGE may be sent while it runs
   * (RFC 3501 7.4.1). Their UID forms are exempt.
   */
  readonly usesSequenceNumbers: boolean;
  /** The command itself removes messages (EXPUNGE, MOVE, CLOSE). */
  readonly breaksSequenceNumbers: boolean;
  /** The command changes which mailbox is selected (SELECT, EXAMINE, CLOSE, UNSELECT). */
  readonly breaksMailbox: boolean;
}

/** Flags of a command that touches no messages. */
export const NO_FLAGS: CommandFlags = { usesSequenceNumbers: false, breaksSequenceNumbers: false, breaksMailbox: false };

/** Picks the request variants whose `command` can be N (distributes over the union). */
type RequestVariant<R, N> = R extends { readonly command: infer C } ? (N extends C ? R : never) : never;

/** The parsed request of one command (COPY and MOVE share a variant, as do SELECT and EXAMINE). */
export type RequestOf<N extends ImapCommandName> = RequestVariant<ImapRequest, N>;

/** What the tagged OK says; the dispatcher fills in a default sentence. */
export interface CommandOutcome {
  readonly text?: string;
  readonly code?: ResponseCode;
}

/** One IMAP command: one file in commands/. */
export interface ImapCommand<N extends ImapCommandName = ImapCommandName> {
  /** The command's name as the parser reports it. */
  readonly name: N;
  /** States in which it is allowed; elsewhere the dispatcher answers BAD. */
  readonly states: readonly SessionState[];
  readonly flags: CommandFlags;
  /** Does the work; throws ImapError (or a StoreError) to fail. */
  run(ctx: CommandContext, request: RequestOf<N>): Promise<CommandOutcome | void>;
}

/** What a command sees of the session. */
export interface CommandContext {
  readonly store: Store;
  readonly limits: Limits;
  /** Logger with the session id. */
  readonly log: Logger;
  /** This node's name (greeting, ID). */
  readonly hostname: string;
  readonly state: SessionState;
  /** The logged-in user; throws when called before login (the dispatcher's state check prevents that). */
  user(): User;
  /** The selected mailbox; throws when none (the dispatcher's state check prevents that). */
  selected(): SelectedMailbox;
  /** The connection is encrypted. */
  readonly secure: boolean;
  /** LOGIN and AUTHENTICATE PLAIN are allowed on this connection. */
  readonly plaintextAuthAllowed: boolean;
  /** Extensions the client has ENABLEd, or enabled implicitly (CONDSTORE by use). */
  isEnabled(capability: EnableableCapability): boolean;
  /** Enables an extension for the rest of the connection. */
  enable(capability: EnableableCapability): void;
  /** How values are encoded for this client (UTF8=ACCEPT). */
  readonly encodeOptions: EncodeOptions;
  /** The capability list right now. */
  capabilities(): string[];
  /** A loader of message bytes and MIME indexes for this command. */
  content(): MessageContent;

  /** Sends `* values` CRLF. */
  untagged(values: readonly ImapValue[]): Promise<void>;
  /** Sends `* OK|NO|BAD|BYE [code] text`. */
  untaggedStatus(status: 'OK' | 'NO' | 'BAD' | 'BYE', text: string, code?: ResponseCode): Promise<void>;
  /** Sends bytes already encoded (FETCH responses). */
  send(chunks: Buffer | readonly Buffer[]): Promise<void>;
  /** Sends the untagged updates of a catch-up (EXPUNGE/VANISHED, EXISTS, FETCH FLAGS). */
  sendUpdates(updates: MailboxUpdates): Promise<void>;

  /** Checks a password; resolves with the user, or throws NO [AUTHENTICATIONFAILED] after the failure delay. */
  login(address: string, password: string): Promise<User>;
  /** Sends a SASL challenge (`+ base64`) and returns the client's answer; null when the client cancelled ("*"). */
  saslExchange(challenge: Buffer): Promise<Buffer | null>;
  /** Makes a mailbox the selected one (after the old one, if any, is closed). */
  setSelected(mailbox: SelectedMailbox | null): void;
  /** Arranges the TLS handshake to start right after the tagged OK. */
  startTlsAfterReply(): void;
  /** Enters the LOGOUT state: the connection closes after the tagged OK. */
  logout(): void;
  /** IDLE: sends "+ idling", pushes updates until the client sends DONE. */
  idle(): Promise<void>;
  /** Tells the other sessions on this node that a mailbox changed (they catch up at once). */
  announceChange(mailboxId: number): void;
}
