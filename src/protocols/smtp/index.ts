/**
 * The SMTP services on smtp-server, one code path in two modes:
 *
 * - 'mx', the inbound MX (RFC 5321) on base+25: mail for our domains from
 *   anyone, no AUTH.
 * - 'submission', the message submission agent (RFC 6409) on base+587 with
 *   STARTTLS and on base+465 with implicit TLS (RFC 8314's "submissions"):
 *   AUTH PLAIN/LOGIN first (auth.ts), then mail from the user's own
 *   addresses to anywhere.
 *
 * One file per verb's policy (connect, auth, mail, rcpt, data), replies and
 * their enhanced codes in replies.ts, and the few things smtp-server has no
 * hook for in server.ts. Data handling, trace headers, limits and local
 * delivery are the same in both modes; the differences are in mail.ts (who
 * may send), rcpt.ts (who may receive) and data.ts (the header checks and
 * additions of an MSA, SRS for forwards).
 *
 * EHLO announces PIPELINING, SIZE, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES,
 * on a plain connection STARTTLS, and on submission AUTH PLAIN LOGIN where
 * AUTH is allowed (over TLS, or from loopback: see auth.ts).
 */
import type { AddressInfo } from 'node:net';
import type { NetService, ServiceContext, TlsMaterial } from '../../net/service.js';
import type { Limits } from '../../config/limits.js';
import { connectionPolicy } from './connect.js';
import { AUTH_METHODS, authAllowed, authHandler } from './auth.js';
import { mailFromHandler } from './mail.js';
import { rcptToHandler } from './rcpt.js';
import { dataHandler } from './data.js';
import { RookerySmtpServer } from './server.js';
import { etrnHandler } from './etrn.js';

/** How long shutdown waits for transactions in progress before closing them with 421. */
const SHUTDOWN_GRACE_MS = 10_000;

/** Which SMTP service: the inbound MX, or authenticated submission. */
export type SmtpMode = 'mx' | 'submission';

/** Commands never offered (sendmail's jokes included, so they count as unknown). */
const DISABLED = ['XCLIENT', 'XFORWARD', 'WIZ', 'SHELL', 'KILL'];

export interface SmtpServiceOptions {
  mode: SmtpMode;
  /** Implicit TLS (port 465, submission only in practice); STARTTLS otherwise. */
  implicitTls: boolean;
}

/** The registry's name of a service in this shape (src/config/services.ts). */
function serviceName(opts: SmtpServiceOptions): string {
  if (opts.mode === 'mx') return opts.implicitTls ? 'smtp-tls' : 'smtp';
  return opts.implicitTls ? 'submissions' : 'submission';
}

/** smtp-server's options that come from the limits (it reads them from its options at each use). */
function serverLimits(limits: Limits) {
  return { size: limits.maxMessageBytes, maxRecipients: limits.maxRecipients, maxCommandLength: limits.maxSmtpLineBytes, socketTimeout: limits.smtpIdleTimeoutMs };
}

/** The adapter's settings that come from the limits (server.ts reads them at each use). */
function adapterLimits(limits: Limits) {
  return { maxBadCommands: limits.maxSmtpBadCommands, maxLineBytes: limits.maxSmtpLineBytes, greetingDelayMs: limits.smtpGreetingDelayMs };
}

/** Creates an SMTP service: the MX or submission, with STARTTLS or implicit TLS. */
export function createSmtpService(ctx: ServiceContext, opts: SmtpServiceOptions): NetService {
  const log = ctx.logger.child({ service: serviceName(opts) });
  const submission = opts.mode === 'submission';
  const sctx: ServiceContext = { ...ctx, logger: log };
  const limits = ctx.limits;
  const connections = connectionPolicy(() => limits.maxConnectionsPerIp, serviceName(opts));
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
      ...serverLimits(limits),
      hideENHANCEDSTATUSCODES: false,
      hideDSN: true,
      hideREQUIRETLS: true,
      disabledCommands: [...DISABLED, ...(submission ? [] : ['AUTH']), ...(opts.implicitTls ? ['STARTTLS'] : [])],
      // AUTH is required on submission, but mail.ts says so (530 5.7.0 at
      // MAIL) and server.ts decides where AUTH may be used, not the library.
      authOptional: true,
      authMethods: submission ? AUTH_METHODS : [],
      allowInsecureAuth: true,
      onAuth: submission ? authHandler(sctx, opts.implicitTls ? 'submissions' : 'submission') : undefined,
      maxAllowedUnauthenticatedCommands: false,
      // No PTR lookups: a slow resolver would delay every greeting, and the
      // Received header records the address literal, which cannot lie.
      disableReverseLookup: true,
      useXClient: false,
      useXForward: false,
      useProxy: false,
      closeTimeout: SHUTDOWN_GRACE_MS,
      logger: false,
      onConnect: connections.onConnect,
      onClose: connections.onClose,
      onMailFrom: mailFromHandler(sctx, opts.mode),
      onRcptTo: rcptToHandler(sctx, opts.mode),
      onData: dataHandler(sctx, opts.mode, track),
    },
    {
      ...adapterLimits(limits),
      trustedProxies: ctx.trustedProxies,
      storeHealthy: ctx.storeHealthy,
      authAllowed: submission ? authAllowed : undefined,
      etrn: etrnHandler(sctx),
    },
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
    openConnections: () => server.connections.size,
    applyLimits() {
      Object.assign(server.options, serverLimits(limits));
      Object.assign(server.adapter, adapterLimits(limits));
    },
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
