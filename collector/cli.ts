#!/usr/bin/env -S node --max-semi-space-size=4
// The `hotpath` executable (package.json bin, deploy files): runs the CLI and maps its outcome to the exit status.
// Its first line passes Node.js the flags `serve` wants (cli/node-flags.ts); env -S splits them (coreutils 8.30+).
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
