import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { COLLECT_AFTER_GROWTH_BYTES, DEFAULT_MEMORY_LIMIT_BYTES, MemoryPressure, MIN_HISTORY_SHARE, MIN_MEMORY_LIMIT_BYTES, RUNTIME_RESERVE_BYTES, splitMemoryBudget } from './memory-budget.js';

const MiB = 1024 * 1024;

describe('splitMemoryBudget', () => {
  it('splits the default 192M: 128M for the runtime, 32M of history shared by the profiles, 32M of symbol caches', () => {
    expect(DEFAULT_MEMORY_LIMIT_BYTES).toBe(192 * MiB);
    expect(RUNTIME_RESERVE_BYTES).toBe(128 * MiB);
    expect(splitMemoryBudget(DEFAULT_MEMORY_LIMIT_BYTES, { profiles: 2 })).toEqual({
      limitBytes: 192 * MiB,
      runtimeBytes: 128 * MiB,
      historyBytes: 32 * MiB,
      historyBytesPerProfile: 16 * MiB,
      symbolCacheBytes: 32 * MiB,
      historyOverridden: false,
    });
    // One profile type gets the whole history part; none (latency programs only) is taken as one.
    expect(splitMemoryBudget(DEFAULT_MEMORY_LIMIT_BYTES, { profiles: 1 }).historyBytesPerProfile).toBe(32 * MiB);
    expect(splitMemoryBudget(DEFAULT_MEMORY_LIMIT_BYTES, { profiles: 0 }).historyBytesPerProfile).toBe(32 * MiB);
  });

  it('never hands out more than the limit', () => {
    for (const limit of [MIN_MEMORY_LIMIT_BYTES, 192 * MiB, 1000 * MiB + 7, 64 * 1024 * MiB]) {
      for (const profiles of [1, 2]) {
        const b = splitMemoryBudget(limit, { profiles });
        expect(b.runtimeBytes + b.historyBytes + b.symbolCacheBytes).toBeLessThanOrEqual(limit);
        expect(b.historyBytes).toBeGreaterThan(0);
        expect(b.symbolCacheBytes).toBeGreaterThan(0);
      }
    }
  });

  it('--retention-memory overrides each profile type\'s history part, and leaves the symbol caches theirs', () => {
    const b = splitMemoryBudget(192 * MiB, { profiles: 2, retentionMemoryBytes: 256 * MiB });
    expect(b.historyBytesPerProfile).toBe(256 * MiB);
    expect(b.historyBytes).toBe(512 * MiB);
    expect(b.symbolCacheBytes).toBe(32 * MiB);
    expect(b.historyOverridden).toBe(true);
  });

  it('refuses a limit too small to split', () => {
    expect(() => splitMemoryBudget(MIN_MEMORY_LIMIT_BYTES - 1, { profiles: 2 })).toThrow(
      expect.objectContaining({ code: ErrorCodes.USAGE, message: expect.stringMatching(/--memory-limit.*at least 160M/) }),
    );
  });
});

describe('MemoryPressure', () => {

  const budget = { limitBytes: 192 * MiB, historyBytes: 32 * MiB };
  function harness() {
    const h = { rss: 100 * MiB, heap: 40 * MiB, history: [] as number[], gcs: 0 };
    const pressure = new MemoryPressure(budget, {
      residentBytes: () => h.rss,
      heapUsedBytes: () => h.heap,
      collectGarbage: () => {
        h.gcs++;
        h.heap = 40 * MiB;
      },
      setHistoryBytes: (b) => h.history.push(b),
    });
    return { h, pressure };
  }

  it('does nothing while the resident total is well under the limit', () => {
    const { h, pressure } = harness();
    h.heap = 150 * MiB;
    for (let i = 0; i < 10; i++) pressure.afterWindow();
    expect(h.gcs).toBe(0);
    expect(h.history).toEqual([]);
    expect(pressure.historyBudgetBytes).toBe(32 * MiB);
  });

  it('collects a grown heap near the limit, not again until it grew again', () => {
    const { h, pressure } = harness();
    h.rss = 170 * MiB; // above 85% of 192
    h.heap = 90 * MiB;
    pressure.afterWindow();
    expect(h.gcs).toBe(1);
    pressure.afterWindow(); // the heap is back at 40: nothing to give back
    expect(h.gcs).toBe(1);
    h.heap = 40 * MiB + COLLECT_AFTER_GROWTH_BYTES + 1;
    pressure.afterWindow();
    expect(h.gcs).toBe(2);
    expect(pressure.collections).toBe(2);
  });

  it('lowers the history part by the excess over the limit, never below its floor, and raises it back with room', () => {
    const { h, pressure } = harness();
    h.rss = 200 * MiB;
    pressure.afterWindow();
    expect(h.history.at(-1)).toBe(24 * MiB);
    h.rss = 260 * MiB;
    pressure.afterWindow();
    expect(h.history.at(-1)).toBe(Math.floor(32 * MiB * MIN_HISTORY_SHARE));
    expect(pressure.shrinks).toBe(2);
    h.rss = 180 * MiB; // between 90% and 100%: held
    pressure.afterWindow();
    expect(h.history).toHaveLength(2);
    h.rss = 100 * MiB;
    pressure.afterWindow();
    expect(pressure.historyBudgetBytes).toBe(32 * MiB);
  });
});
