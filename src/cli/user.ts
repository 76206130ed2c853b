import type { User, UserChanges, UserRole } from '../store/types.js';
import { formatSize, parseSize, passwordFrom, printTable, UsageError } from './args.js';
import { storeVerbGroup, type OptionValues } from './command.js';

function userJson(u: User) {
  return { address: u.address, quotaBytes: u.quotaBytes, usedBytes: u.usedBytes, customerId: u.customerId, enabled: u.enabled, role: u.role, createdAt: u.createdAt.toISOString() };
}

function userRow(u: User) {
  return { address: u.address, quota: u.quotaBytes === 0 ? 'unlimited' : formatSize(u.quotaBytes), used: u.usedBytes, enabled: u.enabled ? 'yes' : 'no', role: u.role, customer: u.customerId || '-' };
}

/** The user changes the options ask for (quota, customer, role, enabled). */
function changesFrom(values: OptionValues): UserChanges {
  if (values.enabled && values.disabled) throw new UsageError('give --enabled or --disabled, not both');
  const changes: UserChanges = {};
  if (typeof values.quota === 'string') changes.quotaBytes = parseSize(values.quota);
  if (typeof values.customer === 'string') changes.customerId = values.customer;
  if (typeof values.role === 'string') changes.role = values.role as UserRole;
  if (values.enabled) changes.enabled = true;
  if (values.disabled) changes.enabled = false;
  return changes;
}

const usage = {
  add: 'rookery user add ADDRESS (--password PASSWORD | --password-stdin) [--quota SIZE] [--customer ID] [--role admin|domain-admin|user] [--disabled]',
  set: 'rookery user set ADDRESS [--quota SIZE] [--customer ID] [--role ROLE] [--enabled | --disabled]',
  passwd: 'rookery user passwd ADDRESS (--password PASSWORD | --password-stdin)',
};

export const userCommand = storeVerbGroup({
  name: 'user',
  summary: 'add, list, show, change and delete mail users',
  options: {
    password: { type: 'string', short: 'p' },
    'password-stdin': { type: 'boolean' },
    quota: { type: 'string', short: 'q' },
    customer: { type: 'string' },
    role: { type: 'string' },
    enabled: { type: 'boolean' },
    disabled: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  verbs: {
    add: {
      usage: usage.add,
      args: 1,
      async run(store, [address], values) {
        const changes = changesFrom(values);
        const password = await passwordFrom(values, usage.add);
        const user = await store.directory.addUser({ address: address!, password, ...changes });
        console.log(`added user ${user.address} (INBOX, Sent, Drafts, Trash, Junk)`);
      },
    },
    list: {
      usage: 'rookery user list [DOMAIN] [--json]',
      args: 0,
      async run(store, [domain], values) {
        const users = await store.directory.listUsers(domain);
        printTable(users.map(userRow), Boolean(values.json), users.map(userJson));
      },
    },
    show: {
      usage: 'rookery user show ADDRESS [--json]',
      args: 1,
      async run(store, [address], values) {
        const user = await store.directory.getUser(address!);
        if (!user) throw new UsageError(`no user ${address}`);
        if (values.json) {
          console.log(JSON.stringify(userJson(user), null, 2));
          return;
        }
        const boxes = await store.mail.listMailboxes(user.id);
        for (const [k, v] of Object.entries(userRow(user))) console.log(`${k.padEnd(10)}${v}`);
        console.log(`${'mailboxes'.padEnd(10)}${boxes.map((b) => b.name).join(', ')}`);
      },
    },
    set: {
      usage: usage.set,
      args: 1,
      async run(store, [address], values) {
        const changes = changesFrom(values);
        if (Object.keys(changes).length === 0) throw new UsageError(`nothing to change\nusage: ${usage.set}`);
        const user = await store.directory.updateUser(address!, changes);
        console.log(`changed user ${user.address}`);
      },
    },
    passwd: {
      usage: usage.passwd,
      args: 1,
      async run(store, [address], values) {
        const password = await passwordFrom(values, usage.passwd);
        const user = await store.directory.updateUser(address!, { password });
        console.log(`changed the password of ${user.address}`);
      },
    },
    del: {
      usage: 'rookery user del ADDRESS',
      args: 1,
      async run(store, [address]) {
        await store.directory.removeUser(address!);
        console.log(`deleted user ${address!.toLowerCase()} and all of its mail`);
      },
    },
  },
});
