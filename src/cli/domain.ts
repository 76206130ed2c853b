import { need, parse, printTable, UsageError, withStore } from './args.js';
import type { CommandGroup } from './command.js';

const usage = ['rookery domain add DOMAIN', 'rookery domain list [--json]', 'rookery domain del DOMAIN'];

export const domainCommand: CommandGroup = {
  name: 'domain',
  summary: 'add, list and delete the local mail domains',
  usage,
  async run(args) {
    const [verb, ...rest] = args;
    const { values, positionals } = parse(rest, { json: { type: 'boolean' } }, usage.join('\n       '));
    await withStore(values, async (store) => {
      switch (verb) {
        case 'add': {
          const [name] = need(positionals, 1, usage[0]!);
          const domain = await store.directory.addDomain(name!);
          console.log(`added domain ${domain.name}`);
          return;
        }
        case 'list': {
          const domains = await store.directory.listDomains();
          printTable(domains.map((d) => ({ domain: d.name, created: d.createdAt.toISOString() })), Boolean(values.json),
            domains.map((d) => ({ name: d.name, createdAt: d.createdAt.toISOString() })));
          return;
        }
        case 'del':
        case 'delete': {
          const [name] = need(positionals, 1, usage[2]!);
          await store.directory.removeDomain(name!);
          console.log(`deleted domain ${name!.toLowerCase()}`);
          return;
        }
        default:
          throw new UsageError(`unknown verb "${verb ?? ''}" for domain\nusage: ${usage.join('\n       ')}`);
      }
    });
  },
};
