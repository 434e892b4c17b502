// Mirrors programs/log2-hist.h: struct log2_hist (LOG2_HIST_SLOTS u64 slots + u64 sum_ns = 328 bytes,
// little-endian). Slot 0 counts v <= 1 ns, slot k counts 2^(k-1) < v <= 2^k ns, the last slot everything
// above 2^38 ns. The slot function (log2_slot() of programs/log2-hist.bpf.h) has one mirror, slotOf() of
// exporters/metrics/log2-histogram.ts: log2Slot below applies it to this layout.
import { usageError } from '../errors.js';
import { slotOf, type Log2Histogram as ExportedLog2Histogram } from '../../exporters/metrics/log2-histogram.js';
import { requireBytes } from './common.js';

export const LOG2_HIST_HEADER = 'programs/log2-hist.h';
export const LOG2_HIST_SLOTS = 40;
export const LOG2_HIST_SIZE = 8 * (LOG2_HIST_SLOTS + 1);

/** A cumulative latency histogram in nanoseconds; what the metrics exporter takes as its Log2Histogram. */
export interface Log2Histogram extends ExportedLog2Histogram {
  /** LOG2_HIST_SLOTS counts; see slotUpperBoundNs for each slot's upper bound. */
  slots: bigint[];
  sumNs: bigint;
}

/** The slot a latency of `ns` nanoseconds falls in (the kernel's log2_slot). */
export function log2Slot(ns: bigint): number {
  return slotOf(ns, LOG2_HIST_SLOTS);
}

/** Inclusive upper bound of a slot in nanoseconds (2^k); null for the last slot, the +Inf overflow. */
export function slotUpperBoundNs(slot: number): bigint | null {
  if (!Number.isInteger(slot) || slot < 0 || slot >= LOG2_HIST_SLOTS) throw usageError(`no histogram slot ${slot} (0..${LOG2_HIST_SLOTS - 1})`);
  return slot === LOG2_HIST_SLOTS - 1 ? null : 1n << BigInt(slot);
}

export function emptyHistogram(): Log2Histogram {
  return { slots: new Array<bigint>(LOG2_HIST_SLOTS).fill(0n), sumNs: 0n };
}

/** Adds one struct log2_hist (at `offset` of `buf`) into `into`; a shorter buffer is HP_ERR_LAYOUT. */
export function addLog2Hist(into: Log2Histogram, buf: Buffer, offset = 0): void {
  requireBytes(buf.subarray(offset), LOG2_HIST_SIZE, 'log2 histogram');
  for (let i = 0; i < LOG2_HIST_SLOTS; i++) into.slots[i] += buf.readBigUInt64LE(offset + 8 * i);
  into.sumNs += buf.readBigUInt64LE(offset + 8 * LOG2_HIST_SLOTS);
}

/** Sums a per-CPU map value: one struct log2_hist per possible CPU (328 bytes, already 8-aligned). */
export function decodePerCpuLog2Hist(buf: Buffer): Log2Histogram {
  const h = emptyHistogram();
  for (let off = 0; off + LOG2_HIST_SIZE <= buf.length; off += LOG2_HIST_SIZE) addLog2Hist(h, buf, off);
  return h;
}

/** Events counted: the sum of the slots (also the `+Inf` bucket and `_count`). */
export function histogramCount(h: Log2Histogram): bigint {
  return h.slots.reduce((a, b) => a + b, 0n);
}

/** `after - before`, slot by slot (both cumulative). */
export function histogramDelta(after: Log2Histogram, before: Log2Histogram): Log2Histogram {
  return { slots: after.slots.map((v, i) => v - (before.slots[i] ?? 0n)), sumNs: after.sumNs - before.sumNs };
}

/** The slot holding the median event; -1 when empty. */
export function medianSlot(h: Log2Histogram): number {
  const total = histogramCount(h);
  if (total === 0n) return -1;
  let seen = 0n;
  for (let i = 0; i < h.slots.length; i++) {
    seen += h.slots[i];
    if (seen * 2n >= total) return i;
  }
  return h.slots.length - 1;
}
