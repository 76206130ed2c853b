/** The services a node can run, each on base + its standard port (DESIGN.md's operator contract). */
export const serviceStandardPorts = {
  smtp: 25,
  smtps: 465,
  pop3: 110,
  pop3s: 995,
  imap: 143,
  imaps: 993,
} as const;

export type ServiceName = keyof typeof serviceStandardPorts;

export const allServices = Object.keys(serviceStandardPorts) as ServiceName[];

/** Ports for a base: base + standard port for each service asked for. */
export function portsFromBase(base: number, services: readonly ServiceName[] = allServices): Partial<Record<ServiceName, number>> {
  const ports: Partial<Record<ServiceName, number>> = {};
  for (const s of services) ports[s] = base + serviceStandardPorts[s];
  return ports;
}
