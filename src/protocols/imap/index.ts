/**
 * The IMAP service (RFC 3501 / RFC 9051 and the extensions in
 * capabilities.ts): the shared listener (PROXY from traffic managers, the
 * cap per client address, implicit TLS for imaps) hands each connection to
 * an ImapSession. One mailbox watcher per service; the login throttle is
 * the node's (src/net/login-throttle.ts).
 */
import { ServiceListener, SessionTracker } from '../../net/listener.js';
import type { NetService, ServiceContext } from '../../net/service.js';
import { Connection } from './connection.js';
import { ImapSession, TLS_HANDSHAKE_TIMEOUT_MS } from './session.js';
import { loginThrottleFor } from '../../net/login-throttle.js';
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
  const sessions = new SessionTracker<ImapSession>();
  const watcher = new MailboxWatcher(ctx.store.mail, ctx.limits.imapChangePollMs, log, ctx.store.changes);
  const authThrottle = loginThrottleFor(ctx.store, ctx.limits, (err) => log.warn({ err }, 'login throttle: the store is out of reach'));

  const listener = new ServiceListener({
    ctx,
    protocol: opts.implicitTls ? 'imaps' : 'imap',
    logger: log,
    implicitTls: opts.implicitTls,
    handshakeTimeoutMs: () => TLS_HANDSHAKE_TIMEOUT_MS,
    refuseTooMany: (socket) => socket.end(encodeUntaggedStatus('BYE', 'too many connections from your address', { name: 'UNAVAILABLE' })),
    begin: ({ socket, stream, secure, client }) => {
      const connection = new Connection(stream, secure, log, client.address);
      const session = new ImapSession(connection, ctx, {
        secure,
        watcher,
        authThrottle,
        onClosed: () => sessions.closed(session, socket),
      });
      sessions.add(session);
      session.start();
    },
  });

  return {
    listen: (port: number, host: string) => listener.listen(port, host),
    openConnections: () => listener.openConnections,

    async close(): Promise<void> {
      // Each session says "* BYE" once its current command is done.
      await sessions.closeAll(listener, SHUTDOWN_GRACE_MS);
      watcher.close();
    },
  };
}
