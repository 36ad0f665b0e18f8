#!/usr/bin/env node
// The simdnet command line: train | evaluate | predict. See `simdnet --help`.
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`simdnet: ${err instanceof Error ? err.message : String(err)}`); process.exitCode = 1; },
);
