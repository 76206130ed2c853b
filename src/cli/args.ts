/**
 * Shared pieces of the command line: option parsing with one clear error
 * for mistakes, the --store option every command takes (and --blobs, the
 * blob directory of a postgres:// store), sizes like "2G", and reading a
 * password from standard input.
 */
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { defaultStoreLocation, openStore } from '../store/open.js';
import type { Store } from '../store/types.js';

/** A mistake by the user: printed as one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type Options = NonNullable<ParseArgsConfig['options']>;

export const storeOption = {
  store: { type: 'string', short: 's' },
  blobs: { type: 'string' },
} as const;

export function parse<O extends Options>(args: string[], options: O, usage: string) {
  try {
    const all: typeof storeOption & O = { ...storeOption, ...options };
    return parseArgs({ args, options: all, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message.replace(/\. To specify a positional.*$/s, '')}\nusage: ${usage}`);
  }
}

/**
 * The store location from --store (or ROOKERY_STORE, or the default), with
 * --blobs DIR made the blobs parameter of a postgres:// URL. The embedded
 * store keeps its blobs in its own directory, so --blobs is refused there.
 */
export function storeLocation(values: { store?: unknown; blobs?: unknown }): string {
  const location = typeof values.store === 'string' && values.store !== '' ? values.store : defaultStoreLocation();
  return typeof values.blobs === 'string' ? withBlobs(location, values.blobs) : location;
}

/** A postgres:// location with its blobs parameter set to dir (resolved to an absolute path). */
export function withBlobs(location: string, dir: string): string {
  if (dir === '') throw new UsageError('--blobs needs a directory');
  if (!isPostgresLocation(location)) {
    throw new UsageError(`--blobs is for a postgres:// store; the embedded store at ${location} keeps its blobs in its own directory`);
  }
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw new UsageError(`"${location}" is not a valid postgres:// URL`);
  }
  url.searchParams.set('blobs', resolve(dir));
  return url.toString();
}

export function isPostgresLocation(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** Opens the store named by --store / ROOKERY_STORE, runs fn, closes it. */
export async function withStore<T>(values: { store?: unknown }, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(storeLocation(values));
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export function need(positionals: string[], count: number, usage: string): string[] {
  if (positionals.length < count) throw new UsageError(`missing argument\nusage: ${usage}`);
  return positionals;
}

/** Parses "1024", "500K", "20M", "2G" (binary units) into bytes; "0" means unlimited. */
export function parseSize(text: string): number {
  const m = /^(\d+)\s*([kmgt]?)i?b?$/i.exec(text.trim());
  if (!m) throw new UsageError(`"${text}" is not a size; write bytes or a number with K, M, G or T`);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Number(m[1]) * unit;
}

export function formatSize(bytes: number): string {
  if (bytes === 0) return '0';
  const units = ['B', 'K', 'M', 'G', 'T'];
  let n = bytes;
  let i = 0;
  while (n >= 1024 && i < units.length - 1 && n % 1024 === 0) {
    n /= 1024;
    i++;
  }
  return `${n}${units[i]}`;
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The password from --password or, with --password-stdin, the first line of standard input. */
export async function passwordFrom(values: { password?: unknown; 'password-stdin'?: unknown }, usage: string): Promise<string> {
  if (typeof values.password === 'string') return values.password;
  if (values['password-stdin']) {
    const line = (await readStdin()).split(/\r?\n/)[0] ?? '';
    if (line === '') throw new UsageError('no password on standard input');
    return line;
  }
  throw new UsageError(`give the password with --password PASSWORD or --password-stdin\nusage: ${usage}`);
}

/** Prints rows as aligned columns, or JSON with --json. */
export function printTable(rows: Record<string, string | number | boolean>[], json: boolean, jsonValue: unknown = rows): void {
  if (json) {
    process.stdout.write(JSON.stringify(jsonValue, null, 2) + '\n');
    return;
  }
  if (rows.length === 0) return;
  const keys = Object.keys(rows[0]!);
  const widths = keys.map((k) => Math.max(k.length, ...rows.map((r) => String(r[k]).length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  process.stdout.write(line(keys.map((k) => k.toUpperCase())) + '\n');
  for (const r of rows) process.stdout.write(line(keys.map((k) => String(r[k]))) + '\n');
}

/** A whole-number option within bounds (the fallback when absent), or a usage error that names it. */
export function intOption(values: Readonly<Record<string, unknown>>, name: string, min: number, max: number, fallback: number): number {
  const text = values[name];
  if (text === undefined) return fallback;
  const n = Number(text);
  if (typeof text !== 'string' || !/^\d+$/.test(text) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not "${String(text)}"`);
  return n;
}
