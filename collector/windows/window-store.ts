// The agent's retained history: windows of the last `retention`, each held as typed arrays of ids into the
// store's StackCatalog (stack, label set) and its values, bounded by an estimate of the memory they and the
// catalog hold. Oldest windows are dropped first (and counted, by reason) when either bound is passed.
import type { ProfileData, ProfileSample, ValueTypeSpec } from '../../exporters/pprof/types.js';
import { StackCatalog } from './stack-catalog.js';

export interface StoredWindow {
  startNs: bigint;
  endNs: bigint;
  sampleTypes: ValueTypeSpec[];
  periodType: ValueTypeSpec;
  period: number;
  comments?: string[];
  /** Per sample: its stack id and label set id in the catalog (ids are never reused: float64 for range). */
  stacks: Float64Array;
  labels: Float64Array;
  /** Per sample, sampleTypes.length values. */
  values: Float64Array;
  /** Bytes of this window's arrays; the catalog's entries are counted in the store's total. */
  bytes: number;
}

export interface WindowStoreOptions {
  retentionNs: bigint;
  maxBytes: number;
}

const WINDOW_BYTES = 200;

/** Stands for a sample without numeric or string labels in add's lookup. */
const NO_LABELS = {};

/** The bytes a window of `samples` samples with `types` values each holds in the store (the catalog aside). */
export function storedWindowBytes(samples: number, types: number): number {
  return WINDOW_BYTES + samples * (16 + 8 * types);
}

/** Why the store let a window go: its retention ran out, or the memory bound was reached before it did. */
export type WindowDropReason = 'retention' | 'memory';

export class WindowStore {
  private readonly windows: StoredWindow[] = [];
  private windowBytes = 0;
  /** Every distinct stack and label set of the windows held. */
  readonly catalog = new StackCatalog();
  /** Windows dropped since the store was made, by reason (hotpath_windows_dropped_total). */
  readonly dropped: Record<WindowDropReason, number> = { retention: 0, memory: 0 };

  constructor(private opts: WindowStoreOptions) {}

  /** The memory bound, bytes. */
  get maxBytes(): number {
    return this.opts.maxBytes;
  }

  /** Moves the memory bound (the agent's memory pressure); a lower one drops the oldest windows now. */
  setMaxBytes(bytes: number, nowNs: bigint): void {
    this.opts = { ...this.opts, maxBytes: bytes };
    this.expire(nowNs);
  }

  /** Stores a symbolized window (its stacks and labels go into the catalog; `data` is not kept). */
  add(data: ProfileData, nowNs: bigint): StoredWindow {
    const n = data.samples.length;
    const nTypes = data.sampleTypes.length;
    const stacks = new Float64Array(n);
    const labels = new Float64Array(n);
    const values = new Float64Array(n * nTypes);
    // Collectors share one pair of label objects between a thread's samples: each pair is looked up once.
    const labelIds = new Map<object, Map<object, number>>();
    for (let i = 0; i < n; i++) {
      const s = data.samples[i];
      stacks[i] = this.catalog.internStack(s.frames);
      const numObj: object = s.numLabels ?? NO_LABELS;
      const strObj: object = s.strLabels ?? NO_LABELS;
      let byStr = labelIds.get(numObj);
      if (byStr === undefined) labelIds.set(numObj, (byStr = new Map()));
      let labelId = byStr.get(strObj);
      if (labelId === undefined) byStr.set(strObj, (labelId = this.catalog.internLabels(s)));
      else this.catalog.retainLabels(labelId);
      labels[i] = labelId;
      for (let t = 0; t < nTypes; t++) values[i * nTypes + t] = s.values[t] ?? 0;
    }
    const w: StoredWindow = {
      startNs: data.timeNanos,
      endNs: data.timeNanos + data.durationNanos,
      sampleTypes: data.sampleTypes,
      periodType: data.periodType,
      period: data.period,
      comments: data.comments,
      stacks,
      labels,
      values,
      bytes: storedWindowBytes(n, nTypes),
    };
    this.windows.push(w);
    this.windowBytes += w.bytes;
    this.expire(nowNs);
    return w;
  }

  /** Bytes held: the windows' arrays and the catalog. */
  private get totalBytes(): number {
    return this.windowBytes + this.catalog.bytes;
  }

  expire(nowNs: bigint): void {
    while (this.windows.length > 0 && this.windows[0].endNs < nowNs - this.opts.retentionNs) this.dropOldest('retention');
    // The newest window stays even alone over the bound: live profiles read it, and its size is bounded by the
    // kernel maps it was drained from.
    while (this.windows.length > 1 && this.totalBytes > this.opts.maxBytes) this.dropOldest('memory');
  }

  private dropOldest(reason: WindowDropReason): void {
    const w = this.windows.shift();
    if (!w) return;
    this.windowBytes -= w.bytes;
    this.catalog.release(w.stacks, w.labels);
    this.dropped[reason]++;
  }

  /** Windows overlapping [fromNs, toNs). */
  overlapping(fromNs: bigint, toNs: bigint): StoredWindow[] {
    return this.windows.filter((w) => w.endNs > fromNs && w.startNs < toNs);
  }

  /** Windows entirely within [fromNs, toNs]. */
  within(fromNs: bigint, toNs: bigint): StoredWindow[] {
    return this.windows.filter((w) => w.startNs >= fromNs && w.endNs <= toNs);
  }

  get oldestStartNs(): bigint | undefined {
    return this.windows[0]?.startNs;
  }

  get size(): { windows: number; bytes: number } {
    return { windows: this.windows.length, bytes: this.totalBytes };
  }

  /** A held window as ProfileData again (samples whose catalog entries are gone are left out). */
  toProfileData(w: StoredWindow): ProfileData {
    const nTypes = w.sampleTypes.length;
    const samples: ProfileSample[] = [];
    for (let i = 0; i < w.stacks.length; i++) {
      const s = this.catalog.sample(w.stacks[i], w.labels[i], Array.from(w.values.subarray(i * nTypes, (i + 1) * nTypes)));
      if (s) samples.push(s);
    }
    return {
      sampleTypes: w.sampleTypes,
      periodType: w.periodType,
      period: w.period,
      timeNanos: w.startNs,
      durationNanos: w.endNs - w.startNs,
      samples,
      ...(w.comments ? { comments: w.comments } : {}),
    };
  }
}
