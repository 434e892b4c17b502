// What every latency source built on tp_btf/raw_tp twins shares: its attached programs, their run statistics,
// its cumulative lost counters, and closing.
import type { AttachedTwins, AttachVariant } from '../bpf/load-twins.js';
import { LostCounters } from '../bpf/lost-counters.js';
import type { HistogramSeries, LatencySource, ProgramStats } from './types.js';

export abstract class TwinsLatencySource<R extends string> implements LatencySource {
  readonly variant: AttachVariant;
  protected readonly twins: AttachedTwins;
  private readonly lostCounters: LostCounters<R>;

  protected constructor(twins: AttachedTwins, lostReasons: readonly R[]) {
    this.twins = twins;
    this.variant = twins.variant;
    this.lostCounters = new LostCounters(twins.object.map('lost'), lostReasons);
  }

  abstract series(): HistogramSeries[];

  /** Events not measured since start, by reason. Throws HP_ERR_CLOSED once closed. */
  lost(): Record<string, number> {
    return this.lostCounters.totals();
  }

  programStats(): ProgramStats[] {
    return this.twins.programStats();
  }

  close(): void {
    this.twins.close();
  }
}
