/**
 * What every protocol service gets from the node, and the shape it returns.
 * Protocols depend on this and on the store interfaces, never on a backend.
 */
import type { Logger } from '../log.js';
import type { Limits } from '../config/limits.js';
import type { Store } from '../store/types.js';

/** The cluster's certificate and key, PEM encoded. */
export interface TlsMaterial {
  cert: string;
  key: string;
}

export interface ServiceContext {
  store: Store;
  /** Limits in force (defaults overlaid with the store's settings). */
  limits: Limits;
  /** The name this node gives in greetings and Received headers. */
  hostname: string;
  /** Current certificate; a function so a replaced certificate is picked up by new connections. */
  tls(): TlsMaterial;
  logger: Logger;
  /**
   * Which peers are traffic managers whose connections start with a PROXY
   * header naming the real client; none when absent (tests, single nodes).
   */
  trustedProxies?: { trusts(address: string | undefined): boolean; trustsFresh?(address: string | undefined): Promise<boolean> };
  /**
   * False while the node cannot reach its store (its registry heartbeat
   * fails): services greet new clients with "try again later" (SMTP 421,
   * POP3 -ERR [SYS/TEMP], IMAP BYE [UNAVAILABLE]). Absent: always healthy.
   */
  storeHealthy?(): boolean;
}

/** A listening protocol service. */
export interface NetService {
  /** Starts listening; resolves with the port actually bound (useful with port 0). */
  listen(port: number, host: string): Promise<number>;
  /** Stops accepting, ends open sessions politely, resolves when all are gone. */
  close(): Promise<void>;
  /** Client connections open now (the registry's heartbeat publishes it for the console's cluster map). */
  openConnections?(): number;
  /**
   * The node's limits changed (ServiceContext.limits, updated in place):
   * brings up to date what the service copied from them when it started.
   * A service that reads the limits at each use needs none.
   */
  applyLimits?(): void;
}
