#!/usr/bin/env node
// The rookery command. The TypeScript is compiled to dist/ by `npm install`
// (the prepare script) or `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  console.error('rookery: not built yet; run "npm install" (or "npm run build") in the rookery directory first');
  process.exit(1);
}
const { main: run } = await import(main.href);
await run(process.argv.slice(2));
