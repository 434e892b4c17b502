// Loads programs/runqlat.bpf.o (sched_wakeup, sched_wakeup_new, sched_switch) and reads its cumulative
// run-queue latency histogram. Kernel requirement: BTF; tp_btf + task storage (5.11+), else raw_tp.
import type { BpfLink, BpfMap, ProgramStats } from '../bpf/libbpf.js';
import { possibleCpuCount } from '../bpf/libbpf.js';
import { attachAll, closedError, loadTwins, statsOf, type AttachVariant, type LoadedTwins } from '../bpf/load-twins.js';
import { decodePerCpuLog2Hist, LOG2_HIST_HEADER, LOG2_HIST_SIZE, type Log2Histogram } from '../layouts/log2-hist.js';

export interface RunqlatOptions {
  /** Force one attach variant; default: tp_btf, falling back to raw_tp. */
  variant?: AttachVariant;
}

const BASES = ['runqlat_wakeup', 'runqlat_wakeup_new', 'runqlat_switch'];

export class RunqlatCollector {
  readonly variant: AttachVariant;
  private readonly loaded: LoadedTwins;
  private readonly hist: BpfMap;
  private links: BpfLink[] = [];
  private closed = false;

  private constructor(loaded: LoadedTwins) {
    this.loaded = loaded;
    this.variant = loaded.variant;
    this.hist = loaded.object.map('hist');
  }

  /** Opens, loads and attaches. Throws a HotpathError naming the failing step; nothing stays open then. */
  static start(opts: RunqlatOptions = {}): RunqlatCollector {
    const loaded = loadTwins('runqlat', BASES, () => {}, opts.variant);
    const collector = new RunqlatCollector(loaded);
    try {
      collector.hist.checkLayout(4, LOG2_HIST_SIZE, LOG2_HIST_HEADER);
      collector.links = attachAll('runqlat', loaded);
      return collector;
    } catch (err) {
      collector.close();
      throw err;
    }
  }

  /** The cumulative histogram since start, summed over CPUs. */
  read(): Log2Histogram {
    if (this.closed) throw closedError('runqlat histogram');
    const value = Buffer.alloc(LOG2_HIST_SIZE * possibleCpuCount());
    const key = Buffer.alloc(4);
    this.hist.lookup(key, value);
    return decodePerCpuLog2Hist(value);
  }

  /** Run time and count per program (filled while kernel.bpf_stats_enabled=1). */
  programStats(): Record<string, ProgramStats> {
    if (this.closed) throw closedError('runqlat program stats');
    return statsOf(this.loaded.programs);
  }

  /** Detaches and frees everything. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const link of this.links.splice(0)) link.destroy();
    this.loaded.object.close();
  }
}
