/** Finds a port base whose service ports (base + standard port) are all free on an address. */
import { createServer } from 'node:net';
import { serviceStandardPorts } from '../../src/config/services.js';

function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

export async function freePortBase(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 40000);
    const ports = Object.values(serviceStandardPorts).map((p) => base + p);
    const free = await Promise.all(ports.map((p) => portFree(p, host)));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no free port base found');
}

/**
 * A port base whose service ports are free on every one of these
 * addresses, and `extraOffsets` too (e.g. the traffic manager's heartbeat
 * port, base + 694), for a cluster whose members share one base.
 */
export async function freePortBaseOn(hosts: string[], extraOffsets: number[] = []): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 40000);
    const ports = [...Object.values(serviceStandardPorts), ...extraOffsets].map((p) => base + p);
    const checks = hosts.flatMap((h) => ports.map((p) => portFree(p, h)));
    if ((await Promise.all(checks)).every(Boolean)) return base;
  }
  throw new Error(`no port base free on ${hosts.join(', ')}`);
}
