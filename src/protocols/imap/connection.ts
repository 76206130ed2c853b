/**
 * One IMAP connection's bytes: writing with backpressure, buffering what the
 * client sends until the session asks for it (so pipelined input is read one
 * command at a time and can be thrown away at STARTTLS), the STARTTLS
 * upgrade, and a polite close. Knows nothing of IMAP itself.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../log.js';
import type { TlsMaterial } from '../../net/service.js';
import { upgradeToTls } from '../../net/tls-upgrade.js';
import { ConnectionGone, drained } from '../../net/socket-drain.js';

/** Raw input held before the socket is paused: enough for a burst of pipelined commands. */
const MAX_BUFFERED_INPUT_BYTES = 256 * 1024;

/** Chunks smaller than this are copied together before writing; larger ones (literals) go as they are. */
const COALESCE_BELOW_BYTES = 16 * 1024;
/** Size of one write made of small chunks gathered together. */
const COALESCED_WRITE_BYTES = 64 * 1024;

/**
 * Gathers runs of small chunks into buffers of about COALESCED_WRITE_BYTES,
 * keeping the order: one socket write (one syscall) for many small
 * responses instead of one per chunk, e.g. 100,000 FETCH FLAGS lines.
 */
function coalesce(chunks: readonly Buffer[]): readonly Buffer[] {
  if (chunks.length <= 1) return chunks;
  const out: Buffer[] = [];
  let run: Buffer[] = [];
  let runBytes = 0;
  const flush = () => {
    if (run.length === 1) out.push(run[0]!);
    else if (run.length > 1) out.push(Buffer.concat(run, runBytes));
    run = [];
    runBytes = 0;
  };
  for (const chunk of chunks) {
    if (chunk.length >= COALESCE_BELOW_BYTES) {
      flush();
      out.push(chunk);
      continue;
    }
    run.push(chunk);
    runBytes += chunk.length;
    if (runBytes >= COALESCED_WRITE_BYTES) flush();
  }
  flush();
  return out;
}
/** How long a closing connection may take to flush its last responses. */
const END_GRACE_MS = 2000;

export class Connection {
  private socket: Socket | TLSSocket;
  private input: Buffer[] = [];
  private inputBytes = 0;
  private waiter: (() => void) | null = null;
  private isClosed = false;
  private readonly closeListeners: Array<() => void> = [];

  constructor(
    socket: Socket | TLSSocket,
    /** The connection is encrypted. */
    public secure: boolean,
    private readonly log: Logger,
    /** The real client's address (from a traffic manager's PROXY header); the socket's peer when absent. */
    private readonly clientAddress?: string,
  ) {
    this.socket = socket;
    this.attach(socket);
  }

  /** The client's address: the one a trusted PROXY header named, else the socket's peer. */
  get remoteAddress(): string | undefined {
    return this.clientAddress ?? this.socket.remoteAddress;
  }

  /** True once the socket has closed. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Runs `fn` once when the connection closes. */
  onClose(fn: () => void): void {
    if (this.isClosed) fn();
    else this.closeListeners.push(fn);
  }

  private attach(socket: Socket | TLSSocket): void {
    // A command's answer is several small writes (SELECT: FLAGS, EXISTS, OK [UIDVALIDITY] ...).
    // With Nagle's algorithm the second waits for the client's delayed ACK of the first: 40 ms
    // on Linux, more than a whole SELECT takes. Each write is already as big as it gets (coalesce).
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.input.push(chunk);
      this.inputBytes += chunk.length;
      // Stop reading while the session is behind; TCP holds the rest.
      if (this.inputBytes > MAX_BUFFERED_INPUT_BYTES) socket.pause();
      this.wake();
    });
    socket.on('error', (err: Error) => this.log.debug({ err }, 'socket error'));
    socket.once('close', () => {
      // After STARTTLS the plain socket's close ends the TLS socket on top of it.
      if (socket !== this.socket) this.socket.destroy();
      this.markClosed();
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /**
   * Takes buffered input: everything (`'all'`), or up to and including the
   * first LF (`'line'`, so a command boundary is never passed; used before
   * login, see the session). Null when nothing is buffered.
   */
  take(mode: 'all' | 'line'): Buffer | null {
    if (this.input.length === 0) return null;
    let out: Buffer;
    if (mode === 'all') {
      out = this.input.length === 1 ? this.input[0]! : Buffer.concat(this.input);
      this.input = [];
    } else {
      const first = this.input[0]!;
      const lf = first.indexOf(0x0a);
      if (lf === -1 || lf === first.length - 1) {
        out = first;
        this.input.shift();
      } else {
        out = first.subarray(0, lf + 1);
        this.input[0] = first.subarray(lf + 1);
      }
    }
    this.inputBytes -= out.length;
    if (this.inputBytes <= MAX_BUFFERED_INPUT_BYTES && this.socket.isPaused() && !this.isClosed) this.socket.resume();
    return out;
  }

  /** Resolves when input arrives or the connection closes (at once if either is already so). */
  waitForInput(): Promise<void> {
    if (this.input.length > 0 || this.isClosed) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.waiter;
      this.waiter = () => {
        previous?.();
        resolve();
      };
    });
  }

  /** Throws away buffered input (STARTTLS: nothing sent in clear text before the handshake counts). */
  discardInput(): void {
    this.input = [];
    this.inputBytes = 0;
  }

  /** Writes bytes, waiting while the socket's buffer is full. */
  async write(data: Buffer | readonly Buffer[]): Promise<void> {
    const socket = this.socket;
    const chunks = Buffer.isBuffer(data) ? [data] : coalesce(data);
    for (const chunk of chunks) {
      if (this.isClosed || socket.destroyed || !socket.writable) throw new ConnectionGone();
      if (chunk.length === 0) continue;
      if (socket.write(chunk)) continue;
      await drained(socket);
    }
  }

  /**
   * Upgrades to TLS after the tagged OK to STARTTLS has been written
   * (RFC 3501 6.2.1, RFC 9051 6.2.1). Anything the client sent before the
   * handshake is discarded (CVE-2011-0411 class, Dovecot CVE-2021-33515).
   */
  async startTls(material: TlsMaterial, handshakeTimeoutMs: number): Promise<void> {
    const plain = this.socket as Socket;
    await new Promise<void>((resolve) => plain.write(Buffer.alloc(0), () => resolve()));
    plain.removeAllListeners('data');
    this.discardInput();
    if (plain.isPaused()) plain.resume();
    let secure: TLSSocket;
    try {
      secure = await upgradeToTls(plain, material, { handshakeTimeoutMs });
    } catch (err) {
      this.log.info({ err }, 'STARTTLS handshake failed');
      this.markClosed();
      throw new ConnectionGone();
    }
    this.discardInput();
    this.socket = secure;
    this.secure = true;
    this.attach(secure);
  }

  private markClosed(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.wake();
    for (const fn of this.closeListeners.splice(0)) fn();
  }

  /** Closes politely: what was written goes out first; cut after a grace period. */
  end(): void {
    if (this.isClosed) return;
    const socket = this.socket;
    socket.end();
    setTimeout(() => socket.destroy(), END_GRACE_MS).unref();
  }

  /** Closes at once. */
  destroy(): void {
    this.socket.destroy();
  }
}
