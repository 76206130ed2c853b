/**
 * The command's entry inside a compiled tree. bin/rookery.js loads dist/;
 * tests and `rookery up` start this file from the tree they were compiled
 * into, so a private build (tsc --outDir dist-x) runs its own code.
 */
import { main } from './main.js';

await main(process.argv.slice(2));
