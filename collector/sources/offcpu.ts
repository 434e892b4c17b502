// Loads programs/offcpu.bpf.o (sched_switch) and drains off-CPU time per {thread, kernel and user stacks}
// each window. Kernel requirement: BTF; tp_btf + task storage (5.11+), else raw_tp.
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeStack } from '../layouts/cpu-profile.js';
import { FLIP_GRACE_MS, nowNs } from './cpu.js';
import { LostCounters } from '../bpf/lost-counters.js';
import { type BpfLink, type BpfMap, type ProgramStats } from '../bpf/libbpf.js';
import { attachAll, closedError, loadTwins, statsOf, type AttachVariant, type LoadedTwins } from '../bpf/load-twins.js';
import {
  decodeOffcpuKey,
  decodeOffcpuValue,
  encodeOffcpuConfig,
  OFFCPU_HEADER,
  OFFCPU_KEY_SIZE,
  OFFCPU_LOST_REASONS,
  OFFCPU_STACK_MAPS,
  OFFCPU_VALUE_SIZE,
  type OffcpuLostReason,
} from '../layouts/offcpu.js';

export interface OffcpuOptions {
  /** Processes (tgids) to trace; empty: the whole system. */
  pids?: number[];
  /** Shorter blocks are not counted (default 1 µs). */
  minBlockNs?: number | bigint;
  variant?: AttachVariant;
}

export interface OffcpuSample {
  pid: number;
  tid: number;
  comm: string;
  /** Leaf first; empty when there was no stack of that kind. */
  kernelStack: bigint[];
  userStack: bigint[];
  /** Times the thread blocked with these stacks (and woke within the window). */
  count: number;
  /** Nanoseconds off CPU. */
  totalNs: number;
}

export interface OffcpuWindow {
  /** Unix epoch nanoseconds. */
  startNs: bigint;
  endNs: bigint;
  samples: OffcpuSample[];
  lost: Record<OffcpuLostReason | 'stack_not_found', number>;
}


export class OffcpuCollector {
  readonly variant: AttachVariant;
  private readonly loaded: LoadedTwins;
  private readonly stacks: BpfMap[];
  private readonly counts: [BpfMap, BpfMap];
  private readonly lost: LostCounters<OffcpuLostReason>;
  private readonly bss: BpfMap;
  private links: BpfLink[] = [];
  private generation = 0;
  private windowStart = nowNs();
  private draining: Promise<OffcpuWindow> | null = null;
  private closed = false;

  private constructor(loaded: LoadedTwins) {
    this.loaded = loaded;
    this.variant = loaded.variant;
    const o = loaded.object;
    this.stacks = Array.from({ length: OFFCPU_STACK_MAPS }, (_, i) => o.map(`stacks_${i}`));
    this.counts = [o.map('counts_0'), o.map('counts_1')];
    this.lost = new LostCounters(o.map('lost'), OFFCPU_LOST_REASONS);
    this.bss = o.map('.bss');
  }

  /** Opens, loads and attaches. Throws a HotpathError naming the failing step; nothing stays open then. */
  static start(opts: OffcpuOptions = {}): OffcpuCollector {
    const config = encodeOffcpuConfig({ pids: opts.pids ?? [], minBlockNs: BigInt(opts.minBlockNs ?? 1000) });
    const loaded = loadTwins('offcpu', ['offcpu_switch'], (object) => object.map('.rodata').setInitialValue(config), opts.variant);
    const collector = new OffcpuCollector(loaded);
    try {
      for (const m of collector.counts) m.checkLayout(OFFCPU_KEY_SIZE, OFFCPU_VALUE_SIZE, OFFCPU_HEADER);
      collector.links = attachAll('offcpu', loaded);
      collector.windowStart = nowNs();
      return collector;
    } catch (err) {
      collector.close();
      throw err;
    }
  }

  programStats(): Record<string, ProgramStats> {
    if (this.closed) throw closedError('offcpu program stats');
    return statsOf(this.loaded.programs);
  }

  /**
   * Ends the current window: bumps the generation (the kernel switches to the other counts map and the next
   * stack map), waits out programs in flight, then reads and clears the idle counts. Concurrent calls share
   * one drain.
   */
  drain(): Promise<OffcpuWindow> {
    if (this.closed) return Promise.reject(closedError('offcpu window'));
    if (!this.draining) {
      this.draining = this.drainOnce().finally(() => {
        this.draining = null;
      });
    }
    return this.draining;
  }

  private async drainOnce(): Promise<OffcpuWindow> {
    const ended = this.generation;
    this.generation = ended + 1;
    const bss = Buffer.alloc(this.bss.valueSize);
    bss.writeUInt32LE(this.generation >>> 0, 0);
    this.bss.update(Buffer.alloc(4), bss);
    const startNs = this.windowStart;
    const endNs = nowNs();
    this.windowStart = endNs;
    await sleep(FLIP_GRACE_MS);
    if (this.closed) throw closedError('offcpu window');
    return this.readWindow(ended, startNs, endNs);
  }

  private readWindow(ended: number, startNs: bigint, endNs: bigint): OffcpuWindow {
    const entries: { key: ReturnType<typeof decodeOffcpuKey>; totalNs: bigint; count: bigint }[] = [];
    this.counts[ended % 2].drainBatch((k, v) => {
      const value = decodeOffcpuValue(v);
      entries.push({ key: decodeOffcpuKey(k), ...value });
    });

    const cache = new Map<string, bigint[] | null>();
    const idBuf = Buffer.alloc(4);
    const stackBuf = Buffer.alloc(this.stacks[0].valueSize);
    let notFound = 0;
    const stackOf = (map: number, id: number): bigint[] => {
      if (id < 0) return [];
      const cacheKey = `${map}:${id}`;
      let s = cache.get(cacheKey);
      if (s === undefined) {
        const stackMap = this.stacks[map];
        idBuf.writeUInt32LE(id, 0);
        s = stackMap && stackMap.lookup(idBuf, stackBuf) ? decodeStack(stackBuf) : null;
        cache.set(cacheKey, s);
      }
      if (s === null) {
        notFound++;
        return [];
      }
      return s;
    };
    const samples: OffcpuSample[] = entries.map(({ key, totalNs, count }) => ({
      pid: key.pid,
      tid: key.tid,
      comm: key.comm,
      kernelStack: stackOf(key.stackMap, key.kernelStackId),
      userStack: stackOf(key.stackMap, key.userStackId),
      count: Number(count),
      totalNs: Number(totalNs),
    }));

    // Stacks captured in window `ended - 1` were referenced by that window and this one only (a thread
    // blocked over two flips loses its stacks in the kernel): free their map before window `ended + 2` uses it.
    const recycled = this.stacks[(ended + OFFCPU_STACK_MAPS - 1) % OFFCPU_STACK_MAPS];
    for (const key of recycled.keys()) recycled.delete(key);

    const lost = { stack_not_found: notFound, ...this.lost.delta() };
    return { startNs, endNs, samples, lost };
  }

  /** Detaches and frees everything. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const link of this.links.splice(0)) link.destroy();
    this.loaded.object.close();
  }
}
