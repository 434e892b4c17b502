// Loads programs/runqlat.bpf.o (sched_wakeup, sched_wakeup_new, sched_switch) and reads its cumulative
// run-queue latency histogram, or with `perCgroup` one histogram per cgroup v2 (the container the waiting task
// runs in). Kernel requirement: BTF; tp_btf + task storage (5.11+), else raw_tp.
import { possibleCpuCount, type BpfMap, type BpfObject } from '../bpf/libbpf.js';
import { AttachedTwins, type AttachVariant } from '../bpf/load-twins.js';
import {
  encodeRunqlatConfig,
  encodeRunqlatHistKey,
  RUNQLAT_CGROUP_KEY_SIZE,
  RUNQLAT_HIST_KEY_SIZE,
  RUNQLAT_LOST_REASONS,
  type RunqlatLostReason,
} from '../layouts/runqlat.js';
import { decodePerCpuLog2Hist, LOG2_HIST_HEADER, LOG2_HIST_SIZE, type Log2Histogram } from '../layouts/log2-hist.js';
import { CgroupNames } from './cgroup-names.js';
import { CgroupLatencySeries, type CgroupRead } from './cgroup-series.js';
import type { HistogramSeries } from './types.js';
import { TwinsLatencySource } from './twins-latency-source.js';

export interface RunqlatPerCgroupOptions {
  /** Series of their own at most; the rest go to `container="other"`. */
  maxSeries: number;
  /** The cgroup2 mount (default: from /proc/self/mountinfo). */
  cgroupRoot?: string;
  /** namespace/pod/container for a container, when Kubernetes metadata knows it. */
  podLabel?: (identity: { containerId?: string; podUid?: string }) => string | undefined;
}

export interface RunqlatSourceOptions {
  /** Force one attach variant; default: tp_btf, falling back to raw_tp. */
  variant?: AttachVariant;
  /** One histogram per cgroup (label `container`), bounded; default: one histogram for the machine. */
  perCgroup?: RunqlatPerCgroupOptions;
}

const BASES = ['runqlat_wakeup', 'runqlat_wakeup_new', 'runqlat_switch'];

export class RunqlatSource extends TwinsLatencySource<RunqlatLostReason> {
  private readonly hist: BpfMap;
  private readonly cgroupHists: BpfMap;
  private readonly perCgroup?: { opts: RunqlatPerCgroupOptions; names: CgroupNames; series: CgroupLatencySeries };

  private constructor(twins: AttachedTwins, perCgroup: RunqlatPerCgroupOptions | undefined) {
    super(twins, RUNQLAT_LOST_REASONS);
    this.hist = twins.object.map('hist');
    this.cgroupHists = twins.object.map('cgroup_hists');
    if (perCgroup) {
      this.perCgroup = {
        opts: perCgroup,
        names: new CgroupNames({ root: perCgroup.cgroupRoot }),
        series: new CgroupLatencySeries(perCgroup.maxSeries, 'container'),
      };
    }
  }

  /** Opens, loads and attaches. Throws a HotpathError naming the failing step; nothing stays open then. */
  static start(opts: RunqlatSourceOptions = {}): RunqlatSource {
    const perCgroup = opts.perCgroup !== undefined;
    const configure = (object: BpfObject, variant: AttachVariant) => {
      // The raw_tp twins' start times by tid (allocated whole): tp_btf keeps them in task storage.
      if (variant === 'tp_btf') object.map('start_tid').setMaxEntries(1);
      object.map('.rodata').setInitialValue(encodeRunqlatConfig({ perCgroup }));
      // A per-CPU hash is allocated whole at load (1024 x 328 bytes per CPU: 21 MiB on 64 CPUs): one entry
      // when nothing writes to it.
      if (!perCgroup) object.map('cgroup_hists').setMaxEntries(1);
    };
    const check = (object: BpfObject) => {
      object.map('hist').checkLayout(RUNQLAT_HIST_KEY_SIZE, LOG2_HIST_SIZE, LOG2_HIST_HEADER);
      object.map('cgroup_hists').checkLayout(RUNQLAT_CGROUP_KEY_SIZE, LOG2_HIST_SIZE, LOG2_HIST_HEADER);
    };
    return new RunqlatSource(AttachedTwins.start('runqlat', BASES, configure, check, opts.variant), opts.perCgroup);
  }

  /** The cumulative histogram since start, summed over CPUs (empty with perCgroup). Throws HP_ERR_CLOSED once closed. */
  read(): Log2Histogram {
    const value = Buffer.alloc(LOG2_HIST_SIZE * possibleCpuCount());
    this.hist.lookup(encodeRunqlatHistKey(), value);
    return decodePerCpuLog2Hist(value);
  }

  /** Every cgroup's cumulative histogram, summed over CPUs (perCgroup only). */
  readCgroups(): CgroupRead[] {
    const value = Buffer.alloc(LOG2_HIST_SIZE * possibleCpuCount());
    const out: CgroupRead[] = [];
    for (const key of this.cgroupHists.keys()) {
      if (!this.cgroupHists.lookup(key, value)) continue; // deleted meanwhile
      out.push({ id: key.readBigUInt64LE(0), histogram: decodePerCpuLog2Hist(value) });
    }
    return out;
  }

  series(): HistogramSeries[] {
    const per = this.perCgroup;
    if (!per) return [{ attributes: {}, histogram: this.read() }];
    const { series, gone } = per.series.update(this.readCgroups(), (id) => per.names.labelOf(id, per.opts.podLabel));
    // Cgroups that were removed: their entries go, so the map keeps room for new ones (their last waits are
    // already in `other`).
    const key = Buffer.alloc(RUNQLAT_CGROUP_KEY_SIZE);
    for (const id of gone) {
      key.writeBigUInt64LE(id, 0);
      this.cgroupHists.delete(key);
    }
    return series;
  }
}
