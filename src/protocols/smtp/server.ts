/**
 * The only file that reaches into smtp-server beyond its documented hooks.
 * smtp-server 3.21 gives no hook for three things Rookery needs, so a
 * connection subclass adds them:
 *
 * 1. Enhanced status codes chosen by policy. The library picks the code from
 *    the reply number (552 is always 5.2.2, 554 always 5.6.0), which cannot
 *    tell "message too big" (552 5.3.4) from "mailbox full" (552 5.2.2). A
 *    reply text that starts with an enhanced code is sent as is.
 * 2. The bad-command limit (limits.maxSmtpBadCommands): the library's own
 *    counter is fixed at 10 and counts unknown verbs only. Here every
 *    500-504 reply (unknown, malformed, out of sequence) counts, and the
 *    library's counter is neutralised so that only ours applies.
 * 3. An overlong command line: the library answers 421 with its internal
 *    error text; we answer 500 5.5.2 with the limit. Its parser cannot
 *    resynchronise after dropping part of a line, so the connection closes.
 *
 * 4. The greeting delay: the library always waits 100 ms before the 220 to
 *    catch clients that talk first. That caps a sender that opens one
 *    connection per message at 10 messages a second, so the delay is
 *    limits.smtpGreetingDelayMs here (0, no wait, by default).
 *
 * It also lets the DATA handler ask whether the client is still connected
 * before answering 250 (RFC 5321 4.2.5, see data.ts).
 *
 * 6. Where AUTH may be used (submission; the rule is in auth.ts): the
 *    library's only switch, allowInsecureAuth, is per server, and its
 *    refusal comes after nothing but a STARTTLS check. Per connection here:
 *    where AUTH is not allowed, EHLO leaves it out and AUTH is answered
 *    538 5.7.11 before any SASL exchange, so no password is sent in clear.
 */
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { readProxyHeader } from '../../net/proxy-accept.js';
import { ENHANCED_PREFIX, replies } from './replies.js';

/** Settings of the adapter beyond smtp-server's own options. */
export interface AdapterOptions {
  /** Syntax and sequence errors (500-504) allowed before 421. */
  maxBadCommands: number;
  /** Longest command line, for the reply text. */
  maxLineBytes: number;
  /** Wait before the greeting; 0 greets at once. */
  greetingDelayMs: number;
  /** Peers whose connections start with a PROXY header (traffic managers). */
  trustedProxies?: { trusts(address: string | undefined): boolean; trustsFresh?(address: string | undefined): Promise<boolean> };
  /** False while the node cannot reach its store: new sessions are greeted with 421. */
  storeHealthy?: () => boolean;
  /** Whether a session may use AUTH now (submission); absent where AUTH is disabled anyway. */
  authAllowed?: (session: SMTPServerSession) => boolean;
  /** The ETRN policy (etrn.ts); absent, ETRN is not offered. */
  etrn?: (argument: string, session: SMTPServerSession) => Promise<{ code: number; text: string }>;
}

/** How long a trusted traffic manager has to send its PROXY header. */
const PROXY_HEADER_TIMEOUT_MS = 10_000;

const connections = new WeakMap<SMTPServerSession, RookeryConnection>();

/** Whether the client of a session can still receive a reply. */
export function isClientConnected(session: SMTPServerSession): boolean {
  const conn = connections.get(session);
  if (!conn) return false;
  const socket = conn._socket;
  return !conn._closed && !conn._closing && !socket.destroyed && socket.writable;
}

class RookeryConnection extends SMTPConnection {
  private badCommands = 0;

  constructor(server: RookerySmtpServer, socket: Socket | TLSSocket, options: ConstructorParameters<typeof SMTPConnection>[2]) {
    super(server, socket, options);
    // The library disconnects after 10 unknown verbs whatever the limit; its
    // counter is pinned at zero so the configured limit below is the only one.
    Object.defineProperty(this, '_unrecognizedCommands', { get: () => 0, set: () => undefined, configurable: true });
    connections.set(this.session, this);
  }

  override init(): void {
    // Mirrors SMTPConnection.init with the configured greeting delay.
    this._setListeners(() => {
      const server = this._server as unknown as RookerySmtpServer;
      if (server.options.maxClients && server.connections.size > server.options.maxClients) {
        this.send(421, `${this.name} Too many connected clients, try again in a moment`, false);
        return;
      }
      // A node that cannot reach its store could not keep a message: try later (RFC 5321 3.8).
      if (server.adapter.storeHealthy?.() === false) {
        this.send(421, `4.3.0 ${this.name} the mail store is unreachable; try again later`);
        return;
      }
      const delay = server.adapter.greetingDelayMs;
      if (delay <= 0) {
        this.connectionReady();
        return;
      }
      setTimeout(() => this.connectionReady(), delay).unref();
    });
  }

