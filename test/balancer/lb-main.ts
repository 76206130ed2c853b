/**
 * Runs `rookery lb ARGS...` through the command group itself, as
 * bin/rookery.js will once src/cli/main.ts lists lbCommand, so the
 * tests do not depend on that table. Mistakes print one line and exit 2.
 */
import { lbCommand } from '../../src/cli/lb.js';
import { UsageError } from '../../src/cli/args.js';

try {
  await lbCommand.run(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`rookery: ${(err as Error).message.split('\n')[0]}\n`);
  process.exitCode = err instanceof UsageError ? 2 : 1;
}
