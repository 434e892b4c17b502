// Loads programs/cpu-profile.bpf.o, attaches it to a cpu-clock perf event on every online CPU and drains the
// in-kernel aggregation each window. Kernel requirement: perf_event programs and batch map ops (5.6+), BTF.
import {
  CPU_LOST_REASONS,
  CPU_PROFILE_HEADER,
  CPU_SAMPLE_KEY_SIZE,
  CPU_SAMPLE_VALUE_SIZE,
  decodeCpuSampleKey,
  decodeCpuSampleValue,
  encodeCpuProfileConfig,
} from '../layouts/cpu-profile.js';
import { BpfObject, type BpfLink, type BpfMap, closeFd, onlineCpus, openCpuClockEvent, possibleCpuCount } from '../bpf/libbpf.js';
import { ErrorCodes, HotpathError } from '../errors.js';
import { LostCounters } from '../bpf/lost-counters.js';
import { programObjectPath } from '../bpf/program-files.js';
import { WindowProtocol, type StackWindow } from '../bpf/window-protocol.js';
import { copyUserStack, decodeUserStack, sumUnwindCounts, UNWIND_COUNTS_SIZE, USER_STACK_SIZE, type UnwindCounter } from '../layouts/unwind.js';
import { ProcessTables, type ProcessTablesStats } from '../unwind/process-tables.js';
import { UNWIND_ROW_SIZE } from '../unwind/rows.js';
import type { ProgramStats, StackSource } from './types.js';

export interface CpuSourceOptions {
  /** Sampling frequency per CPU. */
  hz: number;
  /** Processes (tgids) to sample; empty: the whole system. */
  pids?: number[];
  /** Keep samples of the idle task (pid 0). */
  includeIdle?: boolean;
  /** User stacks: 'dwarf' walks .eh_frame/.debug_frame tables (frame pointers where none), 'fp' frame pointers only. */
  unwind?: UnwindMode;
  /** Kernel memory for unwind tables (bytes; rows of 16 bytes). */
  unwindTableBytes?: number;
  /** How often the maps are drained: with hz and the CPUs, sizes the maps (cpuMapSizes). Default 10 s. */
  windowSeconds?: number;
  /** The wall profile: each sample measures the CPU time since the thread's switch-in or previous sample (cpuNs). */
  wall?: boolean;
  log?: (line: string) => void;
}

export type UnwindMode = 'dwarf' | 'fp';

/** Per-window sample keys and stacks are sized for this many samples at least (small machines)... */
export const MIN_MAP_SAMPLES = 4096;
/** ...and at most (a 256-CPU node at 99 Hz and 10 s windows: 253k samples). */
export const MAX_MAP_SAMPLES = 1 << 18;
/** Bytes of one stack in our own maps (kernel and user alike: struct user_stack, its key and the element's header). */
const STACK_ENTRY_BYTES = USER_STACK_SIZE + 8 + 64;
const COUNT_ENTRY_BYTES = CPU_SAMPLE_KEY_SIZE + CPU_SAMPLE_VALUE_SIZE + 64;

export interface CpuMapSizes {
  /** Samples one window can hold at most: every CPU busy the whole window. */
  samplesPerWindow: number;
  /** Entries of each counts map and each stack map (kernel and user stacks), per buffer. */
  entries: number;
  /** Kernel memory of the two buffers at their fullest (the stack maps are allocated as stacks arrive). */
  bytes: number;
}

/**
 * Map sizes for `cpus` CPUs sampled at `hz` and drained every `windowSeconds`: one entry per sample a window
 * can take (every key and stack distinct), rounded up to a power of two within [MIN_MAP_SAMPLES,
 * MAX_MAP_SAMPLES]. A 2-CPU machine gets 4096 entries (fixed 16,384/32,768 before); a 64-CPU node 65,536.
 */
export function cpuMapSizes(cpus: number, hz: number, windowSeconds: number): CpuMapSizes {
  const samplesPerWindow = Math.ceil(Math.max(1, cpus) * Math.max(1, hz) * Math.max(1, windowSeconds));
  let entries = MIN_MAP_SAMPLES;
  while (entries < samplesPerWindow && entries < MAX_MAP_SAMPLES) entries *= 2;
  const bytes = 2 * entries * (2 * STACK_ENTRY_BYTES + COUNT_ENTRY_BYTES);
  return { samplesPerWindow, entries, bytes };
}

