// Real kernel, as root: run-queue latency per container (issue 14). Two "containers" are cgroups this test
// makes (named as docker names them, so their label is the container id), each with two CPU-bound processes on
// one CPU; one with a CPU weight 64 times lower than the other's. hotpath serve
// --runqlat-per-container must show both as series of hotpath_runqueue_latency_seconds, the starved one waiting
// far longer per wakeup.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroup2MountPoint } from './cgroup-names.js';
import { seriesValue } from '../test-support/metrics-text.js';
import { requireRoot, startAgent, waitFor, type RunningAgent } from '../test-support/kernel.js';

const STARVED = 'a1'.repeat(32);
const FED = 'b2'.repeat(32);

interface Cgroup {
  /** Directories the processes are moved into (the v2 one names the container; a v1 cpu one may weigh it). */
  dirs: string[];
}

/**
 * Makes a container-like cgroup in the cgroup2 tree, with its CPU weight set where this machine keeps the cpu
 * controller: in cgroup2 (cpu.weight) when it has it, else in the v1 cpu hierarchy (cpu.shares).
 */
function makeCgroup(v2Root: string, parent: string, id: string, weight: 'low' | 'high'): Cgroup {
  const v2 = path.join(v2Root, parent, `docker-${id}.scope`);
  fs.mkdirSync(v2, { recursive: true });
  const controllers = fs.readFileSync(path.join(v2Root, 'cgroup.controllers'), 'utf8').split(/\s+/);
  if (controllers.includes('cpu')) {
    for (const dir of [v2Root, path.join(v2Root, parent)]) fs.writeFileSync(path.join(dir, 'cgroup.subtree_control'), '+cpu');
    fs.writeFileSync(path.join(v2, 'cpu.weight'), weight === 'low' ? '10' : '1000');
    return { dirs: [v2] };
  }
  const v1 = path.join('/sys/fs/cgroup/cpu', parent, id.slice(0, 8));
  fs.mkdirSync(v1, { recursive: true });
  fs.writeFileSync(path.join(v1, 'cpu.shares'), weight === 'low' ? '64' : '4096');
  return { dirs: [v2, v1] };
}

describe('hotpath serve --runqlat-per-container (kernel)', () => {
  const parent = `hotpath-test-${process.pid}`;
  let v2Root: string;
  const cgroups: Cgroup[] = [];
  const procs: ChildProcess[] = [];
  let agent: RunningAgent;

  beforeAll(async () => {
    requireRoot();
    v2Root = cgroup2MountPoint(fs.readFileSync('/proc/self/mountinfo', 'utf8')) ?? '';
    expect(v2Root, 'a cgroup2 file system is mounted').not.toBe('');
    agent = await startAgent(['--programs', 'runqlat', '--window', '1s', '--runqlat-per-container', '50']);
    for (const [id, weight] of [[STARVED, 'low'], [FED, 'high']] as const) {
      const cg = makeCgroup(v2Root, parent, id, weight);
      cgroups.push(cg);
      for (let i = 0; i < 2; i++) {
        // A shell that moves itself into the cgroup, then becomes a spinner pinned to CPU 0.
        const p = spawn('sh', ['-c', `${cg.dirs.map((d) => `echo $$ > ${d}/cgroup.procs`).join(' && ')} && exec taskset -c 0 sh -c 'while :; do :; done'`], { stdio: 'ignore' });
        procs.push(p);
      }
    }
  }, 90_000);

  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    await agent?.stop();
    for (const cg of cgroups.reverse()) for (const d of cg.dirs) if (fs.existsSync(d)) fs.rmdirSync(d);
    for (const dir of [path.join(v2Root, parent), path.join('/sys/fs/cgroup/cpu', parent)]) if (fs.existsSync(dir)) fs.rmdirSync(dir);
  });

  it('shows the starved container and the fed one as separate series, the starved one waiting longer', async () => {
    const scrape = async () => (await (await request(`${agent.url}/metrics`)).body.text());
    const name = 'hotpath_runqueue_latency_seconds';
    // Both have waited a few seconds' worth.
    const text = await waitFor(
      'both containers in the run-queue latency series',
      async () => {
        const t = await scrape();
        const starved = seriesValue(t, `${name}_count`, { container: STARVED }) ?? 0;
        const fed = seriesValue(t, `${name}_count`, { container: FED }) ?? 0;
        return starved >= 10 && fed >= 10 ? t : undefined;
      },
      60_000,
    );
    const mean = (c: string) => (seriesValue(text, `${name}_sum`, { container: c }) ?? NaN) / (seriesValue(text, `${name}_count`, { container: c }) ?? NaN);
    const starved = mean(STARVED);
    const fed = mean(FED);
    console.log(`run-queue wait per wakeup: starved container ${(starved * 1e3).toFixed(2)} ms, fed container ${(fed * 1e3).toFixed(2)} ms`);
    expect(starved).toBeGreaterThan(fed * 3);
    // Every series carries the label; none without it (the machine-wide histogram is not exported beside them).
    const lines = text.split('\n').filter((l) => l.startsWith(`${name}_count`));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.length).toBeLessThanOrEqual(51);
    for (const l of lines) expect(l).toMatch(/container="[^"]+"/);
    // Series are cumulative counters: a later scrape never shows less.
    await new Promise((r) => setTimeout(r, 2500));
    const later = await scrape();
    for (const c of [STARVED, FED]) {
      expect(seriesValue(later, `${name}_count`, { container: c })!).toBeGreaterThanOrEqual(seriesValue(text, `${name}_count`, { container: c })!);
    }
  }, 90_000);
});
