import { printTable } from './args.js';
import { storeVerbGroup } from './command.js';

export const domainCommand = storeVerbGroup({
  name: 'domain',
  summary: 'add, list and delete the local mail domains',
  options: { json: { type: 'boolean' } },
  verbs: {
    add: {
      usage: 'rookery domain add DOMAIN',
      args: 1,
      async run(store, [name]) {
        const domain = await store.directory.addDomain(name!);
        console.log(`added domain ${domain.name}`);
      },
    },
    list: {
      usage: 'rookery domain list [--json]',
      args: 0,
      async run(store, _, values) {
        const domains = await store.directory.listDomains();
        printTable(domains.map((d) => ({ domain: d.name, created: d.createdAt.toISOString() })), Boolean(values.json),
          domains.map((d) => ({ name: d.name, createdAt: d.createdAt.toISOString() })));
      },
    },
    del: {
      usage: 'rookery domain del DOMAIN',
      args: 1,
      async run(store, [name]) {
        await store.directory.removeDomain(name!);
        console.log(`deleted domain ${name!.toLowerCase()}`);
      },
    },
  },
});
