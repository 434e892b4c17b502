// The workloads the sections measure under: small C programs compiled with gcc into the run's temp
// directory, and the standard load (a spinning C process + `stress-ng --cpu 1`, both cores busy).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { haveCommand, type ProcessGroup, type Tracked } from './procs.js';

/** Spins in two frames of its own until SIGALRM ends it (argv[1] seconds, so it never outlives a lost parent). */
export const SPIN_SOURCE = `#include <stdlib.h>
#include <unistd.h>
volatile unsigned long spin_sink;
__attribute__((noinline)) void spin_inner(void) { for (int i = 0; i < 1000000; i++) spin_sink += i; }
__attribute__((noinline)) void spin_outer(void) { spin_inner(); spin_sink++; }
int main(int argc, char **argv) { alarm(argc > 1 ? atoi(argv[1]) : 900); for (;;) spin_outer(); }
`;

/**
 * Two callers of one leaf, 3:1: split_heavy asks split_work for 3N iterations, split_light for N. The leaf is
 * the same function, so only a correct walk to the caller tells the two apart (75% under split_heavy). The
 * leaf keeps a volatile local on the stack: gcc gives a leaf that uses no stack no frame pointer even with
 * -fno-omit-frame-pointer (a frame-pointer walk would then skip its caller), and this binary must walk.
 */
export const SPLIT_SOURCE = `#include <stdlib.h>
#include <unistd.h>
volatile unsigned long split_sink;
__attribute__((noinline)) unsigned long split_work(unsigned long n) {
  volatile unsigned long x = 0;
  for (unsigned long i = 0; i < n; i++) x += i * 2654435761u;
  return x;
}
__attribute__((noinline)) void split_heavy(void) { split_sink += split_work(3000000); }
__attribute__((noinline)) void split_light(void) { split_sink += split_work(1000000); }
int main(int argc, char **argv) { alarm(argc > 1 ? atoi(argv[1]) : 900); for (;;) { split_heavy(); split_light(); } }
`;

/** A fixed CPU job: argv[1] xorshift steps in registers; prints its wall and CPU seconds. */
export const FIXED_SOURCE = `#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(clockid_t c) { struct timespec t; clock_gettime(c, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) {
  unsigned long n = strtoul(argv[1], 0, 10), x = 88172645463325252ul;
  double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
  for (unsigned long i = 0; i < n; i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; __asm__ volatile("" : "+r"(x)); }
  double w1 = now(CLOCK_MONOTONIC), c1 = now(CLOCK_PROCESS_CPUTIME_ID);
  printf("wall=%.6f cpu=%.6f x=%lu\\n", w1 - w0, c1 - c0, x);
  return 0;
}
`;

/** Compiles `source` to `dir/name` (gcc -O1 plus `flags`); throws naming gcc's complaint. */
export function compileC(dir: string, name: string, source: string, flags: string[] = ['-fno-omit-frame-pointer']): string {
  const src = join(dir, `${name}.c`);
  const out = join(dir, name);
  writeFileSync(src, source);
  try {
    execFileSync('gcc', ['-O1', ...flags, '-o', out, src], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as { code?: string; stderr?: Buffer };
    if (e.code === 'ENOENT') throw new Error('gcc not found (bash scripts/setup.sh installs it)');
    throw new Error(`gcc ${name}.c: ${e.stderr?.toString().trim() ?? String(err)}`);
  }
  return out;
}

/**
 * `cmd args` run on the last CPU only (taskset), so its processes do not migrate: `perf bench sched pipe` is
 * several times faster or slower depending on whether its two tasks share a CPU, which the scheduler decides
 * differently from run to run. Unpinned when taskset is missing.
 */
export function pinned(cmd: string, args: string[]): [string, string[]] {
  if (!haveCommand('taskset')) return [cmd, args];
  return ['taskset', ['-c', String(cpus().length - 1), cmd, ...args]];
}

export interface Load {
  spin: Tracked;
  stress?: Tracked;
  stop(): Promise<void>;
}

/**
 * Both cores busy: one spinning C process and `stress-ng --cpu 1`, each ending by itself after `maxSeconds`
 * (a safety net; the caller stops them). Without stress-ng a second spinner stands in, said in `note`.
 */
export function startLoad(group: ProcessGroup, spinBinary: string, maxSeconds: number): Load & { note?: string } {
  const seconds = String(Math.ceil(maxSeconds));
  const spin = group.start(spinBinary, [seconds]);
  let stress: Tracked | undefined;
  let note: string | undefined;
  if (haveCommand('stress-ng')) {
    stress = group.start('stress-ng', ['--cpu', '1', '--timeout', `${seconds}s`, '--quiet']);
  } else {
    stress = group.start(spinBinary, [seconds]);
    note = 'stress-ng not installed: a second spinner stood in';
  }
  return {
    spin,
    stress,
    note,
    stop: async () => {
      await Promise.all([group.stop(spin, 'SIGKILL'), group.stop(stress, 'SIGTERM')]);
    },
  };
}
