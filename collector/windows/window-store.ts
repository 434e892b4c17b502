// The agent's retained history: symbolized windows of the last `retention`, bounded by an estimate of the
// memory they hold. Oldest windows are dropped first (and counted) when either bound is passed.
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

// A sample is a small object graph: the object, its frames array, values array and two label objects.
// bench/retention-store measures it on V8 (Node 20): about 290 bytes plus one pointer per frame.
const SAMPLE_OVERHEAD_BYTES = 290;
const FRAME_POINTER_BYTES = 8;

export function estimateProfileBytes(data: ProfileData): number {
  let bytes = 200;
  for (const s of data.samples) bytes += SAMPLE_OVERHEAD_BYTES + FRAME_POINTER_BYTES * s.frames.length;
  return bytes;
}

export class WindowStore {
  private readonly windows: StoredWindow[] = [];
  private totalBytes = 0;
  /** Windows dropped because the memory bound was reached before their retention ran out. */
  droppedForMemory = 0;

  constructor(private readonly opts: WindowStoreOptions) {}

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
    while (this.windows.length > 0 && this.windows[0].endNs < nowNs - this.opts.retentionNs) this.dropOldest();
    while (this.windows.length > 1 && this.totalBytes > this.opts.maxBytes) {
      this.dropOldest();
      this.droppedForMemory++;
    }
  }

  private dropOldest(): void {
    const w = this.windows.shift();
    if (w) this.totalBytes -= w.bytes;
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
