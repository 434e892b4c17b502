// Public API of the sources: the programs as the agent and `record` see them. Stack sources (CPU, off-CPU)
// are drained per window; latency sources (run-queue, block I/O) are read as cumulative histograms.
import { CpuSource } from './cpu.js';
import { OffcpuSource } from './offcpu.js';
import { RunqlatSource } from './runqlat.js';
import { BiolatencySource } from './biolatency.js';
import type { LatencySource, ProfileKind, StackSource } from './types.js';

export { CpuSource, type CpuSourceOptions } from './cpu.js';
export { OffcpuSource, type OffcpuSourceOptions } from './offcpu.js';
export { RunqlatSource, type RunqlatSourceOptions } from './runqlat.js';
export { BiolatencySource, blockDeviceName, type BioHistogram, type BiolatencySourceOptions } from './biolatency.js';
export { nowNs } from '../bpf/window-protocol.js';
export type { AttachVariant } from '../bpf/load-twins.js';
export * from './types.js';

export interface StackSourceOptions {
  /** CPU: samples per second per CPU. */
  hz: number;
  /** Processes (tgids) to profile; empty: the whole system. */
  pids: number[];
  /** CPU: keep samples of the idle task (pid 0). */
  includeIdle: boolean;
  /** Off-CPU: shorter blocks are not counted. */
  minBlockNs: number;
}

/** Loads and attaches the program of one profile kind. Throws a HotpathError naming the failing step. */
export function startStackSource(kind: ProfileKind, opts: StackSourceOptions): StackSource {
  if (kind === 'cpu') return CpuSource.start({ hz: opts.hz, pids: opts.pids, includeIdle: opts.includeIdle });
  return OffcpuSource.start({ pids: opts.pids, minBlockNs: opts.minBlockNs });
}

export type LatencyKind = 'runqlat' | 'biolatency';

/** Loads and attaches one latency program. Throws a HotpathError naming the failing step. */
export function startLatencySource(kind: LatencyKind): LatencySource {
  return kind === 'runqlat' ? RunqlatSource.start() : BiolatencySource.start();
}
