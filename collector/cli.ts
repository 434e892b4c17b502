#!/usr/bin/env node
// The `hotpath` executable (package.json bin, deploy files): runs the CLI and maps its outcome to the exit status.
import { main } from './cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`hotpath: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 70;
  },
);
