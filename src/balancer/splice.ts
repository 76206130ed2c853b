/**
 * Joins a client and a backend connection and carries bytes both ways,
 * untouched (TLS passes through), with backpressure: a side whose peer
 * cannot take more is paused instead of growing a buffer. Both sockets
 * allow half-close, so a client that ends its side (SMTP clients may,
 * after QUIT) still gets the rest of the backend's answer.
 *
 * The backend-to-client direction carries the bulk (IMAP FETCH, POP3
 * RETR), so it skips Node's stream machinery: the backend socket reads
 * into a buffer of its own (net's `onread`) that is written straight to the
 * client and reused for the next read, rather than a fresh 64 KB buffer per
 * read (page faults, garbage). The buffer starts small, so an idle session
 * holds 2 KB, grows four-fold while reads fill it, up to 256 KB (a 10 MB
 * message then takes about 40 reads and writes, not Node's 160), and
 * shrinks again once reads are small. The client-to-backend direction (commands, DATA,
 * APPEND) uses ordinary 'data' events: accepted sockets cannot read into
 * a buffer of their own.
 */
import { connect, type Socket } from 'node:net';

/** Read buffer sizes, backend to client: an idle session's, and the largest it grows to. */
export const relayBufferBytes = { initial: 2 * 1024, max: 256 * 1024 };
/** Small reads in a row after which a grown buffer goes back to the initial size. */
const smallReadsBeforeShrink = 8;
/** Probes a peer that vanished without a FIN on long IMAP sessions. */
export const keepAliveDelayMs = 60_000;

export interface BackendTarget {
  host: string;
  port: number;
  /** The local address to connect from (nodes believe PROXY headers from it). */
  localAddress?: string;
}

export interface SpliceOptions {
  /** Watches the connection for silence (see IdleSweep). */
  idle: IdleSweep;
  /** Called once, when both sockets are closed. */
  onClose: () => void;
}

/** One spliced connection as the idle sweep sees it. */
interface Spliced {
  /** A byte went either way since the last sweep. */
  active: boolean;
  /** When the last sweep saw it active. */
  lastActiveMs: number;
  close(): void;
}

/**
 * Closes spliced connections with no byte either way for idleTimeoutMs.
 * One coarse interval per service instead of a timer per connection
 * refreshed on every read and write: a chunk only sets a flag, and a quiet
 * connection is closed at most a tenth of the timeout (at most 1 s) late.
 */
export class IdleSweep {
  private readonly connections = new Set<Spliced>();
  private timer: NodeJS.Timeout | null = null;

  constructor(readonly idleTimeoutMs: number) {}

  add(connection: Spliced): void {
    this.connections.add(connection);
    if (this.timer) return;
    // A byte is noticed up to one interval after it went, and silence up to one interval late: two in all.
    this.timer = setInterval(() => this.sweep(), Math.min(Math.max(this.idleTimeoutMs / 20, 50), 500));
    this.timer.unref();
  }

  delete(connection: Spliced): void {
    this.connections.delete(connection);
    if (this.connections.size > 0 || !this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
  }

  private sweep(): void {
    const now = Date.now();
    for (const c of this.connections) {
      if (c.active) {
        c.active = false;
        c.lastActiveMs = now;
      } else if (now - c.lastActiveMs >= this.idleTimeoutMs) {
        c.close();
      }
    }
  }
}

/**
 * The backend-to-client half: reads into a reusable buffer and writes each
 * read to the client. A write the client's socket could not take at once
 * still points into the buffer, so reading stops until the client's socket
 * has sent everything: only then may the next read fill the buffer again.
 */
export class BackendReader {
  private buffer = Buffer.allocUnsafe(relayBufferBytes.initial);
  private smallReads = 0;
  /** Reading stopped because the client's socket holds unsent bytes. */
  private waitingForClient = false;
  backend: Socket | null = null;
  /** Set by splice(): told of every read, for the idle sweep. */
  spliced: Spliced | null = null;

  constructor(private readonly client: Socket) {}

  /** The buffer for the next read (net calls it after each read). */
  readonly nextBuffer = (): Buffer => this.buffer;

