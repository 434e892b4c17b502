// Public API of the stack symbolizer.
export { DEFAULT_MAX_CACHE_BYTES, Symbolizer, type SymbolizerOptions } from './symbolizer.js';
export type { SymbolizerStats } from './symbolizer-stats.js';
export { openInProcessRoot, openInRootDir, type OpenResult, type OpenRefusal } from './process-files.js';
export { parseDebugLink, type DebugLink } from './debug-link.js';
export { DebuginfodClient, DEFAULT_DEBUGINFOD_CACHE, type DebuginfodOptions, type DebuginfodStats } from './debuginfod.js';
export {
  parseElf,
  parseElfNotes,
  bufferSource,
  type ByteSource,
  type ElfFile,
  type ElfResult,
  type ElfSegment,
  type ElfSection,
  type ElfSymbolHit,
  type ElfType,
  type ElfParseOptions,
} from './elf.js';
export { parseKallsyms, type KallsymsTable, type KernelSymbol, type KallsymsOptions } from './kallsyms.js';
export { parseProcMaps, findMapping, type ProcMapping, type ProcMapsResult, type MappingKind } from './proc-maps.js';
export { parsePerfMap, type PerfMapTable, type PerfMapEntry, type PerfMapOptions } from './perf-map.js';
export { SymbolIndex, SymbolIndexBuilder, type SymbolHit, type SymbolIndexOptions } from './symbol-index.js';
