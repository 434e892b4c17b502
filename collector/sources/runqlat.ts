// Loads programs/runqlat.bpf.o (sched_wakeup, sched_wakeup_new, sched_switch) and reads its cumulative
// run-queue latency histogram. Kernel requirement: BTF; tp_btf + task storage (5.11+), else raw_tp.
import { possibleCpuCount, type BpfMap, type BpfObject } from '../bpf/libbpf.js';
import { AttachedTwins, type AttachVariant } from '../bpf/load-twins.js';
import { encodeRunqlatHistKey, RUNQLAT_HIST_KEY_SIZE, RUNQLAT_LOST_REASONS, type RunqlatLostReason } from '../layouts/runqlat.js';
import { decodePerCpuLog2Hist, LOG2_HIST_HEADER, LOG2_HIST_SIZE, type Log2Histogram } from '../layouts/log2-hist.js';
import type { HistogramSeries } from './types.js';
import { TwinsLatencySource } from './twins-latency-source.js';

export interface RunqlatSourceOptions {
  /** Force one attach variant; default: tp_btf, falling back to raw_tp. */
  variant?: AttachVariant;
}

const BASES = ['runqlat_wakeup', 'runqlat_wakeup_new', 'runqlat_switch'];

export class RunqlatSource extends TwinsLatencySource<RunqlatLostReason> {
  private readonly hist: BpfMap;

  private constructor(twins: AttachedTwins) {
    super(twins, RUNQLAT_LOST_REASONS);
    this.hist = twins.object.map('hist');
  }

  /** Opens, loads and attaches. Throws a HotpathError naming the failing step; nothing stays open then. */
  static start(opts: RunqlatSourceOptions = {}): RunqlatSource {
    const check = (object: BpfObject) => object.map('hist').checkLayout(RUNQLAT_HIST_KEY_SIZE, LOG2_HIST_SIZE, LOG2_HIST_HEADER);
    return new RunqlatSource(AttachedTwins.start('runqlat', BASES, () => {}, check, opts.variant));
  }

  /** The cumulative histogram since start, summed over CPUs. Throws HP_ERR_CLOSED once closed. */
  read(): Log2Histogram {
    const value = Buffer.alloc(LOG2_HIST_SIZE * possibleCpuCount());
    this.hist.lookup(encodeRunqlatHistKey(), value);
    return decodePerCpuLog2Hist(value);
  }

  series(): HistogramSeries[] {
    return [{ attributes: {}, histogram: this.read() }];
  }

}
