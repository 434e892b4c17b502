// Loads programs/offcpu.bpf.o (sched_switch) and drains off-CPU time per {thread, kernel and user stacks}
// each window. Kernel requirement: BTF; tp_btf + task storage (5.11+), else raw_tp.
import { LostCounters } from '../bpf/lost-counters.js';
import { AttachedTwins, type AttachVariant } from '../bpf/load-twins.js';
import type { BpfObject } from '../bpf/libbpf.js';
import { WindowProtocol, type StackWindow } from '../bpf/window-protocol.js';
import {
  decodeOffcpuKey,
  decodeOffcpuValue,
  encodeOffcpuConfig,
  OFFCPU_HEADER,
  OFFCPU_KEY_SIZE,
  OFFCPU_LOST_REASONS,
  OFFCPU_STACK_MAPS,
  OFFCPU_VALUE_SIZE,
} from '../layouts/offcpu.js';
import type { ProgramStats, StackSource } from './types.js';

export interface OffcpuSourceOptions {
  /** Processes (tgids) to trace; empty: the whole system. */
  pids?: number[];
  /** Shorter blocks are not counted (default 1 µs). */
  minBlockNs?: number | bigint;
  variant?: AttachVariant;
}

export class OffcpuSource implements StackSource {
  readonly kind = 'offcpu';
  readonly variant: AttachVariant;
  private readonly twins: AttachedTwins;
  private readonly windows: WindowProtocol;
  private closing: Promise<void> | null = null;

  private constructor(twins: AttachedTwins) {
    this.twins = twins;
    this.variant = twins.variant;
    this.windows = windowsOf(twins.object);
    this.windows.restart();
  }

  /** Opens, loads and attaches. Throws a HotpathError naming the failing step; nothing stays open then. */
  static start(opts: OffcpuSourceOptions = {}): OffcpuSource {
    const config = encodeOffcpuConfig({ pids: opts.pids ?? [], minBlockNs: BigInt(opts.minBlockNs ?? 1000) });
    const twins = AttachedTwins.start(
      'offcpu',
      ['offcpu_switch'],
      (object) => object.map('.rodata').setInitialValue(config),
      (object) => {
        for (const name of ['counts_0', 'counts_1']) object.map(name).checkLayout(OFFCPU_KEY_SIZE, OFFCPU_VALUE_SIZE, OFFCPU_HEADER);
      },
      opts.variant,
    );
    try {
      return new OffcpuSource(twins);
    } catch (err) {
      twins.close();
      throw err;
    }
  }

  programStats(): ProgramStats[] {
    return this.twins.programStats();
  }

  drain(): Promise<StackWindow> {
    return this.windows.drain();
  }

  // A drain ends the window at its flip; blocks still in progress then are counted when they end, in the
  // next window, so there is nothing to stop first.
  detach(): void {}

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.windows.close();
      this.twins.close();
    })();
    return this.closing;
  }
}

function windowsOf(o: BpfObject): WindowProtocol {
  return new WindowProtocol({
    name: 'offcpu',
    bss: o.map('.bss'),
    counts: [o.map('counts_0'), o.map('counts_1')],
    stacks: Array.from({ length: OFFCPU_STACK_MAPS }, (_, i) => o.map(`stacks_${i}`)),
    // Stacks are taken when a thread blocks and counted when it wakes, possibly one window later.
    stackLifetime: 2,
    decodeEntry: (key, value) => {
      const { totalNs, count } = decodeOffcpuValue(value);
      return { ...decodeOffcpuKey(key), count: Number(count), totalNs: Number(totalNs) };
    },
    lost: new LostCounters(o.map('lost'), OFFCPU_LOST_REASONS),
  });
}
