// The agent behind `hotpath serve`: loads and attaches the selected programs once, drains them every window,
// symbolizes the stack windows into bounded stores, and answers queries for live and retained profiles.
import type { PprofHeader, ProfileData } from '../../exporters/pprof/index.js';
import { Log2Recorder, type HistogramSeries, type MemoryStats, type MetricsSource, type UnwinderStats } from '../../exporters/metrics/index.js';
import type { UnwindCounter } from '../layouts/unwind.js';
import { ErrorCodes, HotpathError } from '../errors.js';
import {
  nowNs,
  startLatencySource,
  startStackSource,
  type LatencyKind,
  type LatencySource,
  type ProfileKind,
  type SourceKind,
  type StackSource,
  type StackWindow,
  type UnwindMode,
  type UnwindStats,
  type CpuSource,
  type OffcpuSource,
} from '../sources/index.js';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { releaseFreeNativeMemory, tuneNativeHeap } from '../bpf/libbpf.js';
import { describeInRootResolver } from '../bpf/open-in-root.js';
import { readProcessStats } from './process-stats.js';
import { Symbolizer } from '../symbolize/index.js';
import { symbolizerGaveUp } from '../symbolize/symbolizer-stats.js';
import { buildWallWindowProfile, buildWindowProfile, sampleTypesOf, type WindowProfileOptions } from '../windows/window-profile.js';
import { WindowStore, type StoredWindow, type WindowDropReason } from '../windows/window-store.js';
import type { StackCatalog } from '../windows/stack-catalog.js';
import type { LabelFilters } from '../windows/label-filter.js';
import { LatencyHistory } from '../windows/latency-history.js';
import { DEFAULT_MEMORY_LIMIT_BYTES, MemoryPressure, splitMemoryBudget, type MemoryBudget } from './memory-budget.js';

/** In start order: wall (built from cpu and offcpu, offcpu in wall mode) follows both; io follows cpu. */
export const PROGRAM_NAMES = ['cpu', 'offcpu', 'wall', 'runqlat', 'biolatency', 'io'] as const;
export type ProgramName = (typeof PROGRAM_NAMES)[number];
/**
 * What `hotpath serve` runs unless --programs says otherwise. `io` and `wall` are asked for by name: io walks the
 * submitting task's kernel and user stacks for every block request (5.6 us of kernel time per request measured,
 * 7x biolatency's), which a fast NVMe device at hundreds of thousands of IOPS would turn into cores; wall makes
 * the off-CPU program classify and count every block, short ones too (sched_switch 3.2 -> 3.9 us measured).
 */
export const DEFAULT_PROGRAMS: readonly ProgramName[] = ['cpu', 'offcpu', 'runqlat', 'biolatency'];

/** The programs that make stack profiles of their own (drained per window, with retained history). */
function isProfileProgram(p: ProgramName): p is ProgramName & SourceKind {
  return p === 'cpu' || p === 'offcpu' || p === 'io';
}

export interface AgentOptions {
  hz: number;
  programs: ProgramName[];
  windowSeconds: number;
  retentionSeconds: number;
  /**
   * The agent's memory budget (--memory-limit), split between retained history and symbol caches (see
   * memory-budget.ts). Default DEFAULT_MEMORY_LIMIT_BYTES.
   */
  memoryLimitBytes?: number;
  /** Memory bound of each kind's retained store (--retention-memory); default: its share of memoryLimitBytes. */
  maxStoreBytes?: number;
  pids: number[];
  minBlockNs: number;
  /** CPU: how user stacks are walked (default dwarf) and the kernel memory for unwind tables. */
  unwind?: UnwindMode;
  unwindTableBytes?: number;
  version: string;
  kernel: string;
  /** --kubernetes: namespace, pod, container and workload labels of a process's pod (from memory, never waits). */
  podLabels?: WindowProfileOptions['podLabels'];
  /** --runqlat-per-container N: run-queue latency per cgroup, N series at most (0 or unset: one for the machine). */
  runqlatPerContainer?: number;
  log?: (line: string) => void;
}

