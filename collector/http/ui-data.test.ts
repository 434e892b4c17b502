import { describe, expect, it } from 'vitest';
import type { FoldedStack } from '../../flamegraph/index.js';
import { LatencyHistory, quantileSlot } from '../windows/latency-history.js';
import { diffFunctions, sandwichStacks, topFunctions } from './ui-data.js';

const st = (names: string, value: number): FoldedStack => ({ frames: names.split(';').map((name) => ({ name, kind: 'native' })), value });

describe('ui data', () => {
  it('top functions count a recursive function once in its total', () => {
    const t = topFunctions([st('main;f;f;g', 3), st('main;h', 1)], 10);
    expect(t.total).toBe(4);
    expect(t.rows.find((r) => r.name === 'f')).toMatchObject({ self: 0, total: 3 });
    expect(t.rows.find((r) => r.name === 'g')).toMatchObject({ self: 3, total: 3 });
  });

  it('sandwich halves: callees after the first occurrence, callers nearest first', () => {
    const s = [st('main;a;f;g', 2), st('main;b;f', 1), st('main;c', 5)];
    expect(sandwichStacks(s, 'f', 'callees').map((x) => x.frames.map((f) => f.name).join(';'))).toEqual(['g', '']);
    expect(sandwichStacks(s, 'f', 'callers').map((x) => x.frames.map((f) => f.name).join(';'))).toEqual(['a;main', 'b;main']);
  });

  it('diff rows: what grew comes with a positive change of its share', () => {
    const d = diffFunctions([st('main;a', 9), st('main;b', 1)], [st('main;a', 5), st('main;b', 5)], 10);
    const b = d.rows.find((r) => r.name === 'b')!;
    expect(b.total - b.baseTotal).toBeCloseTo(0.4);
    expect(d.rows[0].name === 'a' || d.rows[0].name === 'b').toBe(true);
  });

  it('latency history keeps per-window deltas of cumulative slots, bounded by count', () => {
    const h = new LatencyHistory({ retentionNs: 10n ** 12n, maxWindows: 2 });
    const series = (a: number[]) => [{ attributes: { device: 'vda', operation: 'read' }, histogram: { slots: a, sumNs: 0 } }];
    h.record('biolatency', 1n, series([0, 5, 0]));
    h.record('biolatency', 2n, series([0, 7, 1]));
    h.record('biolatency', 3n, series([0, 7, 4]));
    h.record('biolatency', 4n, series([1, 7, 4]));
    expect(h.size('biolatency')).toBe(2);
    const m = h.heatmap('biolatency', 0n, 10n);
    expect(m.firstSlot).toBe(0);
    expect(m.counts).toEqual([[0, 0, 3], [1, 0, 0]]);
    expect(m.p50).toEqual([2, 0]);
    expect(m.devices).toEqual(['vda']);
    expect(h.heatmap('biolatency', 0n, 10n, { device: 'sdb' }).lastSlot).toBe(-1);
  });

  it('quantile slot', () => {
    expect(quantileSlot([1, 1, 98], 0.5)).toBe(2);
    expect(quantileSlot([0, 0], 0.99)).toBeNull();
  });
});
