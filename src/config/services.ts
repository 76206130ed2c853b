/**
 * The services a node can run, each on base + its standard port (DESIGN.md's
 * operator contract). The names are the registry's, the traffic manager's
 * (src/balancer/services.ts) and `rookery status`'s:
 *
 * - smtp: the inbound MX, STARTTLS offered (RFC 5321);
 * - submission: authenticated submission, STARTTLS then AUTH (RFC 6409);
 * - submissions: authenticated submission over implicit TLS (RFC 8314 7.3
 *   gives port 465 to it);
 * - pop3, pop3s, imap, imaps: mail access, with STARTTLS/STLS or implicit TLS;
 * - http, https: /healthz, /metrics and the admin API (src/web/); https
 *   with the cluster certificate.
 */
export const serviceStandardPorts = {
  smtp: 25,
  submission: 587,
  submissions: 465,
  pop3: 110,
  pop3s: 995,
  imap: 143,
  imaps: 993,
  http: 80,
  https: 443,
} as const;

export type ServiceName = keyof typeof serviceStandardPorts;

export const allServices = Object.keys(serviceStandardPorts) as ServiceName[];

/** Ports for a base: base + standard port for each service asked for. */
export function portsFromBase(base: number, services: readonly ServiceName[] = allServices): Partial<Record<ServiceName, number>> {
  const ports: Partial<Record<ServiceName, number>> = {};
  for (const s of services) ports[s] = base + serviceStandardPorts[s];
  return ports;
}
