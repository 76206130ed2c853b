import { hostname as osHostname } from 'node:os';
import type { Member } from '../store/types.js';
import { parse, printTable, withStore } from './args.js';
import type { CommandGroup } from './command.js';

/** The seeds' status letters, one per kind of service (TLS variants share their protocol's letter). */
const serviceLetters: Record<string, string> = {
  smtp: 'S', submission: 'U', submissions: 'U', pop3: 'P', pop3s: 'P', imap: 'I', imaps: 'I', http: 'W', https: 'W', dns: 'D', queue: 'Q',
};

/**
 * The status string of a member: one letter per kind of service it runs,
 * upper case when every service of that kind is healthy, lower case when
 * one is not; "-" for a member with no services.
 */
export function statusLetters(member: Member): string {
  const kinds = new Map<string, boolean>();
  for (const [name, health] of Object.entries(member.services)) {
    const letter = serviceLetters[name] ?? '?';
    kinds.set(letter, (kinds.get(letter) ?? true) && health.healthy && member.state === 'up');
  }
  const order = 'SUPIWDQ?';
  const letters = [...kinds].sort(([a], [b]) => order.indexOf(a) - order.indexOf(b)).map(([l, ok]) => (ok ? l : l.toLowerCase()));
  return letters.join('') || '-';
}

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
    services: Object.fromEntries(Object.entries(m.services).map(([s, h]) => [s, { port: h.port, healthy: h.healthy && m.state === 'up' }])),
  };
}

const usage = 'rookery status [--json]';

export const statusCommand: CommandGroup = {
  name: 'status',
  summary: 'every node and traffic manager: address, state, services and their health',
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
      printTable(members.map((m) => ({
        name: m.name,
        role: m.role,
        address: m.address,
        pid: m.host === localHost ? m.pid : `${m.host}:${m.pid}`,
        state: m.state,
        status: statusLetters(m),
        heartbeat: ago(m.heartbeatAt),
        services: Object.entries(m.services).map(([s, h]) => `${s}:${h.port}${h.healthy && m.state === 'up' ? '' : '(down)'}`).join(' '),
      })), false);
      console.log('status letters: S smtp, U submission, P pop3, I imap, W web, D dns, Q queue; lower case = unhealthy');
    });
  },
};
