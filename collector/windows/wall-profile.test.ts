// The wall profile's assembly from drained CPU and off-CPU (wall mode) windows: states, the split of blocks
// into their blocked and run-queue parts, and a thread's measured running time shared among its samples.
import { describe, expect, it } from 'vitest';
import type { ProfileFrame } from '../../exporters/pprof/types.js';
import type { RawStackSample, StackWindow } from '../sources/index.js';
import type { Symbolizer } from '../symbolize/index.js';
import { buildWallWindowProfile, buildWindowProfile, isLockWait, sampleTypesOf, wallParts } from './window-profile.js';

const kernelNames = new Map<bigint, string>([
  [0x1000n, '__schedule'],
  [0x2000n, 'futex_wait_queue'],
  [0x3000n, 'do_nanosleep'],
  [0x4000n, 'io_schedule'],
]);

/** Kernel addresses named from the table above (the builder asks for call sites: return addresses less one). */
const symbolizer = {
  beginDrain() {},
  endDrain() {},
  processMetadata: () => undefined,
  symbolizeKernel: (addrs: readonly bigint[]): ProfileFrame[] =>
    addrs.map((a) => ({ address: a, functionName: kernelNames.get(a), kind: 'kernel' })),
  cachedUserStack: () => undefined,
  symbolizeUser: (_pid: number, addrs: readonly bigint[]): ProfileFrame[] => addrs.map((a) => ({ address: a, functionName: `user_${a.toString(16)}`, kind: 'native' })),
} as unknown as Symbolizer;

const frames = (...names: string[]): ProfileFrame[] => names.map((n, i) => ({ address: BigInt(i), functionName: n, kind: 'kernel' }));

function window(samples: RawStackSample[], startNs = 1_000_000_000n, endNs = 2_000_000_000n): StackWindow {
  return { startNs, endNs, samples, lost: {}, stacksRead: 0 };
}

const cpuSample = (tid: number, count: number, cpuNs: number, user: bigint[]): RawStackSample => ({
  pid: 10, tid, comm: 'app', kernelStack: [], userStack: user, count, cpuNs,
});
const block = (tid: number, s: Partial<RawStackSample>): RawStackSample => ({
  pid: 10, tid, comm: 'app', kernelStack: [0x1000n, 0x3001n], userStack: [0xa0n], count: 1, totalNs: 0, runnableNs: 0, oncpuNs: 0, state: 'sleeping', ...s,
});