export interface ProgramStatus {
  program: ProgramName;
  attached: boolean;
  error?: string;
}

/** A stack profile's drains: only a window drained, symbolized and stored counts as a success. */
interface DrainHealth {
  lastSuccessNs: bigint;
  consecutiveFailures: number;
  lastError?: string;
}

/** Why a window never reached the store (the store's own drops are counted by the store). */
type LostWindowReason = 'drain_error' | 'symbolize_error';

/** /healthz turns unhealthy after this many failed drains in a row (or no successful drain for 3 windows). */
export const UNHEALTHY_AFTER_FAILED_DRAINS = 3;

/**
 * What a profile request reads: the windows of one profile type and the span asked for (clamped to what is
 * retained). The windows are the store's own objects, read-only; building the profile is the reader's job.
 */
export interface ProfileSelection {
  kind: ProfileKind;
  header: PprofHeader;
  fromNs: bigint;
  toNs: bigint;
  /** Keep only these processes (empty: all). */
  pids: number[];
  /** Keep only samples whose labels pass these (comm, process, container...; absent: all). */
  filters?: LabelFilters;
  windows: StoredWindow[];
  /** The store's catalog the windows' ids point into. */
  catalog: StackCatalog;
}

/**
 * A full garbage collection on demand. V8 offers it only behind --expose-gc, which is a flag like any other
 * once the process runs; the function is taken from a fresh context once and kept.
 */
let gcFunction: (() => void) | undefined;
function collectGarbage(): void {
  if (gcFunction === undefined) {
    setFlagsFromString('--expose-gc');
    gcFunction = runInNewContext('gc') as () => void;
  }
  gcFunction();
}

export class Agent {
  readonly options: AgentOptions;
  readonly statuses: ProgramStatus[] = [];
  private readonly sources = new Map<ProfileKind, StackSource>();
  private readonly stores = new Map<ProfileKind, WindowStore>();
  private readonly latency = new Map<LatencyKind, LatencySource>();
  private readonly symbolizer: Symbolizer;
  readonly memory: MemoryBudget;
  /** Holds the resident total to the limit at the end of each window (memory-budget.ts). */
  private readonly pressure: MemoryPressure;
  /** Per-window deltas of the latency histograms, for the UI's heatmaps. */
  readonly latencyHistory: LatencyHistory;
  private readonly drainDurations = new Log2Recorder();
  /** Per profile type: time to symbolize and store a window. */
  private readonly symbolizeDurations = new Map<ProfileKind, Log2Recorder>();
  private readonly lost = new Map<string, number>();
  private readonly drainHealth = new Map<ProfileKind, DrainHealth>();
  private readonly windowsLost = new Map<ProfileKind, Record<LostWindowReason, number>>();
  private timer: NodeJS.Timeout | null = null;
  private reading: Promise<unknown> = Promise.resolve();
  private storing: Promise<unknown> = Promise.resolve();
  private lastDrainNs = 0n;
  private closed = false;
  private closing: Promise<void> | null = null;
  private readonly log: (line: string) => void;
  private readonly windowListeners: ((kind: ProfileKind, data: ProfileData) => void)[] = [];

  private constructor(options: AgentOptions) {
    this.options = options;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    const profiles = options.programs.filter((p) => isProfileProgram(p) || p === 'wall').length;
    this.memory = splitMemoryBudget(options.memoryLimitBytes ?? DEFAULT_MEMORY_LIMIT_BYTES, {
      profiles,
      retentionMemoryBytes: options.maxStoreBytes,
    });
    this.symbolizer = new Symbolizer({ maxCacheBytes: this.memory.symbolCacheBytes });
    this.pressure = new MemoryPressure(this.memory, {
      residentBytes: () => process.memoryUsage.rss(),
      heapUsedBytes: () => process.memoryUsage().heapUsed,
      collectGarbage,
      setHistoryBytes: (bytes) => {
        const now = nowNs();
        for (const store of this.stores.values()) store.setMaxBytes(Math.floor(bytes / Math.max(1, this.stores.size)), now);
      },
    });
    const windows = Math.ceil(options.retentionSeconds / options.windowSeconds);
    // Extra cuts (live profiles) make more, shorter windows: room for twice as many, and never unbounded.
    this.latencyHistory = new LatencyHistory({
      retentionNs: BigInt(Math.round(options.retentionSeconds * 1e9)),
      maxWindows: Math.min(20_000, 2 * windows + 16),
    });
  }

