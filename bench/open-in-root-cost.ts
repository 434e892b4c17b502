// What opening a file inside a process's root costs with each resolver of openInRoot: the kernel's openat2 and
// the user-space walk used where openat2 is missing. Opens a path inside /proc/self/root `--opens` times per
// run (O_PATH, then close; and the symbolizer's whole open: O_PATH, fstat, reopen for reading), `--runs` runs
// each, and prints the median time per open.
//   node dist/bench/open-in-root-cost.js [--path /usr/bin/node] [--opens 10000] [--runs 5]
// Prints figures; asserts nothing.
import { closeSync, constants, openSync } from 'node:fs';
import { closeFd } from '../collector/bpf/libbpf.js';
import { forceInRootResolver, type InRootResolver, openInRoot } from '../collector/bpf/open-in-root.js';
import { openRegularInRoot } from '../collector/symbolize/process-files.js';

const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

const path = arg('path', '/usr/bin/node');
const opens = Number(arg('opens', '10000'));
const runs = Number(arg('runs', '5'));
const rootFd = openSync('/proc/self/root', constants.O_RDONLY | constants.O_DIRECTORY | O_CLOEXEC);

/** Nanoseconds per call of `open` (which returns false on failure), median of the runs after one warm-up run. */
function measure(open: () => boolean): number {
  const perOpen: number[] = [];
  for (let run = 0; run <= runs; run++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < opens; i++) if (!open()) throw new Error(`open ${path} inside /proc/self/root failed`);
    const ns = Number(process.hrtime.bigint() - t0) / opens;
    if (run > 0) perOpen.push(ns);
  }
  return median(perOpen);
}

const rows: string[] = [];
for (const resolver of ['openat2', 'user-space'] as InRootResolver[]) {
  forceInRootResolver(resolver);
  const pathOnly = measure(() => {
    const fd = openInRoot(rootFd, path, O_PATH | O_CLOEXEC);
    closeFd(fd);
    return fd >= 0;
  });
  const whole = measure(() => {
    const r = openRegularInRoot(rootFd, path);
    if (r.ok) closeSync(r.file.fd);
    return r.ok;
  });
  rows.push(`${resolver.padEnd(10)}  openInRoot (O_PATH) ${(pathOnly / 1000).toFixed(2)} us   openRegularInRoot (+ fstat, reopen) ${(whole / 1000).toFixed(2)} us`);
}
closeSync(rootFd);
console.log(`${path} inside /proc/self/root, ${opens} opens per run, median of ${runs} runs, per open:`);
for (const row of rows) console.log(`  ${row}`);
