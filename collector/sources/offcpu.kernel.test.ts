// Real kernel, as root: off-CPU time of a gcc-built program that sleeps in a known function.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { AttachVariant } from '../bpf/load-twins.js';
import { OffcpuSource } from './offcpu.js';
import type { RawStackSample, StackWindow } from './types.js';
import { isTracingFrame } from '../windows/window-profile.js';

const dir = mkdtempSync(join(tmpdir(), 'hp-offcpu-'));
const binary = join(dir, 'sleepy');
execFileSync('gcc', ['-O0', '-fno-omit-frame-pointer', '-o', binary, join(import.meta.dirname, 'test-support', 'sleepy.c')]);
/** [start, end) of sleepy_function in the file's virtual addresses (nm -S). */
const fnRange = (() => {
  const line = execFileSync('nm', ['-S', binary], { encoding: 'utf8' }).split('\n').find((l) => / T sleepy_function$/.test(l))!;
  const [addr, size] = line.split(' ').slice(0, 2).map((s) => BigInt(`0x${s}`));
  return { start: addr, end: addr + size };
})();

let collector: OffcpuSource | null = null;
afterEach(async () => {
  await collector?.close();
  collector = null;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Load bias of a PIE: the start of its mapping at file offset 0 (its first PT_LOAD has vaddr 0). */
function loadBias(pid: number): bigint {
  for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
    const f = line.split(/\s+/);
    if (f[5] === binary && BigInt(`0x${f[2]}`) === 0n) return BigInt(`0x${f[0].split('-')[0]}`);
  }
  throw new Error(`no mapping of ${binary} in /proc/${pid}/maps`);
}

async function sleepyRun(variant: AttachVariant, seconds: number, minBlockNs?: number) {
  const child = spawn(binary, [String(seconds)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await sleep(50); // let it exec and block on stdin
  const bias = loadBias(child.pid!);
  collector = OffcpuSource.start({ pids: [child.pid!], variant, minBlockNs });
  expect(collector.variant).toBe(variant);
  child.stdin.write('go\n');
  const windows: StackWindow[] = [];
  // Drain every 700 ms so naps straddle window flips (stacks must survive one flip).
  while (child.exitCode === null) {
    await Promise.race([sleep(700), exited]);
    windows.push(await collector.drain());
  }
  await exited;
  windows.push(await collector.drain());
  const sleptNs = Number.parseFloat(out) * 1e9;
  const samples = windows.flatMap((w) => w.samples);
  return { child, bias, windows, samples, sleptNs };
}

/** Name of the kernel function holding `addr`, from /proc/kallsyms (readable addresses as root). */
function kernelSymbol(addr: bigint): string | null {
  let best: { addr: bigint; name: string } | null = null;
  for (const line of readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
    const [hex, type, name] = line.split(' ');
    if (!name || !/^[tT]$/.test(type)) continue;
    const a = BigInt(`0x${hex}`);
    if (a <= addr && (!best || a > best.addr)) best = { addr: a, name };
  }
  return best?.name ?? null;
}

function inSleepy(s: RawStackSample, bias: bigint): boolean {
  return Array.from(s.userStack).some((a) => a >= bias + fnRange.start && a < bias + fnRange.end);
}

describe('OffcpuSource', () => {
  for (const [variant, seconds] of [['tp_btf', 3], ['raw_tp', 1.5]] as const) {
    it(`${variant}: attributes a sleeping program's off-CPU time to sleepy_function`, async () => {
      const { child, bias, windows, samples, sleptNs } = await sleepyRun(variant, seconds);
      expect(sleptNs).toBeGreaterThan(seconds * 1e9);
      expect(windows.length).toBeGreaterThanOrEqual(3);
      expect(samples.every((s) => s.pid === child.pid && s.comm === 'sleepy')).toBe(true);
      const total = samples.reduce((a, s) => a + (s.totalNs ?? 0), 0);
      const inFn = samples.filter((s) => inSleepy(s, bias)).reduce((a, s) => a + (s.totalNs ?? 0), 0);
      const naps = samples.filter((s) => inSleepy(s, bias)).reduce((a, s) => a + s.count, 0);
      console.log(`offcpu ${variant}: slept ${(sleptNs / 1e9).toFixed(3)} s, off-CPU ${(total / 1e9).toFixed(3)} s, ` +
        `${((100 * inFn) / total).toFixed(1)}% in sleepy_function over ${naps} blocks, ${windows.length} windows`);
      expect(Math.abs(total - sleptNs) / sleptNs).toBeLessThan(0.15);
      expect(inFn / total).toBeGreaterThan(0.8);
      // Each 10 ms nap blocks once.
      expect(naps).toBeGreaterThan(seconds * 50);
      // Kernel stacks start where the thread left the CPU (the program's own frames are skipped).
      const main = samples.filter((s) => inSleepy(s, bias)).sort((a, b) => (b.totalNs ?? 0) - (a.totalNs ?? 0))[0];
      // Frames of the tracing machinery beyond the fixed skip depend on how many programs share the
      // tracepoint (another agent may run); the profile builder trims them by name.
      let leaf: string | null = null;
      for (const addr of main.kernelStack) {
        leaf = kernelSymbol(addr);
        if (!isTracingFrame(leaf)) break;
      }
      expect(leaf).toBe('__schedule');
      expect(main.kernelStack.length).toBeGreaterThan(3);
      for (const w of windows) {
        expect(w.lost.offcpu_stack_expired).toBe(0);
        expect(w.lost.stack_not_found).toBe(0);
        expect(w.endNs).toBeGreaterThan(w.startNs);
      }
      const stats = collector!.programStats();
      expect(stats.map((s) => s.program)).toEqual(['offcpu_switch', 'offcpu_sys_exit', 'offcpu_free'].map((p) => `${p}_${variant === 'tp_btf' ? 'btf' : 'raw'}`));
      await Promise.all([collector!.close(), collector!.close()]);
      await expect(collector!.drain()).rejects.toThrow(/closed/);
    });
  }

  it('keeps the time and user stack, but not the kernel stack, of a block that spans two window flips', async () => {
    collector = OffcpuSource.start();
    const child = spawn('sleep', ['0.6'], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const windows: StackWindow[] = [];
    await sleep(150);
    windows.push(await collector.drain());
    await sleep(150);
    windows.push(await collector.drain());
    await exited;
    windows.push(await collector.drain());
    const mine = windows.flatMap((w) => w.samples).filter((s) => s.pid === child.pid && (s.totalNs ?? 0) > 400_000_000);
    expect(mine).toHaveLength(1);
    expect(mine[0].totalNs).toBeLessThan(700_000_000);
    // The user stack is walked when the block ends (at sys_exit), so it survives; the kernel stack taken when
    // it began was recycled with its window's map.
    expect(mine[0].userStack.length).toBeGreaterThan(0);
    expect(mine[0].kernelStack).toEqual([]);
    expect(windows[2].lost.offcpu_stack_expired).toBeGreaterThanOrEqual(1);
  });

  it('raw_tp: forgets exited threads, so 20k thread exits neither fill the start records nor untrack new threads', async () => {
    // Each thread blocks briefly and exits; its last switch-out records a start that no switch-in ends, which the
    // program deletes when the task is freed. Before, every exit left an entry: the 16k-entry hash was full after
    // 16k exits and every thread created after that was untracked.
    const churn = join(dir, 'churn');
    writeFileSync(`${churn}.c`, `#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
static void *brief(void *arg) { usleep(20); return arg; }
int main(int argc, char **argv) {
  int n = atoi(argv[1]);
  for (int i = 0; i < n; i += 16) {
    pthread_t t[16];
    for (int j = 0; j < 16; j++) pthread_create(&t[j], 0, brief, 0);
    for (int j = 0; j < 16; j++) pthread_join(t[j], 0);
  }
  return 0;
}
`);
    execFileSync('gcc', ['-O1', '-pthread', '-o', churn, `${churn}.c`]);
    collector = OffcpuSource.start({ variant: 'raw_tp' });
    expect(collector.variant).toBe('raw_tp');
    await sleep(200);
    const before = collector.startRecordCount()!;
    const exits = 20_000;
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => execFile(churn, [String(exits)], (err) => (err ? reject(err) : resolve())));
    const churnMs = performance.now() - t0;
    // Tasks are freed an RCU grace period after their last switch (lazy RCU may batch them for seconds).
    let after = collector.startRecordCount()!;
    for (let i = 0; i < 100 && after - before >= 1000; i++) {
      await sleep(100);
      after = collector.startRecordCount()!;
    }
    // The churn's window (20k threads may fill its counts map, counted as offcpu_counts_map_full) ends here.
    const churned = await collector.drain();
    // A process started after the churn is still tracked: its 300 ms sleep is one block.
    const sleeper = spawn('sleep', ['0.3'], { stdio: 'ignore' });
    await new Promise<void>((resolve) => sleeper.on('exit', () => resolve()));
    const w = await collector.drain();
    const slept = w.samples.filter((s) => s.pid === sleeper.pid && (s.totalNs ?? 0) > 250_000_000);
    console.log(`offcpu raw_tp: ${exits} thread exits in ${churnMs.toFixed(0)} ms; start records ${before} before, ${after} after; ` +
      `start_map_full ${churned.lost.offcpu_start_map_full}, counts_map_full ${churned.lost.offcpu_counts_map_full}`);
    expect(after - before).toBeLessThan(1000);
    expect(churned.lost.offcpu_start_map_full + w.lost.offcpu_start_map_full).toBe(0);
    expect(slept).toHaveLength(1);
  });

  it('drops blocks shorter than minBlockNs', async () => {
    // The naps last ~10 ms: all are kept above a 5 ms minimum, none above 50 ms. About 95 naps in 1 s (a
    // loaded machine stretches them: 37 of the ~50 of 0.5 s once).
    const kept = await sleepyRun('tp_btf', 1, 5_000_000);
    await collector!.close();
    const dropped = await sleepyRun('tp_btf', 0.5, 50_000_000);
    expect(kept.samples.reduce((a, s) => a + s.count, 0)).toBeGreaterThan(60);
    expect(kept.samples.every((s) => (s.totalNs ?? 0) / s.count >= 5_000_000)).toBe(true);
    expect(dropped.samples).toEqual([]);
  });
});