describe('wall profile', () => {
  it('tells lock waits by their kernel frames', () => {
    expect(isLockWait(frames('__schedule', 'futex_wait_queue', '__futex_wait'))).toBe(true);
    expect(isLockWait(frames('__schedule', 'schedule_preempt_disabled', '__mutex_lock'))).toBe(true);
    expect(isLockWait(frames('__schedule', 'rwsem_down_read_slowpath'))).toBe(true);
    expect(isLockWait(frames('__schedule', 'do_nanosleep', 'hrtimer_nanosleep'))).toBe(false);
    expect(isLockWait([{ address: 1n, kind: 'kernel' }])).toBe(false);
  });

  it('splits a block into its blocked part, under its state, and its run-queue part', () => {
    const sleeping = frames('__schedule', 'do_nanosleep');
    expect(wallParts(block(1, { totalNs: 100, runnableNs: 30, state: 'sleeping' }), sleeping, 0)).toEqual([
      { state: 'sleeping', values: [70, 0, 70] },
      { state: 'runnable', values: [30, 0, 30] },
    ]);
    expect(wallParts(block(1, { totalNs: 100, runnableNs: 0, state: 'io' }), sleeping, 0)).toEqual([{ state: 'io', values: [100, 0, 100] }]);
    expect(wallParts(block(1, { totalNs: 100, runnableNs: 0, state: 'sleeping' }), frames('__schedule', 'futex_wait_queue'), 0)).toEqual([
      { state: 'lock', values: [100, 0, 100] },
    ]);
    // Preempted: all of it waits for a CPU (the kernel says runnable = total); more than total is clamped.
    expect(wallParts(block(1, { totalNs: 100, runnableNs: 100, state: 'runnable' }), sleeping, 0)).toEqual([{ state: 'runnable', values: [100, 0, 100] }]);
    expect(wallParts(block(1, { totalNs: 100, runnableNs: 150, state: 'sleeping' }), sleeping, 0)).toEqual([{ state: 'runnable', values: [100, 0, 100] }]);
    expect(wallParts(cpuSample(1, 2, 0, []), [], 12.4)).toEqual([{ state: 'running', values: [12, 12, 0] }]);
  });

  it('shares a thread\'s measured running time among its samples by count, and keeps running time without a sample', () => {
    const cpu = window([cpuSample(1, 3, 30e6, [0xb0n]), cpuSample(1, 1, 2e6, [0xc0n])]);
    const off = window([
      // Thread 1: 10 ms of CPU carried at its switch-out, a 50 ms nap of which 4 ms waited for a CPU.
      block(1, { totalNs: 50e6, runnableNs: 4e6, oncpuNs: 10e6 }),
      // A short block (below --min-block): the wall profile counts it.
      block(1, { kernelStack: [0x1000n], userStack: [], totalNs: 1000, belowMinBlock: true, state: 'runnable', runnableNs: 1000 }),
      // Thread 2: never sampled; 5 ms of CPU carried at switch-outs, 20 ms waiting on a futex.
      block(2, { kernelStack: [0x1000n, 0x2001n], totalNs: 20e6, oncpuNs: 5e6 }),
    ]);
    const p = buildWallWindowProfile(cpu, off, symbolizer, { hz: 100 });
    expect(p.sampleTypes.map((t) => t.type)).toEqual(['wall', 'cpu', 'offcpu']);
    expect(p.defaultSampleType).toBe('wall');
    expect(p.timeNanos).toBe(1_000_000_000n);
    expect(p.durationNanos).toBe(1_000_000_000n);
    const rows = p.samples.map((s) => [s.numLabels?.tid, s.strLabels?.state, s.frames.map((f) => f.functionName).join(';'), s.values]);
    expect(rows).toEqual([
      // 30 + 2 + 10 ms of thread 1's CPU time, 3:1 by samples.
      [1, 'running', 'user_b0', [31.5e6, 31.5e6, 0]],
      [1, 'running', 'user_c0', [10.5e6, 10.5e6, 0]],
      [1, 'sleeping', '__schedule;do_nanosleep;user_a0', [46e6, 0, 46e6]],
      [1, 'runnable', '__schedule;do_nanosleep;user_a0', [4e6, 0, 4e6]],
      [1, 'runnable', '__schedule', [1000, 0, 1000]],
      [2, 'lock', '__schedule;futex_wait_queue;user_a0', [20e6, 0, 20e6]],
      [2, 'running', '', [5e6, 5e6, 0]],
    ]);
    expect(p.samples.every((s) => s.strLabels?.comm === 'app' && s.numLabels?.pid === 10)).toBe(true);
  });

  it('leaves blocks below --min-block out of the off-CPU profile', () => {
    const p = buildWindowProfile(
      [block(1, { totalNs: 5000 }), block(1, { totalNs: 100, belowMinBlock: true })],
      symbolizer,
      { kind: 'offcpu', startNs: 0n, endNs: 1n },
    );
    expect(p.samples.map((s) => s.values)).toEqual([[1, 5000]]);
    expect(p.samples[0].strLabels?.state).toBeUndefined();
  });

  it('names wall the default sample type and keeps the others as they were', () => {
    expect(sampleTypesOf('wall')).toMatchObject({ periodType: { type: 'wall', unit: 'nanoseconds' }, period: 1, defaultSampleType: 'wall' });
    expect(sampleTypesOf('cpu', 100)).toEqual({
      sampleTypes: [{ type: 'samples', unit: 'count' }, { type: 'cpu', unit: 'nanoseconds' }], periodType: { type: 'cpu', unit: 'nanoseconds' }, period: 10_000_000,
    });
  });
});
