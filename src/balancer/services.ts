/**
 * The virtual services the traffic manager knows: one row per service, so a
 * new service is one line. Each listens on base + its standard port
 * (DESIGN.md's operator contract) and is checked with its protocol's dialogue.
 */

/** The dialogue a health check holds with a backend (see health-check.ts). */
export type CheckProtocol = 'smtp' | 'pop3' | 'imap' | 'http';

export interface VirtualServiceSpec {
  /** The standard port; the service listens on base + this. */
  standardPort: number;
  /** The health check dialogue. */
  check: CheckProtocol;
  /** Implicit TLS: the check does a TLS handshake first; client bytes pass through untouched either way. */
  tls: boolean;
  /**
   * Idle timeout default: the longest a spliced connection may carry no
   * byte either way. Longer than the protocols' own server timeouts so the
   * backend, not the balancer, ends a quiet session politely.
   */
  idleTimeoutMs: number;
  /**
   * What a plaintext client is told when no backend can take it (all down,
   * or the service's connection limit reached); null for TLS services,
   * which are simply closed (bytes we write would not be TLS).
   */
  busyReply: string | null;
}

const smtpBusy = '421 4.3.2 Service not available, try again later\r\n';
const pop3Busy = '-ERR [SYS/TEMP] Service not available, try again later\r\n';
const imapBusy = '* BYE [UNAVAILABLE] Service not available, try again later\r\n';
const httpBusy = 'HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 40\r\nConnection: close\r\n\r\nService not available, try again later.\n';

// RFC 5321 4.5.3.2: servers wait 5 minutes for a command; RFC 1939 3: at least
// 10 minutes for POP3; RFC 3501 5.4: at least 30 minutes for IMAP (IDLE).
const tenMinutesMs = 10 * 60_000;
const imapIdleMs = 31 * 60_000;

/** Every virtual service, by name. */
export const virtualServices = {
  smtp: { standardPort: 25, check: 'smtp', tls: false, idleTimeoutMs: tenMinutesMs, busyReply: smtpBusy },
  submission: { standardPort: 587, check: 'smtp', tls: false, idleTimeoutMs: tenMinutesMs, busyReply: smtpBusy },
  submissions: { standardPort: 465, check: 'smtp', tls: true, idleTimeoutMs: tenMinutesMs, busyReply: null },
  pop3: { standardPort: 110, check: 'pop3', tls: false, idleTimeoutMs: tenMinutesMs, busyReply: pop3Busy },
  pop3s: { standardPort: 995, check: 'pop3', tls: true, idleTimeoutMs: tenMinutesMs, busyReply: null },
  imap: { standardPort: 143, check: 'imap', tls: false, idleTimeoutMs: imapIdleMs, busyReply: imapBusy },
  imaps: { standardPort: 993, check: 'imap', tls: true, idleTimeoutMs: imapIdleMs, busyReply: null },
  http: { standardPort: 80, check: 'http', tls: false, idleTimeoutMs: 2 * 60_000, busyReply: httpBusy },
  https: { standardPort: 443, check: 'http', tls: true, idleTimeoutMs: 2 * 60_000, busyReply: null },
} as const satisfies Record<string, VirtualServiceSpec>;

export type VirtualServiceName = keyof typeof virtualServices;

export const allVirtualServices = Object.keys(virtualServices) as VirtualServiceName[];

/** Other names operators write for a service (the seed's clusterserver.conf says "pop", "web"). */
const aliases: Record<string, VirtualServiceName> = { pop: 'pop3', web: 'http', www: 'http', imap4: 'imap', smtp_submission: 'submission', smtps: 'submissions' };

/** The service a name (or an alias, or a standard port number) means, or null. */
export function virtualServiceByName(name: string): VirtualServiceName | null {
  const n = name.trim().toLowerCase();
  if (n in virtualServices) return n as VirtualServiceName;
  if (n in aliases) return aliases[n]!;
  if (/^\d+$/.test(n)) return allVirtualServices.find((s) => String(virtualServices[s].standardPort) === n) ?? null;
  return null;
}

export function specOf(name: VirtualServiceName): VirtualServiceSpec {
  return virtualServices[name];
}
