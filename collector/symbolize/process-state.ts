// What the symbolizer keeps per process: its maps, the parsed file behind each maps line, its perf map and its
// metadata. Each is read at most once per drain window; a process not looked up for `pidIdleDrains` windows is
// forgotten. Outside an explicit window every call is its own window.
// Bounded whatever processes do: only executable mappings are kept (the only ones a frame can be in), with
// their paths copied out of the maps text; at most `maxPids` processes and `maxMapsBytes` of mappings across
// them are kept, least recently looked up first out (counted).

import * as path from 'node:path';
import type { ProfileFrame } from '../../exporters/pprof/types.js';
import type { ElfFileCache, FileEntry } from './elf-cache.js';
import { readBounded, textHash } from './file-reads.js';
import type { PerfMapReader, PerfMapState } from './perf-map-state.js';
import { type ProcessMetadata, readProcessMetadata } from './process-metadata.js';
import { type ProcMapping, parseProcMaps } from './proc-maps.js';
import type { SymbolizerStats } from './symbolizer-stats.js';

/** Estimated bytes of one kept mapping without its path (an object with four BigInts and strings). */
const MAPPING_BYTES = 320;
/** Symbolized stacks kept across windows, over all processes; past it every process's are dropped. */
const MAX_CACHED_STACKS = 32768;
/** A kept stack besides its frame pointers: the array, its BigInt key and the map slot. */
const STACK_BYTES = 96;

/**
 * Windows a process's name and cgroup are kept before they are read again (a changed maps text reads them at
 * once): reading comm, cmdline and cgroup of every process in every window was most of a warm window's fixed cost.
 */
const META_REFRESH_DRAINS = 6;

export interface ProcessState {
  lastSeenDrain: number;
  mapsDrain: number;
  /** Executable mappings; undefined when the maps could not be read this window. */
  maps?: ProcMapping[];
  /** Estimated bytes of `maps` (counted in the table's total while the maps are held). */
  mapsBytes: number;
  /** Estimated bytes of the parsed `maps`, kept while they are reused for an unchanged text. */
  mapsBytesKept: number;
  /** Resolved file per maps line (kept across drains while the line is unchanged); null = failed this drain. */
  files: Map<string, FileEntry | null>;
  failedDrain: Map<string, number>;
  /**
   * This window's answers of `fileFor` by the maps line object itself (emptied when the maps are read again): a
   * window asks once per frame, and the line key (four numbers and a path joined) cost more than the lookup.
   */
  resolved: Map<ProcMapping, FileEntry | null>;
  perfMap?: PerfMapState;
  perfMapDrain: number;
  meta?: ProcessMetadata;
  metaDrain: number;
  /** Hash and length of the maps text last read: a different one empties `stacks`. */
  mapsHash: number;
  /**
   * Symbolized user stacks by the program's hash of their addresses, kept across windows while the maps are
   * unchanged (only stacks whose every frame was looked up in a file that was read: JIT frames and files not
   * read yet may change meaning).
   */
  stacks?: Map<bigint, ProfileFrame[]>;
}

export interface ProcessTableOptions {
  /** procfs mount point. */
  procRoot: string;
  /** Cap on reading /proc/<pid>/maps (a transient buffer). */
  maxMapsTextBytes: number;
  /** Cap on the mappings kept across all processes (estimated bytes). */
  maxMapsBytes: number;
  /** Cap on processes tracked. */
  maxPids: number;
  /** A process's state is dropped after this many drains without a lookup for it. */
  pidIdleDrains: number;
}

export class ProcessTable {
  /** Least recently looked up first. */
  private readonly pids = new Map<number, ProcessState>();
  private drain = 0;
  private inDrain = false;
  private mapsTotal = 0;
  private cachedStacks = 0;
  private stackBytes = 0;

  constructor(
    private readonly stats: SymbolizerStats,
    private readonly opts: ProcessTableOptions,
    private readonly elfFiles: ElfFileCache,
    private readonly perfMaps: PerfMapReader,
  ) {}

  get size(): number {
    return this.pids.size;
  }