/** The walker's cumulative counters (enum unwind_end) and, for the source that owns them, its tables' state. */
export interface UnwindStats {
  walks: Record<UnwindCounter, number>;
  tables?: ProcessTablesStats;
  tableBytes: number;
}

/**
 * The unwind tables a walking program (off-CPU, io) reads: the CPU program's when it shares them (then not its
 * own to close or report), else its own, filled for the selected processes (or every process).
 */
export function walkerTables(object: BpfObject, shared: SharedUnwindTables | undefined, pids: number[] | undefined, log?: (line: string) => void): { tables: ProcessTables; ownTables: boolean } {
  const tables = shared?.tables ?? new ProcessTables({ rows: object.map('unwind_rows'), procs: object.map('unwind_procs'), log });
  tables.refresh(pids && pids.length > 0 ? pids : tables.allPids());
  return { tables, ownTables: !shared };
}

export function readUnwindStats(counters: BpfMap, tables: ProcessTables | null): UnwindStats {
  const value = Buffer.alloc(UNWIND_COUNTS_SIZE * possibleCpuCount());
  const walks = counters.lookup(Buffer.alloc(4), value) ? sumUnwindCounts(value) : sumUnwindCounts(Buffer.alloc(0));
  return { walks, tables: tables ? { ...tables.stats } : undefined, tableBytes: tables?.bytesInUse ?? 0 };
}

/** One source's unwind tables and the maps that hold them, for another source to share. */
export interface SharedUnwindTables {
  rows: BpfMap;
  procs: BpfMap;
  tables: ProcessTables;
}
export const UNWIND_MODES: readonly UnwindMode[] = ['dwarf', 'fp'];
/** Default --unwind-table-memory: 2 Mi rows, enough for node and a few hundred libraries. */
export const DEFAULT_UNWIND_TABLE_BYTES = 32 * 1024 * 1024;

export class CpuSource implements StackSource {
  readonly kind = 'cpu';
  readonly hz: number;
  /** How user stacks are walked: the table walker, or (asked for, or the kernel refused the walker) frame pointers. */
  readonly unwind: UnwindMode;
  private readonly object: BpfObject;
  private readonly links: BpfLink[] = [];
  private readonly windows: WindowProtocol;
  private readonly unwindCounters: BpfMap;
  private tables: ProcessTables | null = null;
  private closing: Promise<void> | null = null;

  private constructor(object: BpfObject, hz: number, unwind: UnwindMode) {
    this.object = object;
    this.hz = hz;
    this.unwind = unwind;
    this.unwindCounters = object.map('unwind_counters');
    this.windows = new WindowProtocol({
      name: 'cpu-profile',
      bss: object.map('.bss'),
      counts: [object.map('counts_0'), object.map('counts_1')],
      stacks: [object.map('stacks_0'), object.map('stacks_1')],
      kernelStacks: { decode: decodeUserStack },
      userStacks: { maps: [object.map('user_stacks_0'), object.map('user_stacks_1')], decode: copyUserStack },
      // A sample's count and stacks are taken together, in the same generation.
      stackLifetime: 1,
      decodeEntry: (key, value, generation) => {
        const k = decodeCpuSampleKey(key);
        const v = decodeCpuSampleValue(value);
        return {
          pid: k.pid,
          tid: k.tid,
          comm: k.comm,
          kernelStackId: k.kernelStack,
          userStackId: k.userStack,
          stackMap: generation % 2,
          count: Number(v.count),
          cpuNs: Number(v.cpuNs),
        };
      },
      lost: new LostCounters(object.map('lost'), CPU_LOST_REASONS),
    });
  }

  /**
   * Opens, loads and attaches. With --unwind dwarf (the default) the table walker is loaded; a kernel that
   * refuses it (no bpf_loop before 5.17, no bpf_task_pt_regs before 5.15) gets the frame-pointer program,
   * said once on the log. Throws a HotpathError naming the failing step; nothing stays open then.
   */
  static start(opts: CpuSourceOptions): CpuSource {
    if ((opts.unwind ?? 'dwarf') === 'dwarf') {
      try {
        return CpuSource.startVariant(opts, 'dwarf');
      } catch (err) {
        if (!(err instanceof HotpathError) || err.code !== ErrorCodes.LOAD_OBJECT) throw err;
        opts.log?.(`cpu: the kernel refused the table walker, user stacks by frame pointer: ${err.message.split('\n')[0]}`);
      }
    }
    return CpuSource.startVariant(opts, 'fp');
  }

