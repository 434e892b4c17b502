import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SLOT_COUNT,
  Log2Recorder,
  boundariesFor,
  boundarySeconds,
  mergeHistograms,
  mergeSlots,
  slotOf,
  toExplicitHistogram,
  type ExplicitHistogram,
  type Log2Histogram,
} from './log2-histogram.js';

function slotsWith(n: number, entries: Record<number, number>): bigint[] {
  const slots = new Array<bigint>(n).fill(0n);
  for (const [k, v] of Object.entries(entries)) slots[Number(k)] = BigInt(v);
  return slots;
}

function convert(h: Log2Histogram, layout?: { minExponent: number; maxExponent: number }): ExplicitHistogram {
  const r = toExplicitHistogram(h, layout);
  if (!r.ok) throw new Error(r.error);
  return r.histogram;
}

/** Cumulative count at each boundary, as Prometheus shows `_bucket{le}`; the last entry is +Inf. */
function cumulative(h: ExplicitHistogram): number[] {
  let acc = 0;
  return h.counts.map((c) => (acc += c));
}

describe('slotOf', () => {
  it('is an upper-inclusive ceil(log2(v)) with 0 and 1 in slot 0', () => {
    const cases: [bigint, number][] = [
      [0n, 0], [1n, 0], [2n, 1], [3n, 2], [4n, 2], [5n, 3], [8n, 3], [9n, 4],
      [1024n, 10], [1025n, 11], [2n ** 36n, 36], [2n ** 36n + 1n, 37], [-5n, 0],
    ];
    for (const [v, slot] of cases) expect(slotOf(v), `slotOf(${v})`).toBe(slot);
  });

  it('clamps to the overflow slot, a parameter', () => {
    expect(slotOf(2n ** 38n, 40)).toBe(38);
    expect(slotOf(2n ** 38n + 1n, 40)).toBe(39);
    expect(slotOf(2n ** 63n, DEFAULT_SLOT_COUNT)).toBe(DEFAULT_SLOT_COUNT - 1);
    expect(slotOf(2n ** 64n - 1n, 65)).toBe(64);
    expect(slotOf(1000n, 4)).toBe(3);
  });

  it('puts v in slot k exactly when 2^(k-1) < v <= 2^k', () => {
    for (let v = 2n; v <= 70_000n; v += 7n) {
      const k = BigInt(slotOf(v, 65));
      expect(2n ** (k - 1n) < v && v <= 2n ** k, `v=${v} k=${k}`).toBe(true);
    }
  });
});

describe('boundaries', () => {
  it('are powers of two of nanoseconds in seconds, printed exactly', () => {
    expect(String(boundarySeconds(0))).toBe('1e-9');
    expect(String(boundarySeconds(5))).toBe('3.2e-8');
    expect(String(boundarySeconds(10))).toBe('0.000001024');
    expect(String(boundarySeconds(36))).toBe('68.719476736');
  });

  it('stop at 2^36 ns by default and never beyond the last finite slot', () => {
    const b = boundariesFor(40);
    expect(b).toHaveLength(37);
    expect(b[0]).toBe(1e-9);
    expect(b[36]).toBe(68.719476736);
    // 10 slots: finite slots 0..8, overflow 9 holds v > 2^8, so 2^8 ns is the last truthful boundary.
    expect(boundariesFor(10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8].map(boundarySeconds));
  });
});

