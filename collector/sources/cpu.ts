// Loads programs/cpu-profile.bpf.o, attaches it to a cpu-clock perf event on every online CPU and drains the
// in-kernel aggregation each window. Kernel requirement: perf_event programs and batch map ops (5.6+), BTF.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CPU_LOST_REASONS,
  CPU_PROFILE_HEADER,
  CPU_SAMPLE_KEY_SIZE,
  CPU_SAMPLE_VALUE_SIZE,
  type CpuLostReason,
  decodeCpuSampleKey,
  decodeStack,
  encodeCpuProfileConfig,
} from '../layouts/cpu-profile.js';
import { BpfObject, type BpfLink, type BpfMap, closeFd, onlineCpus, openCpuClockEvent } from '../bpf/libbpf.js';
import { LostCounters } from '../bpf/lost-counters.js';
import { programObjectPath } from '../bpf/program-files.js';

export interface CpuProfilerOptions {
  /** Sampling frequency per CPU. */
  hz: number;
  /** Processes (tgids) to sample; empty: the whole system. */
  pids?: number[];
  /** Keep samples of the idle task (pid 0). */
  includeIdle?: boolean;
}

/** One aggregated entry of a window: a thread, its stacks (leaf first) and how many samples hit them. */
export interface RawCpuSample {
  pid: number;
  tid: number;
  comm: string;
  /** Stack ids are window-local; the addresses are what matter. Empty when there was no stack. */
  kernelStack: bigint[];
  userStack: bigint[];
  kernelStackId: number;
  userStackId: number;
  count: number;
}

export interface CpuWindow {
  /** Unix epoch nanoseconds. */
  startNs: bigint;
  endNs: bigint;
  samples: RawCpuSample[];
  /** Samples (or parts of them) lost during this window, by reason. */
  lost: Record<CpuLostReason | 'stack_not_found', number>;
  /** Distinct stacks read from the kernel. */
  stacksRead: number;
}

/** Time for programs already running on the old buffer to finish after a flip (they run for microseconds). */
export const FLIP_GRACE_MS = 10;

export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

export class CpuProfiler {
  readonly hz: number;
  private readonly object: BpfObject;
  private readonly links: BpfLink[] = [];
  private readonly stacks: [BpfMap, BpfMap];
  private readonly counts: [BpfMap, BpfMap];
  private readonly lost: LostCounters<CpuLostReason>;
  private readonly bss: BpfMap;
  private active = 0;
  private windowStart: bigint;
  private draining: Promise<CpuWindow> | null = null;
  private closed = false;

  private constructor(object: BpfObject, hz: number) {
    this.object = object;
    this.hz = hz;
    this.stacks = [object.map('stacks_0'), object.map('stacks_1')];
    this.counts = [object.map('counts_0'), object.map('counts_1')];
    this.lost = new LostCounters(object.map('lost'), CPU_LOST_REASONS);
    this.bss = object.map('.bss');
    this.windowStart = nowNs();
  }

  /** Opens, loads and attaches. Throws a HotpathError naming the failing step; nothing stays open then. */
  static start(opts: CpuProfilerOptions): CpuProfiler {
    const object = BpfObject.open(programObjectPath('cpu-profile'));
    let profiler: CpuProfiler | null = null;
    try {
      object.map('.rodata').setInitialValue(encodeCpuProfileConfig({ pids: opts.pids ?? [], includeIdle: !!opts.includeIdle }));
      object.load();
      profiler = new CpuProfiler(object, opts.hz);
      for (const m of profiler.counts) m.checkLayout(CPU_SAMPLE_KEY_SIZE, CPU_SAMPLE_VALUE_SIZE, CPU_PROFILE_HEADER);
      const program = object.program('sample_cpu');
      for (const cpu of onlineCpus()) {
        const fd = openCpuClockEvent(cpu, opts.hz);
        try {
          profiler.links.push(program.attachPerfEvent(fd, `attach perf event on cpu ${cpu}`));
        } catch (err) {
          closeFd(fd);
          throw err;
        }
      }
      profiler.windowStart = nowNs();
      return profiler;
    } catch (err) {
      if (profiler) profiler.close();
      else object.close();
      throw err;
    }
  }

  get attachedCpus(): number {
    return this.links.length;
  }

  /** Program statistics (kernel.bpf_stats_enabled=1). */
  programStats() {
    return this.object.program('sample_cpu').stats();
  }

  /**
   * Ends the current window: flips the kernel to the other buffer, waits out programs in flight, then reads
   * and clears the idle buffer. Concurrent calls share one drain.
   */
  drain(): Promise<CpuWindow> {
    if (!this.draining) {
      this.draining = this.drainOnce().finally(() => {
        this.draining = null;
      });
    }
    return this.draining;
  }

  private async drainOnce(): Promise<CpuWindow> {
    const idle = this.active;
    this.active = 1 - idle;
    const bss = Buffer.alloc(this.bss.valueSize);
    bss.writeUInt32LE(this.active, 0);
    if (!this.closed) this.bss.update(Buffer.alloc(4), bss);
    const startNs = this.windowStart;
    const endNs = nowNs();
    this.windowStart = endNs;
    await sleep(FLIP_GRACE_MS);
    return this.readBuffer(idle, startNs, endNs);
  }

  private readBuffer(idle: number, startNs: bigint, endNs: bigint): CpuWindow {
    const entries: { key: ReturnType<typeof decodeCpuSampleKey>; count: number }[] = [];
    this.counts[idle].drainBatch((k, v) => {
      entries.push({ key: decodeCpuSampleKey(k), count: Number(v.readBigUInt64LE(0)) });
    });

    const stackMap = this.stacks[idle];
    const stackCache = new Map<number, bigint[] | null>();
    const idBuf = Buffer.alloc(4);
    const stackBuf = Buffer.alloc(stackMap.valueSize);
    let notFound = 0;
    const stackOf = (id: number): bigint[] => {
      if (id < 0) return [];
      let s = stackCache.get(id);
      if (s === undefined) {
        idBuf.writeUInt32LE(id, 0);
        s = stackMap.lookup(idBuf, stackBuf) ? decodeStack(stackBuf) : null;
        stackCache.set(id, s);
      }
      if (s === null) {
        notFound++;
        return [];
      }
      return s;
    };
    const samples: RawCpuSample[] = entries.map(({ key, count }) => ({
      pid: key.pid,
      tid: key.tid,
      comm: key.comm,
      kernelStack: stackOf(key.kernelStackId),
      userStack: stackOf(key.userStackId),
      kernelStackId: key.kernelStackId,
      userStackId: key.userStackId,
      count,
    }));
    for (const key of stackMap.keys()) stackMap.delete(key);

    const lost = { stack_not_found: notFound, ...this.lost.delta() };
    return { startNs, endNs, samples, lost, stacksRead: stackCache.size };
  }

  /** Stops sampling (the maps stay readable for a last drain). Idempotent. */
  detach(): void {
    for (const link of this.links.splice(0)) link.destroy();
  }

  /** Detaches and frees everything. Idempotent. */
  close(): void {
    this.detach();
    this.closed = true;
    this.object.close();
  }
}
