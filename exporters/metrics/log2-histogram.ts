// Log2 latency histograms as the kernel programs keep them, and their conversion to the explicit-bucket
// histogram OpenTelemetry (and so Prometheus) shows. Pure functions: no I/O, no OTel imports.
//
// Slot layout (the contract with the kernel programs: struct log2_hist of programs/log2-hist.h, filled by
// log2_slot() of programs/log2-hist.bpf.h). A histogram is an array of N u64 counters:
//   slot 0         counts values v (nanoseconds) with v <= 1 (0 included);
//   slot k, 0<k<N-1 counts 2^(k-1) < v <= 2^k;
//   slot N-1       is the overflow slot: every v > 2^(N-2).
// The kernel computes slot(v) = v <= 1 ? 0 : min(64 - clz(v - 1), N - 1), an upper-inclusive ceil(log2(v)),
// so that slot k lines up with the Prometheus bucket `le = 2^k ns` without off-by-one shifts.
// slotOf below is the one TypeScript copy of that function: the collector's decoder of struct log2_hist
// (collector/layouts/log2-hist.ts) uses it, since exporters/ may not import the collector.

/** Kernel slot arrays hold this many counters (LOG2_HIST_SLOTS of programs/log2-hist.h; last = overflow). */
export const DEFAULT_SLOT_COUNT = 40;

/** A kernel log2 histogram, copied out of a map. Counters are cumulative since the program was loaded. */
export interface Log2Histogram {
  /**
   * All N slots, in the layout above, the overflow slot included as the last element (N >= 2). N must be the
   * same on every scrape of one series, since it bounds the boundaries shown.
   */
  slots: ArrayLike<bigint | number>;
  /** Sum of all recorded values, nanoseconds. */
  sumNs: bigint | number;
}

/**
 * Which power-of-two boundaries are shown. Fixed per exporter so every series keeps the same `le` set on
 * every scrape (Prometheus computes quantiles across scrapes and series by `le`).
 */
export interface Log2BucketLayout {
  /** Smallest boundary is 2^minExponent ns; smaller values are counted in that first bucket. */
  minExponent: number;
  /** Largest finite boundary is 2^maxExponent ns; larger values are counted only in +Inf. */
  maxExponent: number;
}

/** 2^0 ns .. 2^36 ns (about 68.7 s) plus +Inf: covers a wakeup as well as a stuck disk request. */
export const DEFAULT_BUCKET_LAYOUT: Readonly<Log2BucketLayout> = Object.freeze({ minExponent: 0, maxExponent: 36 });

/** An explicit-bucket histogram in seconds, in OTel's shape: per-bucket (not cumulative) counts. */
export interface ExplicitHistogram {
  /** Finite upper-inclusive boundaries in seconds, ascending. */
  boundaries: number[];
  /** counts[i] counts values in (boundaries[i-1], boundaries[i]]; the last element is the +Inf bucket. */
  counts: number[];
  /** Sum of values, seconds. */
  sum: number;
  /** Total count; equals the sum of counts, so the +Inf bucket of the cumulative form. */
  count: number;
}

export type ConversionResult = { ok: true; histogram: ExplicitHistogram } | { ok: false; error: string };

/**
 * slotOf mirrors the kernel's log2_slot(): 0 for v <= 1, else ceil(log2(v)) (= 64 - clz(v - 1)), clamped
 * to the overflow slot `slotCount - 1`. Negative values count as 0.
 */
export function slotOf(ns: bigint, slotCount: number = DEFAULT_SLOT_COUNT): number {
  if (ns <= 1n) return 0;
  // Bit length of v-1 is 64 - clz(v-1) for a u64; toString(2) keeps this exact for any bigint.
  const slot = (ns - 1n).toString(2).length;
  return Math.min(slot, slotCount - 1);
}

/** Upper-inclusive boundary of bucket 2^exponent ns, in seconds, printed without rounding noise. */
export function boundarySeconds(exponent: number): number {
  // Dividing an exact power of two by 1e9 gives the double nearest the decimal value, so String() prints
  // e.g. 3.2e-8 where 2**5 * 1e-9 would print 3.2000000000000005e-8.
  return 2 ** exponent / 1e9;
}

/** The finite boundaries (seconds) a histogram of `slotCount` slots shows under `layout`. */
export function boundariesFor(slotCount: number, layout: Log2BucketLayout = DEFAULT_BUCKET_LAYOUT): number[] {
  // The overflow slot starts above 2^(slotCount-2): a boundary beyond that could not be filled truthfully.
  const top = Math.min(layout.maxExponent, slotCount - 2);
  const out: number[] = [];
  for (let e = layout.minExponent; e <= top; e++) out.push(boundarySeconds(e));
  return out;
}

