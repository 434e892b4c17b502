// Symbolizer: the I/O edge that turns raw kernel and user stack addresses into ProfileFrames. A façade over
// its parts: kernel symbols (kernel-symbols.ts), parsed ELF files with their detached debug files (elf-cache.ts,
// debug-files.ts, debuginfod.ts), the vdso image (vdso-image.ts), JIT perf maps (perf-map-state.ts) and per-process state
// (process-state.ts). Here only the choice of where a user address gets its name.
// C++ and Rust names are demangled for display (the mangled name stays as the system name). Files without
// `.symtab` get their symbols from a debug file where distributions put them (/usr/lib/debug, by build-id or
// `.gnu_debuglink`, inside the process's root), else from debuginfod when DEBUGINFOD_URLS is set, from the
// window after the download finishes.
// Returned frames and mappings are shared between calls: treat them as immutable.
// Memory: one byte budget (`maxCacheBytes`, default 96 MiB) split between parsed ELF files (5/8, LRU by
// bytes; one file at most half of that), JIT perf maps of all processes (1/4) and the executable mappings
// of all processes (1/8), each enforced by bytes and counted when it evicts or gives up (SymbolizerStats).
// Kernel symbols are outside it (the kernel's, not a process's, to size: about 10-20 MB).

import type { ProfileFrame } from '../../exporters/pprof/types.js';
import { DebuginfodClient } from './debuginfod.js';
import { ElfFileCache } from './elf-cache.js';
import type { KallsymsTable } from './kallsyms.js';
import { KernelSymbols } from './kernel-symbols.js';
import { PerfMapReader, lookupPerfMap } from './perf-map-state.js';
import type { ProcessMetadata } from './process-metadata.js';
import { type ProcessState, ProcessTable } from './process-state.js';
import { findMapping } from './proc-maps.js';
import { FrameInterner } from './frame-interner.js';
import { JIT_MAPPING, UNKNOWN_MAPPING, VSYSCALL_MAPPING } from './profile-mappings.js';
import { type SymbolizerStats, emptySymbolizerStats } from './symbolizer-stats.js';
import { VdsoImage } from './vdso-image.js';

/** Default of SymbolizerOptions.maxCacheBytes. */
export const DEFAULT_MAX_CACHE_BYTES = 96 << 20;

export interface SymbolizerOptions {
  /** procfs mount point; default `/proc`. */
  procRoot?: string;
  /** Kernel symbols text to use instead of reading `<procRoot>/kallsyms` (tests). */
  kallsymsText?: string;
  /** Parsed ELF files kept (LRU). Default 512. */
  maxFiles?: number;
  /** Function symbols kept across all cached files (LRU eviction beyond it). Default 4M. */
  maxSymbols?: number;
  /** Per-pid state is dropped after this many drains without a lookup for the pid. Default 6. */
  pidIdleDrains?: number;
  /**
   * Bytes the symbol caches keep at most, all processes and files together (see above for the split); a share
   * of the agent's memory limit. Default 96 MiB.
   */
  maxCacheBytes?: number;
  /**
   * Bytes ELF parsing may read per drain window; files past it wait for the next window (counted). Bounds the
   * time a window spends when files keep evicting each other. Default twice the ELF share, at least 64 MiB.
   */
  maxParseBytesPerDrain?: number;
  /** Processes tracked at most (least recently looked up dropped first). Default 8192. */
  maxPids?: number;
  /** Cap on reading one /proc/<pid>/maps (a transient buffer). Default 16 MiB. */
  maxMapsBytes?: number;
  /** Cap on one process's perf map. Default 64 MiB, and never more than the perf maps' share of maxCacheBytes. */
  maxPerfMapBytes?: number;
  /** Cap on a single ELF file's symbol count. Default 2M. */
  maxSymbolsPerFile?: number;
  /** Show C++/Rust names demangled (the mangled name stays as system name). Default true. */
  demangle?: boolean;
  /** Where stripped files' symbols come from; default from DEBUGINFOD_URLS, null to disable. */
  debuginfod?: DebuginfodClient | null;
  /** Debug files on disk (/usr/lib/debug, debuglinks) larger than this are not used. Default 1 GiB. */
  maxDebugFileBytes?: number;
}

