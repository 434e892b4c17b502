// The UI's direct fold against the pprof path on windows drained from the kernel and symbolized as the agent does
// (system-wide: kernel frames, a frame-pointer C workload, node's JIT frames by its perf map, whatever else runs
// and its unsymbolized frames): the folded stacks are the same, for the whole selection and under a pid filter.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { CpuSource } from '../sources/cpu.js';
import { Symbolizer } from '../symbolize/index.js';
import type { ProfileSelection } from '../agent/agent.js';
import { compileWorkload, requireRoot, startProcess, tempDir } from '../test-support/kernel.js';
import { foldDirect, foldViaPprof } from '../test-support/fold-paths.js';
import { buildWindowProfile, sampleTypesOf } from './window-profile.js';
import { WindowStore } from './window-store.js';

const HZ = 499;

const workload = `
#include <stdint.h>
volatile uint64_t sink;
__attribute__((noinline)) void fold_leaf_a(void) { for (int i = 0; i < 200000; i++) sink += i * 3; }
__attribute__((noinline)) void fold_leaf_b(void) { for (int i = 0; i < 300000; i++) sink += i * 5; }
__attribute__((noinline)) void fold_mid(int n) { if (n & 1) fold_leaf_a(); else fold_leaf_b(); }
int main(void) { for (int n = 0;; n++) fold_mid(n); }
`;

const jsLoad = `const f = [];
for (let i = 0; i < 16; i++) f.push(new Function('n', 'let s = 0; for (let j = 0; j < n; j++) s += Math.sqrt(j * ' + i + '); return s;'));
for (;;) for (const g of f) g(5000);`;

describe('the direct fold on kernel windows (kernel)', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
  });

  it('gives the folded stacks of the pprof path, whole and by pid', async () => {
    requireRoot();
    const dir = tempDir('hotpath-fold-');
    const c = startProcess(compileWorkload(dir, 'foldwork', workload));
    children.push(c);
    children.push(spawn(process.execPath, ['--perf-basic-prof', '-e', jsLoad], { stdio: 'ignore' }));
    const source = CpuSource.start({ hz: HZ });
    const symbolizer = new Symbolizer();
    const store = new WindowStore({ retentionNs: 1n << 62n, maxBytes: Number.MAX_SAFE_INTEGER });
    try {
      await source.drain();
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        const w = await source.drain();
        store.add(buildWindowProfile(w.samples, symbolizer, { kind: 'cpu', hz: HZ, startNs: w.startNs, endNs: w.endNs }), w.endNs);
      }
    } finally {
      await source.close();
    }
    const windows = store.overlapping(0n, 1n << 62n);
    expect(windows.length).toBe(3);
    const select = (pids: number[]): ProfileSelection => ({ kind: 'cpu', header: sampleTypesOf('cpu', HZ), fromNs: 0n, toNs: 1n << 62n, pids, windows, catalog: store.catalog });

    for (const pids of [[], [c.pid!]]) {
      for (const processRoot of [true, false]) {
        const want = foldViaPprof(select(pids), processRoot);
        const got = foldDirect(select(pids), processRoot);
        expect(got.sampleType).toEqual({ type: want.render.sampleType, unit: want.render.unit });
        expect(got.stacks.length).toBe(want.stacks.length);
        expect(got.stacks).toEqual(want.stacks);
      }
    }
    // Not vacuous: the windows hold the workload's functions, kernel and JIT frames, and many stacks.
    const all = foldDirect(select([]), true).stacks;
    const frames = all.flatMap((s) => s.frames);
    expect(frames.some((f) => f.name === 'fold_leaf_a')).toBe(true);
    expect(frames.some((f) => f.kind === 'kernel')).toBe(true);
    expect(frames.some((f) => f.kind === 'jit')).toBe(true);
    expect(all.length).toBeGreaterThan(20);
    const mine = foldDirect(select([c.pid!]), true).stacks;
    expect(mine.every((s) => s.frames[0].name === `foldwork-${c.pid}`)).toBe(true);
  }, 60_000);
});
