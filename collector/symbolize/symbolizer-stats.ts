// Counters of the symbolizer. One object shared by all its parts, each counting what it reads or fails to read;
// the agent and `record` report them.

export interface SymbolizerStats {
  framesTotal: number;
  /** Frames that got a function name. */
  framesSymbolized: number;
  kernelFrames: number;
  nativeFrames: number;
  jitFrames: number;
  unknownFrames: number;
  /** Processes whose maps could not be read because they had exited (ENOENT/ESRCH), counted once per drain. */
  processesGone: number;
  /** Maps unreadable for another reason (permissions, ...). */
  mapsErrors: number;
  /** Maps cut at the read cap (maxMapsBytes) or the line cap: mappings past it are unknown. */
  mapsTruncated: number;
  /** Mapped files that could not be opened (neither map_files nor the process root). */
  fileOpenErrors: number;
  /** Files that opened but did not parse as ELF64 little-endian. */
  elfErrors: number;
  elfFilesLoaded: number;
  elfCacheHits: number;
  elfEvictions: number;
  perfMapsLoaded: number;
  perfMapErrors: number;
  vdsoErrors: number;
  pidsEvicted: number;
  /** Frames whose name was shown demangled. */
  demangledNames: number;
  /** Perf maps read in full, and appended parts read since (a growing map is read incrementally). */
  perfMapAppends: number;
  /** Debug files attached to files without `.symtab` (found on disk or fetched from debuginfod). */
  debugFilesAttached: number;
  /** User stacks named from the cross-window cache (no frame looked up), and times that cache was emptied whole. */
  stackCacheHits: number;
  stackCacheResets: number;
  /** Debug files that did not parse, named no functions, or were of another build (build-id differs). */
  debugFileErrors: number;
  /** Debug files found on disk by GNU build-id (/usr/lib/debug/.build-id/), and by `.gnu_debuglink`. */
  debugFilesByBuildId: number;
  debugFilesByDebuglink: number;
  /** Files a `.gnu_debuglink` led to whose CRC32 was not the one the link names (not used). */
  debugLinkCrcMismatches: number;
  /** Files without `.symtab` with no debug file on disk (debuginfod is asked next, when configured). */
  debugFilesNotFound: number;
  /** Files a process put in our way that were not regular files (devices, FIFOs, sockets, directories, symlinks), refused unopened. */
  nonRegularFilesRefused: number;
  /** Paths refused while resolved inside a process's root: a magic link (/proc/<pid>/fd/...) or a symlink loop. */
  linksRefused: number;
  /** Names left mangled because demangling them would exceed the output or work budget (hostile or pathological names). */
  demangleOverBudget: number;
  /** Parsed files whose symbols were cut at the per-file share of the cache budget. */
  elfSymbolsTruncated: number;
  /** Files not parsed in a window because that window's parse budget was spent (tried again next window). */
  elfParsesDeferred: number;
  /** Perf map reads cut short by the per-process or the all-processes byte cap. */
  perfMapBytesCapped: number;
  /** Process states dropped to stay under the process count or maps byte caps (least recently used first). */
  pidsEvictedOverCap: number;
  /** Times kernel symbols were read again because the loaded modules changed. */
  kallsymsReloads: number;
  kallsymsSymbols: number;
  /** True when /proc/kallsyms showed only zero addresses (kptr_restrict): kernel frames stay unnamed. */
  kallsymsRestricted: boolean;
  kallsymsError?: string;
}

export function emptySymbolizerStats(): SymbolizerStats {
  return {
    framesTotal: 0, framesSymbolized: 0, kernelFrames: 0, nativeFrames: 0, jitFrames: 0, unknownFrames: 0,
    processesGone: 0, mapsErrors: 0, mapsTruncated: 0, fileOpenErrors: 0, elfErrors: 0, elfFilesLoaded: 0, elfCacheHits: 0,
    elfEvictions: 0, perfMapsLoaded: 0, perfMapErrors: 0, vdsoErrors: 0, pidsEvicted: 0, demangledNames: 0,
    perfMapAppends: 0, debugFilesAttached: 0, stackCacheHits: 0, stackCacheResets: 0, debugFileErrors: 0, debugFilesByBuildId: 0, debugFilesByDebuglink: 0,
    debugLinkCrcMismatches: 0, debugFilesNotFound: 0, nonRegularFilesRefused: 0, linksRefused: 0, demangleOverBudget: 0, elfSymbolsTruncated: 0,
    elfParsesDeferred: 0, perfMapBytesCapped: 0, pidsEvictedOverCap: 0, kallsymsReloads: 0, kallsymsSymbols: 0, kallsymsRestricted: false,
  };
}

/**
 * What the symbolizer gave up on, by reason (hotpath_symbolizer_gave_up_total{reason}): every refusal, cut and
 * read failure of an input a profiled process controls or that vanished under it.
 */
export function symbolizerGaveUp(s: SymbolizerStats): Record<string, number> {
  return {
    process_gone: s.processesGone,
    maps_unreadable: s.mapsErrors,
    maps_truncated: s.mapsTruncated,
    file_unopened: s.fileOpenErrors,
    not_regular_file: s.nonRegularFilesRefused,
    link_refused: s.linksRefused,
    not_elf: s.elfErrors,
    elf_symbols_truncated: s.elfSymbolsTruncated,
    elf_parse_deferred: s.elfParsesDeferred,
    perf_map_unreadable: s.perfMapErrors,
    perf_map_capped: s.perfMapBytesCapped,
    debug_file_unusable: s.debugFileErrors,
    debug_link_crc_mismatch: s.debugLinkCrcMismatches,
    vdso_unreadable: s.vdsoErrors,
    demangle_over_budget: s.demangleOverBudget,
    processes_over_cap: s.pidsEvictedOverCap,
  };
}
