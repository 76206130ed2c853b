import { createLogger } from '../log.js';
import { openStore } from '../store/open.js';
import { allServices } from '../config/services.js';
import { parse, storeLocation, UsageError } from './args.js';
import type { CommandGroup } from './command.js';
import { defaultPortBase, parsePortBase, runNode, stopOnSignals } from './node.js';

const usage = ['rookery up [--nodes N] [--store LOCATION] [--port-base N]'];

/** Node i listens on its own loopback address, as separate hosts would. */
export function nodeAddress(i: number): string {
  return `127.0.0.${10 + i}`;
}

export const upCommand: CommandGroup = {
  name: 'up',
  summary: 'run a whole installation on this machine in the foreground',
  usage,
  async run(args) {
    const { values } = parse(args, { nodes: { type: 'string', short: 'n' }, 'port-base': { type: 'string' } }, usage[0]!);
    const nodes = values.nodes === undefined ? 1 : Number(values.nodes);
    if (!Number.isInteger(nodes) || nodes < 1 || nodes > 200) throw new UsageError(`--nodes must be a whole number from 1 to 200, not "${values.nodes}"`);
    if (nodes > 1) {
      throw new UsageError('this version runs one node; several nodes behind the traffic manager come with the cluster work (issue 4)');
    }
    const portBase = parsePortBase(values['port-base'], defaultPortBase);
    const location = storeLocation(values);
    const store = await openStore(location);
    const address = nodeAddress(1);
    let node;
    try {
      node = await runNode({ store, name: 'node1', address, hostname: 'node1', portBase, services: allServices });
    } catch (err) {
      await store.close();
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') throw new UsageError(`a port of base ${portBase} on ${address} is in use (another rookery up?); try --port-base`);
      throw err;
    }
    const log = createLogger('up');
    log.debug({ location }, 'store opened');
    console.log(`rookery is up: store ${location}`);
    console.log(`node1 (pid ${process.pid}) on ${address}`);
    const labels: Record<string, string> = { smtp: 'SMTP (MX, STARTTLS)', smtps: 'SMTP over TLS', pop3: 'POP3 (STLS)', pop3s: 'POP3 over TLS' };
    for (const [service, port] of Object.entries(node.ports)) console.log(`  ${labels[service]!.padEnd(22)}${address}:${port}`);
    const domains = await store.directory.listDomains();
    if (domains.length === 0) {
      console.log('no mail domains yet; in another terminal:');
      console.log(`  npx rookery domain add example.org${values.store ? ` --store ${location}` : ''}`);
      console.log(`  npx rookery user add me@example.org --password secret${values.store ? ` --store ${location}` : ''}`);
    }
    console.log('Ctrl-C stops it.');
    stopOnSignals(async () => {
      await node.stop();
      await store.close();
    });
  },
};