  /** Starts every selected program; one that fails is reported and the others keep running. */
  static async start(options: AgentOptions): Promise<Agent> {
    // Before anything is loaded: the C heap's peak is part of the memory budget.
    const tuned = tuneNativeHeap();
    const agent = new Agent(options);
    if (!tuned) agent.log('hotpath serve: mallopt refused: the C heap keeps glibc\'s defaults');
    const retentionNs = BigInt(Math.round(options.retentionSeconds * 1e9));
    const wanted = (p: ProgramName) => options.programs.includes(p);
    const addStore = (kind: ProfileKind) => {
      agent.stores.set(kind, new WindowStore({ retentionNs, maxBytes: agent.memory.historyBytesPerProfile }));
      agent.drainHealth.set(kind, { lastSuccessNs: nowNs(), consecutiveFailures: 0 });
      agent.windowsLost.set(kind, { drain_error: 0, symbolize_error: 0 });
    };
    // In the contract's order whatever the flag's: cpu starts before offcpu and io, which share its unwind tables.
    for (const program of PROGRAM_NAMES.filter(wanted)) {
      try {
        if (program === 'wall') {
          const missing = (['cpu', 'offcpu'] as const).filter((p) => !agent.sources.has(p));
          if (missing.length > 0) {
            const why = missing.filter((p) => wanted(p)).length > 0 ? ' (it failed to start)' : ' (add it to --programs)';
            throw new HotpathError(ErrorCodes.NOT_FOUND, `the wall profile is built from the cpu and offcpu programs: ${missing.join(' and ')} not running${why}`);
          }
          const off = agent.sources.get('offcpu') as OffcpuSource;
          if (!off.wallRecordsShared) {
            throw new HotpathError(ErrorCodes.NOT_FOUND, `the wall profile needs the off-CPU program's tp_btf twins and task storage (kernel 5.11+); it runs as ${off.variant}`);
          }
          addStore('wall');
        } else if (isProfileProgram(program)) {
          const source = startStackSource(program, {
            hz: options.hz,
            pids: options.pids,
            includeIdle: false,
            minBlockNs: options.minBlockNs,
            unwind: options.unwind,
            unwindTableBytes: options.unwindTableBytes,
            windowSeconds: options.windowSeconds,
            // The off-CPU and I/O programs walk with the CPU program's tables when it runs (cpu starts first).
            shareTables: (agent.sources.get('cpu') as CpuSource | undefined)?.sharedTables(),
            // Its wall mode costs on every switch: only when the wall profile can be built.
            wall: wanted('wall') && wanted('offcpu') && (program === 'cpu' || agent.sources.has('cpu')),
            wallRecords: (agent.sources.get('cpu') as CpuSource | undefined)?.wallRecords(),
            log: agent.log,
          });
          agent.sources.set(program, source);
          addStore(program);
        } else {
          agent.latency.set(program, startLatencySource(program, { runqlatPerContainer: options.runqlatPerContainer, podLabels: options.podLabels }));
        }
        agent.statuses.push({ program, attached: true });
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        agent.statuses.push({ program, attached: false, error: message });
        agent.log(`hotpath serve: program ${program} not running: ${message.split('\n')[0]}`);
      }
    }
    // Once: where openat2 is missing every file of a profiled process is opened by the slower user-space walk.
    agent.log(`hotpath serve: files of profiled processes opened by ${describeInRootResolver()}`);
    agent.lastDrainNs = nowNs();
    // Loading freed what libbpf parsed (the kernel's BTF among it): give it back now, not at the first window.
    releaseFreeNativeMemory();
    agent.timer = setInterval(() => {
      agent.cut().catch(() => {});
    }, options.windowSeconds * 1000);
    agent.timer.unref();
    return agent;
  }

