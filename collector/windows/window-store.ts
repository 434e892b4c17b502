// The agent's retained history: symbolized windows of the last `retention`, bounded by an estimate of the
// memory they hold. Oldest windows are dropped first (and counted, by reason) when either bound is passed.
import type { ProfileData } from '../../exporters/pprof/types.js';

export interface StoredWindow {
  startNs: bigint;
  endNs: bigint;
  data: ProfileData;
  /** Estimated bytes held by this window's samples (frames and mappings are shared with the symbolizer). */
  bytes: number;
}

export interface WindowStoreOptions {
  retentionNs: bigint;
  maxBytes: number;
}

// A sample is a small object graph: the object, its frames array, values array, two label objects and its
// comm string (decoded afresh each drain): about 350 bytes on V8 (Node 20), plus one pointer per frame. Kernel
// and native frames are shared with the symbolizer's caches; JIT and unknown frames are made per window (an
// object and its BigInt address: 88 and 72 bytes), shared only by the samples of that window.
// bench/retention-store compares this estimate with the heap a replayed hour of real windows takes.
const SAMPLE_OVERHEAD_BYTES = 350;
const FRAME_POINTER_BYTES = 8;
const JIT_FRAME_BYTES = 88;
const UNKNOWN_FRAME_BYTES = 72;

export function estimateProfileBytes(data: ProfileData): number {
  let bytes = 200;
  const windowFrames = new Set<object>();
  for (const s of data.samples) {
    bytes += SAMPLE_OVERHEAD_BYTES + FRAME_POINTER_BYTES * s.frames.length;
    for (const f of s.frames) {
      if ((f.kind === 'jit' || f.kind === 'unknown') && !windowFrames.has(f)) {
        windowFrames.add(f);
        bytes += f.kind === 'jit' ? JIT_FRAME_BYTES : UNKNOWN_FRAME_BYTES;
      }
    }
  }
  return bytes;
}

/** Why the store let a window go: its retention ran out, or the memory bound was reached before it did. */
export type WindowDropReason = 'retention' | 'memory';

export class WindowStore {
  private readonly windows: StoredWindow[] = [];
  private totalBytes = 0;
  /** Windows dropped since the store was made, by reason (hotpath_windows_dropped_total). */
  readonly dropped: Record<WindowDropReason, number> = { retention: 0, memory: 0 };

  constructor(private readonly opts: WindowStoreOptions) {}

  /** The memory bound, bytes. */
  get maxBytes(): number {
    return this.opts.maxBytes;
  }

  add(data: ProfileData, nowNs: bigint): void {
    const w: StoredWindow = {
      startNs: data.timeNanos,
      endNs: data.timeNanos + data.durationNanos,
      data,
      bytes: estimateProfileBytes(data),
    };
    this.windows.push(w);
    this.totalBytes += w.bytes;
    this.expire(nowNs);
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
    this.totalBytes -= w.bytes;
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
}
