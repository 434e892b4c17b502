// One memory budget for the agent (`hotpath serve --memory-limit`): a fixed part for Node.js itself and the
// requests being answered, the rest split between the retained history (shared equally by the stack profiles
// that run) and the symbolizer's caches. Each part is enforced by bytes where it is held (the window stores,
// the symbolizer) and what it evicts is counted there.
import { usageError } from '../errors.js';

const MiB = 1024 * 1024;

/** Fits a 256 MiB container (cgroup memory.max) with 64 MiB of headroom. */
export const DEFAULT_MEMORY_LIMIT_BYTES = 192 * MiB;
/**
 * What the budget leaves to the runtime: Node.js with its modules, libbpf and BTF, the programs' user side,
 * kernel symbols (10-20 MB, outside the symbolizer's budget) and the merges and encodings of requests in flight.
 * Measured on Node 20 with every program attached and the defaults (`--unwind dwarf`), a spinning process and
 * stress-ng running: 113-126 MiB resident in steady state (40 MiB of it Node.js itself) once the C heap's free pages
 * are handed back after each window; before that (and before the history was kept as ids) 150-210 MiB. The DWARF
 * unwind tables' builder (a worker thread, stopped when idle) adds tens of MiB while it builds.
 * Peaks (VmHWM) on defaults in a 256 MiB memory cgroup, with a 256 MiB string table, the demangler bomb and a
 * stream of short-lived node/python3/perl/gcc/xz processes (memory-cgroup.kernel.test.ts): 172-179 MiB; the
 * cgroup's peak charge (with the eBPF maps' ~60 MiB of kernel memory and page cache) 195-202 MiB. The first
 * window of a busy machine is the peak: every file is new to the symbolizer then.
 */
export const RUNTIME_RESERVE_BYTES = 128 * MiB;
/** Below this the history and symbol parts (16 MiB each at the minimum) would be too small to be of use. */
export const MIN_MEMORY_LIMIT_BYTES = 160 * MiB;
/** The history's share of what is left after the runtime's part; the symbol caches get the rest. */
export const HISTORY_SHARE = 0.5;

export interface MemoryBudget {
  limitBytes: number;
  runtimeBytes: number;
  /** Retained history over every profile type. */
  historyBytes: number;
  /** Each profile type's window store. */
  historyBytesPerProfile: number;
  /** The symbolizer's caches (parsed files, per-process maps and perf maps). */
  symbolCacheBytes: number;
  /** True when --retention-memory set the history part instead of the limit. */
  historyOverridden: boolean;
}

export interface MemoryBudgetOptions {
  /** Stack profile types that keep history (cpu, offcpu); at least 1 is assumed. */
  profiles: number;
  /** --retention-memory: each profile type's history, instead of its share of the limit. */
  retentionMemoryBytes?: number;
}

/** Splits `limitBytes`; a limit under MIN_MEMORY_LIMIT_BYTES is HP_ERR_USAGE. */
export function splitMemoryBudget(limitBytes: number, opts: MemoryBudgetOptions): MemoryBudget {
  if (!Number.isFinite(limitBytes) || limitBytes < MIN_MEMORY_LIMIT_BYTES) {
    throw usageError(`invalid value for --memory-limit: ${limitBytes} bytes (at least ${MIN_MEMORY_LIMIT_BYTES / MiB}M)`);
  }
  const profiles = Math.max(1, Math.floor(opts.profiles));
  const shared = limitBytes - RUNTIME_RESERVE_BYTES;
  const symbolCacheBytes = Math.floor(shared * (1 - HISTORY_SHARE));
  const overridden = opts.retentionMemoryBytes !== undefined;
  const historyBytesPerProfile = overridden ? opts.retentionMemoryBytes! : Math.floor((shared * HISTORY_SHARE) / profiles);
  return {
    limitBytes,
    runtimeBytes: RUNTIME_RESERVE_BYTES,
    historyBytes: historyBytesPerProfile * profiles,
    historyBytesPerProfile,
    symbolCacheBytes,
    historyOverridden: overridden,
  };
}

/** What MemoryPressure reads and acts on (the agent's process, heap and stores; a test's fakes). */
export interface PressureHooks {
  /** Resident bytes of the process now. */
  residentBytes(): number;
  /** The JS heap's bytes in use now (live and not yet collected). */
  heapUsedBytes(): number;
  /** A full garbage collection; the heap's free pages go back to the system soon after. */
  collectGarbage(): void;
  /** The history part's bytes over every store (each gets its share): lower ones drop their oldest windows. */
  setHistoryBytes(bytes: number): void;
}

/** Resident share of the limit above which a grown heap is collected at the end of a window. */
export const COLLECT_AT = 0.85;
/** Heap growth since the last collection that makes another one worth its time (40-80 ms at 100 MB). */
export const COLLECT_AFTER_GROWTH_BYTES = 24 * MiB;
/** The history part is never shrunk below this share of itself (the latest windows stay). */
export const MIN_HISTORY_SHARE = 0.25;

/**
 * Holds the resident total, not only the parts, to the limit. The parts are enforced where they are held, but
 * the runtime's part is an estimate: at a high sampling rate with process churn it measured 150-200 MiB (V8's
 * heap grown to twice its live size between collections, native buffers, the unwind tables' builder). Checked
 * at the end of each window:
 * 1. over the limit: the history part is lowered by the excess (the oldest windows go, counted as evictions
 *    for memory), down to MIN_HISTORY_SHARE of itself; under 90% of the limit it is raised back by half the room;
 * 2. above COLLECT_AT of the limit, with the heap grown by COLLECT_AFTER_GROWTH_BYTES since the last collection:
 *    a full collection, so the heap's garbage is given back rather than left for V8 to reach at twice the size.
 */
export class MemoryPressure {
  /** Collections run for memory (hotpath_memory_collections_total). */
  collections = 0;
  /** Windows in which the history part was lowered. */
  shrinks = 0;
  private historyBytes: number;
  private heapAfterCollection = 0;

  constructor(
    private readonly budget: Pick<MemoryBudget, 'limitBytes' | 'historyBytes'>,
    private readonly hooks: PressureHooks,
  ) {
    this.historyBytes = budget.historyBytes;
  }

  /** The history part as lowered now (the budget's until the resident total passes the limit). */
  get historyBudgetBytes(): number {
    return this.historyBytes;
  }

  afterWindow(): void {
    const limit = this.budget.limitBytes;
    const rss = this.hooks.residentBytes();
    const floor = Math.floor(this.budget.historyBytes * MIN_HISTORY_SHARE);
    let history = this.historyBytes;
    if (rss > limit) history = Math.max(floor, history - (rss - limit));
    else if (rss < limit * 0.9) history = Math.min(this.budget.historyBytes, history + Math.floor((limit * 0.9 - rss) / 2));
    if (history !== this.historyBytes) {
      if (history < this.historyBytes) this.shrinks++;
      this.historyBytes = history;
      this.hooks.setHistoryBytes(history);
    }
    if (rss > limit * COLLECT_AT && this.hooks.heapUsedBytes() > this.heapAfterCollection + COLLECT_AFTER_GROWTH_BYTES) {
      this.hooks.collectGarbage();
      this.collections++;
      this.heapAfterCollection = this.hooks.heapUsedBytes();
    }
  }
}