export class Symbolizer {
  readonly stats: SymbolizerStats = emptySymbolizerStats();
  /** Debug-file client (undefined: disabled). */
  readonly debuginfod?: DebuginfodClient;
  private readonly kernel: KernelSymbols;
  private readonly elfFiles: ElfFileCache;
  private readonly vdso: VdsoImage;
  private readonly processes: ProcessTable;

  private readonly perfMaps: PerfMapReader;
  /** One object per unknown, JIT or unread-file frame value, across windows (frame-interner.ts). */
  private readonly interned = new FrameInterner();

  constructor(options: SymbolizerOptions = {}) {
    const procRoot = options.procRoot ?? '/proc';
    const budget = options.maxCacheBytes ?? DEFAULT_MAX_CACHE_BYTES;
    const elfBytes = Math.floor((budget * 5) / 8);
    const perfMapBytes = Math.floor(budget / 4);
    this.debuginfod = options.debuginfod === null ? undefined : (options.debuginfod ?? DebuginfodClient.fromEnv());
    this.kernel = new KernelSymbols(this.stats, { procRoot, kallsymsText: options.kallsymsText });
    this.elfFiles = new ElfFileCache(this.stats, {
      procRoot,
      maxFiles: options.maxFiles ?? 512,
      maxSymbols: options.maxSymbols ?? 4_000_000,
      maxSymbolsPerFile: options.maxSymbolsPerFile ?? 2_000_000,
      maxBytes: elfBytes,
      maxParseBytesPerDrain: options.maxParseBytesPerDrain ?? Math.max(2 * elfBytes, 64 << 20),
      demangle: options.demangle ?? true,
      maxDebugFileBytes: options.maxDebugFileBytes ?? 1 << 30,
      debuginfod: this.debuginfod,
    });
    this.vdso = new VdsoImage(this.stats, procRoot);
    this.perfMaps = new PerfMapReader(this.stats, {
      procRoot,
      maxPerfMapBytes: Math.min(options.maxPerfMapBytes ?? 64 << 20, perfMapBytes),
      maxTotalBytes: perfMapBytes,
    });
    this.processes = new ProcessTable(
      this.stats,
      {
        procRoot,
        maxMapsTextBytes: options.maxMapsBytes ?? 16 << 20,
        maxMapsBytes: budget - elfBytes - perfMapBytes,
        maxPids: options.maxPids ?? 8192,
        pidIdleDrains: options.pidIdleDrains ?? 6,
      },
      this.elfFiles,
      this.perfMaps,
    );
  }

  /** Estimated bytes the symbol caches keep alive now (within maxCacheBytes; kernel symbols not included). */
  get bytesUsed(): number {
    return this.elfFiles.bytesUsed + this.perfMaps.bytesUsed + this.processes.mapsBytes + this.processes.stacksBytes + this.interned.bytes;
  }

  /** Starts a drain window: each process's maps are read at most once until `endDrain`. */
  beginDrain(): void {
    this.processes.beginDrain();
    this.elfFiles.beginDrain();
    const attached = this.stats.debugFilesAttached;
    this.elfFiles.attachDownloadedDebugFiles();
    // Names got better for some file: stacks kept from earlier windows may hold the old ones.
    if (this.stats.debugFilesAttached !== attached) this.processes.forgetAllStacks();
    this.kernel.reloadIfModulesChanged();
  }

  /**
   * Process name, container id and pod UID of `pid`, read at most once per drain and kept with the pid's
   * other state (so a process that exits before a later window keeps its last known metadata). Never throws.
   */
  processMetadata(pid: number): ProcessMetadata | undefined {
    return this.processes.metadata(pid);
  }

  /** Ends a drain window and drops state of pids not seen for `pidIdleDrains` drains. */
  endDrain(): void {
    this.processes.endDrain();
  }

  /** Drops everything cached for a pid (call on process exit). */
  forgetPid(pid: number): void {
    this.processes.forget(pid);
  }

  /** Number of parsed files, symbols and processes currently cached, and the bytes they keep (bytesUsed). */
  get cacheSize(): { files: number; symbols: number; pids: number; bytes: number } {
    return { files: this.elfFiles.fileCount, symbols: this.elfFiles.symbolCount, pids: this.processes.size, bytes: this.bytesUsed };
  }

  /** (Re)reads kernel symbols. Returns the table; failures are recorded in stats.kallsymsError. */
  reloadKallsyms(): KallsymsTable | undefined {
    return this.kernel.reload();
  }

