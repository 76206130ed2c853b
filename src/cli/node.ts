import { hostname as osHostname } from 'node:os';
import { createLogger } from '../log.js';
import { allServices, portsFromBase, type ServiceName } from '../config/services.js';
import type { RunningNode } from '../node.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/types.js';
import { need, parse, storeLocation, UsageError, withStore } from './args.js';
import type { CommandGroup } from './command.js';

const usage = [
  'rookery node [--name NAME] [--address ADDR] [--port-base N] [--services smtp,pop3,...] [--hostname HOST]',
  'rookery node drain NAME      (no new clients; open sessions go on)',
  'rookery node undrain NAME',
  'rookery node remove NAME     (forget a node that is gone for good)',
];

/** `rookery node drain|undrain|remove NAME`: registry changes an operator makes. */
async function manageNode(verb: 'drain' | 'undrain' | 'remove', args: string[]): Promise<void> {
  const line = usage.find((u) => u.startsWith(`rookery node ${verb}`))!;
  const { values, positionals } = parse(args, {}, line);
  const [name] = need(positionals, 1, line);
  await withStore(values, async (store) => {
    if (verb === 'remove') {
      await store.cluster.remove(name!);
      console.log(`removed ${name} from the registry`);
      return;
    }
    await store.cluster.setState(name!, verb === 'drain' ? 'draining' : 'up');
    console.log(verb === 'drain' ? `${name} is draining: it gets no new clients, and open sessions go on` : `${name} takes new clients again`);
  });
}

export const defaultPortBase = 10000;

export function parsePortBase(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n + 995 > 65535) throw new UsageError(`--port-base must be a whole number from 0 to ${65535 - 995}, not "${text}"`);
  return n;
}

export function parseServices(text: string | undefined): ServiceName[] {
  if (text === undefined) return allServices;
  const names = text.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const n of names) {
    if (!(allServices as string[]).includes(n)) throw new UsageError(`unknown service "${n}"; services: ${allServices.join(', ')}`);
  }
  return names as ServiceName[];
}

/** Stops the node and closes the store on SIGINT/SIGTERM, then exits. */
export function stopOnSignals(stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`rookery: ${signal}: stopping\n`);
    stop().then(() => process.exit(0), (err) => {
      process.stderr.write(`rookery: stopping failed: ${(err as Error).message}\n`);
      process.exit(1);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

export async function runNode(opts: { store: Store; name: string; address: string; hostname: string; portBase: number; services: ServiceName[] }): Promise<RunningNode> {
  // Loaded here so directory commands do not pay for the protocol code.
  const { startNode } = await import('../node.js');
  return startNode({
    store: opts.store,
    name: opts.name,
    address: opts.address,
    hostname: opts.hostname,
    ports: portsFromBase(opts.portBase, opts.services),
    logger: createLogger(opts.name),
  });
}

export const nodeCommand: CommandGroup = {
  name: 'node',
  summary: 'run one node (its services on ADDR, base + standard ports) in the foreground',
  usage,
  async run(args) {
    if (args[0] === 'drain' || args[0] === 'undrain' || args[0] === 'remove') {
      await manageNode(args[0], args.slice(1));
      return;
    }
    const { values } = parse(args, {
      name: { type: 'string' },
      address: { type: 'string' },
      'port-base': { type: 'string' },
      services: { type: 'string' },
      hostname: { type: 'string' },
    }, usage[0]!);
    const store = await openStore(storeLocation(values));
    const name = values.name ?? osHostname();
    const address = values.address ?? '127.0.0.1';
    let node: RunningNode;
    try {
      node = await runNode({
        store,
        name,
        address,
        hostname: values.hostname ?? name,
        portBase: parsePortBase(values['port-base'], defaultPortBase),
        services: parseServices(values.services),
      });
    } catch (err) {
      await store.close();
      throw err;
    }
    console.log(`node ${name} (pid ${process.pid}) on ${address}: ${Object.entries(node.ports).map(([s, p]) => `${s} ${p}`).join(', ')}`);
    stopOnSignals(async () => {
      await node.stop();
      await store.close();
    });
  },
};
