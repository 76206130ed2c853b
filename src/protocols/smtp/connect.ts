/**
 * Connection policy: at most limits.maxConnectionsPerIp sessions from one
 * client address on this service (421 4.7.0 beyond it), counted from the
 * moment smtp-server calls onConnect until its onClose.
 */
import type { SMTPServerSession } from 'smtp-server';
import { replies } from './replies.js';

/** The onConnect/onClose pair that enforces the per-address cap. */
export function connectionPolicy(maxPerIp: number) {
  const perIp = new Map<string, number>();
  const counted = new WeakSet<SMTPServerSession>();
  return {
    onConnect(session: SMTPServerSession, callback: (err?: Error | null) => void): void {
      const ip = session.remoteAddress;
      const n = perIp.get(ip) ?? 0;
      if (n >= maxPerIp) return callback(replies.tooManyConnections());
      perIp.set(ip, n + 1);
      counted.add(session);
      callback();
    },
    onClose(session: SMTPServerSession): void {
      if (!counted.delete(session)) return;
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
