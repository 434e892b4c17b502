// What the agent and `record` see of the programs: stack sources (CPU, off-CPU and I/O profiles, drained per
// window) and latency sources (cumulative histograms read on scrape).
import type { HistogramSeries } from '../../exporters/metrics/index.js';
import type { ProgramRunStats } from '../bpf/libbpf.js';
import type { StackWindow } from '../bpf/window-protocol.js';

export type { RawStackSample, StackWindow } from '../bpf/window-protocol.js';
export type { HistogramSeries } from '../../exporters/metrics/index.js';

/** Run statistics of one loaded program, by its name (the exporters' ProgramStats, with exact counters). */
export type ProgramStats = { program: string } & ProgramRunStats;

/**
 * The stack profiles hotpath records. `wall` has no program of its own: it is built from the cpu and offcpu
 * programs' windows of the same span (offcpu in wall mode).
 */
export type ProfileKind = 'cpu' | 'offcpu' | 'wall' | 'io';
export const PROFILE_KINDS: readonly ProfileKind[] = ['cpu', 'offcpu', 'wall', 'io'];
/** The profile kinds with a program (a StackSource) of their own. */
export type SourceKind = Exclude<ProfileKind, 'wall'>;

export interface StackSource {
  readonly kind: SourceKind;
  /** Ends the current window and returns it. Concurrent calls share one drain. */
  drain(): Promise<StackWindow>;
  /** Stops collecting; a last drain still reads what was collected. */
  detach(): void;
  /** Waits for a drain in progress, then frees everything. Idempotent; drains reject afterwards. */
  close(): Promise<void>;
  /** Run time and count per program (filled while kernel.bpf_stats_enabled=1). */
  programStats(): ProgramStats[];
}

export interface LatencySource {
  /** The cumulative histograms since start, one series per label set. */
  series(): HistogramSeries[];
  /** Events not measured since start, by reason (the program's lost counters). */
  lost(): Record<string, number>;
  programStats(): ProgramStats[];
  /** Detaches and frees everything. Idempotent. */
  close(): void;
}
