import { describe, expect, test } from 'vitest';
import type { ProfileData, ProfileSample } from '../../exporters/pprof/types.js';
import { storedWindowBytes, WindowStore } from './window-store.js';

const S = 1_000_000_000n;
const T = 1_767_366_240n * S;

/** A window [startNs, startNs + durationNs) holding `samples` samples of `frames` frames each. */
function win(startNs: bigint, durationNs = 10n * S, samples = 1, frames = 3): ProfileData {
  const sample = (): ProfileSample => ({
    frames: Array.from({ length: frames }, (_, i) => ({ address: BigInt(0x1000 + i), kind: 'native' })),
    values: [1],
  });
  return {
    sampleTypes: [{ type: 'samples', unit: 'count' }],
    periodType: { type: 'cpu', unit: 'nanoseconds' },
    period: 10_101_010,
    timeNanos: startNs,
    durationNanos: durationNs,
    samples: Array.from({ length: samples }, sample),
  };
}

/** One window of one sample in the store: its arrays (200 + 16 + 8) plus its stack, frames and label set. */
const ONE_SAMPLE_BYTES = (() => {
  const store = new WindowStore({ retentionNs: 1n << 62n, maxBytes: Number.MAX_SAFE_INTEGER });
  store.add(win(T), T + 10n * S);
  return store.size.bytes;
})();
/** Another window with the same stacks and labels adds only its arrays. */
const MORE_BYTES = storedWindowBytes(1, 1);

const starts = (ws: { startNs: bigint }[]): bigint[] => ws.map((w) => w.startNs);

describe('the catalog under the store', () => {
  test('a window repeating known stacks adds only its arrays; JIT frames made anew are found by value', () => {
    const store = new WindowStore({ retentionNs: 1n << 62n, maxBytes: Number.MAX_SAFE_INTEGER });
    const jitWindow = (start: bigint): ProfileData => {
      const data = win(start, S, 0);
      // Fresh objects each window, as the symbolizer makes JIT and unknown frames.
      const jit = { address: 0x7f00n, functionName: 'JS:hot', kind: 'jit' };
      const unknown = { address: 0x7f08n, kind: 'unknown' };
      data.samples = [
        { frames: [jit, unknown], values: [1], numLabels: { pid: 1, tid: 1 }, strLabels: { comm: 'node' } },
        { frames: [jit, unknown, { address: 1n, kind: 'native' }], values: [2], numLabels: { pid: 1, tid: 2 }, strLabels: { comm: 'node' } },
      ];
      return data;
    };
    store.add(jitWindow(T), T + S);
    const first = store.catalog.stats;
    expect(first).toMatchObject({ frames: 3, stacks: 2, labelSets: 2 });
    store.add(jitWindow(T + S), T + 2n * S);
    expect(store.catalog.stats).toEqual(first);
    expect(store.size.bytes).toBe(first.bytes + 2 * storedWindowBytes(2, 1));
    // The samples come back as they went in, with frames equal by value.
    const [w] = store.overlapping(T, T + S);
    expect(store.toProfileData(w)).toEqual(jitWindow(T));
  });

  test('frames at one address with different names stay apart; objects made anew each window keep one entry', () => {
    const store = new WindowStore({ retentionNs: 3n * S, maxBytes: Number.MAX_SAFE_INTEGER });
    const mapping = { file: "/usr/bin/interp", start: 0x1000n, limit: 0x9000n, offset: 0n, buildId: "", hasFunctions: true };
    const at = (start: bigint, name: string, line = 0): ProfileData => {
      const data = win(start, S, 0);
      // A file's frame cache that started over: a new object for the same frame every window.
      // Every other window brings its own equal mapping object too, as windows decoded from pprof files do.
      const m = start % (2n * S) === 0n ? mapping : { ...mapping };
      data.samples = [{ frames: [{ address: 0x1234n, functionName: name, kind: 'native', mapping: m, line }, { address: 0x1234n, kind: 'unknown' }], values: [1] }];
      return data;
    };
    for (let i = 0n; i < 3n; i++) store.add(at(T + i * S, 'eval'), T + (i + 1n) * S);
    expect(store.catalog.stats).toMatchObject({ frames: 2, stacks: 1 });
    store.add(at(T + 3n * S, 'eval', 7), T + 4n * S); // another line: another frame
    store.add(at(T + 4n * S, 'other'), T + 5n * S); // another name at the same address
    expect(store.catalog.stats).toMatchObject({ frames: 4, stacks: 3 });
    const names = store.overlapping(T + 3n * S, T + 5n * S).map((w) => store.toProfileData(w).samples[0].frames[0]);
    expect(names.map((f) => [f.functionName, f.line])).toEqual([['eval', 7], ['other', 0]]);
    store.expire(T + 100n * S);
    expect(store.catalog.stats).toEqual({ frames: 0, stacks: 0, labelSets: 0, bytes: 0 });
    // Freed entries leave nothing behind: the same frames come back as new entries.
    store.add(at(T + 100n * S, 'eval'), T + 101n * S);
    expect(store.catalog.stats).toMatchObject({ frames: 2, stacks: 1 });
  });

  test('entries go with the last window that used them', () => {
    const store = new WindowStore({ retentionNs: 15n * S, maxBytes: Number.MAX_SAFE_INTEGER });
    store.add(win(T, 10n * S, 1, 3), T + 10n * S);
    const firstOnly = store.catalog.stats.bytes;
    const other = win(T + 10n * S, 10n * S, 1, 5);
    other.samples[0].frames[4] = { address: 0x9999n, kind: 'native' };
    store.add(other, T + 20n * S);
    expect(store.catalog.stats).toMatchObject({ stacks: 2, frames: 5 }); // 0x1000-0x1003 and 0x9999
    store.expire(T + 26n * S); // the first window ended 16 s ago
    expect(store.size.windows).toBe(1);
    expect(store.catalog.stats).toMatchObject({ stacks: 1, frames: 5, labelSets: 1 });
    expect(store.catalog.stats.bytes).toBeLessThan(2 * firstOnly);
    store.expire(T + 36n * S);
    expect(store.catalog.stats).toEqual({ frames: 0, stacks: 0, labelSets: 0, bytes: 0 });
    expect(store.size.bytes).toBe(0);
  });
});

