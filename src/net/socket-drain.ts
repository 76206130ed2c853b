/**
 * Writing to a client with backpressure, for the hand-written protocols
 * (IMAP, POP3): a write the socket could not take at once waits for
 * 'drain', and a client that goes away meanwhile ends the wait with
 * ConnectionGone instead of leaving it hanging.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** The peer went away while the session was writing or reading. */
export class ConnectionGone extends Error {
  constructor() {
    super('connection closed by the client');
    this.name = 'ConnectionGone';
  }
}

/** Resolves once the socket drains; rejects with ConnectionGone if it closes first. */
export function drained(socket: Socket | TLSSocket): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (gone: boolean) => {
      socket.removeListener('drain', onDrain);
      socket.removeListener('close', onClose);
      if (gone) reject(new ConnectionGone());
      else resolve();
    };
    const onDrain = () => done(false);
    const onClose = () => done(true);
    socket.on('drain', onDrain);
    socket.on('close', onClose);
  });
}
