// The CPU program's maps are sized from the machine (issue 11): one entry per sample a window can take.
import { describe, expect, it } from 'vitest';
import { cpuMapSizes, MAX_MAP_SAMPLES, MIN_MAP_SAMPLES } from './cpu.js';

describe('cpuMapSizes', () => {
  it('holds every sample of a window, rounded up to a power of two, within its bounds', () => {
    expect(cpuMapSizes(2, 99, 10)).toMatchObject({ samplesPerWindow: 1980, entries: MIN_MAP_SAMPLES });
    // A 64-CPU node at 99 Hz: 63,360 samples per 10 s window no longer overflow 32,768 keys.
    expect(cpuMapSizes(64, 99, 10)).toMatchObject({ samplesPerWindow: 63_360, entries: 65_536 });
    expect(cpuMapSizes(64, 99, 30).entries).toBe(262_144);
    expect(cpuMapSizes(1024, 999, 600).entries).toBe(MAX_MAP_SAMPLES);
    for (const [cpus, hz, w] of [[1, 1, 1], [3, 97, 7], [16, 99, 10], [128, 99, 10]]) {
      const s = cpuMapSizes(cpus, hz, w);
      expect(s.entries & (s.entries - 1)).toBe(0);
      expect(s.entries).toBeGreaterThanOrEqual(Math.min(s.samplesPerWindow, MAX_MAP_SAMPLES));
    }
  });

  it('reports the kernel memory the two buffers take at their fullest', () => {
    const small = cpuMapSizes(2, 99, 10);
    expect(small.bytes / 1048576).toBeGreaterThan(15);
    expect(small.bytes / 1048576).toBeLessThan(20);
    expect(cpuMapSizes(64, 99, 10).bytes).toBe(16 * small.bytes);
  });
});
