/**
 * The POP3 service (RFC 1939, CAPA RFC 2449, AUTH PLAIN RFC 5034, STLS
 * RFC 2595): the shared listener (PROXY from traffic managers, the cap per
 * client address, implicit TLS for pop3s) hands each connection to a
 * Pop3Session.
 */
import { ServiceListener, SessionTracker } from '../../net/listener.js';
import type { NetService, ServiceContext } from '../../net/service.js';
import { Pop3Session, tlsHandshakeTimeoutMs } from './session.js';
import { err } from './wire.js';

/** How long close() lets sessions finish their current command before cutting them. */
const SHUTDOWN_GRACE_MS = 5000;

/**
 * Creates the POP3 service: plain with STLS on the pop3 port, or implicit
 * TLS (`implicitTls`) on the pop3s port.
 */
export function createPop3Service(ctx: ServiceContext, opts: { implicitTls: boolean }): NetService {
  const log = ctx.logger.child({ service: opts.implicitTls ? 'pop3s' : 'pop3' });
  /** close() waits until the last session has finished cleaning up (its lock released). */
  const sessions = new SessionTracker<Pop3Session>();

  const listener = new ServiceListener({
    ctx,
    protocol: opts.implicitTls ? 'pop3s' : 'pop3',
    logger: log,
    implicitTls: opts.implicitTls,
    handshakeTimeoutMs: () => tlsHandshakeTimeoutMs(ctx.limits),
    refuseTooMany: (socket) => socket.end(err('too many connections from your address', 'SYS/TEMP')),
    begin: ({ socket, stream, secure, client }) => {
      const session = new Pop3Session(stream, ctx, {
        secure,
        clientAddress: client.address,
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
      // Sessions end without UPDATE: nothing is deleted, locks are released.
      await sessions.closeAll(listener, SHUTDOWN_GRACE_MS);
    },
  };
}
