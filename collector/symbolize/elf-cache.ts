// Parsed ELF files, shared by every process that maps them and keyed by file identity (device, inode, size,
// mtime) so a file replaced in place is parsed again. An LRU bounded by file count and total symbols. A file
// without `.symtab` gets its symbols from a detached debug file: on disk where distributions put them
// (debug-files.ts), else from debuginfod, from the window after the download finishes.

import * as fs from 'node:fs';
import type { ProfileFrame, ProfileMapping } from '../../exporters/pprof/types.js';
import { DebugFileFinder } from './debug-files.js';
import type { DebuginfodClient } from './debuginfod.js';
import { demangle } from './demangle/index.js';
import { type ElfFile, parseElf } from './elf.js';
import { fdSource } from './file-reads.js';
import { fileIdentity, openMappedFile } from './process-files.js';
import type { ProcMapping } from './proc-maps.js';
import { elfMapping, U64_MAX, unnamedMapping } from './profile-mappings.js';
import type { SymbolizerStats } from './symbolizer-stats.js';

const MAX_CACHED_FRAMES_PER_FILE = 8192;

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
    });
  }

  get fileCount(): number {
    return this.files.size;
  }

  get symbolCount(): number {
    return this.totalSymbols;
  }

  /**
   * The parsed file behind mapping `m` of `pid`, from the cache when the same file was parsed before.
   * Undefined when it cannot be opened or is no longer the file that was mapped. Never throws.
   */
  open(pid: number, m: ProcMapping): FileEntry | undefined {
    const fd = openMappedFile(this.opts.procRoot, pid, m);
    if (fd < 0) {
      this.stats.fileOpenErrors++;
      return undefined;
    }
    try {
      const s = fs.fstatSync(fd, { bigint: true });
      if (!s.isFile()) {
        this.stats.fileOpenErrors++;
        return undefined;
      }
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
      const parsed = parseElf(fdSource(fd, Number(s.size)), { maxSymbols: this.opts.maxSymbolsPerFile });
      let entry: FileEntry;
      if (!parsed.ok) {
        this.stats.elfErrors++;
        entry = { key, mapping: this.failedMapping(m.path), frames: new Map(), symbols: 0, evicted: false };
      } else {
        this.stats.elfFilesLoaded++;
        entry = { key, elf: parsed.elf, mapping: this.mappingFor(key, m.path, parsed.elf), frames: new Map(), symbols: parsed.elf.symbolCount, evicted: false };
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
      const shown = sym && this.opts.demangle ? demangle(sym.name) : undefined;
      if (shown !== undefined) this.stats.demangledNames++;
      frame = { address: vaddr, functionName: shown ?? sym?.name, systemName: sym?.name, kind: 'native', mapping: entry.mapping };
      if (entry.frames.size >= MAX_CACHED_FRAMES_PER_FILE) entry.frames.clear();
      entry.frames.set(vaddr, frame);
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
    let fd = -1;
    try {
      fd = fs.openSync(file, 'r');
      const size = fs.fstatSync(fd).size;
      const parsed = parseElf(fdSource(fd, size), { maxSymbols: this.opts.maxSymbolsPerFile });
      // A debug file for another build would name the wrong functions.
      if (!parsed.ok || parsed.elf.buildId !== entry.elf?.buildId || parsed.elf.symbolCount === 0) {
        this.stats.debugFileErrors++;
        return;
      }
      this.useDebugFile(entry, parsed.elf);
    } catch {
      this.stats.debugFileErrors++;
    } finally {
      if (fd >= 0) fs.closeSync(fd);
    }
  }

  /** Names `entry`'s addresses from `debug` from now on; the mapping keeps the original file's build-id. */
  private useDebugFile(entry: FileEntry, debug: ElfFile): void {
    entry.debug = debug;
    entry.frames.clear();
    entry.symbols += debug.symbolCount;
    this.totalSymbols += debug.symbolCount;
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
    for (const [key, old] of this.files) {
      if (this.files.size <= this.opts.maxFiles && this.totalSymbols <= this.opts.maxSymbols) break;
      if (old === entry) break; // keep the file just loaded even when it alone exceeds the budget
      this.files.delete(key);
      this.totalSymbols -= old.symbols;
      old.evicted = true;
      this.stats.elfEvictions++;
    }
  }
}
