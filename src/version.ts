import { readFileSync } from 'node:fs';

/** Rookery's version, from package.json (dist/src/version.js sits two levels below it). */
export const version: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