  private static startVariant(opts: CpuSourceOptions, unwind: UnwindMode): CpuSource {
    const object = BpfObject.open(programObjectPath('cpu-profile'));
    let source: CpuSource | null = null;
    try {
      const walker = unwind === 'dwarf';
      object.map('.rodata').setInitialValue(encodeCpuProfileConfig({ pids: opts.pids ?? [], includeIdle: !!opts.includeIdle, unwindTables: walker, hz: opts.hz, wall: opts.wall }));
      const rows = Math.max(1, Math.floor((walker ? (opts.unwindTableBytes ?? DEFAULT_UNWIND_TABLE_BYTES) : 0) / UNWIND_ROW_SIZE));
      object.map('unwind_rows').setMaxEntries(rows);
      const sizes = cpuMapSizes(onlineCpus().length, opts.hz, opts.windowSeconds ?? 10);
      for (const name of ['counts_0', 'counts_1', 'stacks_0', 'stacks_1', 'user_stacks_0', 'user_stacks_1']) object.map(name).setMaxEntries(sizes.entries);
      opts.log?.(
        `cpu: maps sized for ${sizes.samplesPerWindow} samples per window (${sizes.entries} entries per map, ` +
          `up to ${(sizes.bytes / 1048576).toFixed(0)} MiB of kernel memory)`,
      );
      object.program('sample_cpu').setAutoload(walker);
      object.program('sample_cpu_fp').setAutoload(!walker);
      object.load();
      for (const name of ['counts_0', 'counts_1']) object.map(name).checkLayout(CPU_SAMPLE_KEY_SIZE, CPU_SAMPLE_VALUE_SIZE, CPU_PROFILE_HEADER);
      for (const name of ['stacks_0', 'stacks_1', 'user_stacks_0', 'user_stacks_1']) object.map(name).checkLayout(8, USER_STACK_SIZE, 'programs/unwind.h');
      source = new CpuSource(object, opts.hz, unwind);
      const program = object.program(source.programName);
      for (const cpu of onlineCpus()) {
        const fd = openCpuClockEvent(cpu, opts.hz);
        try {
          source.links.push(program.attachPerfEvent(fd, `attach perf event on cpu ${cpu}`));
        } catch (err) {
          closeFd(fd);
          throw err;
        }
      }
      if (walker) {
        source.tables = new ProcessTables({ rows: object.map('unwind_rows'), procs: object.map('unwind_procs'), log: opts.log });
        source.tables.refresh(opts.pids && opts.pids.length > 0 ? opts.pids : source.tables.allPids());
      }
      source.windows.restart();
      return source;
    } catch (err) {
      source?.detach();
      object.close();
      throw err;
    }
  }

  private get programName(): string {
    return this.unwind === 'dwarf' ? 'sample_cpu' : 'sample_cpu_fp';
  }

  get attachedCpus(): number {
    return this.links.length;
  }

  programStats(): ProgramStats[] {
    return [{ program: 'cpu-profile', ...this.object.program(this.programName).stats() }];
  }

  async drain(): Promise<StackWindow> {
    const w = await this.windows.drain();
    // Tables for the processes just seen (new ones walk by frame pointer until their files are tabled).
    this.tables?.refresh(new Set(w.samples.map((s) => s.pid)));
    return w;
  }

  /** The per-thread records (task storage) the off-CPU source's wall mode shares with the samples. */
  wallRecords(): BpfMap {
    return this.object.map('wall_task');
  }

  /** The tables and their maps, for the off-CPU source to share; undefined without the table walker. */
  sharedTables(): SharedUnwindTables | undefined {
    return this.tables ? { rows: this.object.map('unwind_rows'), procs: this.object.map('unwind_procs'), tables: this.tables } : undefined;
  }

  /** Cumulative counters of the user-stack walker (enum unwind_end) and the tables' state. */
  unwindStats(): UnwindStats {
    return readUnwindStats(this.unwindCounters, this.tables);
  }

  /** Stops sampling (the maps stay readable for a last drain). Idempotent. */
  detach(): void {
    for (const link of this.links.splice(0)) link.destroy();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.detach();
      this.tables?.close();
      await this.windows.close();
      this.object.close();
    })();
    return this.closing;
  }
}
