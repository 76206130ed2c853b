/**
 * `rookery up`: a whole cluster on this machine, in the foreground. Node i
 * runs as its own process on its own loopback address 127.0.0.(10+i), every
 * node on the same base + standard ports, as separate hosts would; the
 * traffic manager listens on 127.0.0.1 (the cluster's one address) and
 * relays with PROXY v2 from 127.0.0.10; the DNS answers on 127.0.0.1 too.
 * Ctrl-C or SIGTERM stops every child by its PID, then exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { allServices, portsFromBase } from '../config/services.js';
import { ensureCertificate } from '../net/tls.js';
import { parse, storeLocation, UsageError, withStore } from './args.js';
import type { CommandGroup } from './command.js';
import { defaultPortBase, parsePortBase } from './node.js';

const usage = ['rookery up [--nodes N] [--store LOCATION] [--port-base N] [--restart]'];
/** How many nodes `rookery up` runs when --nodes is not given: a real cluster. */
const defaultNodeCount = 3;
/** The cluster's address (the traffic manager's virtual address) and DNS. */
const virtualAddress = '127.0.0.1';
/** Where the traffic manager's connections to the nodes come from (nodes trust PROXY headers from it). */
const balancerSourceAddress = '127.0.0.10';
/** The command's entry in this compiled tree, so children run the same code. */
const rookeryBin = fileURLToPath(new URL('./bin.js', import.meta.url));
/** How long a child has to stop after SIGTERM before it gets SIGKILL. */
const stopGraceMs = 15_000;
const startTimeoutMs = 30_000;

/** Node i listens on its own loopback address, as separate hosts would. */
export function nodeAddress(i: number): string {
  return `127.0.0.${10 + i}`;
}

interface Child {
  name: string;
  args: string[];
  process: ChildProcess;
  stopping: boolean;
}

/** Starts `rookery ARGS` and resolves once it has printed its ready line on stdout. */
function startChild(name: string, args: string[]): Promise<Child> {
  const child = spawn(process.execPath, [rookeryBin, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${startTimeoutMs / 1000} s`));
    }, startTimeoutMs);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with code ${code} while starting (its error is above)`));
    };
    child.once('exit', onExit);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (!out.includes('\n')) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      resolve({ name, args, process: child, stopping: false });
    });
  });
}

function stopChild(child: Child): Promise<void> {
  child.stopping = true;
  const p = child.process;
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => p.kill('SIGKILL'), stopGraceMs);
    p.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    p.kill('SIGTERM');
  });
}

export const upCommand: CommandGroup = {
  name: 'up',
  summary: 'run a whole installation on this machine in the foreground',
  usage,
  async run(args) {
    const { values } = parse(args, { nodes: { type: 'string', short: 'n' }, 'port-base': { type: 'string' }, restart: { type: 'boolean' } }, usage[0]!);
    const count = values.nodes === undefined ? defaultNodeCount : Number(values.nodes);
    if (!Number.isInteger(count) || count < 1 || count > 200) throw new UsageError(`--nodes must be a whole number from 1 to 200, not "${values.nodes}"`);
    const portBase = parsePortBase(values['port-base'], defaultPortBase);
    const location = storeLocation(values);

    // Prepared once here so the nodes, starting together, find one certificate.
    const domains = await withStore(values, async (store) => {
      await ensureCertificate(store, 'localhost');
      return store.directory.listDomains();
    });

    const children: Child[] = [];
    let shuttingDown = false;
    const stopAll = async () => {
      shuttingDown = true;
      await Promise.all(children.map(stopChild));
    };
    const watch = (child: Child) => {
      child.process.once('exit', (code, signal) => {
        if (child.stopping || shuttingDown) return;
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        if (!values.restart) {
          console.log(`${child.name} (pid ${child.process.pid}) ${how}; it stays down (rookery up --restart brings nodes back)`);
          return;
        }
        console.log(`${child.name} (pid ${child.process.pid}) ${how}; restarting it`);
        setTimeout(() => {
          if (shuttingDown) return;
          startChild(child.name, child.args).then((again) => {
            children[children.indexOf(child)] = again;
            watch(again);
            console.log(`${again.name} is back (pid ${again.process.pid})`);
          }, (err: Error) => console.log(`${child.name} could not be restarted: ${err.message}`));
        }, 1000);
      });
    };

    try {
      const started = await Promise.all(Array.from({ length: count }, (_, i) => {
        const name = `node${i + 1}`;
        return startChild(name, ['node', '--store', location, '--name', name, '--hostname', name, '--address', nodeAddress(i + 1), '--port-base', String(portBase)]);
      }));
      children.push(...started);
      // After the nodes: the traffic manager fills its pools from their registrations.
      children.push(await startChild('lb', ['lb', '--store', location, '--name', 'lb1', '--address', virtualAddress, '--port-base', String(portBase),
        '--services', allServices.join(','), '--proxy-protocol', '--source-address', balancerSourceAddress]));
      children.push(await startChild('dns', ['dns', 'serve', '--store', location, '--address', virtualAddress, '--port-base', String(portBase)]));
    } catch (err) {
      await stopAll();
      throw new UsageError((err as Error).message);
    }
    children.forEach(watch);

    const labels: Record<string, string> = {
      smtp: 'SMTP (MX, STARTTLS)', submission: 'Submission (STARTTLS)', submissions: 'Submission over TLS', pop3: 'POP3 (STLS)', pop3s: 'POP3 over TLS', imap: 'IMAP (STARTTLS)', imaps: 'IMAP over TLS',
      http: 'HTTP (API, /healthz)', https: 'HTTPS',
    };
    console.log(`rookery is up: store ${location}`);
    console.log(`the cluster answers on ${virtualAddress} (traffic manager):`);
    for (const [service, port] of Object.entries(portsFromBase(portBase, allServices))) {
      console.log(`  ${(labels[service] ?? service).padEnd(22)}${virtualAddress}:${port}`);
    }
    console.log(`  ${'DNS (UDP and TCP)'.padEnd(22)}${virtualAddress}:${portBase + 53}`);
    console.log('processes (every node has the same ports on its own address):');
    for (const [i, child] of children.entries()) {
      const where = child.name === 'lb' ? `${virtualAddress} (relays from ${balancerSourceAddress})` : child.name === 'dns' ? virtualAddress : nodeAddress(i + 1);
      console.log(`  ${child.name.padEnd(8)}pid ${String(child.process.pid).padEnd(8)}${where}`);
    }
    if (domains.length === 0) {
      console.log('no mail domains yet; in another terminal:');
      console.log(`  npx rookery domain add example.org${values.store ? ` --store ${location}` : ''}`);
      console.log(`  npx rookery user add me@example.org --password secret${values.store ? ` --store ${location}` : ''}`);
    }
    console.log('rookery status shows the nodes and their health. Ctrl-C stops it.');

    let signalled = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) return;
      signalled = true;
      process.stderr.write(`rookery: ${signal}: stopping ${children.length} processes\n`);
      stopAll().then(() => process.exit(0), () => process.exit(1));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  },
};