  /** Names kernel addresses (leaf first in, leaf first out). Never throws. */
  symbolizeKernel(addrs: readonly bigint[]): ProfileFrame[] {
    return this.kernel.symbolize(addrs);
  }

  /**
   * A user stack of `pid` symbolized in an earlier window, by the program's hash of its addresses (`key`), while
   * the process's maps are unchanged; counted as a hit. Never throws.
   */
  cachedUserStack(pid: number, key: bigint): ProfileFrame[] | undefined {
    const st = this.processes.withMaps(pid);
    const frames = this.processes.cachedStack(st, key);
    if (frames) {
      this.stats.stackCacheHits++;
      for (const f of frames) this.count(f);
    }
    return frames;
  }

  /**
   * Names user-space addresses of `pid` (same order as the input). With `key` (the program's hash of the
   * addresses) a stack whose every frame was looked up in a file that was read is kept for later windows.
   * Never throws.
   */
  symbolizeUser(pid: number, addrs: readonly bigint[], key?: bigint): ProfileFrame[] {
    const st = this.processes.withMaps(pid);
    const out: ProfileFrame[] = [];
    let keep = key !== undefined && st.maps !== undefined;
    for (const addr of addrs) {
      let frame: ProfileFrame;
      try {
        frame = this.userFrame(pid, st, addr);
      } catch {
        frame = this.interned.unknown(addr, UNKNOWN_MAPPING);
      }
      this.count(frame);
      // Kept: named frames, and unnamed ones in a file that was read (a stripped executable's functions stay
      // unnamed until a debug file attaches, which empties every kept stack). Not kept: JIT and unknown frames,
      // files not read yet or unreadable (they may be read in a later window).
      if (frame.kind !== 'native' || (frame.functionName === undefined && !this.frameFromReadFile)) keep = false;
      out.push(frame);
    }
    if (keep) this.processes.cacheStack(st, key!, out);
    return out;
  }

  private count(frame: ProfileFrame): void {
    this.stats.framesTotal++;
    if (frame.functionName !== undefined) this.stats.framesSymbolized++;
    if (frame.kind === 'native') this.stats.nativeFrames++;
    else if (frame.kind === 'jit') this.stats.jitFrames++;
    else if (frame.kind === 'kernel') this.stats.kernelFrames++;
    else this.stats.unknownFrames++;
  }

  /** Set by `userFrame`: the frame it returned was looked up in a file that was read (its name is final). */
  private frameFromReadFile = false;

  private userFrame(pid: number, st: ProcessState, addr: bigint): ProfileFrame {
    this.frameFromReadFile = false;
    if (!st.maps) return this.interned.unknown(addr, UNKNOWN_MAPPING);
    const m = findMapping(st.maps, addr);
    if (m && (m.kind === 'file' || m.kind === 'memfd')) {
      const entry = this.processes.fileFor(pid, st, m);
      if (entry?.elf) {
        this.frameFromReadFile = true;
        return this.elfFiles.frameAt(entry, addr - m.start + m.offset, addr);
      }
      // A memfd that is not ELF is likely JIT code: fall through to the perf map.
      if (m.kind === 'file') return this.interned.unnamed(addr, entry?.mapping ?? this.elfFiles.failedMapping(m.path));
    }
    if (m && m.kind === 'vdso') {
      const entry = this.vdso.entryFor(pid, m);
      if (entry) {
        this.frameFromReadFile = true;
        return this.elfFiles.frameAt(entry, addr - m.start, addr);
      }
      return { address: addr, functionName: '[vdso]', systemName: '[vdso]', kind: 'native', mapping: UNKNOWN_MAPPING };
    }
    if (m && m.kind === 'vsyscall') {
      return { address: addr, functionName: '[vsyscall]', systemName: '[vsyscall]', kind: 'native', mapping: VSYSCALL_MAPPING };
    }
    // Anonymous, memfd without ELF, or outside every mapping: JIT code named by the runtime's perf map, if any.
    const perfMap = this.processes.perfMapFor(pid, st);
    const jit = perfMap && lookupPerfMap(perfMap, addr);
    if (jit) return this.interned.jit(addr, jit.name, JIT_MAPPING);
    return this.interned.unknown(addr, UNKNOWN_MAPPING);
  }
}
