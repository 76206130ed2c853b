/**
 * Issue 8's failover case with a real kill: two `rookery node` processes on
 * one store behind a relay that plays the traffic manager; the browser
 * signs in through the node that serves it, that node gets SIGKILL, and the
 * next click, answered by the other node, is still signed in (sessions are
 * store tokens, valid on every node).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type BrowserContext } from 'playwright-core';
import { rookery } from '../helpers/cli.js';
import { startNodeProcess, stopNodeProcess, type NodeProcess } from '../helpers/node-process.js';
import { freePortBase } from '../helpers/ports.js';
import { Relay } from '../helpers/relay.js';
import { tempDir } from '../helpers/temp.js';

const httpOffset = 80;
let dir: string;
let profile: string;
let relay: Relay;
let context: BrowserContext | undefined;
const nodes: NodeProcess[] = [];
const bases: number[] = [];

before(async () => {
  dir = await tempDir('rookery-webmail-kill-');
  for (const args of [['domain', 'add', 'example.test'], ['user', 'add', 'carol@example.test', '--password', 'carol-pw']]) {
    const r = await rookery([...args, '--store', dir]);
    assert.equal(r.code, 0, r.stderr);
  }
  for (const name of ['node1', 'node2']) {
    const base = await freePortBase();
    bases.push(base);
    nodes.push(await startNodeProcess(['--store', dir, '--name', name, '--address', '127.0.0.1', '--port-base', String(base), '--services', 'http']));
  }
  relay = new Relay();
  relay.target = bases[0]! + httpOffset;
  profile = await mkdtemp(join(tmpdir(), 'rookery-chromium-'));
});

after(async () => {
  await context?.close().catch(() => undefined);
  await relay?.close();
  for (const n of nodes) await stopNodeProcess(n);
  await rm(dir, { recursive: true, force: true });
  if (profile) await rm(profile, { recursive: true, force: true });
});

test('the node that served the session is killed; the next click, on the other node, is still signed in', { timeout: 60_000 }, async () => {
  const site = `http://127.0.0.1:${await relay.listen()}`;
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
  await page.goto(`${site}/`);
  await page.getByLabel('Address').fill('carol@example.test');
  await page.getByLabel('Password').fill('carol-pw');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'INBOX' }).waitFor();

  const killed = nodes[0]!;
  killed.child.kill('SIGKILL');
  assert.equal((await killed.exited).signal, 'SIGKILL');
  // The traffic manager takes the dead node out: new connections go to node2.
  relay.target = bases[1]! + httpOffset;
  relay.dropAll();

  await page.getByRole('link', { name: 'Write' }).click();
  await page.getByRole('heading', { name: 'Write a message' }).waitFor();
  await page.getByRole('link', { name: /^Rookery mail/ }).click();
  await page.getByRole('heading', { name: 'INBOX' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Sign in' }).count(), 0, 'still signed in');
  assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 1);
});
