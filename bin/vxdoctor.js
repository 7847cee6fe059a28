#!/usr/bin/env node
// Entry point: the compiled CLI lives in dist/ (`npm run build`).
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`vxdoctor: ${err?.stack ?? err}\n`);
    process.exitCode = 70;
  },
);
