// Parsed ELF files, shared by every process that maps them and keyed by file identity (device, inode, size,
// mtime) so a file replaced in place is parsed again. An LRU bounded by file count, total symbols and bytes:
// what each parsed file retains (names, index, sections; its debug file; its cached frames) counts against
// `maxBytes`, and least recently used files are evicted past it (counted). One file may take at most half of
// it (parseElf drops symbols past that), and the bytes parsed per drain window are capped, so files that
// keep evicting each other cannot make every window re-read them. A file without `.symtab` gets its symbols
// from a detached debug file: on disk where distributions put them (debug-files.ts), else from debuginfod,
// from the window after the download finishes.

import * as fs from 'node:fs';
import type { ProfileFrame, ProfileMapping } from '../../exporters/pprof/types.js';
import { DebugFileFinder } from './debug-files.js';
import type { DebuginfodClient } from './debuginfod.js';
import { demangle } from './demangle/index.js';
import { type ElfFile, type ElfResult, parseElf } from './elf.js';
import { fdSource } from './file-reads.js';
import { fileIdentity, openInRootDir, openMapped } from './process-files.js';
import type { ProcMapping } from './proc-maps.js';
import { elfMapping, U64_MAX, unnamedMapping } from './profile-mappings.js';
import type { SymbolizerStats } from './symbolizer-stats.js';

const MAX_CACHED_FRAMES_PER_FILE = 8192;
/** Estimated bytes of a cached frame object, without its names (two strings, counted by length). */
const FRAME_BYTES = 160;
/** Estimated bytes of an entry without symbols (key, mapping, maps). */
const ENTRY_BYTES = 512;

/** A parsed file (or the vdso image) shared by every process that maps it. */
export interface FileEntry {
  key: string;
  elf?: ElfFile;
  /** Symbols from a detached debug file (on disk or debuginfod) for `elf` without `.symtab`; same addresses. */
  debug?: ElfFile;
  /** Build-id requested from debuginfod and not attached yet. */
  pendingBuildId?: string;
  mapping: ProfileMapping;
  frames: Map<bigint, ProfileFrame>;
  symbols: number;
  /** Estimated bytes this entry keeps alive (counted against the cache's budget while cached). */
  bytes: number;
  evicted: boolean;
}

export interface ElfCacheOptions {
  /** procfs mount point. */
  procRoot: string;
  /** Parsed files kept. */
  maxFiles: number;
  /** Function symbols kept across all cached files. */
  maxSymbols: number;
  /** Cap on a single file's symbol count. */
  maxSymbolsPerFile: number;
  /** Cap on the bytes all cached files keep alive (one file gets at most half). */
  maxBytes: number;
  /** Cap on bytes read by ELF parsing per drain window; past it, files wait for the next window. */
  maxParseBytesPerDrain: number;
  /** Show C++/Rust names demangled. */
  demangle: boolean;
  /** Debug files on disk larger than this are not used (their CRC32 check reads them whole). */
  maxDebugFileBytes: number;
  /** Where stripped files' symbols come from; undefined: nowhere. */
  debuginfod?: DebuginfodClient;
}

export class ElfFileCache {
  /** LRU: Map iteration order = least recently used first. */
  private readonly files = new Map<string, FileEntry>();
  private totalSymbols = 0;
  private totalBytes = 0;
  private parsedThisDrain = 0;
  /** Mapping objects by file identity, outliving ELF eviction so a file keeps one mapping object. */
  private readonly mappings = new Map<string, ProfileMapping>();
  /** Entries waiting for a debuginfod download. */
  private readonly pendingDebug = new Set<FileEntry>();
  private readonly localDebug: DebugFileFinder;

  constructor(
    private readonly stats: SymbolizerStats,
    private readonly opts: ElfCacheOptions,
  ) {
    this.localDebug = new DebugFileFinder(stats, {
      procRoot: opts.procRoot,
      maxDebugFileBytes: opts.maxDebugFileBytes,
      maxSymbolsPerFile: opts.maxSymbolsPerFile,
      maxRetainedBytes: Math.floor(opts.maxBytes / 2),
    });
  }

  get fileCount(): number {
    return this.files.size;
  }

  get symbolCount(): number {
    return this.totalSymbols;
  }

  /** Estimated bytes the cached files keep alive. */
  get bytesUsed(): number {
    return this.totalBytes;
  }

  /** Starts a drain window: the parse budget is available again. */
  beginDrain(): void {
    this.parsedThisDrain = 0;
  }

