/**
 * The rookery command: a table of command groups. Mistakes print one line
 * on stderr and exit non-zero; a stack trace is printed only for bugs.
 */
import { version } from '../version.js';
import { isStoreError } from '../store/errors.js';
import { UsageError } from './args.js';
import type { CommandGroup } from './command.js';
import { aliasCommand } from './alias.js';
import { configCommand } from './config.js';
import { dnsCommand } from './dns.js';
import { domainCommand } from './domain.js';
import { forwardCommand } from './forward.js';
import { lbCommand } from './lb.js';
import { nodeCommand } from './node.js';
import { queueCommand } from './queue.js';
import { statusCommand } from './status.js';
import { storeCommand } from './store.js';
import { tlsCommand } from './tls.js';
import { tokenCommand } from './token.js';
import { transportCommand } from './transport.js';
import { upCommand } from './up.js';
import { userCommand } from './user.js';

export const commands: CommandGroup[] = [
  upCommand,
  nodeCommand,
  lbCommand,
  dnsCommand,
  statusCommand,
  domainCommand,
  userCommand,
  aliasCommand,
  forwardCommand,
  queueCommand,
  transportCommand,
  tlsCommand,
  tokenCommand,
  configCommand,
  storeCommand,
];


function help(): string {
  const lines = [
    'usage: rookery COMMAND ... [--store LOCATION]',
    '',
    'LOCATION is a directory for the embedded store (default ./rookery-data, or $ROOKERY_STORE).',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(10)}${c.summary}`),
    '',
    'rookery COMMAND help shows the usage of one command.',
  ];
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
      console.log(help());
      return;
    }
    if (name === '--version' || name === 'version') {
      console.log(`rookery ${version}`);
      return;
    }
    const command = commands.find((c) => c.name === name);
    if (!command) throw new UsageError(`unknown command "${name}"; "rookery help" lists the commands`);
    if (rest[0] === 'help' || rest.includes('--help')) {
      console.log(`usage: ${command.usage.join('\n       ')}`);
      return;
    }
    await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      // One line, as the operator contract asks; the usage is one command away.
      const [first, ...more] = err.message.split('\n');
      const hint = more.length > 0 && name ? ` (usage: rookery ${name} help)` : '';
      process.stderr.write(`rookery: ${first}${hint}\n`);
      process.exitCode = 2;
    } else if (isStoreError(err)) {
      process.stderr.write(`rookery: ${err.message}\n`);
      process.exitCode = 1;
    } else if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' || (err as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL') {
      process.stderr.write(`rookery: ${(err as Error).message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`rookery: internal error: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  }
}
