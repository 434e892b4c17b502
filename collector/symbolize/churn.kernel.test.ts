// Bounded memory: `hotpath serve` with 1 s windows while thousands of short-lived processes start and end.
// Per-pid caches must be dropped as processes go; RSS and open file descriptors must stay flat.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileWorkload, requireRoot, startAgent, tempDir } from '../test-support/kernel.js';

// Spins about 2 ms of CPU, so most runs are sampled at least once and get symbolized.
const SPIN = `
#include <time.h>
#include <stdint.h>
volatile uint64_t sink;
__attribute__((noinline)) void hotpath_churn_spin(void) {
  struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
  do { for (int i = 0; i < 2000; i++) sink += i; clock_gettime(CLOCK_MONOTONIC, &b); }
  while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 2000000L);
}
int main(void) { hotpath_churn_spin(); return 0; }
`;

function usage(pid: number): { rssMb: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  return { rssMb: rssKb / 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
}

describe('process churn (kernel)', () => {
  it('keeps the agent RSS and open fds bounded across 3,000 short-lived processes', async () => {
    requireRoot();
    const dir = tempDir('hotpath-churn-');
    const spin = compileWorkload(dir, 'spin', SPIN);
    const agent = await startAgent(['--programs', 'cpu', '--window', '1s']);
    const pid = agent.child.pid!;
    try {
      // Warm-up: a first wave fills the caches that are meant to stay (kallsyms, libc, ...).
      const run = (n: number) =>
        new Promise<void>((resolve, reject) => {
          const sh = spawn('/bin/sh', ['-c', `i=0; while [ $i -lt ${n} ]; do ${spin}; i=$((i+1)); done`], { stdio: 'ignore' });
          sh.on('exit', () => resolve());
          sh.on('error', reject);
        });
      await run(300);
      await new Promise((r) => setTimeout(r, 1500));
      const start = usage(pid);
      const t0 = Date.now();
      await run(1500);
      const middle = usage(pid);
      await run(1500);
      await new Promise((r) => setTimeout(r, 8000)); // idle pids are dropped after 6 windows
      const end = usage(pid);
      const seconds = (Date.now() - t0) / 1000;
      console.log(`churn: 3,000 processes in ${seconds.toFixed(1)} s; agent RSS start ${start.rssMb.toFixed(1)} MB, ` +
        `middle ${middle.rssMb.toFixed(1)} MB, end ${end.rssMb.toFixed(1)} MB; fds ${start.fds}, ${middle.fds}, ${end.fds}`);
      const health = await fetch(`${agent.url}/healthz`);
      expect(health.status).toBe(200);
      const profile = await fetch(`${agent.url}/debug/pprof/profile?from=${Math.floor(t0 / 1000)}&to=${Math.ceil(Date.now() / 1000)}`);
      expect(profile.status).toBe(200);
      expect(end.fds).toBeLessThanOrEqual(start.fds);
      expect(middle.fds).toBeLessThanOrEqual(start.fds + 2);
      expect(end.rssMb - start.rssMb).toBeLessThan(100);
    } finally {
      await agent.stop();
    }
  });
});
