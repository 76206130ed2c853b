/**
 * The inbound MX service (RFC 5321) on smtp-server: one file per verb's
 * policy (connect, mail, rcpt, data), replies and their enhanced codes in
 * replies.ts, and the few things smtp-server has no hook for in server.ts.
 *
 * EHLO announces PIPELINING, SIZE, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES
 * and, on the plain port before TLS, STARTTLS. No AUTH: this is the MX;
 * authenticated submission is its own service.
 */
import type { AddressInfo } from 'node:net';
import type { NetService, ServiceContext, TlsMaterial } from '../../net/service.js';
import { connectionPolicy } from './connect.js';
import { mailFromHandler } from './mail.js';
import { rcptToHandler } from './rcpt.js';
import { dataHandler } from './data.js';
import { RookerySmtpServer } from './server.js';

/** How long shutdown waits for transactions in progress before closing them with 421. */
const SHUTDOWN_GRACE_MS = 10_000;

/** Commands an MX does not offer (sendmail's jokes included, so they count as unknown). */
const DISABLED = ['AUTH', 'XCLIENT', 'XFORWARD', 'WIZ', 'SHELL', 'KILL'];

/** Creates the SMTP service; `implicitTls` for SMTPS (port 465), STARTTLS otherwise. */
export function createSmtpService(ctx: ServiceContext, opts: { implicitTls: boolean }): NetService {
  const log = ctx.logger.child({ service: opts.implicitTls ? 'smtps' : 'smtp' });
  const sctx: ServiceContext = { ...ctx, logger: log };
  const limits = ctx.limits;
  const connections = connectionPolicy(limits.maxConnectionsPerIp);
  const inflight = new Set<Promise<unknown>>();
  const track = (work: Promise<unknown>): void => {
    inflight.add(work);
    void work.finally(() => inflight.delete(work));
  };
  let material: TlsMaterial = ctx.tls();

  const server = new RookerySmtpServer(
    {
      name: ctx.hostname,
      banner: 'Rookery',
      secure: opts.implicitTls,
      key: material.key,
      cert: material.cert,
      size: limits.maxMessageBytes,
      hideENHANCEDSTATUSCODES: false,
      hideDSN: true,
      hideREQUIRETLS: true,
      disabledCommands: opts.implicitTls ? [...DISABLED, 'STARTTLS'] : DISABLED,
      authOptional: true,
      maxAllowedUnauthenticatedCommands: false,
      // No PTR lookups: a slow resolver would delay every greeting, and the
      // Received header records the address literal, which cannot lie.
      disableReverseLookup: true,
      useXClient: false,
      useXForward: false,
      useProxy: false,
      maxRecipients: limits.maxRecipients,
      maxCommandLength: limits.maxSmtpLineBytes,
      socketTimeout: limits.smtpIdleTimeoutMs,
      closeTimeout: SHUTDOWN_GRACE_MS,
      logger: false,
      onConnect: connections.onConnect,
      onClose: connections.onClose,
      onMailFrom: mailFromHandler(sctx),
      onRcptTo: rcptToHandler(sctx),
      onData: dataHandler(sctx, track),
    },
    { maxBadCommands: limits.maxSmtpBadCommands, maxLineBytes: limits.maxSmtpLineBytes, greetingDelayMs: limits.smtpGreetingDelayMs, trustedProxies: ctx.trustedProxies },
  );
  server.on('error', (err: Error) => log.warn({ err }, 'smtp connection error'));

  // A certificate replaced in the store reaches the next connection: the
  // context is rebuilt before the handshake (implicit TLS) or STARTTLS.
  const refreshTls = (): void => {
    const current = ctx.tls();
    if (current === material || (current.cert === material.cert && current.key === material.key)) return;
    try {
      server.updateSecureContext({ key: current.key, cert: current.cert });
      material = current;
    } catch (err) {
      log.error({ err }, 'the new certificate was refused; keeping the old one');
      material = current;
    }
  };
  server.server.prependListener('connection', refreshTls);

  return {
    listen(port: number, host: string): Promise<number> {
      return new Promise((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        server.server.once('error', onError);
        server.listen(port, host, () => {
          server.server.off('error', onError);
          resolve((server.server.address() as AddressInfo).port);
        });
      });
    },
    async close(): Promise<void> {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Sessions between transactions are told now; one in the middle of a
      // transaction finishes it and gets 421 at its next command (smtp-server
      // refuses commands once closing), or at the end of the grace period.
      for (const conn of server.connections) {
        const busy = conn._handlerPending || conn._dataStream || conn.session.envelope?.mailFrom;
        if (!busy) conn.send(421, '4.3.2 Service shutting down; try again later');
      }
      await closed;
      await Promise.allSettled([...inflight]);
    },
  };
}
