/**
 * A node on ephemeral loopback ports over a fresh embedded store in a
 * temporary directory, for protocol tests. `close()` stops it and removes
 * the directory.
 */
import { rm } from 'node:fs/promises';
import { tempDir } from './temp.js';
import { openStore } from '../../src/store/open.js';
import { startNode, type RunningNode, type ServiceName } from '../../src/node.js';
import type { Store } from '../../src/store/types.js';
import type { Limits } from '../../src/config/limits.js';

export interface TestNode {
  store: Store;
  dir: string;
  host: string;
  ports: Record<ServiceName, number>;
  node: RunningNode;
  close(): Promise<void>;
}

export interface TestNodeOptions {
  /** Limits to override (written to the store's settings before start). */
  limits?: Partial<Limits>;
  /** Users to create in example.test, as address -> password. */
  users?: Record<string, string>;
  /** Extra local domains besides example.test. */
  domains?: string[];
  /** Prepares the store before the node starts (e.g. registers a traffic manager it must trust). */
  beforeStart?: (store: Store) => Promise<void>;
}

export { tempDir };

export async function startTestNode(opts: TestNodeOptions = {}): Promise<TestNode> {
  const dir = await tempDir();
  const store = await openStore(dir);
  await store.directory.addDomain('example.test');
  for (const d of opts.domains ?? []) await store.directory.addDomain(d);
  for (const [address, password] of Object.entries(opts.users ?? {})) {
    await store.directory.addUser({ address, password });
  }
  for (const [name, value] of Object.entries(opts.limits ?? {})) {
    await store.settings.set(`limits.${name}`, String(value));
  }
  await opts.beforeStart?.(store);
  const node = await startNode({
    store,
    name: 'test-node',
    address: '127.0.0.1',
    hostname: 'mx.example.test',
    ports: { smtp: 0, submission: 0, submissions: 0, pop3: 0, pop3s: 0, imap: 0, imaps: 0, http: 0 },
  });
  return {
    store,
    dir,
    host: '127.0.0.1',
    ports: node.ports,
    node,
    async close() {
      await node.stop();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