describe('toExplicitHistogram', () => {
  it('maps slot k to the bucket le=2^k ns, per-bucket counts, count and sum in seconds', () => {
    const h = convert({ slots: slotsWith(40, { 0: 2, 1: 1, 3: 4, 20: 5 }), sumNs: 1_500_000_000n });
    expect(h.boundaries).toHaveLength(37);
    expect(h.counts).toHaveLength(38);
    expect(h.counts[0]).toBe(2);
    expect(h.counts[1]).toBe(1);
    expect(h.counts[2]).toBe(0);
    expect(h.counts[3]).toBe(4);
    expect(h.counts[20]).toBe(5);
    expect(h.counts[37]).toBe(0);
    expect(h.count).toBe(12);
    expect(h.sum).toBe(1.5);
    expect(cumulative(h).at(-1)).toBe(h.count);
  });

  it('counts the overflow slot only in +Inf', () => {
    const h = convert({ slots: slotsWith(40, { 39: 3 }), sumNs: 10n ** 12n });
    expect(cumulative(h).slice(0, -1).every((c) => c === 0)).toBe(true);
    expect(h.counts.at(-1)).toBe(3);
    expect(h.count).toBe(3);
    expect(h.sum).toBe(1000);
  });

  it('counts finite slots above the top boundary only in +Inf', () => {
    const h = convert({ slots: slotsWith(40, { 36: 1, 37: 2, 38: 4 }), sumNs: 0 });
    expect(h.counts[36]).toBe(1);
    expect(h.counts[37]).toBe(6);
    expect(h.count).toBe(7);
  });

  it('folds slots below minExponent into the first bucket', () => {
    const h = convert({ slots: slotsWith(12, { 0: 1, 2: 2, 4: 3, 5: 4, 11: 5 }), sumNs: 0 }, { minExponent: 4, maxExponent: 8 });
    expect(h.boundaries).toEqual([4, 5, 6, 7, 8].map(boundarySeconds));
    expect(h.counts).toEqual([6, 4, 0, 0, 0, 5]);
  });

  it('agrees with a brute-force count at every boundary, exact powers of two included', () => {
    const rec = new Log2Recorder(40);
    const values: bigint[] = [0n, 1n, 2n, 3n];
    for (let e = 1n; e <= 40n; e++) values.push(2n ** e - 1n, 2n ** e, 2n ** e + 1n);
    let seed = 12345; // deterministic LCG: the same values on every run
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 2000; i++) values.push(BigInt(Math.floor(next() * 2 ** Math.floor(next() * 40))));
    for (const v of values) rec.record(v);
    const h = convert(rec.snapshot());
    const cum = cumulative(h);
    h.boundaries.forEach((b, i) => {
      const leNs = 2n ** BigInt(i); // minExponent 0
      expect(Number(leNs) / 1e9).toBe(b);
      expect(cum[i], `le=${b}`).toBe(values.filter((v) => v <= leNs).length);
    });
    expect(cum.at(-1)).toBe(values.length);
    expect(h.count).toBe(values.length);
    expect(h.sum).toBeCloseTo(Number(values.reduce((a, b) => a + b, 0n)) / 1e9, 6);
  });

  it('accepts number slots and BigUint64Array', () => {
    expect(convert({ slots: [1, 2, 3], sumNs: 7 }).counts).toEqual([1, 2, 3]);
    expect(convert({ slots: BigUint64Array.from([4n, 0n, 1n]), sumNs: 7n }).count).toBe(5);
  });

  it('refuses bad input with a reason instead of throwing', () => {
    const bad: Log2Histogram[] = [
      { slots: [5], sumNs: 0 },
      { slots: new Array(66).fill(0), sumNs: 0 },
      { slots: [1, -1, 0], sumNs: 0 },
      { slots: [1, 0.5, 0], sumNs: 0 },
      { slots: [1, -1n, 0], sumNs: 0 },
      { slots: [1, 0, 0], sumNs: Number.NaN },
      { slots: undefined as unknown as number[], sumNs: 0 },
    ];
    for (const h of bad) {
      const r = toExplicitHistogram(h);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toMatch(/log2 histogram/);
    }
    expect(toExplicitHistogram({ slots: [1, 0], sumNs: 0 }, { minExponent: 3, maxExponent: 1 }).ok).toBe(false);
  });
});

describe('merging', () => {
  it('adds per-CPU slot arrays and leaves out mismatched lengths', () => {
    const r = mergeSlots([[1n, 2n, 3n], [10, 20, 30], [1n, 1n]]);
    expect(r.slots).toEqual([11n, 22n, 33n]);
    expect(r.mismatched).toBe(1);
    expect(mergeSlots([])).toEqual({ slots: [], mismatched: 0 });
  });

  it('adds sums of histograms', () => {
    const r = mergeHistograms([
      { slots: [1n, 0n], sumNs: 5n },
      { slots: [0, 2], sumNs: 7 },
    ]);
    expect(r.histogram).toEqual({ slots: [1n, 2n], sumNs: 12n });
  });
});

describe('Log2Recorder', () => {
  it('records with the kernel layout and returns independent snapshots', () => {
    const rec = new Log2Recorder(8);
    rec.record(3_000); // slot 12 -> clamped to overflow slot 7
    rec.record(3);
    rec.record(-4);
    const s1 = rec.snapshot();
    expect(s1).toEqual({ slots: [1n, 0n, 1n, 0n, 0n, 0n, 0n, 1n], sumNs: 3003n });
    rec.record(1n);
    expect(s1.slots[0]).toBe(1n);
    expect(rec.snapshot().slots[0]).toBe(2n);
  });
});
