import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { DEFAULT_MEMORY_LIMIT_BYTES, MIN_MEMORY_LIMIT_BYTES, RUNTIME_RESERVE_BYTES, splitMemoryBudget } from './memory-budget.js';

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
