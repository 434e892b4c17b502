// Public API of the sources: the programs as the agent and `record` see them. Stack sources (CPU, off-CPU, I/O)
// are drained per window; latency sources (run-queue, block I/O) are read as cumulative histograms.
import { CpuSource } from './cpu.js';
import { OffcpuSource } from './offcpu.js';
import { IoSource } from './io.js';
import { RunqlatSource } from './runqlat.js';
import { BiolatencySource } from './biolatency.js';
import type { LatencySource, SourceKind, StackSource } from './types.js';
import type { SharedUnwindTables, UnwindMode } from './cpu.js';
import type { BpfMap } from '../bpf/libbpf.js';

export { CpuSource, DEFAULT_UNWIND_TABLE_BYTES, UNWIND_MODES, type CpuSourceOptions, type SharedUnwindTables, type UnwindMode, type UnwindStats } from './cpu.js';
export { OffcpuSource, type OffcpuSourceOptions } from './offcpu.js';
export { IoSource, type IoSourceOptions } from './io.js';
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
  /** CPU: how user stacks are walked (default dwarf). */
  unwind?: UnwindMode;
  /** Kernel memory for unwind tables, bytes. */
  unwindTableBytes?: number;
  /** Off-CPU and I/O: the CPU source's tables, to share. */
  shareTables?: SharedUnwindTables;
  /** CPU: seconds between drains (sizes the maps with hz and the CPUs; default 10). */
  windowSeconds?: number;
  /** CPU and off-CPU: the wall profile (CpuSourceOptions.wall, OffcpuSourceOptions.wall), and for off-CPU the CPU source's records. */
  wall?: boolean;
  wallRecords?: BpfMap;
  log?: (line: string) => void;
}

/** Loads and attaches the program of one profile kind. Throws a HotpathError naming the failing step. */
export function startStackSource(kind: SourceKind, opts: StackSourceOptions): StackSource {
  if (kind === 'cpu') {
    return CpuSource.start({
      hz: opts.hz, pids: opts.pids, includeIdle: opts.includeIdle, unwind: opts.unwind, unwindTableBytes: opts.unwindTableBytes,
      windowSeconds: opts.windowSeconds, wall: opts.wall, log: opts.log,
    });
  }
  if (kind === 'io') {
    return IoSource.start({
      pids: opts.pids, unwind: opts.unwind, unwindTableBytes: opts.unwindTableBytes, shareTables: opts.shareTables, log: opts.log,
    });
  }
  return OffcpuSource.start({
    pids: opts.pids, minBlockNs: opts.minBlockNs, unwind: opts.unwind, unwindTableBytes: opts.unwindTableBytes, shareTables: opts.shareTables,
    wall: opts.wall, wallRecords: opts.wallRecords, log: opts.log,
  });
}

export type LatencyKind = 'runqlat' | 'biolatency';

export interface LatencySourceOptions {
  /** runqlat: one histogram per cgroup, this many series at most (0 or unset: one for the machine). */
  runqlatPerContainer?: number;
  /** Kubernetes labels of a container, to name its series namespace/pod/container. */
  podLabels?: (identity: { containerId?: string; podUid?: string }) => Readonly<Record<string, string>> | undefined;
}

/** Loads and attaches one latency program. Throws a HotpathError naming the failing step. */
export function startLatencySource(kind: LatencyKind, opts: LatencySourceOptions = {}): LatencySource {
  if (kind === 'biolatency') return BiolatencySource.start();
  const max = opts.runqlatPerContainer ?? 0;
  if (max <= 0) return RunqlatSource.start();
  const podLabels = opts.podLabels;
  const podLabel = podLabels
    ? (identity: { containerId?: string; podUid?: string }) => {
        const l = podLabels(identity);
        return l?.namespace && l.pod && l.container ? `${l.namespace}/${l.pod}/${l.container}` : undefined;
      }
    : undefined;
  return RunqlatSource.start({ perCgroup: { maxSeries: max, podLabel } });
}
