import type { User, UserChanges, UserRole } from '../store/types.js';
import { formatSize, need, parse, parseSize, passwordFrom, printTable, UsageError, withStore } from './args.js';
import type { CommandGroup } from './command.js';

const usage = [
  'rookery user add ADDRESS (--password PASSWORD | --password-stdin) [--quota SIZE] [--customer ID] [--role admin|domain-admin|user] [--disabled]',
  'rookery user list [DOMAIN] [--json]',
  'rookery user show ADDRESS [--json]',
  'rookery user set ADDRESS [--quota SIZE] [--customer ID] [--role ROLE] [--enabled | --disabled]',
  'rookery user passwd ADDRESS (--password PASSWORD | --password-stdin)',
  'rookery user del ADDRESS',
];

const options = {
  password: { type: 'string', short: 'p' },
  'password-stdin': { type: 'boolean' },
  quota: { type: 'string', short: 'q' },
  customer: { type: 'string' },
  role: { type: 'string' },
  enabled: { type: 'boolean' },
  disabled: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

function userJson(u: User) {
  return { address: u.address, quotaBytes: u.quotaBytes, usedBytes: u.usedBytes, customerId: u.customerId, enabled: u.enabled, role: u.role, createdAt: u.createdAt.toISOString() };
}

function userRow(u: User) {
  return { address: u.address, quota: u.quotaBytes === 0 ? 'unlimited' : formatSize(u.quotaBytes), used: u.usedBytes, enabled: u.enabled ? 'yes' : 'no', role: u.role, customer: u.customerId || '-' };
}

export const userCommand: CommandGroup = {
  name: 'user',
  summary: 'add, list, show, change and delete mail users',
  usage,
  async run(args) {
    const [verb, ...rest] = args;
    const { values, positionals } = parse(rest, options, usage.join('\n       '));
    if (values.enabled && values.disabled) throw new UsageError('give --enabled or --disabled, not both');
    const changes: UserChanges = {};
    if (values.quota !== undefined) changes.quotaBytes = parseSize(values.quota);
    if (values.customer !== undefined) changes.customerId = values.customer;
    if (values.role !== undefined) changes.role = values.role as UserRole;
    if (values.enabled) changes.enabled = true;
    if (values.disabled) changes.enabled = false;

    switch (verb) {
      case 'add': {
        const [address] = need(positionals, 1, usage[0]!);
        const password = await passwordFrom(values, usage[0]!);
        await withStore(values, async (store) => {
          const user = await store.directory.addUser({ address: address!, password, ...changes });
          console.log(`added user ${user.address} (INBOX, Sent, Drafts, Trash, Junk)`);
        });
        return;
      }
      case 'list':
        await withStore(values, async (store) => {
          const users = await store.directory.listUsers(positionals[0]);
          printTable(users.map(userRow), Boolean(values.json), users.map(userJson));
        });
        return;
      case 'show': {
        const [address] = need(positionals, 1, usage[2]!);
        await withStore(values, async (store) => {
          const user = await store.directory.getUser(address!);
          if (!user) throw new UsageError(`no user ${address}`);
          if (values.json) {
            console.log(JSON.stringify(userJson(user), null, 2));
            return;
          }
          const boxes = await store.mail.listMailboxes(user.id);
          for (const [k, v] of Object.entries(userRow(user))) console.log(`${k.padEnd(10)}${v}`);
          console.log(`${'mailboxes'.padEnd(10)}${boxes.map((b) => b.name).join(', ')}`);
        });
        return;
      }
      case 'set': {
        const [address] = need(positionals, 1, usage[3]!);
        if (Object.keys(changes).length === 0) throw new UsageError(`nothing to change\nusage: ${usage[3]}`);
        await withStore(values, async (store) => {
          const user = await store.directory.updateUser(address!, changes);
          console.log(`changed user ${user.address}`);
        });
        return;
      }
      case 'passwd': {
        const [address] = need(positionals, 1, usage[4]!);
        const password = await passwordFrom(values, usage[4]!);
        await withStore(values, async (store) => {
          const user = await store.directory.updateUser(address!, { password });
          console.log(`changed the password of ${user.address}`);
        });
        return;
      }
      case 'del':
      case 'delete': {
        const [address] = need(positionals, 1, usage[5]!);
        await withStore(values, async (store) => {
          await store.directory.removeUser(address!);
          console.log(`deleted user ${address!.toLowerCase()} and all of its mail`);
        });
        return;
      }
      default:
        throw new UsageError(`unknown verb "${verb ?? ''}" for user\nusage: ${usage.join('\n       ')}`);
    }
  },
};
