/**
 * Turning an accepted TCP socket into a TLS server socket: for implicit TLS
 * (pop3s, later imaps) right after accept, and for STLS/STARTTLS in the
 * middle of a session. Protocol-neutral.
 */
import type { Socket } from 'node:net';
import { TLSSocket, createSecureContext, type SecureContext } from 'node:tls';
import type { TlsMaterial } from './service.js';

/** Secure contexts by certificate material, so a context is built once per certificate, not per connection. */
const contexts = new WeakMap<TlsMaterial, SecureContext>();

/** The secure context for the given certificate and key (cached while the material object lives). */
export function secureContextFor(material: TlsMaterial): SecureContext {
  let context = contexts.get(material);
  if (!context) {
    context = createSecureContext({ cert: material.cert, key: material.key, minVersion: 'TLSv1.2' });
    contexts.set(material, context);
  }
  return context;
}

export interface UpgradeOptions {
  /** Give up (and destroy the socket) if the handshake has not finished by then. */
  handshakeTimeoutMs: number;
}

/**
 * Starts a server-side TLS handshake on `socket` and resolves with the secure
 * socket once it completes. Rejects (after destroying the socket) on a
 * failed or timed-out handshake.
 *
 * The caller must stop reading the plain socket first (remove its 'data'
 * listeners) and must throw away anything it had buffered: bytes that
 * arrived in plain text must never be read as if they came over TLS.
 */
export function upgradeToTls(socket: Socket, material: TlsMaterial, opts: UpgradeOptions): Promise<TLSSocket> {
  socket.removeAllListeners('data');
  socket.removeAllListeners('readable');
  const secure = new TLSSocket(socket, { isServer: true, secureContext: secureContextFor(material) });
  return new Promise<TLSSocket>((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      secure.removeListener('secure', onSecure);
      secure.destroy();
      socket.destroy();
      reject(err);
    };
    const onSecure = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      secure.removeListener('error', fail);
      secure.removeListener('close', onClose);
      resolve(secure);
    };
    const onClose = () => fail(new Error('connection closed during the TLS handshake'));
    const timer = setTimeout(() => fail(new Error('TLS handshake timed out')), opts.handshakeTimeoutMs);
    secure.once('secure', onSecure);
    // 'on', not 'once': a failed handshake can emit a second error (a reset
    // after the alert), and an unheard 'error' would crash the process.
    secure.on('error', fail);
    secure.once('close', onClose);
  });
}
