import { printTable } from './args.js';
import { storeVerbGroup } from './command.js';

/** `rookery queue list|flush|delete`: the cluster-wide outbound queue. */
export const queueCommand = storeVerbGroup({
  name: 'queue',
  summary: 'show the outbound queue, deliver a domain\'s mail now (as ETRN does), delete a message',
  options: { json: { type: 'boolean' } },
  verbs: {
    list: {
      usage: 'rookery queue list [DOMAIN] [--json]',
      args: 0,
      async run(store, [domain], values) {
        const messages = await store.queue.list(domain === undefined ? {} : { domain });
        const rows = messages.flatMap((m) => m.recipients.map((r) => ({
          id: m.id,
          sender: m.sender === '' ? '<>' : m.sender,
          recipient: r.address,
          domain: r.domain,
          attempts: r.attempts,
          'next try': r.leaseOwner && r.leaseExpiresAt && r.leaseExpiresAt.getTime() > Date.now() ? `now (${r.leaseOwner.split(':')[0]})` : r.nextAttemptAt.toISOString(),
          'last error': r.lastError || '-',
        })));
        if (!values.json && rows.length === 0) {
          console.log('the queue is empty');
          return;
        }
        printTable(rows, Boolean(values.json), messages);
      },
    },
    flush: {
      usage: 'rookery queue flush [DOMAIN]',
      args: 0,
      async run(store, [domain]) {
        const n = await store.queue.flush(domain);
        await store.changes?.publish({ kind: 'queue', ...(domain === undefined ? {} : { domain }) }).catch(() => undefined);
        console.log(`${n} queued recipient(s)${domain === undefined ? '' : ` for ${domain.toLowerCase()}`} are due now; the queue workers deliver them within a second`);
      },
    },
    del: {
      usage: 'rookery queue delete ID',
      args: 1,
      async run(store, [id]) {
        await store.queue.delete(id!.toUpperCase());
        console.log(`deleted queued message ${id!.toUpperCase()} (its message file stays in the blob store)`);
      },
    },
  },
});