  /**
   * Calls `listener` with every window of a stack profile once it is stored (the push exporters). It runs
   * inside the drain: it must only take the window and return (the data is shared; do not modify it).
   */
  onWindow(listener: (kind: ProfileKind, data: ProfileData) => void): void {
    this.windowListeners.push(listener);
  }

  get attachedPrograms(): ProgramName[] {
    return this.statuses.filter((s) => s.attached).map((s) => s.program);
  }

  hasProfile(kind: ProfileKind): boolean {
    return this.stores.has(kind);
  }

  /** Why a profile kind is not served: its program's start error, or that it was not asked for. */
  whyNoProfile(kind: ProfileKind): string {
    const status = this.statuses.find((s) => s.program === kind);
    if (status?.error) return `the ${kind} profile is not available: ${status.error.split('\n')[0]}`;
    return `the ${kind} profiler is not running (see hotpath serve --programs and /)`;
  }

  /**
   * Ends the current window of every stack source now and stores it; resolves to each kind's boundary (Unix
   * ns) once the windows are stored. Two queues: the kernel reads (fast: flip and copy) run one after another, so each
   * caller's boundary is taken right away and never falls inside another caller's window; symbolizing and
   * storing (slow) follow in the same order without holding up the next flip.
   */
  cut(): Promise<Map<ProfileKind, bigint>> {
    const read = this.reading.then(() => this.readAll());
    this.reading = read.catch(() => undefined);
    const stored = Promise.all([read, this.storing]).then(([windows]) => this.storeAll(windows));
    this.storing = stored.catch(() => undefined);
    return stored;
  }

  private async readAll(): Promise<{ kind: ProfileKind; window: StackWindow }[]> {
    const out: { kind: ProfileKind; window: StackWindow }[] = [];
    for (const [kind, source] of this.sources) {
      if (this.closed) break;
      const t0 = process.hrtime.bigint();
      try {
        out.push({ kind, window: await source.drain() });
      } catch (err) {
        this.drainFailed(kind, 'drain_error', `drain ${kind}: ${err instanceof Error ? err.message : String(err)}`);
      }
      this.drainDurations.record(process.hrtime.bigint() - t0);
    }
    return out;
  }

