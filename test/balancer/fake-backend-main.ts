/**
 * A fake SMTP+POP3 backend as its own process, for tests that kill it with
 * SIGKILL: `node fake-backend-main.js NAME HOST SMTP_PORT POP3_PORT`.
 * Prints "ready" once both listen.
 */
import { fakeServer } from './helpers.js';

const [name, host, smtpPort, pop3Port] = process.argv.slice(2) as [string, string, string, string];
await fakeServer('smtp', { name, host }, Number(smtpPort));
await fakeServer('pop3', { name, host }, Number(pop3Port));
process.stdout.write('ready\n');