  /** One read of `length` bytes into `buffer`; false pauses the backend socket. */
  readonly onRead = (length: number, buffer: Uint8Array): boolean => {
    if (this.spliced) this.spliced.active = true;
    this.resize(length, buffer.length);
    this.client.write(buffer.subarray(0, length), this.onWritten);
    if (this.client.writableLength === 0) return true;
    this.waitingForClient = true;
    return false;
  };

  /** After each write to the client: once its socket has sent everything, read again. */
  private readonly onWritten = (): void => {
    if (!this.waitingForClient || this.client.writableLength > 0) return;
    this.waitingForClient = false;
    this.backend?.resume();
  };

  /** Grows after a read that filled the buffer; back to the initial size after a run of small reads. */
  private resize(length: number, size: number): void {
    if (length === size) {
      this.smallReads = 0;
      if (size < relayBufferBytes.max) this.replace(Math.min(size * 4, relayBufferBytes.max));
    } else if (size > relayBufferBytes.initial && length <= relayBufferBytes.initial) {
      if (++this.smallReads >= smallReadsBeforeShrink) {
        this.smallReads = 0;
        this.replace(relayBufferBytes.initial);
      }
    } else {
      this.smallReads = 0;
    }
  }

  /** The next read goes to a new buffer of `size` bytes. */
  private replace(size: number): void {
    this.buffer = Buffer.allocUnsafe(size);
  }
}

/** A backend connection from connectBackend(): the socket and the reader that relays its bytes. */
export interface BackendConnection {
  socket: Socket;
  reader: BackendReader;
}

/**
 * Opens a connection to a backend whose bytes, once spliced, go to
 * `client`. It reads nothing before splice() (its first bytes may be a
 * greeting the client must get after anything written to the backend).
 * Resolves once connected; rejects on error or after `timeoutMs`, with the
 * socket destroyed.
 */
export function connectBackend(target: BackendTarget, client: Socket, timeoutMs: number): Promise<BackendConnection> {
  const reader = new BackendReader(client);
  const socket = connect({
    host: target.host,
    port: target.port,
    allowHalfOpen: true,
    // Mail protocols are chatty and latency-bound; Nagle would add a delay to each reply.
    noDelay: true,
    keepAlive: true,
    keepAliveInitialDelay: keepAliveDelayMs,
    onread: { buffer: reader.nextBuffer, callback: reader.onRead },
    ...(target.localAddress ? { localAddress: target.localAddress } : {}),
  });
  reader.backend = socket;
  socket.pause();
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
    socket.once('error', fail);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      // Until splice() adds its own handler, an error just ends this socket.
      socket.on('error', () => socket.destroy());
      resolve({ socket, reader });
    });
  });
}

/**
 * Starts carrying bytes between `client` (accepted paused, with keep-alive
 * and no Nagle: see VirtualService) and `backend` (from connectBackend).
 */
export function splice(client: Socket, { socket: backend, reader }: BackendConnection, opts: SpliceOptions): void {
  let closed = 0;
  const destroyBoth = () => {
    client.destroy();
    backend.destroy();
  };
  const spliced: Spliced = { active: false, lastActiveMs: Date.now(), close: destroyBoth };
  reader.spliced = spliced;
  opts.idle.add(spliced);
  backend.removeAllListeners('error');
  for (const [socket, other] of [[client, backend], [backend, client]] as const) {
    socket.on('error', destroyBoth);
    socket.on('end', () => {
      // Both directions done: closing sends the other side its FIN; a
      // separate shutdown first would only cost a system call.
      if (other.readableEnded && other.writableLength === 0) other.destroy();
      // Otherwise the end of stream is passed on and the other side may still answer.
      else other.end();
    });
    socket.on('close', () => {
      // A side that closed without its end of stream (reset, idle, destroy) takes the other with it.
      if (!socket.readableEnded) other.destroy();
      if (++closed === 2) {
        opts.idle.delete(spliced);
        opts.onClose();
      }
    });
  }
  // Client to backend: pause while the backend's socket holds a full buffer.
  client.on('data', (chunk: Buffer) => {
    spliced.active = true;
    backend.write(chunk);
    if (backend.writableLength >= backend.writableHighWaterMark) client.pause();
  });
  backend.on('drain', () => client.resume());
  client.resume();
  backend.resume();
}
