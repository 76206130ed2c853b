/**
 * The POP3 service (RFC 1939, CAPA RFC 2449, AUTH PLAIN RFC 5034, STLS
 * RFC 2595): a listener that caps connections per client address, wraps
 * pop3s connections in TLS, and hands each connection to a Pop3Session.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { NetService, ServiceContext } from '../../net/service.js';
import { upgradeToTls } from '../../net/tls-upgrade.js';
import { Pop3Session } from './session.js';
import { err } from './wire.js';

/** How long close() lets sessions finish their current command before cutting them. */
const SHUTDOWN_GRACE_MS = 5000;

/**
 * Creates the POP3 service: plain with STLS on the pop3 port, or implicit
 * TLS (`implicitTls`) on the pop3s port.
 */
export function createPop3Service(ctx: ServiceContext, opts: { implicitTls: boolean }): NetService {
  const log = ctx.logger.child({ service: opts.implicitTls ? 'pop3s' : 'pop3' });
  const perIp = new Map<string, number>();
  /** Every accepted socket until it closes, sessions or still in the TLS handshake. */
  const sockets = new Set<Socket>();
  const sessions = new Set<Pop3Session>();
  /** Sockets still in the implicit-TLS handshake, not yet owned by a session. */
  const handshaking = new Set<Socket>();
  /** Resolves close() once the last session has finished cleaning up (its lock released). */
  let onIdle: (() => void) | null = null;
  let closing = false;
  let server: Server | null = null;

  const release = (ip: string) => {
    const n = (perIp.get(ip) ?? 1) - 1;
    if (n <= 0) perIp.delete(ip);
    else perIp.set(ip, n);
  };

  const onConnection = (socket: Socket) => {
    socket.on('error', (e) => log.debug({ err: e }, 'socket error'));
    if (closing) {
      socket.destroy();
      return;
    }
    const ip = socket.remoteAddress ?? 'unknown';
    const count = perIp.get(ip) ?? 0;
    if (count >= ctx.limits.maxConnectionsPerIp) {
      log.warn({ remote: ip }, 'too many connections from one address');
      // A TLS client could not read a plain-text reply; it just sees the close.
      if (opts.implicitTls) socket.destroy();
      else socket.end(err('too many connections from your address', 'SYS/TEMP'));
      return;
    }
    perIp.set(ip, count + 1);
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      release(ip);
    });

    const begin = (conn: Socket, secure: boolean) => {
      const session = new Pop3Session(conn, ctx, {
        secure,
        onClosed: () => {
          sessions.delete(session);
          // A TLS socket's close does not always reach the socket it wraps.
          socket.destroy();
          if (sessions.size === 0) onIdle?.();
        },
      });
      sessions.add(session);
      session.start();
    };

    if (!opts.implicitTls) {
      begin(socket, false);
      return;
    }
    handshaking.add(socket);
    upgradeToTls(socket, ctx.tls(), { handshakeTimeoutMs: Math.min(ctx.limits.pop3IdleTimeoutMs, 60_000) }).then(
      (secure) => {
        handshaking.delete(socket);
        if (closing) secure.destroy();
        else begin(secure, true);
      },
      (e: unknown) => {
        handshaking.delete(socket);
        log.debug({ err: e, remote: ip }, 'TLS handshake failed');
      },
    );
  };

  return {
    listen(port: number, host: string): Promise<number> {
      return new Promise((resolve, reject) => {
        const srv = createServer(onConnection);
        srv.once('error', reject);
        srv.listen(port, host, () => {
          srv.removeListener('error', reject);
          srv.on('error', (e) => log.error({ err: e }, 'listener error'));
          server = srv;
          const address = srv.address();
          resolve(typeof address === 'object' && address ? address.port : port);
        });
      });
    },

    async close(): Promise<void> {
      closing = true;
      const stopped = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      const drained = new Promise<void>((resolve) => {
        if (sessions.size === 0) resolve();
        else onIdle = resolve;
      });
      // Sessions end without UPDATE: nothing is deleted, locks are released.
      for (const session of sessions) session.shutdown();
      for (const socket of handshaking) socket.destroy();
      const cut = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, SHUTDOWN_GRACE_MS);
      await Promise.all([stopped, drained]);
      clearTimeout(cut);
    },
  };
}
