/**
 * rookery dns: the health-aware DNS role (serve), the zone export for
 * operators with their own name servers, per-domain node sets and the DNS
 * settings.
 */
import { createLogger } from '../log.js';
import { checkDnsSetting, dnsDomainSettingHelp, dnsSettingSpecs, nodeSetKey } from '../dns/config.js';
import { domainNodes } from '../dns/records.js';
import { startDnsServer, type RunningDnsServer } from '../dns/server.js';
import { zoneFileText } from '../dns/zone-file.js';
import { readZones } from '../dns/zones.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/types.js';
import { parse, printTable, storeLocation, UsageError } from './args.js';
import { storeVerbGroup, type CommandGroup } from './command.js';
import { defaultPortBase, parsePortBase, stopOnSignals } from './node.js';

/** The DNS port's offset from the port base (DESIGN.md: base + standard port). */
export const dnsStandardPort = 53;

const serveUsage = 'rookery dns [serve] [--address ADDR] [--port-base N]';

function domainArgument(text: string): string {
  return text.toLowerCase().replace(/\.$/, '');
}

async function localDomain(store: Store, text: string): Promise<string> {
  const domain = domainArgument(text);
  const domains = await store.directory.listDomains();
  if (!domains.some((d) => d.name === domain)) throw new UsageError(`${domain} is not a local domain; "rookery domain list" shows them`);
  return domain;
}

const verbs = storeVerbGroup({
  name: 'dns',
  summary: '',
  options: { json: { type: 'boolean' }, clear: { type: 'boolean' } },
  verbs: {
    zone: {
      usage: 'rookery dns zone DOMAIN',
      args: 1,
      async run(store, [text]) {
        const domain = await localDomain(store, text!);
        const { zones, problems } = await readZones(store, { domains: [domain] });
        // Without an address for an in-domain name server the file would not load; say what to set instead.
        const fatal = problems.find((p) => p.includes('no address is known for the name server'));
        if (fatal) throw new UsageError(`${fatal} ("rookery dns set KEY VALUE")`);
        for (const p of problems) process.stderr.write(`rookery: warning: ${p}\n`);
        process.stdout.write(zoneFileText(zones[0]!, new Date()));
      },
    },
    nodes: {
      usage: 'rookery dns nodes DOMAIN [NODE,...] [--clear] [--json]',
      args: 1,
      async run(store, [text, ...names], values) {
        const domain = await localDomain(store, text!);
        const key = nodeSetKey(domain);
        if (values.clear && names.length > 0) throw new UsageError('give node names or --clear, not both');
        if (values.clear) {
          await store.settings.set(key, '');
          console.log(`${domain} has no node set now: every node not reserved for another domain serves it`);
          return;
        }
        const members = await store.cluster.list();
        if (names.length > 0) {
          const value = names.join(',').split(',').map((n) => n.trim()).filter(Boolean).join(',');
          if (value === '') throw new UsageError('give at least one node name, or --clear');
          try {
            checkDnsSetting(key, value);
          } catch (err) {
            throw new UsageError((err as Error).message);
          }
          await store.settings.set(key, value);
          const known = new Set(members.map((m) => m.name.toLowerCase()));
          const unknown = value.split(',').filter((n) => !known.has(n.toLowerCase()));
          console.log(`${domain} is served by ${value.split(',').join(', ')}; DNS answers follow within a second`);
          if (unknown.length > 0) console.log(`note: not registered (yet): ${unknown.join(', ')}`);
          return;
        }
        const set = (await store.settings.get(key))?.trim() || null;
        const sets = new Map<string, string[]>();
        for (const [k, v] of Object.entries(await store.settings.all())) {
          if (k.startsWith('dns.nodes.') && v.trim() !== '') sets.set(k.slice('dns.nodes.'.length), v.split(',').map((n) => n.trim()).filter(Boolean));
        }
        const serving = domainNodes(domain, members, sets);
        printTable(serving.map((m) => ({ node: m.name, address: m.address, state: m.state })), Boolean(values.json),
          { domain, nodeSet: set === null ? null : set.split(','), nodes: serving.map((m) => ({ name: m.name, address: m.address, state: m.state })) });
        if (!values.json) {
          if (serving.length === 0) console.log(`no node serves ${domain}`);
          console.log(set === null ? `${domain} has no node set: the nodes no other domain reserves serve it` : `${domain}'s node set: ${set}`);
        }
      },
    },
    settings: {
      usage: 'rookery dns settings [--json]',
      args: 0,
      async run(store, _, values) {
        const all = await store.settings.all();
        const rows: Record<string, string>[] = dnsSettingSpecs.map((s) => ({
          key: s.key,
          value: all[s.key]?.trim() || '(default)',
          default: s.default || '(computed)',
          meaning: s.description,
        }));
        for (const [k, v] of Object.entries(all).sort()) {
          if ((k.startsWith('dns.nodes.') || k.startsWith('dns.serial.')) && v.trim() !== '') {
            rows.push({ key: k, value: v, default: '', meaning: dnsDomainSettingHelp.find((h) => k.startsWith(h.key.replace('DOMAIN', '')))!.description });
          }
        }
        printTable(rows, Boolean(values.json));
      },
    },
    set: {
      usage: 'rookery dns set KEY VALUE',
      args: 2,
      async run(store, [key, value]) {
        if (key!.startsWith('dns.serial.')) throw new UsageError('dns.serial.DOMAIN is kept by Rookery; it grows when the records change');
        if (key!.startsWith('dns.nodes.')) throw new UsageError('set node sets with "rookery dns nodes DOMAIN NODE,..."');
        try {
          checkDnsSetting(key!, value!.trim());
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
        await store.settings.set(key!, value!.trim());
        console.log(`${key} = ${value!.trim()}; DNS answers follow within a second`);
      },
    },
  },
});

async function serve(args: string[]): Promise<void> {
  const { values } = parse(args, { address: { type: 'string' }, 'port-base': { type: 'string' } }, serveUsage);
  const address = values.address ?? '127.0.0.1';
  const port = parsePortBase(values['port-base'], defaultPortBase) + dnsStandardPort;
  const store = await openStore(storeLocation(values));
  let server: RunningDnsServer;
  try {
    server = await startDnsServer({ store, address, port, logger: createLogger('dns') });
  } catch (err) {
    await store.close();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new UsageError(`port ${port} on ${address} is in use (another DNS server?); try --port-base`);
    throw err;
  }
  console.log(`dns (pid ${process.pid}) on ${address} port ${server.port}, UDP and TCP`);
  stopOnSignals(async () => {
    await server.close();
    await store.close();
  });
}

/** `rookery dns ...`: for the table in src/cli/main.ts. */
export const dnsCommand: CommandGroup = {
  name: 'dns',
  summary: 'serve health-aware DNS for the local domains, export zone files, set node sets',
  usage: [serveUsage, ...verbs.usage],
  async run(args) {
    const [first] = args;
    if (first === undefined || first.startsWith('-')) return serve(args);
    if (first === 'serve') return serve(args.slice(1));
    return verbs.run(args);
  },
};
