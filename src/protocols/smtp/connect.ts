/**
 * Connection policy: at most limits.maxConnectionsPerIp sessions from one
 * client address on this service (421 4.7.0 beyond it), counted from the
 * moment smtp-server calls onConnect until its onClose.
 */
import type { SMTPServerSession } from 'smtp-server';
import { metrics } from '../../metrics/index.js';
import { replies } from './replies.js';

/**
 * The onConnect/onClose pair that enforces the per-address cap and keeps
 * the connection and session metrics of the service (`protocol`).
 */
export function connectionPolicy(maxPerIp: () => number, protocol: string) {
  const perIp = new Map<string, number>();
  const counted = new WeakSet<SMTPServerSession>();
  return {
    onConnect(session: SMTPServerSession, callback: (err?: Error | null) => void): void {
      const ip = session.remoteAddress;
      metrics.connections.inc({ protocol });
      const n = perIp.get(ip) ?? 0;
      if (n >= maxPerIp()) return callback(replies.tooManyConnections());
      perIp.set(ip, n + 1);
      counted.add(session);
      metrics.connectionsOpen.inc({ protocol });
      metrics.sessionsOpen.inc({ protocol });
      callback();
    },
    onClose(session: SMTPServerSession): void {
      if (!counted.delete(session)) return;
      metrics.connectionsOpen.dec({ protocol });
      metrics.sessionsOpen.dec({ protocol });
      const ip = session.remoteAddress;
      const n = (perIp.get(ip) ?? 1) - 1;
      if (n <= 0) perIp.delete(ip);
      else perIp.set(ip, n);
    },
    /** Open sessions counted per address (for tests and status). */
    openSessions(): number {
      let total = 0;
      for (const n of perIp.values()) total += n;
      return total;
    },
  };
}