function toCount(v: bigint | number): number | undefined {
  if (typeof v === 'bigint') return v >= 0n ? Number(v) : undefined;
  return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

/** Checks a layout once, at configuration time. Returns an error message or undefined. */
export function checkLayout(layout: Log2BucketLayout): string | undefined {
  const { minExponent: lo, maxExponent: hi } = layout;
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || hi < lo || hi > 62) {
    return `bucket layout: need integers 0 <= minExponent <= maxExponent <= 62, got ${lo}..${hi}`;
  }
  return undefined;
}

/**
 * toExplicitHistogram converts kernel slots to OTel explicit buckets. Slots at or below minExponent fold
 * into the first bucket; slots above the top boundary (and the overflow slot) fold into +Inf only.
 * Bad input (fewer than 2 slots, more than 64+1, negative or non-integer counters) is refused, not thrown.
 */
export function toExplicitHistogram(
  h: Log2Histogram,
  layout: Log2BucketLayout = DEFAULT_BUCKET_LAYOUT,
): ConversionResult {
  const n = h.slots?.length;
  if (typeof n !== 'number' || n < 2 || n > 65) {
    return { ok: false, error: `log2 histogram: need 2..65 slots, got ${String(n)}` };
  }
  const layoutError = checkLayout(layout);
  if (layoutError) return { ok: false, error: layoutError };
  const boundaries = boundariesFor(n, layout);
  const counts = new Array<number>(boundaries.length + 1).fill(0);
  const top = layout.minExponent + boundaries.length - 1; // exponent of the last finite boundary
  let count = 0;
  for (let k = 0; k < n; k++) {
    const c = toCount(h.slots[k]);
    if (c === undefined) return { ok: false, error: `log2 histogram: slot ${k} holds ${String(h.slots[k])}` };
    if (c === 0) continue;
    // Overflow slot and slots beyond the top boundary: +Inf. Otherwise the bucket of boundary 2^k.
    const bucket = k === n - 1 || k > top ? boundaries.length : Math.max(0, k - layout.minExponent);
    counts[bucket] += c;
    count += c;
  }
  const sumNs = typeof h.sumNs === 'bigint' ? Number(h.sumNs) : h.sumNs;
  if (typeof sumNs !== 'number' || !Number.isFinite(sumNs) || sumNs < 0) {
    return { ok: false, error: `log2 histogram: bad sum ${String(h.sumNs)}` };
  }
  return { ok: true, histogram: { boundaries, counts, sum: sumNs / 1e9, count } };
}

/**
 * mergeSlots adds slot arrays elementwise (per-CPU copies of one map value). Arrays whose length differs
 * from the first one's are left out and counted in `mismatched`: padding them would move their overflow slot.
 */
export function mergeSlots(parts: ArrayLike<ArrayLike<bigint | number>>): { slots: bigint[]; mismatched: number } {
  if (parts.length === 0) return { slots: [], mismatched: 0 };
  const n = parts[0].length;
  const slots = new Array<bigint>(n).fill(0n);
  let mismatched = 0;
  for (let p = 0; p < parts.length; p++) {
    const part = parts[p];
    if (part.length !== n) {
      mismatched++;
      continue;
    }
    for (let k = 0; k < n; k++) {
      const v = part[k];
      slots[k] += typeof v === 'bigint' ? v : BigInt(Math.trunc(v));
    }
  }
  return { slots, mismatched };
}

/** mergeHistograms merges per-CPU (or per-key) histograms of one layout into one. */
export function mergeHistograms(parts: readonly Log2Histogram[]): { histogram: Log2Histogram; mismatched: number } {
  const { slots, mismatched } = mergeSlots(parts.map((p) => p.slots));
  const n = slots.length;
  let sumNs = 0n;
  for (const p of parts) {
    if (p.slots.length !== n) continue;
    sumNs += typeof p.sumNs === 'bigint' ? p.sumNs : BigInt(Math.trunc(p.sumNs));
  }
  return { histogram: { slots, sumNs }, mismatched };
}

/**
 * Log2Recorder keeps a log2 histogram in user space with the kernel's layout, for durations measured in
 * TypeScript (drain times). Cumulative; never resets.
 */
export class Log2Recorder {
  private readonly slots: bigint[];
  private sumNs = 0n;

  constructor(readonly slotCount: number = DEFAULT_SLOT_COUNT) {
    this.slots = new Array<bigint>(Math.max(2, Math.min(65, Math.trunc(slotCount)))).fill(0n);
  }

  /** Records one value in nanoseconds; negative values count as 0. */
  record(ns: bigint | number): void {
    let v = typeof ns === 'bigint' ? ns : Number.isFinite(ns) ? BigInt(Math.round(ns)) : 0n;
    if (v < 0n) v = 0n;
    this.slots[slotOf(v, this.slots.length)] += 1n;
    this.sumNs += v;
  }

  /** A copy of the current state. */
  snapshot(): Log2Histogram {
    return { slots: this.slots.slice(), sumNs: this.sumNs };
  }
}