  /** Estimated bytes of the mappings kept for all processes. */
  get mapsBytes(): number {
    return this.mapsTotal;
  }

  /** Starts a drain window: each process's files are read at most once until `endDrain`. */
  beginDrain(): void {
    this.drain++;
    this.inDrain = true;
  }

  /** Ends a drain window and drops the state of processes not looked up for `pidIdleDrains` windows. */
  endDrain(): void {
    this.inDrain = false;
    for (const [pid, st] of this.pids) {
      if (this.drain - st.lastSeenDrain >= this.opts.pidIdleDrains) {
        this.drop(pid, st);
        this.stats.pidsEvicted++;
      }
    }
  }

  forget(pid: number): void {
    const st = this.pids.get(pid);
    if (st) this.drop(pid, st);
  }

  /** A symbolized stack kept from an earlier window, valid while the process's maps are unchanged. */
  cachedStack(st: ProcessState, key: bigint): ProfileFrame[] | undefined {
    return st.stacks?.get(key);
  }

  /** Keeps a symbolized stack for later windows (within MAX_CACHED_STACKS over all processes). */
  cacheStack(st: ProcessState, key: bigint, frames: ProfileFrame[]): void {
    if (this.cachedStacks >= MAX_CACHED_STACKS) {
      for (const other of this.pids.values()) this.forgetStacks(other);
      this.stats.stackCacheResets++;
    }
    st.stacks ??= new Map();
    if (st.stacks.has(key)) return;
    st.stacks.set(key, frames);
    this.cachedStacks++;
    this.stackBytes += STACK_BYTES + 8 * frames.length;
  }

  /** Every kept stack of every process goes (symbols changed: a debug file attached, a file evicted). */
  forgetAllStacks(): void {
    for (const st of this.pids.values()) this.forgetStacks(st);
  }

  /** Estimated bytes of the stacks kept across windows. */
  get stacksBytes(): number {
    return this.stackBytes;
  }

  private forgetStacks(st: ProcessState): void {
    if (!st.stacks) return;
    for (const frames of st.stacks.values()) this.stackBytes -= STACK_BYTES + 8 * frames.length;
    this.cachedStacks -= st.stacks.size;
    st.stacks = undefined;
  }

  private drop(pid: number, st: ProcessState): void {
    this.forgetStacks(st);
    this.pids.delete(pid);
    this.mapsTotal -= st.mapsBytes;
    st.mapsBytes = 0;
    st.maps = undefined;
    st.resolved.clear();
    this.perfMaps.release(st.perfMap);
    st.perfMap = undefined;
  }

  /** Drops least recently looked up processes (never `keep`) until under the process and maps caps. */
  private enforceCaps(keep: number): void {
    for (const [pid, st] of this.pids) {
      if (this.pids.size <= this.opts.maxPids && this.mapsTotal <= this.opts.maxMapsBytes) return;
      if (pid === keep) continue;
      this.drop(pid, st);
      this.stats.pidsEvictedOverCap++;
    }
  }

  /**
   * Metadata of `pid`, read again every META_REFRESH_DRAINS windows or when its maps text changed (exec, a reused
   * pid), and kept after the process exits (its last known metadata). Never throws.
   */
  metadata(pid: number): ProcessMetadata | undefined {
    this.startCallWindow();
    const st = this.stateOf(pid);
    if (st.metaDrain < 0 || this.drain - st.metaDrain >= META_REFRESH_DRAINS) {
      st.metaDrain = this.drain;
      st.meta = readProcessMetadata(pid, this.opts.procRoot) ?? st.meta;
    }
    return st.meta;
  }