  override _createParser(): ReturnType<SMTPConnection['_createParser']> {
    // Also called from the base constructor (the session already exists then).
    const parser = super._createParser();
    this.adoptParser(parser);
    return parser;
  }

  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    const server = this._server as unknown as RookerySmtpServer;
    if (typeof data === 'string' && ENHANCED_PREFIX.test(data)) {
      context = false;
    }
    data = this.withEtrnKeyword(code, data);
    super.send(code, data, context);
    if (code >= 500 && code <= 504 && !this._closing && !this._closed) {
      this.badCommands++;
      if (this.badCommands >= server.adapter.maxBadCommands) {
        const r = replies.tooManyErrors();
        super.send(r.responseCode, r.message, false);
      }
    }
  }

  // ---- 6. where AUTH may be used (see auth.ts)

  /** Set while EHLO builds its list, so AUTH is left out where it may not be used. */
  private hidingAuth = false;

  private authForbidden(): boolean {
    const allowed = (this._server as unknown as RookerySmtpServer).adapter.authAllowed;
    return allowed !== undefined && !allowed(this.session);
  }

  override handler_EHLO(command: Buffer, callback: () => void): void {
    // The library builds the EHLO reply synchronously, so the flag covers exactly that.
    this.hidingAuth = this.authForbidden();
    try {
      super.handler_EHLO(command, callback);
    } finally {
      this.hidingAuth = false;
    }
  }

  override _isSupported(command: string): boolean {
    if (this.hidingAuth && command === 'AUTH') return false;
    return super._isSupported(command);
  }

  override handler_AUTH(command: Buffer, callback: () => void): void {
    if (super._isSupported('AUTH') && this.authForbidden()) {
      const r = replies.encryptionRequired();
      this.send(r.responseCode, r.message);
      callback();
      return;
    }
    super.handler_AUTH(command, callback);
  }

  // ---- 7. ETRN (RFC 1985; the policy is in etrn.ts): smtp-server has no such command.

  /** The EHLO reply (the only 250 the library sends as a list) announces ETRN where it is offered. */
  private withEtrnKeyword(code: number, data: string | string[] | null | undefined): string | string[] | null | undefined {
    const etrn = (this._server as unknown as RookerySmtpServer).adapter.etrn;
    if (!etrn || code !== 250 || !Array.isArray(data) || data.includes('ETRN')) return data;
    return [...data, 'ETRN'];
  }

  handler_ETRN(command: Buffer, callback: () => void): void {
    const etrn = (this._server as unknown as RookerySmtpServer).adapter.etrn;
    if (!etrn) {
      this.send(502, '5.5.1 ETRN is not offered here');
      callback();
      return;
    }
    if (!this.hostNameAppearsAs) {
      this.send(503, '5.5.1 Send EHLO first');
      callback();
      return;
    }
    const argument = command.toString().replace(/^\s*ETRN\b/i, '');
    etrn(argument, this.session).then(
      (reply) => this.send(reply.code, reply.text),
      () => this.send(458, '4.3.0 Unable to queue messages now; try again later'),
    ).finally(callback);
  }

  /** Replaces the library's 421 for a parser error with our own reply. */
  private adoptParser(parser: ReturnType<SMTPConnection['_createParser']>): void {
    parser.removeAllListeners('error');
    parser.on('error', (err: Error) => {
      const server = this._server as unknown as RookerySmtpServer;
      const r = /too long/i.test(err.message) ? replies.lineTooLong(server.adapter.maxLineBytes) : replies.localError();
      super.send(r.responseCode, r.message, false);
      this.close();
    });
  }
}

/** smtp-server with Rookery's connection class. */
export class RookerySmtpServer extends SMTPServer {
  readonly adapter: AdapterOptions;

  constructor(options: SMTPServerOptions, adapter: AdapterOptions) {
    super(options);
    this.adapter = adapter;
  }

  /**
   * 5. The PROXY header: smtp-server reads only v1 and from a fixed list;
   *    the traffic manager sends v2, and the trusted list is the cluster
   *    registry's, read live. The shared reader in src/net does both.
   */
  override _expectsProxyHeader(socket: Socket): boolean {
    // Decided once per connection in _handleProxy, so a refresh in between cannot change the answer.
    return this.proxyDecisions.get(socket) ?? this.adapter.trustedProxies?.trusts(socket.remoteAddress) ?? false;
  }

  private readonly proxyDecisions = new WeakMap<Socket, boolean>();

  override _handleProxy(socket: Socket, callback: Parameters<SMTPServer['_handleProxy']>[1]): void {
    const proxies = this.adapter.trustedProxies;
    const fresh = proxies?.trustsFresh ? proxies.trustsFresh(socket.remoteAddress) : Promise.resolve(this._expectsProxyHeader(socket));
    fresh.then((trusted) => this.handleProxyFor(socket, trusted, callback), () => this.handleProxyFor(socket, false, callback));
  }

  private handleProxyFor(socket: Socket, trusted: boolean, callback: Parameters<SMTPServer['_handleProxy']>[1]): void {
    this.proxyDecisions.set(socket, trusted);
    if (!trusted) {
      super._handleProxy(socket, callback);
      return;
    }
    const id = BigInt(`0x${randomBytes(10).toString('hex')}`).toString(32).padStart(16, '0');
    readProxyHeader(socket, { timeoutMs: PROXY_HEADER_TIMEOUT_MS }).then(
      (client) => callback(null, { id, remoteAddress: client.address, remotePort: client.port } as Parameters<typeof callback>[1]),
      (err: Error) => {
        socket.on('error', () => undefined);
        socket.destroy();
        callback(err);
      },
    );
  }

  override connect(socket: Socket | TLSSocket, socketOptions?: ConstructorParameters<typeof SMTPConnection>[2]): void {
    // Mirrors SMTPServer.connect, with our connection class.
    const connection = new RookeryConnection(this, socket, socketOptions);
    this.connections.add(connection);
    connection.on('error', (err: Error) => this._onError(err));
    connection.on('connect', (data) => this._onClientConnect(data));
    connection.init();
  }
}
