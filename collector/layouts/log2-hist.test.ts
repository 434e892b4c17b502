import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { DEFAULT_SLOT_COUNT, slotOf } from '../../exporters/metrics/log2-histogram.js';
import { addLog2Hist, decodePerCpuLog2Hist, emptyHistogram, histogramCount, histogramDelta, medianSlot } from './log2-hist.js';
import { LOG2_HIST_SIZE, LOG2_HIST_SLOTS, log2Slot, slotUpperBoundNs } from './log2-hist.js';

describe('log2Slot mirrors log2_slot() of programs/log2-hist.bpf.h', () => {
  it('is upper-inclusive: slot k counts 2^(k-1) < v <= 2^k', () => {
    const table: [bigint, number][] = [
      [0n, 0], [1n, 0], [2n, 1], [3n, 2], [4n, 2], [5n, 3], [8n, 3], [9n, 4],
      [1000n, 10], [1024n, 10], [1025n, 11], [1n << 38n, 38], [(1n << 38n) + 1n, 39], [1n << 63n, 39], [(1n << 64n) - 1n, 39],
    ];
    for (const [v, slot] of table) expect(log2Slot(v), `slot of ${v}`).toBe(slot);
  });
  it('is the exporter slotOf over the header slot count: one slot function', () => {
    expect(LOG2_HIST_SLOTS).toBe(DEFAULT_SLOT_COUNT);
    for (let e = 0n; e < 64n; e++) {
      for (const v of [(1n << e) - 1n, 1n << e, (1n << e) + 1n]) expect(log2Slot(v)).toBe(slotOf(v));
    }
  });
  it('agrees with the bounds for every slot', () => {
    for (let k = 1; k < LOG2_HIST_SLOTS - 1; k++) {
      const hi = slotUpperBoundNs(k)!;
      expect(log2Slot(hi)).toBe(k);
      expect(log2Slot(hi + 1n)).toBe(k + 1);
    }
    expect(slotUpperBoundNs(0)).toBe(1n);
    expect(slotUpperBoundNs(LOG2_HIST_SLOTS - 1)).toBeNull();
    for (const slot of [-1, 1.5, LOG2_HIST_SLOTS]) {
      expect(() => slotUpperBoundNs(slot)).toThrow(expect.objectContaining({ name: 'HotpathError', code: ErrorCodes.USAGE }));
    }
  });
});

describe('struct log2_hist values (programs/log2-hist.h)', () => {
  it('is 40 u64 slots and a u64 sum', () => {
    expect(LOG2_HIST_SIZE).toBe(328);
  });
  it('sums per-CPU struct log2_hist values', () => {
    const buf = Buffer.alloc(LOG2_HIST_SIZE * 2);
    buf.writeBigUInt64LE(3n, 8 * 5); // cpu 0, slot 5
    buf.writeBigUInt64LE(7n, 8 * LOG2_HIST_SLOTS); // cpu 0 sum
    buf.writeBigUInt64LE(2n, LOG2_HIST_SIZE + 8 * 5); // cpu 1, slot 5
    buf.writeBigUInt64LE(1n, LOG2_HIST_SIZE + 8 * 39); // cpu 1, overflow
    buf.writeBigUInt64LE(11n, LOG2_HIST_SIZE + 8 * LOG2_HIST_SLOTS);
    const h = decodePerCpuLog2Hist(buf);
    expect(h.slots[5]).toBe(5n);
    expect(h.slots[39]).toBe(1n);
    expect(h.sumNs).toBe(18n);
    expect(histogramCount(h)).toBe(6n);
    expect(medianSlot(h)).toBe(5);
    expect(medianSlot(emptyHistogram())).toBe(-1);
  });
  it('adds one value at an offset and subtracts cumulative snapshots', () => {
    const buf = Buffer.alloc(8 + LOG2_HIST_SIZE);
    buf.writeBigUInt64LE(4n, 8 + 8 * 2);
    buf.writeBigUInt64LE(12n, 8 + 8 * LOG2_HIST_SLOTS);
    const before = emptyHistogram();
    before.slots[2] = 1n;
    before.sumNs = 3n;
    const after = emptyHistogram();
    addLog2Hist(after, buf, 8);
    const d = histogramDelta(after, before);
    expect(d.slots[2]).toBe(3n);
    expect(d.sumNs).toBe(9n);
    expect(histogramCount(d)).toBe(3n);
  });
  it('refuses a short value with HP_ERR_LAYOUT', () => {
    expect(() => addLog2Hist(emptyHistogram(), Buffer.alloc(LOG2_HIST_SIZE - 1))).toThrow(
      expect.objectContaining({ name: 'HotpathError', code: ErrorCodes.LAYOUT, message: 'decode log2 histogram: 327 bytes, need 328' }),
    );
    expect(() => addLog2Hist(emptyHistogram(), Buffer.alloc(LOG2_HIST_SIZE), 8)).toThrow(expect.objectContaining({ code: ErrorCodes.LAYOUT }));
  });
});
