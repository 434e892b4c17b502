// The agent behind `hotpath serve`: loads and attaches the selected programs once, drains them every window,
// symbolizes the stack windows into bounded stores, and answers queries for live and retained profiles.
import { filterByPid, mergeProfileData, type ProfileData } from '../../exporters/pprof/index.js';
import { Log2Recorder, type HistogramSeries, type MetricsSource, type UnwinderStats } from '../../exporters/metrics/index.js';
import type { UnwindCounter } from '../layouts/unwind.js';
import { ErrorCodes, HotpathError } from '../errors.js';
import {
  nowNs,
  startLatencySource,
  startStackSource,
  type LatencyKind,
  type LatencySource,
  type ProfileKind,
  type StackSource,
  type StackWindow,
  type UnwindMode,
  type UnwindStats,
  type CpuSource,
} from '../sources/index.js';
import { Symbolizer } from '../symbolize/index.js';
import { buildWindowProfile, sampleTypesOf } from '../windows/window-profile.js';
import { WindowStore } from '../windows/window-store.js';

export const PROGRAM_NAMES = ['cpu', 'offcpu', 'runqlat', 'biolatency'] as const;
export type ProgramName = (typeof PROGRAM_NAMES)[number];

export interface AgentOptions {
  hz: number;
  programs: ProgramName[];
  windowSeconds: number;
  retentionSeconds: number;
  /** Memory bound of each kind's retained store. */
  maxStoreBytes: number;
  pids: number[];
  minBlockNs: number;
  /** CPU: how user stacks are walked (default dwarf) and the kernel memory for unwind tables. */
  unwind?: UnwindMode;
  unwindTableBytes?: number;
  version: string;
  kernel: string;
  log?: (line: string) => void;
}

export interface ProgramStatus {
  program: ProgramName;
  attached: boolean;
  error?: string;
}

export class Agent {
  readonly options: AgentOptions;
  readonly statuses: ProgramStatus[] = [];
  private readonly sources = new Map<ProfileKind, StackSource>();
  private readonly stores = new Map<ProfileKind, WindowStore>();
  private readonly latency = new Map<LatencyKind, LatencySource>();
  private readonly symbolizer = new Symbolizer();
  private readonly drainDurations = new Log2Recorder();
  private readonly lost = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private reading: Promise<unknown> = Promise.resolve();
  private storing: Promise<unknown> = Promise.resolve();
  private lastDrainNs = 0n;
  private drainErrors = 0;
  private closed = false;
  private closing: Promise<void> | null = null;
  private readonly log: (line: string) => void;

