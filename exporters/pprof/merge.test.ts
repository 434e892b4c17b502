import { describe, expect, test } from 'vitest';
import { filterByPid, mergeProfileData, mergeProfileDataWithStats } from './merge.js';
import { buildPprofWithStats } from './encode-pprof.js';
import type { ProfileData, ProfileFrame, ProfileMapping, ProfileSample } from './types.js';
import { appStack, fixture, PERIOD } from './test-support/fixture.js';

function windowAt(i: number, samples: ProfileSample[]): ProfileData {
  return { ...fixture(), timeNanos: 1_000_000_000_000n + BigInt(i) * 10_000_000_000n, samples };
}

describe('mergeProfileData', () => {
  test('sums equal frames + labels across windows built from separate frame objects', () => {
    const a = fixture();
    const b = { ...fixture(), timeNanos: a.timeNanos + 10_000_000_000n };
    const c = { ...fixture(), timeNanos: a.timeNanos - 5_000_000_000n, durationNanos: 1_000_000_000n };
    const before = JSON.stringify(a, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
    const merged = mergeProfileData([a, b, c]);
    expect(JSON.stringify(a, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).toBe(before); // inputs untouched

    expect(merged.timeNanos).toBe(a.timeNanos - 5_000_000_000n);
    expect(merged.durationNanos).toBe(25_000_000_000n); // from c's start to b's end
    expect(merged.period).toBe(PERIOD);
    expect(merged.comments).toEqual(['hotpath test profile']);
    // The fixture's two identical app samples merge too: 3 distinct samples, 3x the values.
    expect(merged.samples.map((s) => s.values)).toEqual([
      [15, 15 * PERIOD],
      [12, 12 * PERIOD],
      [21, 21 * PERIOD],
    ]);
    expect(merged.samples[0].frames.map((f) => f.functionName)).toEqual(appStack().map((f) => f.functionName));
  });

  test('keeps samples apart when labels, frame names or mappings differ', () => {
    const s = (frames: ProfileFrame[], pid: number): ProfileSample => ({ frames, values: [1, PERIOD], numLabels: { pid, tid: pid }, strLabels: { comm: 'x' } });
    const other: ProfileMapping = { file: '/lib/other.so', buildId: '', start: 0n, limit: 1n, offset: 0n, hasFunctions: false };
    const merged = mergeProfileData([
      windowAt(0, [s(appStack(), 1), s(appStack(), 2)]),
      windowAt(1, [s([{ ...appStack()[0], functionName: 'renamed' }], 1), s([{ address: 0x2a1b0n, kind: 'native', mapping: other }], 1)]),
      windowAt(2, [s([appStack()[2]], 1), s(appStack(), 1)]),
    ]);
    expect(merged.samples.map((x) => x.values[0])).toEqual([2, 1, 1, 1, 1]);
  });

  test('skips windows of other sample types and counts bad samples', () => {
    const off = { ...fixture(), sampleTypes: [{ type: 'offcpu', unit: 'nanoseconds' }] };
    const bad = windowAt(1, [{ frames: [], values: [1] }]);
    const { data, stats } = mergeProfileDataWithStats([fixture(), off, bad]);
    expect(stats).toEqual({ partsSkipped: 1, samplesDropped: 1 });
    expect(data.samples.map((s) => s.values[0])).toEqual([5, 4, 7]);
    expect(mergeProfileData([]).samples).toEqual([]);
  });

  test('merges an hour of 10 s windows (360 x 2,000 samples) quickly', () => {
    const kinds = ['native', 'kernel', 'jit'] as const;
    const maps: ProfileMapping[] = Array.from({ length: 20 }, (_, i) => ({
      file: `/usr/lib/lib${i}.so`, buildId: `b${i}`, start: 0n, limit: 1n << 32n, offset: 0n, hasFunctions: true,
    }));
    // Every window builds its own frame objects, as a collector without a cross-window cache would.
    const windows: ProfileData[] = [];
    let seed = 42;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    for (let w = 0; w < 360; w++) {
      const frames: ProfileFrame[] = Array.from({ length: 600 }, (_, i) => ({
        address: 0x1000n + BigInt(i) * 16n, functionName: `fn_${i}`, kind: kinds[i % 3], mapping: maps[i % 20],
      }));
      const samples: ProfileSample[] = [];
      for (let i = 0; i < 2000; i++) {
        const stackId = rnd(3000); // 3,000 distinct stacks, 20 frames deep
        const stack = Array.from({ length: 20 }, (_, d) => frames[(stackId * 7 + d * (13 + (stackId >> 4))) % 600]);
        const pid = 1000 + (stackId % 50);
        samples.push({ frames: stack, values: [1, PERIOD], numLabels: { pid, tid: pid }, strLabels: { comm: `p${pid % 50}` } });
      }
      windows.push(windowAt(w, samples));
    }
    const t0 = performance.now();
    const merged = mergeProfileData(windows);
    const mergeMs = performance.now() - t0;
    const t1 = performance.now();
    const { stats } = buildPprofWithStats(merged);
    const buildMs = performance.now() - t1;
    console.log(`merge 360 x 2000 samples: ${mergeMs.toFixed(0)} ms -> ${merged.samples.length} samples; buildPprof: ${buildMs.toFixed(0)} ms`);
    expect(merged.samples.reduce((n, s) => n + s.values[0], 0)).toBe(720_000);
    expect(merged.samples.length).toBeGreaterThan(2900);
    expect(merged.samples.length).toBeLessThanOrEqual(3000);
    expect(merged.durationNanos).toBe(3600_000_000_000n);
    expect(stats.locations).toBe(600);
    expect(mergeMs).toBeLessThan(10_000);
  });
});

describe('filterByPid', () => {
  test('keeps only the given processes; an empty list keeps all', () => {
    const data = fixture();
    expect(filterByPid(data, [200]).samples.map((s) => s.strLabels?.comm)).toEqual(['worker; v2']);
    expect(filterByPid(data, [100, 999]).samples).toHaveLength(3);
    expect(filterByPid(data, [999]).samples).toEqual([]);
    expect(filterByPid(data, [])).toBe(data);
    expect(filterByPid({ ...data, samples: [{ frames: [], values: [1, 1] }] }, [100]).samples).toEqual([]);
  });
});
