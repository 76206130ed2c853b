/**
 * The IMAP service (RFC 3501 / RFC 9051 and the extensions in
 * capabilities.ts): a listener that caps connections per client address,
 * wraps imaps connections in TLS, and hands each connection to an
 * ImapSession. One mailbox watcher and one failed-login tally per service.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { NetService, ServiceContext } from '../../net/service.js';
import { upgradeToTls } from '../../net/tls-upgrade.js';
import { Connection } from './connection.js';
import { ImapSession, TLS_HANDSHAKE_TIMEOUT_MS } from './session.js';
import { AuthThrottle } from './session-auth.js';
import { MailboxWatcher } from './session-changes.js';
import { encodeUntaggedStatus } from './wire/index.js';

/** How long close() lets sessions finish their current command before cutting them. */
const SHUTDOWN_GRACE_MS = 5000;

/**
 * Creates the IMAP service: plain with STARTTLS on the imap port (143), or
 * implicit TLS (`implicitTls`) on the imaps port (993).
 */
export function createImapService(ctx: ServiceContext, opts: { implicitTls: boolean }): NetService {
  const log = ctx.logger.child({ service: opts.implicitTls ? 'imaps' : 'imap' });
  const perIp = new Map<string, number>();
  const sockets = new Set<Socket>();
  const sessions = new Set<ImapSession>();
  const handshaking = new Set<Socket>();
  const watcher = new MailboxWatcher(ctx.store.mail, ctx.limits.imapChangePollMs, log);
  const authThrottle = new AuthThrottle();
  let onIdle: (() => void) | null = null;
  let closing = false;
  let server: Server | null = null;

  const release = (ip: string) => {
    const n = (perIp.get(ip) ?? 1) - 1;
    if (n <= 0) perIp.delete(ip);
    else perIp.set(ip, n);
  };

  const begin = (socket: Socket, conn: Socket, secure: boolean) => {
    const connection = new Connection(conn, secure, log);
    const session = new ImapSession(connection, ctx, {
      secure,
      watcher,
      authThrottle,
      onClosed: () => {
        sessions.delete(session);
        socket.destroy();
        if (sessions.size === 0) onIdle?.();
      },
    });
    sessions.add(session);
    session.start();
  };

  const onConnection = (socket: Socket) => {
    socket.on('error', (err) => log.debug({ err }, 'socket error'));
    if (closing) {
      socket.destroy();
      return;
    }
    const ip = socket.remoteAddress ?? 'unknown';
    const count = perIp.get(ip) ?? 0;
    if (count >= ctx.limits.maxConnectionsPerIp) {
      log.warn({ remote: ip }, 'too many connections from one address');
      // A TLS client could not read a plain-text BYE; it just sees the close.
      if (opts.implicitTls) socket.destroy();
      else socket.end(encodeUntaggedStatus('BYE', 'too many connections from your address', { name: 'UNAVAILABLE' }));
      return;
    }
    perIp.set(ip, count + 1);
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      release(ip);
    });
    if (!opts.implicitTls) {
      begin(socket, socket, false);
      return;
    }
    handshaking.add(socket);
    upgradeToTls(socket, ctx.tls(), { handshakeTimeoutMs: TLS_HANDSHAKE_TIMEOUT_MS }).then(
      (secure) => {
        handshaking.delete(socket);
        if (closing) secure.destroy();
        else begin(socket, secure, true);
      },
      (err: unknown) => {
        handshaking.delete(socket);
        log.debug({ err, remote: ip }, 'TLS handshake failed');
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
          srv.on('error', (err) => log.error({ err }, 'listener error'));
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
      // Each session says "* BYE" once its current command is done.
      for (const session of sessions) session.shutdown();
      for (const socket of handshaking) socket.destroy();
      const cut = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, SHUTDOWN_GRACE_MS);
      await Promise.all([stopped, drained]);
      clearTimeout(cut);
      watcher.close();
    },
  };
}
