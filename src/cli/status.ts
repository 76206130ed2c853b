import { hostname as osHostname } from 'node:os';
import type { Member } from '../store/types.js';
import { statusLetters } from '../web/cluster-status.js';
import { parse, printTable, withStore } from './args.js';
import type { CommandGroup } from './command.js';

function memberJson(m: Member, localHost: string) {
  return {
    name: m.name,
    role: m.role,
    address: m.address,
    ...(m.host === localHost ? { pid: m.pid } : {}),
    host: m.host,
    state: m.state,
    status: statusLetters(m),
    version: m.version,
    startedAt: m.startedAt.toISOString(),
    heartbeatAt: m.heartbeatAt.toISOString(),
    services: Object.fromEntries(Object.entries(m.services).map(([s, h]) => [s, {
      port: h.port,
      healthy: h.healthy && m.state === 'up',
      ...(h.connections === undefined ? {} : { connections: h.connections }),
    }])),
  };
}

/**
 * The CONN column: each service's open client connections at the last
 * heartbeat, as one space-free token ("smtp=3,imap=12"), so the columns
 * before it keep their positions; "-" when the member counts none.
 */
function connectionsCell(m: Member): string {
  const counts = Object.entries(m.services).filter(([, h]) => h.connections !== undefined).map(([s, h]) => `${s}=${h.connections}`);
  return counts.join(',') || '-';
}

const usage = 'rookery status [--json]';

export const statusCommand: CommandGroup = {
  name: 'status',
  summary: 'every node and traffic manager: address, state, services, their health and open connections',
  usage: [usage],
  async run(args) {
    const { values } = parse(args, { json: { type: 'boolean' } }, usage);
    await withStore(values, async (store) => {
      const members = await store.cluster.list();
      const localHost = osHostname();
      const nodes = members.filter((m) => m.role === 'node');
      const balancers = members.filter((m) => m.role === 'balancer');
      if (values.json) {
        console.log(JSON.stringify({ nodes: nodes.map((m) => memberJson(m, localHost)), balancers: balancers.map((m) => memberJson(m, localHost)) }, null, 2));
        return;
      }
      if (members.length === 0) {
        console.log('no nodes have registered in this store yet; start one with "rookery up" or "rookery node"');
        return;
      }
      const ago = (d: Date) => `${Math.max(0, Math.round((Date.now() - d.getTime()) / 1000))}s ago`;
      // Columns and letters are the operator contract: new ones go at the end.
      printTable(members.map((m) => ({
        name: m.name,
        role: m.role,
        address: m.address,
        pid: m.host === localHost ? m.pid : `${m.host}:${m.pid}`,
        state: m.state,
        status: statusLetters(m),
        heartbeat: ago(m.heartbeatAt),
        services: Object.entries(m.services).map(([s, h]) => `${s}:${h.port}${h.healthy && m.state === 'up' ? '' : '(down)'}`).join(' '),
        conn: connectionsCell(m),
      })), false);
      console.log('status letters: S smtp, U submission, P pop3, I imap, W web, D dns, Q queue; lower case = unhealthy');
    });
  },
};