  /**
   * The parsed file behind mapping `m` of `pid`, from the cache when the same file was parsed before.
   * Undefined when it cannot be opened or is no longer the file that was mapped. Never throws.
   */
  open(pid: number, m: ProcMapping): FileEntry | undefined {
    const opened = openMapped(this.opts.procRoot, pid, m);
    if (!opened.ok) {
      if (opened.reason === 'not-regular') this.stats.nonRegularFilesRefused++;
      else if (opened.reason === 'link-refused') this.stats.linksRefused++;
      this.stats.fileOpenErrors++;
      return undefined;
    }
    const { fd, stat: s } = opened.file;
    try {
      if (m.inode !== 0n && s.ino !== m.inode) {
        // The path now names another file than the one mapped: its symbols would lie.
        this.stats.fileOpenErrors++;
        return undefined;
      }
      const key = fileIdentity(s);
      const hit = this.files.get(key);
      if (hit) {
        this.stats.elfCacheHits++;
        this.touch(hit);
        return hit;
      }
      if (this.parsedThisDrain >= this.opts.maxParseBytesPerDrain) {
        // Tried again next window (the caller remembers the failure for this one only).
        this.stats.elfParsesDeferred++;
        return undefined;
      }
      const parsed = this.parse(fd, Number(s.size));
      let entry: FileEntry;
      if (!parsed.ok) {
        this.stats.elfErrors++;
        entry = { key, mapping: this.failedMapping(m.path), frames: new Map(), symbols: 0, bytes: ENTRY_BYTES, evicted: false };
      } else {
        this.stats.elfFilesLoaded++;
        const elf = parsed.elf;
        entry = { key, elf, mapping: this.mappingFor(key, m.path, elf), frames: new Map(), symbols: elf.symbolCount, bytes: ENTRY_BYTES + elf.retainedBytes, evicted: false };
      }
      this.insert(entry);
      this.findDebugFile(entry, pid, m, `${s.dev}:${s.ino}`);
      return entry;
    } catch {
      this.stats.fileOpenErrors++;
      return undefined;
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Parses an open file within the per-file share of the budget, charging what it read to this window. */
  private parse(fd: number, size: number): ElfResult {
    const parsed = parseElf(fdSource(fd, size), { maxSymbols: this.opts.maxSymbolsPerFile, maxRetainedBytes: Math.floor(this.opts.maxBytes / 2) });
    if (parsed.ok) {
      this.parsedThisDrain += parsed.elf.bytesRead;
      if (parsed.elf.retainedLimitReached) this.stats.elfSymbolsTruncated++;
    } else {
      this.parsedThisDrain += 4096;
    }
    return parsed;
  }

  /** Marks `entry` most recently used. */
  touch(entry: FileEntry): void {
    this.files.delete(entry.key);
    this.files.set(entry.key, entry);
  }

  /** The mapping of a file that could not be read: one object per path. */
  failedMapping(file: string): ProfileMapping {
    const key = `failed:${file}`;
    let m = this.mappings.get(key);
    if (!m) {
      m = unnamedMapping(file);
      this.rememberMapping(key, m);
    }
    return m;
  }

  /** Frame for an address of a parsed file, given its file offset; cached per file by normalized address. */
  frameAt(entry: FileEntry, fileOffset: bigint, addr: bigint): ProfileFrame {
    const elf = entry.elf;
    if (!elf) return { address: addr, kind: 'native', mapping: entry.mapping };
    let vaddr = elf.fileOffsetToVaddr(fileOffset);
    if (vaddr === undefined) {
      // Past the file-backed part of a segment (e.g. .bss): use the executable segment's bias.
      const x = elf.execSegment ?? elf.loads[0];
      vaddr = x ? fileOffset - x.offset + x.vaddr : fileOffset;
    }
    let frame = entry.frames.get(vaddr);
    if (!frame) {
      const sym = entry.debug?.lookup(vaddr) ?? elf.lookup(vaddr);
      const budget = { overBudget: false };
      const shown = sym && this.opts.demangle ? demangle(sym.name, budget) : undefined;
      if (shown !== undefined) this.stats.demangledNames++;
      if (budget.overBudget) this.stats.demangleOverBudget++;
      frame = { address: vaddr, functionName: shown ?? sym?.name, systemName: sym?.name, kind: 'native', mapping: entry.mapping };
      if (entry.frames.size >= MAX_CACHED_FRAMES_PER_FILE) this.clearFrames(entry);
      entry.frames.set(vaddr, frame);
      if (this.holds(entry)) this.charge(entry, frameBytes(frame));
    }
    return frame;
  }

  /** Attaches debug files that finished downloading since the last window (a stat per pending file). */
  attachDownloadedDebugFiles(): void {
    const debuginfod = this.opts.debuginfod;
    if (!debuginfod) return;
    for (const entry of this.pendingDebug) {
      if (entry.evicted) {
        this.pendingDebug.delete(entry);
        continue;
      }
      const file = debuginfod.cachedPath(entry.pendingBuildId!);
      if (file) {
        this.pendingDebug.delete(entry);
        this.attachDebugFile(entry, file);
      }
    }
  }

  /**
   * No .symtab: its debug file may be on disk where distributions put them, or in the debuginfod cache already;
   * else debuginfod is asked in the background.
   */
  private findDebugFile(entry: FileEntry, pid: number, m: ProcMapping, inode: string): void {
    if (!entry.elf || entry.elf.hasSymtab) return;
    const local = this.localDebug.find(pid, m, entry.elf, inode);
    if (local) {
      this.parsedThisDrain += local.elf.bytesRead;
      this.useDebugFile(entry, local.elf);
      return;
    }
    const debuginfod = this.opts.debuginfod;
    if (!entry.elf.buildId || !debuginfod) return;
    const cached = debuginfod.cachedPath(entry.elf.buildId);
    if (cached) this.attachDebugFile(entry, cached);
    else {
      entry.pendingBuildId = entry.elf.buildId;
      this.pendingDebug.add(entry);
      debuginfod.request(entry.elf.buildId);
    }
  }

  private attachDebugFile(entry: FileEntry, file: string): void {
    entry.pendingBuildId = undefined;
    // The debuginfod cache is the collector's own directory, opened by the same rules all the same.
    const opened = openInRootDir('/', file);
    if (!opened.ok) {
      if (opened.reason === 'not-regular') this.stats.nonRegularFilesRefused++;
      else if (opened.reason === 'link-refused') this.stats.linksRefused++;
      this.stats.debugFileErrors++;
      return;
    }
    const fd = opened.file.fd;
    try {
      const parsed = this.parse(fd, opened.file.size);
      // A debug file for another build would name the wrong functions.
      if (!parsed.ok || parsed.elf.buildId !== entry.elf?.buildId || parsed.elf.symbolCount === 0) {
        this.stats.debugFileErrors++;
        return;
      }
      this.useDebugFile(entry, parsed.elf);
    } catch {
      this.stats.debugFileErrors++;
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Names `entry`'s addresses from `debug` from now on; the mapping keeps the original file's build-id. */
  private useDebugFile(entry: FileEntry, debug: ElfFile): void {
    if (entry.evicted) return;
    entry.debug = debug;
    this.clearFrames(entry);
    entry.symbols += debug.symbolCount;
    this.totalSymbols += debug.symbolCount;
    this.charge(entry, debug.retainedBytes);
    const mp = entry.mapping;
    if (!mp.hasFunctions) {
      entry.mapping = Object.freeze({ ...mp, hasFunctions: true });
      this.mappings.set(entry.key, entry.mapping);
    }
    this.stats.debugFilesAttached++;
  }

  private mappingFor(key: string, file: string, elf: ElfFile): ProfileMapping {
    let mp = this.mappings.get(key);
    if (!mp) {
      mp = elfMapping(file, elf, U64_MAX);
      this.rememberMapping(key, mp);
    }
    return mp;
  }

  private rememberMapping(key: string, m: ProfileMapping): void {
    if (this.mappings.size >= this.opts.maxFiles * 8) this.mappings.delete(this.mappings.keys().next().value!);
    this.mappings.set(key, m);
  }

  private insert(entry: FileEntry): void {
    this.files.set(entry.key, entry);
    this.totalSymbols += entry.symbols;
    this.totalBytes += entry.bytes;
    this.evictFor(entry);
  }

  /** Adds `bytes` to a cached entry's share and evicts others when the cache is over its budget. */
  private charge(entry: FileEntry, bytes: number): void {
    entry.bytes += bytes;
    this.totalBytes += bytes;
    this.evictFor(entry);
  }

  /**
   * Evicts least recently used files until the cache fits its budgets, keeping `keep` (the file in use); if it
   * alone is over the byte budget, its frame cache goes.
   */
  private evictFor(keep: FileEntry): void {
    const over = () => this.files.size > this.opts.maxFiles || this.totalSymbols > this.opts.maxSymbols || this.totalBytes > this.opts.maxBytes;
    for (const old of this.files.values()) {
      if (!over()) return;
      if (old === keep) continue;
      this.evict(old);
    }
    if (this.totalBytes > this.opts.maxBytes) this.clearFrames(keep);
  }

  private evict(old: FileEntry): void {
    this.files.delete(old.key);
    this.totalSymbols -= old.symbols;
    this.totalBytes -= old.bytes;
    old.evicted = true;
    // Processes may still reference the entry (until their maps change): let its symbols go now.
    old.elf = undefined;
    old.debug = undefined;
    old.frames = new Map();
    this.pendingDebug.delete(old);
    this.stats.elfEvictions++;
  }

  /** Drops an entry's cached frames and their share of the budget. */
  private clearFrames(entry: FileEntry): void {
    if (entry.frames.size === 0) return;
    let bytes = 0;
    for (const f of entry.frames.values()) bytes += frameBytes(f);
    entry.frames.clear();
    if (this.holds(entry)) {
      entry.bytes -= bytes;
      this.totalBytes -= bytes;
    }
  }

  /** The entry is in the cache and counted (not evicted, and not the vdso image, which lives apart). */
  private holds(entry: FileEntry): boolean {
    return !entry.evicted && this.files.get(entry.key) === entry;
  }
}

/** Estimated bytes of a cached frame: the object and its names (a name shown as is is one string). */
function frameBytes(f: ProfileFrame): number {
  const system = f.systemName?.length ?? 0;
  return FRAME_BYTES + system + (f.functionName === f.systemName ? 0 : (f.functionName?.length ?? 0));
}