describe('WindowStore', () => {
  const roomy = { retentionNs: 3600n * S, maxBytes: 1 << 30 };

  test('an empty store holds nothing', () => {
    const store = new WindowStore(roomy);
    expect(store.size).toEqual({ windows: 0, bytes: 0 });
    expect(store.oldestStartNs).toBeUndefined();
    expect(store.overlapping(0n, T * 2n)).toEqual([]);
    expect(store.within(0n, T * 2n)).toEqual([]);
    expect(store.dropped).toEqual({ retention: 0, memory: 0 });
    store.expire(T);
    expect(store.size).toEqual({ windows: 0, bytes: 0 });
  });

  test('add keeps the profile with its half-open time range and estimated size', () => {
    const store = new WindowStore(roomy);
    const data = win(T, 10n * S);
    store.add(data, T + 10n * S);
    const [w] = store.overlapping(T, T + 10n * S);
    expect(w.startNs).toBe(T);
    expect(w.endNs).toBe(T + 10n * S);
    expect(store.toProfileData(w)).toEqual(data);
    expect(w.bytes).toBe(MORE_BYTES);
    expect(store.size).toEqual({ windows: 1, bytes: ONE_SAMPLE_BYTES });
    expect(store.oldestStartNs).toBe(T);
  });

  describe('queries at window boundaries', () => {
    // [T, T+10s) and [T+10s, T+20s)
    const store = new WindowStore(roomy);
    store.add(win(T), T + 10n * S);
    store.add(win(T + 10n * S), T + 20n * S);

    test.each([
      ['both', T, T + 20n * S, [T, T + 10n * S]],
      ['the first only', T, T + 10n * S, [T]],
      ['the first, up to its last nanosecond', T + 10n * S - 1n, T + 10n * S, [T]],
      ['the second from the shared edge', T + 10n * S, T + 20n * S, [T + 10n * S]],
      ['both across the shared edge', T + 10n * S - 1n, T + 10n * S + 1n, [T, T + 10n * S]],
      ['none before (to equals the first start)', T - 10n * S, T, []],
      ['the first from one nanosecond in', T - 10n * S, T + 1n, [T]],
      ['none after (from equals the last end)', T + 20n * S, T + 30n * S, []],
      ['both from a range around them', 0n, T * 2n, [T, T + 10n * S]],
    ])('overlapping gives %s', (_what, from, to, expected) => {
      expect(starts(store.overlapping(from, to))).toEqual(expected);
    });

    test.each([
      ['both', T, T + 20n * S, [T, T + 10n * S]],
      ['the first, ending exactly at to', T, T + 10n * S, [T]],
      ['the first but not the second ending one nanosecond late', T, T + 20n * S - 1n, [T]],
      ['the second but not the first starting one nanosecond early', T + 1n, T + 20n * S, [T + 10n * S]],
      ['none when the range is inside one window', T + 1n, T + 10n * S - 1n, []],
      ['none before', T - 10n * S, T, []],
    ])('within gives %s', (_what, from, to, expected) => {
      expect(starts(store.within(from, to))).toEqual(expected);
    });
  });

  test('retention drops a window once its end is older than now - retention, counted as a retention drop', () => {
    const store = new WindowStore({ retentionNs: 60n * S, maxBytes: 1 << 30 });
    store.add(win(T), T + 10n * S); // ends at T+10s
    store.add(win(T + 10n * S), T + 20n * S); // ends at T+20s
    store.expire(T + 70n * S); // the first ended exactly retention ago: kept
    expect(starts(store.overlapping(0n, T * 2n))).toEqual([T, T + 10n * S]);
    store.expire(T + 70n * S + 1n);
    expect(starts(store.overlapping(0n, T * 2n))).toEqual([T + 10n * S]);
    expect(store.oldestStartNs).toBe(T + 10n * S);
    expect(store.size).toEqual({ windows: 1, bytes: ONE_SAMPLE_BYTES });
    expect(store.dropped).toEqual({ retention: 1, memory: 0 });
  });

  test('add expires as well, down to an empty store', () => {
    const store = new WindowStore({ retentionNs: 60n * S, maxBytes: 1 << 30 });
    store.add(win(T), T + 10n * S);
    store.add(win(T + 10n * S), T + 20n * S);
    store.add(win(T + 200n * S), T + 210n * S); // both earlier windows ended more than 60 s before
    expect(starts(store.overlapping(0n, T * 2n))).toEqual([T + 200n * S]);
    expect(store.size).toEqual({ windows: 1, bytes: ONE_SAMPLE_BYTES });
    // A window added after its own retention ran out is dropped at once.
    store.add(win(T + 300n * S), T + 400n * S);
    expect(store.size).toEqual({ windows: 0, bytes: 0 });
    expect(store.oldestStartNs).toBeUndefined();
    expect(store.dropped).toEqual({ retention: 4, memory: 0 }); // the two, then the third, then the last itself
  });

  test('the memory bound drops the oldest windows first and counts them', () => {
    // Windows of one and the same sample: the first brings the catalog's entries, the others their arrays only.
    const three = ONE_SAMPLE_BYTES + 2 * MORE_BYTES;
    const store = new WindowStore({ retentionNs: 3600n * S, maxBytes: three });
    for (let i = 0n; i < 3n; i++) store.add(win(T + i * 10n * S), T + (i + 1n) * 10n * S);
    expect(store.size).toEqual({ windows: 3, bytes: three }); // exactly at the bound: kept
    expect(store.dropped.memory).toBe(0);

    store.add(win(T + 30n * S), T + 40n * S);
    expect(store.size).toEqual({ windows: 3, bytes: three });
    expect(store.dropped.memory).toBe(1);
    expect(store.oldestStartNs).toBe(T + 10n * S);

    // A larger window (more samples, the same stack) pushes out as many of the oldest as it takes.
    const big = win(T + 40n * S, 10n * S, 5);
    store.add(big, T + 50n * S);
    expect(starts(store.overlapping(0n, T * 2n))).toEqual([T + 30n * S, T + 40n * S]);
    expect(store.size).toEqual({ windows: 2, bytes: ONE_SAMPLE_BYTES + storedWindowBytes(5, 1) });
    expect(store.dropped.memory).toBe(3);
  });

  test('the newest window is kept even when it alone is over the memory bound', () => {
    const store = new WindowStore({ retentionNs: 3600n * S, maxBytes: 1000 });
    store.add(win(T), T + 10n * S);
    const huge = win(T + 10n * S, 10n * S, 10);
    store.add(huge, T + 20n * S);
    expect(store.size).toEqual({ windows: 1, bytes: ONE_SAMPLE_BYTES - MORE_BYTES + storedWindowBytes(10, 1) });
    expect(store.overlapping(0n, T * 2n).map((w) => store.toProfileData(w))).toEqual([huge]);
    expect(store.dropped.memory).toBe(1);
  });

  test('retention drops come before memory drops, each counted under its reason', () => {
    const store = new WindowStore({ retentionNs: 60n * S, maxBytes: ONE_SAMPLE_BYTES + MORE_BYTES });
    store.add(win(T), T + 10n * S);
    store.add(win(T + 10n * S), T + 20n * S);
    store.add(win(T + 65n * S), T + 75n * S); // the first expired (ended at T+10s < T+15s); no memory drop
    expect(starts(store.overlapping(0n, T * 2n))).toEqual([T + 10n * S, T + 65n * S]);
    expect(store.dropped.memory).toBe(0);
    store.add(win(T + 75n * S), T + 79n * S); // nothing expired (T+20s >= T+19s): the oldest goes for memory
    expect(starts(store.overlapping(0n, T * 2n))).toEqual([T + 65n * S, T + 75n * S]);
    expect(store.dropped).toEqual({ retention: 1, memory: 1 });
  });

  test('drops by memory keep the estimated bytes within the bound and count every window dropped', () => {
    const maxBytes = 20_000;
    const store = new WindowStore({ retentionNs: 3600n * S, maxBytes });
    expect(store.maxBytes).toBe(maxBytes);
    let added = 0;
    for (let i = 0n; i < 100n; i++) {
      store.add(win(T + i * 10n * S, 10n * S, 1 + Number(i % 7n), Number(i % 40n)), T + (i + 1n) * 10n * S);
      added++;
      expect(store.size.bytes).toBeLessThanOrEqual(maxBytes);
    }
    expect(store.dropped.retention).toBe(0);
    expect(store.dropped.memory + store.size.windows).toBe(added);
    expect(store.dropped.memory).toBeGreaterThan(50);
    // The newest windows are the ones kept, in order.
    const kept = starts(store.overlapping(0n, T * 2n));
    expect(kept[kept.length - 1]).toBe(T + 990n * S);
    expect(kept).toEqual([...kept].sort((a, b) => (a < b ? -1 : 1)));
  });
});