  private storeAll(windows: { kind: ProfileKind; window: StackWindow }[]): Map<ProfileKind, bigint> {
    const boundaries = new Map<ProfileKind, bigint>();
    for (const { kind, window: w } of windows) {
      boundaries.set(kind, w.endNs);
      for (const [reason, n] of Object.entries(w.lost)) {
        const key = reason.startsWith(`${kind}_`) ? reason : `${kind}_${reason}`;
        this.lost.set(key, (this.lost.get(key) ?? 0) + n);
      }
      this.storeWindow(kind, w, () =>
        buildWindowProfile(w.samples, this.symbolizer, { kind, hz: this.options.hz, startNs: w.startNs, endNs: w.endNs, podLabels: this.options.podLabels }),
      );
    }
    // The wall window of this cut: its cpu and offcpu windows, drained one right after the other.
    if (this.stores.has('wall')) {
      const cpu = windows.find((x) => x.kind === 'cpu')?.window;
      const off = windows.find((x) => x.kind === 'offcpu')?.window;
      if (cpu && off) {
        boundaries.set('wall', cpu.endNs);
        this.storeWindow('wall', cpu, () => buildWallWindowProfile(cpu, off, this.symbolizer, { hz: this.options.hz, podLabels: this.options.podLabels }), off);
      } else if (!this.closed) {
        this.drainFailed('wall', 'drain_error', `wall: the ${cpu ? 'offcpu' : 'cpu'} window of this cut failed to drain`);
      }
    }
    this.lastDrainNs = nowNs();

    // A cut finishing after close() began: the latency programs may already be closed.
    for (const [kind, source] of this.closed ? [] : this.latency) {
      try {
        this.latencyHistory.record(kind, this.lastDrainNs, source.series());
      } catch (err) {
        this.log(`hotpath serve: latency history ${kind}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    // What libbpf, koffi and the threads freed stays resident in glibc's arenas until trimmed (45 MB measured).
    releaseFreeNativeMemory();
    if (!this.closed) this.pressure.afterWindow();
    return boundaries;
  }

  /** Symbolizes (`build`) and stores one window of `kind`; a failure loses the window's samples (`also`'s too). */
  private storeWindow(kind: ProfileKind, w: StackWindow, build: () => ProfileData, also?: StackWindow): void {
    try {
      const t0 = process.hrtime.bigint();
      const data = build();
      this.stores.get(kind)?.add(data, w.endNs);
      let rec = this.symbolizeDurations.get(kind);
      if (!rec) this.symbolizeDurations.set(kind, (rec = new Log2Recorder()));
      rec.record(process.hrtime.bigint() - t0);
      for (const listener of this.windowListeners) {
        try {
          listener(kind, data);
        } catch (err) {
          this.log(`hotpath serve: window listener: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    } catch (err) {
      // The whole window is gone: every sample in it is lost, not one error.
      const key = `${kind}_symbolize_error`;
      const samples = [w, ...(also ? [also] : [])].reduce((a, x) => a + x.samples.reduce((b, s) => b + s.count, 0), 0);
      this.lost.set(key, (this.lost.get(key) ?? 0) + samples);
      this.drainFailed(kind, 'symbolize_error', `symbolize ${kind}: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    const h = this.drainHealth.get(kind);
    if (h) {
      h.lastSuccessNs = nowNs();
      h.consecutiveFailures = 0;
    }
  }

  /** A window that never reached its store: counted, logged, and held against /healthz until a drain succeeds. */
  private drainFailed(kind: ProfileKind, reason: LostWindowReason, message: string): void {
    const lost = this.windowsLost.get(kind);
    if (lost) lost[reason]++;
    const h = this.drainHealth.get(kind);
    if (h) {
      h.consecutiveFailures++;
      h.lastError = message.split('\n')[0];
    }
    this.log(`hotpath serve: ${message}`);
  }

  /**
   * The retained windows overlapping [fromNs, toNs), for a request to build its profile from (a slice at a
   * time, off this call). The span is clamped to what is retained: from=0&to=9999999999 reads the store once.
   */
  history(kind: ProfileKind, fromNs: bigint, toNs: bigint, pids: number[], filters: LabelFilters = {}): ProfileSelection {
    const store = this.storeOf(kind);
    const now = nowNs();
    const oldest = store.oldestStartNs ?? now;
    const from = fromNs > oldest ? fromNs : oldest;
    let to = toNs < now ? toNs : now;
    if (to < from) to = from;
    return { ...this.select(kind, store.overlapping(fromNs, toNs), store.catalog, from, to, pids), filters };
  }

  /**
   * The windows of the next `seconds`, as Go's /debug/pprof/profile does. When `signal` aborts, rejects with its
   * reason at once (a cut in progress finishes for the store; its window is not wasted) and holds no timer.
   */
  async live(kind: ProfileKind, seconds: number, pids: number[], signal?: AbortSignal): Promise<ProfileSelection> {
    const store = this.storeOf(kind);
    const boundaryOf = async () => (await this.cut()).get(kind) ?? nowNs();
    signal?.throwIfAborted();
    const from = await boundaryOf();
    signal?.throwIfAborted();
    await new Promise<void>((resolve, reject) => {
      // Measured from the boundary, not from when the first cut finished symbolizing.
      const remainingMs = Number(from + BigInt(Math.round(seconds * 1e9)) - nowNs()) / 1e6;
      const onAbort = () => {
        clearTimeout(t);
        reject(signal?.reason);
      };
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, remainingMs));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    const to = await boundaryOf();
    signal?.throwIfAborted();
    return this.select(kind, store.within(from, to), store.catalog, from, to, pids);
  }

  /** The latency programs running (runqlat, biolatency). */
  get latencyPrograms(): LatencyKind[] {
    return [...this.latency.keys()];
  }

  oldestRetainedNs(kind: ProfileKind): bigint | undefined {
    return this.stores.get(kind)?.oldestStartNs;
  }


  private storeOf(kind: ProfileKind): WindowStore {
    const store = this.stores.get(kind);
    if (!store) throw new HotpathError(ErrorCodes.NOT_FOUND, this.whyNoProfile(kind));
    return store;
  }

  private select(kind: ProfileKind, windows: StoredWindow[], catalog: StackCatalog, fromNs: bigint, toNs: bigint, pids: number[]): ProfileSelection {
    return { kind, header: sampleTypesOf(kind, this.options.hz), fromNs, toNs, pids, windows, catalog };
  }

  /**
   * Healthy while a program is attached and every stack profile is drained on time: unhealthy once one has
   * failed UNHEALTHY_AFTER_FAILED_DRAINS drains in a row or had no successful drain (drained, symbolized and
   * stored) for three windows. Failed drains are named in the reason either way.
   */
  health(): { ok: boolean; reason: string } {
    const failed = this.statuses.filter((s) => !s.attached).map((s) => s.program);
    if (this.attachedPrograms.length === 0) return { ok: false, reason: 'no program is attached' };
    const now = nowNs();
    const lateNs = BigInt(Math.round(this.options.windowSeconds * 3e9));
    const failing: string[] = [];
    let stalled = now - this.lastDrainNs > lateNs;
    for (const [kind, h] of this.drainHealth) {
      const late = now - h.lastSuccessNs > lateNs;
      if (late || h.consecutiveFailures >= UNHEALTHY_AFTER_FAILED_DRAINS) stalled = true;
      if (h.consecutiveFailures > 0) {
        const n = h.consecutiveFailures;
        failing.push(`${kind}: the last ${n} drain${n === 1 ? '' : 's'} failed (${h.lastError})`);
      } else if (late) {
        failing.push(`${kind}: no drain for ${Number((now - h.lastSuccessNs) / 1_000_000n) / 1000} s`);
      }
    }
    const attached = `attached: ${this.attachedPrograms.join(', ')}${failed.length ? `; not attached: ${failed.join(', ')}` : ''}`;
    const failures = failing.length ? `; ${failing.join('; ')}` : '';
    if (stalled) return { ok: false, reason: `draining has stalled${failures}; ${attached}` };
    return { ok: true, reason: `${attached}${failures}` };
  }

  metricsSource(): MetricsSource {
    return {
      runqueueLatency: (): HistogramSeries[] => this.latency.get('runqlat')?.series() ?? [],
      blockIoLatency: (): HistogramSeries[] => this.latency.get('biolatency')?.series() ?? [],
      drainDurations: (): HistogramSeries[] => [{ attributes: {}, histogram: this.drainDurations.snapshot() }],
      symbolizeDurations: (): HistogramSeries[] =>
        [...this.symbolizeDurations].map(([profile, rec]) => ({ attributes: { profile }, histogram: rec.snapshot() })),
      processStats: () => readProcessStats(),
      samplesLost: () => {
        const out: Record<string, number> = {};
        for (const [k, v] of this.lost) out[k] = v;
        for (const l of this.latency.values()) Object.assign(out, l.lost());
        return out;
      },
      windowsDropped: () => this.windowsDropped(),
      symbolizerGaveUp: () => symbolizerGaveUp(this.symbolizer.stats),
      memory: () => this.memoryStats(),
      programStats: () => {
        const stats = [];
        for (const s of [...this.sources.values(), ...this.latency.values()]) stats.push(...s.programStats());
        return stats;
      },
      info: () => ({ version: this.options.version, kernel: this.options.kernel }),
      programsAttached: () => Object.fromEntries(this.statuses.map((s) => [s.program, s.attached])),
      unwinder: () => this.unwinderStats(),
    };
  }

  /** hotpath_windows_dropped_total: every window of a stack profile that is gone, by why. */
  private windowsDropped(): { profile: string; reason: WindowDropReason | LostWindowReason; windows: number }[] {
    const out: { profile: string; reason: WindowDropReason | LostWindowReason; windows: number }[] = [];
    for (const [kind, lost] of this.windowsLost) {
      for (const [reason, windows] of Object.entries(lost)) out.push({ profile: kind, reason: reason as LostWindowReason, windows });
      const store = this.stores.get(kind);
      if (!store) continue;
      for (const [reason, windows] of Object.entries(store.dropped)) out.push({ profile: kind, reason: reason as WindowDropReason, windows });
    }
    return out;
  }

  /** The memory budget's parts: what each may hold, holds now, and has evicted to stay within it. */
  private memoryStats(): MemoryStats {
    let historyBytes = 0;
    let historyEvictions = 0;
    for (const store of this.stores.values()) {
      historyBytes += store.size.bytes;
      historyEvictions += store.dropped.memory;
    }
    return {
      limitBytes: this.memory.limitBytes,
      residentBytes: process.memoryUsage.rss(),
      collections: this.pressure.collections,
      parts: [
        { part: 'history', budgetBytes: this.pressure.historyBudgetBytes, usedBytes: historyBytes, evictions: historyEvictions },
        {
          part: 'symbols',
          budgetBytes: this.memory.symbolCacheBytes,
          usedBytes: this.symbolizer.bytesUsed,
          evictions: this.symbolizer.stats.elfEvictions + this.symbolizer.stats.pidsEvictedOverCap,
        },
      ],
    };
  }

  /** The walker's counters summed over the stack sources, and the tables' state (held by one of them). */
  private unwinderStats(): UnwinderStats | undefined {
    const all: UnwindStats[] = [];
    for (const s of this.sources.values()) {
      const withStats = s as StackSource & { unwindStats?: () => UnwindStats };
      if (withStats.unwindStats) all.push(withStats.unwindStats());
    }
    const tables = all.find((u) => u.tables)?.tables;
    if (!tables) return undefined;
    const walks = (name: UnwindCounter) => all.reduce((a, u) => a + u.walks[name], 0);
    return {
      walkEnds: {
        outermost: walks('end_outermost'),
        zero_return_address: walks('end_zero_pc'),
        no_frame_pointer: walks('end_no_frame_pointer'),
        read_failed: walks('end_read_failed'),
        depth: walks('end_depth'),
      },
      frames: { table: walks('step_table'), frame_pointer: walks('step_frame_pointer') },
      tableBytes: all.reduce((a, u) => a + u.tableBytes, 0),
      capacityBytes: tables.rowCapacity * 16,
      files: {
        ready: tables.filesReady,
        failed: tables.filesFailed,
        no_room: tables.filesNoRoom,
        building: Math.max(0, tables.files - tables.filesReady - tables.filesFailed - tables.filesNoRoom - tables.filesEvicted),
      },
    };
  }

  /**
   * Stops the window timer, waits for a cut in progress (its drains stop before touching closed maps), then
   * frees every program. Idempotent: every call resolves once everything is closed.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      if (this.timer) clearInterval(this.timer);
      await Promise.all([this.reading, this.storing]);
      await Promise.all([...this.sources.values()].map((s) => s.close()));
      for (const l of this.latency.values()) l.close();
    })();
    return this.closing;
  }
}
