/**
 * Joins a client and a backend connection and carries bytes both ways,
 * untouched (TLS passes through). pipe() gives backpressure: a slow reader
 * pauses the other side instead of growing a buffer. Both sockets allow
 * half-close, so a client that ends its side (SMTP clients may, after QUIT)
 * still gets the rest of the backend's answer.
 */
import type { Socket } from 'node:net';

export interface SpliceOptions {
  /** With no byte either way for this long, both sides are closed. */
  idleTimeoutMs: number;
  /** Called once, when both sockets are closed. */
  onClose: () => void;
}

export function splice(client: Socket, backend: Socket, opts: SpliceOptions): void {
  let closed = 0;
  const destroyBoth = () => {
    client.destroy();
    backend.destroy();
  };
  for (const [socket, other] of [[client, backend], [backend, client]] as const) {
    // Mail protocols are chatty and latency-bound; Nagle would add a delay to each reply.
    socket.setNoDelay(true);
    // Long IMAP sessions: notice a peer that vanished without a FIN.
    socket.setKeepAlive(true, 60_000);
    socket.on('error', destroyBoth);
    socket.on('close', () => {
      // A side that closed without its end of stream (reset, timeout, destroy)
      // takes the other with it; after a clean end, pipe() has already passed
      // the FIN on and the other side finishes writing what it holds.
      if (!socket.readableEnded) other.destroy();
      if (++closed === 2) opts.onClose();
    });
  }
  // Reading or writing on the client resets the timer, so traffic either way counts.
  client.setTimeout(opts.idleTimeoutMs, destroyBoth);
  client.pipe(backend);
  backend.pipe(client);
  client.resume();
}
