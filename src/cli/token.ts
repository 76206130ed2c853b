import { userRoles } from '../store/rules.js';
import type { UserRole } from '../store/types.js';
import { mintToken } from '../web/tokens.js';
import { printTable, UsageError } from './args.js';
import { storeVerbGroup } from './command.js';

const createUsage = 'rookery token create --role admin|domain-admin|user [--domain DOMAIN] [--user ADDRESS] [--label TEXT] [--expires DAYS]';

/** `rookery token create|list|del`: bearer tokens for the HTTP API (stored hashed; the text is shown once). */
export const tokenCommand = storeVerbGroup({
  name: 'token',
  summary: 'create, list and revoke bearer tokens for the HTTP API',
  options: {
    role: { type: 'string' },
    domain: { type: 'string' },
    user: { type: 'string' },
    label: { type: 'string' },
    expires: { type: 'string' },
    json: { type: 'boolean' },
  },
  verbs: {
    create: {
      usage: createUsage,
      args: 0,
      async run(store, _, values) {
        const role = values.role;
        if (typeof role !== 'string') throw new UsageError(`give the token's role with --role\nusage: ${createUsage}`);
        if (!userRoles.includes(role as UserRole)) throw new UsageError(`--role must be one of ${userRoles.join(', ')}, not "${role}"`);
        if (role === 'domain-admin' && typeof values.domain !== 'string') throw new UsageError('a domain-admin token needs --domain DOMAIN');
        if (role === 'user' && typeof values.user !== 'string') throw new UsageError('a user token needs --user ADDRESS (the user it acts as)');
        let domain: string | null = null;
        if (typeof values.domain === 'string') {
          if (role !== 'domain-admin') throw new UsageError('--domain is for a domain-admin token');
          domain = values.domain.trim().toLowerCase().replace(/\.$/, '');
          if (!(await store.directory.isLocalDomain(domain))) throw new UsageError(`${domain} is not a local domain; "rookery domain list" shows them`);
        }
        let subject: string | null = null;
        if (typeof values.user === 'string') {
          const user = await store.directory.getUser(values.user);
          if (!user) throw new UsageError(`no user ${values.user}`);
          subject = user.address;
        }
        let expiresAt: Date | null = null;
        if (typeof values.expires === 'string') {
          const days = Number(values.expires);
          if (!Number.isFinite(days) || days <= 0) throw new UsageError(`--expires takes a number of days, not "${values.expires}"`);
          expiresAt = new Date(Date.now() + days * 86_400_000);
        }
        const { text } = await mintToken(store, { role: role as UserRole, domain, subject, label: typeof values.label === 'string' ? values.label : '', expiresAt });
        // The token alone on stdout, so scripts can take it: TOKEN=$(rookery token create --role admin)
        console.log(text);
      },
    },
    list: {
      usage: 'rookery token list [--json]',
      args: 0,
      async run(store, _, values) {
        const tokens = await store.tokens.list({ kind: 'api' });
        printTable(tokens.map((t) => ({
          id: t.id, role: t.role, scope: t.domain ?? t.subject ?? '-', label: t.label || '-',
          created: t.createdAt.toISOString(), expires: t.expiresAt?.toISOString() ?? 'never', 'last used': t.lastUsedAt?.toISOString() ?? 'never',
        })), Boolean(values.json), tokens);
        if (!values.json && tokens.length === 0) console.log('no tokens; rookery token create --role admin makes one');
      },
    },
    del: {
      usage: 'rookery token del ID',
      args: 1,
      async run(store, [id]) {
        await store.tokens.remove(id!.toLowerCase());
        console.log(`revoked token ${id!.toLowerCase()}; every node refuses it from now on`);
      },
    },
  },
});
