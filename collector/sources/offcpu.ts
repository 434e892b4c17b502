// Loads programs/offcpu.bpf.o (sched_switch, sys_exit, sched_process_free) and drains off-CPU time per {thread, kernel and user stacks}
// each window. Kernel requirement: BTF; tp_btf + task storage (5.11+), else raw_tp.
import { LostCounters } from '../bpf/lost-counters.js';
import { AttachedTwins, type AttachVariant } from '../bpf/load-twins.js';
import type { BpfMap, BpfObject } from '../bpf/libbpf.js';
import { WindowProtocol, type StackCountEntry, type StackWindow } from '../bpf/window-protocol.js';
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
import { copyUserStack, USER_STACK_SIZE } from '../layouts/unwind.js';
import type { ProcessTables } from '../unwind/process-tables.js';
import { UNWIND_ROW_SIZE } from '../unwind/rows.js';
import { DEFAULT_UNWIND_TABLE_BYTES, readUnwindStats, walkerTables, type SharedUnwindTables, type UnwindMode, type UnwindStats } from './cpu.js';

export interface OffcpuSourceOptions {
  /** Processes (tgids) to trace; empty: the whole system. */
  pids?: number[];
  /** Shorter blocks are not counted (default 1 µs). */
  minBlockNs?: number | bigint;
  variant?: AttachVariant;
  /** User stacks: 'dwarf' walks unwind tables (frame pointers where none), 'fp' frame pointers only. */
  unwind?: UnwindMode;
  unwindTableBytes?: number;
  /** The CPU source's tables, shared rather than built and held twice. */
  shareTables?: SharedUnwindTables;
  /**
   * Wall mode (the wall profile): each block carries the thread's state at switch-out and its run-queue part,
   * and blocks shorter than minBlockNs are counted too, marked belowMinBlock (kernel stack only).
   */
  wall?: boolean;
  /**
   * Wall mode: the CPU program's per-thread records (CpuSource.wallRecords, started with `wall`), used as this
   * program's own (tp_btf): a thread's runs are then carried in pieces, by its CPU samples and at its
   * switch-out (oncpuNs). The raw_tp twins keep records by tid and cannot share them (`wallRecordsShared`).
   */
  wallRecords?: BpfMap;
  log?: (line: string) => void;
}

export class OffcpuSource implements StackSource {
  readonly kind = 'offcpu';
  readonly variant: AttachVariant;
  /** Whether blocks carry their state and run-queue part, short ones included (OffcpuSourceOptions.wall). */
  wall = false;
  /** Wall mode with the CPU program's records: what the wall profile needs (false on the raw_tp twins). */
  wallRecordsShared = false;
  private readonly twins: AttachedTwins;
  private readonly windows: WindowProtocol;
  private tables: ProcessTables | null = null;
  private ownTables = false;
  private closing: Promise<void> | null = null;

  private constructor(twins: AttachedTwins) {
    this.twins = twins;
    this.variant = twins.variant;
    this.windows = windowsOf(twins.object);
    this.windows.restart();
  }

  /** Opens, loads and attaches. Throws a HotpathError naming the failing step; nothing stays open then. */
  static start(opts: OffcpuSourceOptions = {}): OffcpuSource {
    const walker = (opts.unwind ?? 'dwarf') === 'dwarf';
    const config = encodeOffcpuConfig({ pids: opts.pids ?? [], minBlockNs: BigInt(opts.minBlockNs ?? 1000), unwindTables: walker, wall: !!opts.wall });
    const shared = walker ? opts.shareTables : undefined;
    const twins = AttachedTwins.start(
      'offcpu',
      ['offcpu_switch', 'offcpu_sys_exit', 'offcpu_free'],
      (object, variant) => {
        object.map('.rodata').setInitialValue(config);
        // The raw_tp twins' start records by tid (16,384 x 96 bytes, allocated whole): tp_btf keeps them in
        // task storage.
        if (variant === 'tp_btf') object.map('start_tid').setMaxEntries(1);
        if (opts.wall && opts.wallRecords) object.map('start_task').reuseFd(opts.wallRecords.fd);
        if (shared) {
          object.map('unwind_rows').reuseFd(shared.rows.fd);
          object.map('unwind_procs').reuseFd(shared.procs.fd);
        } else {
          const bytes = walker ? (opts.unwindTableBytes ?? DEFAULT_UNWIND_TABLE_BYTES) : 0;
          object.map('unwind_rows').setMaxEntries(Math.max(1, Math.floor(bytes / UNWIND_ROW_SIZE)));
        }
      },
      (object) => {
        for (const name of ['counts_0', 'counts_1']) object.map(name).checkLayout(OFFCPU_KEY_SIZE, OFFCPU_VALUE_SIZE, OFFCPU_HEADER);
        for (const name of ['user_stacks_0', 'user_stacks_1']) object.map(name).checkLayout(8, USER_STACK_SIZE, 'programs/unwind.h');
      },
      opts.variant,
    );
    try {
      const source = new OffcpuSource(twins);
      source.wall = !!opts.wall;
      source.wallRecordsShared = source.wall && !!opts.wallRecords && source.variant === 'tp_btf';
      if (walker) ({ tables: source.tables, ownTables: source.ownTables } = walkerTables(twins.object, shared, opts.pids, opts.log));
      return source;
    } catch (err) {
      twins.close();
      throw err;
    }
  }

  /** The walker's counters of this program; table state only when it owns its tables (else see the CPU source). */
  unwindStats(): UnwindStats {
    return readUnwindStats(this.twins.object.map('unwind_counters'), this.ownTables ? this.tables : null);
  }

  programStats(): ProgramStats[] {
    return this.twins.programStats();
  }

  /** raw_tp: threads holding a start record (off CPU, or a block waiting for its user stack); tp_btf: undefined. */
  startRecordCount(): number | undefined {
    if (this.variant !== 'raw_tp') return undefined;
    return this.twins.object.map('start_tid').keys().length;
  }

  async drain(): Promise<StackWindow> {
    const w = await this.windows.drain();
    // Sleepers may never be CPU-sampled: the processes that blocked get their tables from here too.
    this.tables?.refresh(new Set(w.samples.map((s) => s.pid)));
    return w;
  }

  // A drain ends the window at its flip; blocks still in progress then are counted when they end, in the
  // next window, so there is nothing to stop first.
  detach(): void {}

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.ownTables) this.tables?.close();
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
    userStacks: { maps: [o.map('user_stacks_0'), o.map('user_stacks_1')], decode: copyUserStack },
    // Stacks are taken when a thread blocks and counted when it wakes, possibly one window later.
    stackLifetime: 2,
    decodeEntry: (key, value) => {
      const k = decodeOffcpuKey(key);
      const { totalNs, count, runnableNs, oncpuNs } = decodeOffcpuValue(value);
      const entry: StackCountEntry = {
        pid: k.pid, tid: k.tid, comm: k.comm, kernelStackId: k.kernelStackId, userStackId: k.userStack, stackMap: k.stackMap,
        count: Number(count), totalNs: Number(totalNs),
      };
      // Outside wall mode the state is 'none' and nothing else is set: the window is as it always was.
      if (k.state !== 'none') {
        entry.state = k.state;
        entry.runnableNs = Number(runnableNs);
        entry.oncpuNs = Number(oncpuNs);
        if (k.belowMinBlock) entry.belowMinBlock = true;
      }
      return entry;
    },
    lost: new LostCounters(o.map('lost'), OFFCPU_LOST_REASONS),
  });
}