  /** The state of `pid` with its maps read for this window, for one symbolization call. Never throws. */
  withMaps(pid: number): ProcessState {
    this.startCallWindow();
    const st = this.stateOf(pid);
    if (st.mapsDrain !== this.drain) {
      st.mapsDrain = this.drain;
      const r = readBounded(path.join(this.opts.procRoot, String(pid), 'maps'), this.opts.maxMapsTextBytes);
      this.mapsTotal -= st.mapsBytes;
      st.mapsBytes = 0;
      st.resolved.clear();
      if (r.ok) {
        const hash = textHash(r.text) + r.text.length * 2 ** 31;
        if (hash === st.mapsHash && st.maps !== undefined) {
          // The same text as last window: the parsed lines stand (most processes, most windows).
          this.mapsTotal += st.mapsBytes = st.mapsBytesKept;
          this.enforceCaps(pid);
          return st;
        }
        this.forgetStacks(st);
        // Another text: an exec, a dlopen, or another process under a reused pid: its name and cgroup are read
        // again too.
        if (st.mapsHash !== 0) st.metaDrain = -1;
        st.mapsHash = hash;
        const parsed = parseProcMaps(r.text, { executableOnly: true });
        if (r.truncated || parsed.truncated) this.stats.mapsTruncated++;
        st.maps = parsed.mappings;
        for (const m of st.maps) st.mapsBytes += MAPPING_BYTES + m.path.length;
        st.mapsBytesKept = st.mapsBytes;
        this.mapsTotal += st.mapsBytes;
        if (st.files.size > st.maps.length) pruneFiles(st, st.maps);
      } else {
        st.maps = undefined;
        st.files.clear();
        this.forgetStacks(st);
        st.mapsHash = 0;
        if (r.code === 'ENOENT' || r.code === 'ESRCH') this.stats.processesGone++;
        else this.stats.mapsErrors++;
      }
      this.enforceCaps(pid);
    }
    return st;
  }

  /** The parsed file behind maps line `m`; a file that failed is not tried again in the same window. */
  fileFor(pid: number, st: ProcessState, m: ProcMapping): FileEntry | undefined {
    const known = st.resolved.get(m);
    if (known === null) return undefined;
    if (known && !known.evicted) return known;
    const entry = this.resolveFile(pid, st, m);
    st.resolved.set(m, entry ?? null);
    return entry;
  }

  private resolveFile(pid: number, st: ProcessState, m: ProcMapping): FileEntry | undefined {
    const key = lineKey(m);
    const cached = st.files.get(key);
    if (cached && !cached.evicted) {
      this.elfFiles.touch(cached);
      return cached;
    }
    if (cached === null && st.failedDrain.get(key) === this.drain) return undefined;
    const entry = this.elfFiles.open(pid, m);
    st.files.set(key, entry ?? null);
    if (!entry) st.failedDrain.set(key, this.drain);
    else st.failedDrain.delete(key);
    return entry;
  }

  /** `pid`'s perf map, looked at most once per window. */
  perfMapFor(pid: number, st: ProcessState): PerfMapState | undefined {
    if (st.perfMapDrain !== this.drain) {
      st.perfMapDrain = this.drain;
      st.perfMap = this.perfMaps.refresh(pid, st.perfMap);
    }
    return st.perfMap;
  }

  private startCallWindow(): void {
    if (!this.inDrain) this.drain++;
  }

  private stateOf(pid: number): ProcessState {
    let st = this.pids.get(pid);
    if (!st) {
      st = { lastSeenDrain: this.drain, mapsDrain: -1, mapsBytes: 0, mapsBytesKept: 0, files: new Map(), failedDrain: new Map(), resolved: new Map(), perfMapDrain: -1, metaDrain: -1, mapsHash: 0 };
      this.pids.set(pid, st);
      this.enforceCaps(pid);
    } else if (st.lastSeenDrain !== this.drain) {
      // Most recently used last, once per window (re-inserting on every lookup would cost more than it tells).
      this.pids.delete(pid);
      this.pids.set(pid, st);
    }
    st.lastSeenDrain = this.drain;
    return st;
  }
}

/** Drops per-process file references for mappings the process no longer has (dlclose, munmap). */
function pruneFiles(st: ProcessState, maps: readonly ProcMapping[]): void {
  const live = new Set(maps.map(lineKey));
  for (const key of st.files.keys()) if (!live.has(key)) st.files.delete(key);
  for (const key of st.failedDrain.keys()) if (!live.has(key)) st.failedDrain.delete(key);
}

function lineKey(m: ProcMapping): string {
  return `${m.start}-${m.end}-${m.offset}-${m.inode}-${m.path}`;
}