  private constructor(options: AgentOptions) {
    this.options = options;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  /** Starts every selected program; one that fails is reported and the others keep running. */
  static async start(options: AgentOptions): Promise<Agent> {
    const agent = new Agent(options);
    const retentionNs = BigInt(Math.round(options.retentionSeconds * 1e9));
    // In the contract's order whatever the flag's: cpu starts before offcpu, which shares its unwind tables.
    for (const program of PROGRAM_NAMES.filter((p) => options.programs.includes(p))) {
      try {
        if (program === 'cpu' || program === 'offcpu') {
          const source = startStackSource(program, {
            hz: options.hz,
            pids: options.pids,
            includeIdle: false,
            minBlockNs: options.minBlockNs,
            unwind: options.unwind,
            unwindTableBytes: options.unwindTableBytes,
            // The off-CPU program walks with the CPU program's tables when both run (cpu starts first).
            shareTables: (agent.sources.get('cpu') as CpuSource | undefined)?.sharedTables(),
            log: agent.log,
          });
          agent.sources.set(program, source);
          agent.stores.set(program, new WindowStore({ retentionNs, maxBytes: options.maxStoreBytes }));
        } else {
          agent.latency.set(program, startLatencySource(program));
        }
        agent.statuses.push({ program, attached: true });
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        agent.statuses.push({ program, attached: false, error: message });
        agent.log(`hotpath serve: program ${program} not running: ${message.split('\n')[0]}`);
      }
    }
    agent.lastDrainNs = nowNs();
    agent.timer = setInterval(() => {
      agent.cut().catch(() => {});
    }, options.windowSeconds * 1000);
    agent.timer.unref();
    return agent;
  }

  get attachedPrograms(): ProgramName[] {
    return this.statuses.filter((s) => s.attached).map((s) => s.program);
  }

  hasProfile(kind: ProfileKind): boolean {
    return this.sources.has(kind);
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
        this.drainErrors++;
        this.log(`hotpath serve: drain ${kind}: ${err instanceof Error ? err.message : String(err)}`);
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
      try {
        const data = buildWindowProfile(w.samples, this.symbolizer, { kind, hz: this.options.hz, startNs: w.startNs, endNs: w.endNs });
        this.stores.get(kind)?.add(data, w.endNs);
      } catch (err) {
        this.drainErrors++;
        this.log(`hotpath serve: symbolize ${kind}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    this.lastDrainNs = nowNs();
    return boundaries;
  }

  /** The merged profile of retained windows overlapping [fromNs, toNs). */
  history(kind: ProfileKind, fromNs: bigint, toNs: bigint, pids: number[]): ProfileData {
    const store = this.storeOf(kind);
    return this.merge(kind, store.overlapping(fromNs, toNs).map((w) => w.data), fromNs, toNs, pids);
  }

  /** A profile of the next `seconds`, as Go's /debug/pprof/profile does. Aborts when `signal` fires. */
  async live(kind: ProfileKind, seconds: number, pids: number[], signal?: AbortSignal): Promise<ProfileData> {
    const store = this.storeOf(kind);
    const boundaryOf = async () => (await this.cut()).get(kind) ?? nowNs();
    const from = await boundaryOf();
    await new Promise<void>((resolve, reject) => {
      // Measured from the boundary, not from when the first cut finished symbolizing.
      const remainingMs = Number(from + BigInt(Math.round(seconds * 1e9)) - nowNs()) / 1e6;
      const t = setTimeout(resolve, Math.max(0, remainingMs));
      signal?.addEventListener('abort', () => {
        clearTimeout(t);
        reject(new Error('request aborted'));
      });
    });
    const to = await boundaryOf();
    return this.merge(kind, store.within(from, to).map((w) => w.data), from, to, pids);
  }

  oldestRetainedNs(kind: ProfileKind): bigint | undefined {
    return this.stores.get(kind)?.oldestStartNs;
  }


  private storeOf(kind: ProfileKind): WindowStore {
    const store = this.stores.get(kind);
    if (!store) throw new HotpathError(ErrorCodes.NOT_FOUND, `the ${kind} program is not running (see --programs)`);
    return store;
  }

  private merge(kind: ProfileKind, parts: ProfileData[], fromNs: bigint, toNs: bigint, pids: number[]): ProfileData {
    let data: ProfileData =
      parts.length > 0
        ? mergeProfileData(parts)
        : { ...sampleTypesOf(kind, this.options.hz), timeNanos: fromNs, durationNanos: toNs - fromNs, samples: [] };
    if (pids.length > 0) data = filterByPid(data, pids);
    return data;
  }

  /** Healthy while every selected program is attached and windows are being drained on time. */
  health(): { ok: boolean; reason: string } {
    const failed = this.statuses.filter((s) => !s.attached).map((s) => s.program);
    if (this.attachedPrograms.length === 0) return { ok: false, reason: 'no program is attached' };
    const lateNs = BigInt(Math.round(this.options.windowSeconds * 3e9));
    if (nowNs() - this.lastDrainNs > lateNs) return { ok: false, reason: 'draining has stalled' };
    return {
      ok: true,
      reason: `attached: ${this.attachedPrograms.join(', ')}${failed.length ? `; not attached: ${failed.join(', ')}` : ''}`,
    };
  }

  metricsSource(): MetricsSource {
    return {
      runqueueLatency: (): HistogramSeries[] => this.latency.get('runqlat')?.series() ?? [],
      blockIoLatency: (): HistogramSeries[] => this.latency.get('biolatency')?.series() ?? [],
      drainDurations: (): HistogramSeries[] => [{ attributes: {}, histogram: this.drainDurations.snapshot() }],
      samplesLost: () => {
        const out: Record<string, number> = { drain_error: this.drainErrors };
        for (const [k, v] of this.lost) out[k] = v;
        return out;
      },
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
