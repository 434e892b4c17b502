// Cumulative per-CPU lost-sample counters of a program (a BPF_MAP_TYPE_PERCPU_ARRAY of u64 indexed by
// reason), read as per-window deltas.
import { sumPerCpuU64 } from '../layouts/common.js';
import { possibleCpuCount, type BpfMap } from './libbpf.js';

export class LostCounters<R extends string> {
  private seen: bigint[];

  constructor(
    private readonly map: BpfMap,
    private readonly reasons: readonly R[],
  ) {
    this.seen = reasons.map(() => 0n);
  }

  /** What was lost since the previous call, by reason. */
  delta(): Record<R, number> {
    const totals = this.read();
    const out = {} as Record<R, number>;
    this.reasons.forEach((reason, i) => {
      out[reason] = Number(totals[i] - this.seen[i]);
    });
    this.seen = totals;
    return out;
  }

  /** What was lost since the program was loaded, by reason (the counters are cumulative). */
  totals(): Record<R, number> {
    const totals = this.read();
    return Object.fromEntries(this.reasons.map((reason, i) => [reason, Number(totals[i])])) as Record<R, number>;
  }

  private read(): bigint[] {
    const value = Buffer.alloc(8 * possibleCpuCount());
    const key = Buffer.alloc(4);
    return this.reasons.map((_, i) => {
      key.writeUInt32LE(i, 0);
      return this.map.lookup(key, value) ? sumPerCpuU64(value) : 0n;
    });
  }
}
