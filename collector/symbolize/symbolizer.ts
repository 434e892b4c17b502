// Symbolizer: the I/O edge that turns raw kernel and user stack addresses into ProfileFrames.
// Reads /proc/kallsyms, /proc/<pid>/maps, mapped ELF files (through /proc/<pid>/map_files or the process's
// root), the vdso image and JIT perf maps; caches parsed files per file identity and per-pid state per drain.
// C++ and Rust names are demangled for display (the mangled name stays as the system name); stripped files get
// their symbols from debuginfod when DEBUGINFOD_URLS is set, from the window after the download finishes.
// Returned frames and mappings are shared between calls: treat them as immutable.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ProfileFrame, ProfileMapping } from '../../exporters/pprof/types.js';
import { demangle } from './demangle/index.js';
import { type ProcessMetadata, readProcessMetadata } from './process-metadata.js';
import { DebuginfodClient } from './debuginfod.js';
import { type ByteSource, type ElfFile, bufferSource, parseElf, parseElfNotes } from './elf.js';
import { type KallsymsTable, parseKallsyms } from './kallsyms.js';
import { type PerfMapTable, parsePerfMap } from './perf-map.js';
import { type ProcMapping, findMapping, parseProcMaps } from './proc-maps.js';

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
  /** Cap on reading /proc/<pid>/maps and perf maps. Default 16 MiB and 64 MiB. */
  maxMapsBytes?: number;
  maxPerfMapBytes?: number;
  /** Cap on a single ELF file's symbol count. Default 2M. */
  maxSymbolsPerFile?: number;
  /** Show C++/Rust names demangled (the mangled name stays as system name). Default true. */
  demangle?: boolean;
  /** Where stripped files' symbols come from; default from DEBUGINFOD_URLS, null to disable. */
  debuginfod?: DebuginfodClient | null;
}

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
  /** Debug files from debuginfod attached to stripped binaries, and ones that failed to parse. */
  debugFilesAttached: number;
  debugFileErrors: number;
  kallsymsSymbols: number;
  /** True when /proc/kallsyms showed only zero addresses (kptr_restrict): kernel frames stay unnamed. */
  kallsymsRestricted: boolean;
  kallsymsError?: string;
}

const U64_MAX = (1n << 64n) - 1n;
const UNKNOWN_MAPPING: ProfileMapping = Object.freeze({ file: '[unknown]', buildId: '', start: 0n, limit: U64_MAX, offset: 0n, hasFunctions: false });
const JIT_MAPPING: ProfileMapping = Object.freeze({ file: '[jit]', buildId: '', start: 0n, limit: U64_MAX, offset: 0n, hasFunctions: true });
const VSYSCALL_MAPPING: ProfileMapping = Object.freeze({ file: '[vsyscall]', buildId: '', start: 0xffffffffff600000n, limit: 0xffffffffff601000n, offset: 0n, hasFunctions: true });
const MAX_FRAME_CACHE = 8192;
const MAX_VDSO_BYTES = 1 << 20;

/** A parsed file (or vdso image) shared by every process that maps it. */
interface FileEntry {
  key: string;
  elf?: ElfFile;
  /** Symbols from a separate debug file (debuginfod) for a stripped `elf`; addresses are the same. */
  debug?: ElfFile;
  /** Build-id requested from debuginfod and not attached yet. */
  pendingBuildId?: string;
  mapping: ProfileMapping;
  frames: Map<bigint, ProfileFrame>;
  symbols: number;
  evicted: boolean;
}

interface PidState {
  lastSeenDrain: number;
  mapsDrain: number;
  maps?: ProcMapping[];
  gone: boolean;
  /** Resolved file per maps line (kept across drains while the line is unchanged); null = failed this drain. */
  files: Map<string, FileEntry | null>;
  failedDrain: Map<string, number>;
  perfMap?: PerfMapState;
  perfMapDrain: number;
  meta?: ProcessMetadata;
  metaDrain: number;
}

/** A perf map read so far: JIT runtimes only append, so growth is read from `offset` as an extra table. */
interface PerfMapState {
  file: string;
  /** dev:ino of the file. */
  identity: string;
  /** Bytes consumed (through the last complete line). */
  offset: number;
  /** Oldest first; lookups search newest first so re-used addresses get their latest name. */
  tables: PerfMapTable[];
}

const MAX_PERF_MAP_TABLES = 8;
/**
 * Opening a path a container controls: never block on a FIFO planted there (O_NONBLOCK; non-regular files are
 * rejected after fstat) and never follow a symlink swapped in after resolveInRoot checked the path.
 */
const SAFE_OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW;

function emptyStats(): SymbolizerStats {
  return {
    framesTotal: 0, framesSymbolized: 0, kernelFrames: 0, nativeFrames: 0, jitFrames: 0, unknownFrames: 0,
    processesGone: 0, mapsErrors: 0, fileOpenErrors: 0, elfErrors: 0, elfFilesLoaded: 0, elfCacheHits: 0,
    elfEvictions: 0, perfMapsLoaded: 0, perfMapErrors: 0, vdsoErrors: 0, pidsEvicted: 0, demangledNames: 0,
    perfMapAppends: 0, debugFilesAttached: 0, debugFileErrors: 0, kallsymsSymbols: 0, kallsymsRestricted: false,
  };
}

export class Symbolizer {
  readonly stats: SymbolizerStats = emptyStats();
  private readonly procRoot: string;
  private readonly opts: Required<Omit<SymbolizerOptions, 'procRoot' | 'kallsymsText' | 'debuginfod'>>;
  /** Debug-file client (undefined: disabled). */
  readonly debuginfod?: DebuginfodClient;
  /** Entries waiting for a debuginfod download. */
  private readonly pendingDebug = new Set<FileEntry>();
  private kallsyms?: KallsymsTable;
  private kernelMapping: ProfileMapping = UNKNOWN_MAPPING;
  private kernelFrames = new Map<bigint, ProfileFrame>();
  private readonly files = new Map<string, FileEntry>(); // LRU: Map iteration order = least recently used first
  private totalSymbols = 0;
  /** Mapping objects by file identity, outliving ELF eviction so a file keeps one mapping object. */
  private readonly mappings = new Map<string, ProfileMapping>();
  private readonly pids = new Map<number, PidState>();
  private vdso?: FileEntry | null;
  private vdsoFailures = 0;
  private drain = 0;
  private inDrain = false;

  constructor(private readonly options: SymbolizerOptions = {}) {
    this.procRoot = options.procRoot ?? '/proc';
    this.opts = {
      maxFiles: options.maxFiles ?? 512,
      maxSymbols: options.maxSymbols ?? 4_000_000,
      pidIdleDrains: options.pidIdleDrains ?? 6,
      maxMapsBytes: options.maxMapsBytes ?? 16 << 20,
      maxPerfMapBytes: options.maxPerfMapBytes ?? 64 << 20,
      maxSymbolsPerFile: options.maxSymbolsPerFile ?? 2_000_000,
      demangle: options.demangle ?? true,
    };
    this.debuginfod = options.debuginfod === null ? undefined : (options.debuginfod ?? DebuginfodClient.fromEnv());
  }

  /** Starts a drain window: each process's maps are read at most once until `endDrain`. */
  beginDrain(): void {
    this.drain++;
    this.inDrain = true;
    this.attachDownloadedDebugFiles();
  }

  /** Attaches debug files that finished downloading since the last window (a stat per pending file). */
  private attachDownloadedDebugFiles(): void {
    if (!this.debuginfod) return;
    for (const entry of this.pendingDebug) {
      if (entry.evicted) {
        this.pendingDebug.delete(entry);
        continue;
      }
      const file = this.debuginfod.cachedPath(entry.pendingBuildId!);
      if (file) {
        this.pendingDebug.delete(entry);
        this.attachDebugFile(entry, file);
      }
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
      entry.debug = parsed.elf;
      entry.frames.clear();
      entry.symbols += parsed.elf.symbolCount;
      this.totalSymbols += parsed.elf.symbolCount;
      const mp = entry.mapping;
      if (!mp.hasFunctions) {
        entry.mapping = Object.freeze({ ...mp, hasFunctions: true });
        this.mappings.set(entry.key, entry.mapping);
      }
      this.stats.debugFilesAttached++;
    } catch {
      this.stats.debugFileErrors++;
    } finally {
      if (fd >= 0) fs.closeSync(fd);
    }
  }

  /**
   * Process name, container id and pod UID of `pid`, read at most once per drain and kept with the pid's
   * other state (so a process that exits before a later window keeps its last known metadata). Never throws.
   */
  processMetadata(pid: number): ProcessMetadata | undefined {
    if (!this.inDrain) this.drain++;
    const st = this.stateOf(pid);
    if (st.metaDrain !== this.drain) {
      st.metaDrain = this.drain;
      st.meta = readProcessMetadata(pid, this.procRoot) ?? st.meta;
    }
    return st.meta;
  }

  /** Ends a drain window and drops state of pids not seen for `pidIdleDrains` drains. */
  endDrain(): void {
    this.inDrain = false;
    for (const [pid, st] of this.pids) {
      if (this.drain - st.lastSeenDrain >= this.opts.pidIdleDrains) {
        this.pids.delete(pid);
        this.stats.pidsEvicted++;
      }
    }
  }

  /** Drops everything cached for a pid (call on process exit). */
  forgetPid(pid: number): void {
    this.pids.delete(pid);
  }

  /** Number of parsed files and symbols currently cached. */
  get cacheSize(): { files: number; symbols: number; pids: number } {
    return { files: this.files.size, symbols: this.totalSymbols, pids: this.pids.size };
  }

  /** (Re)reads kernel symbols. Returns the table; failures are recorded in stats.kallsymsError. */
  reloadKallsyms(): KallsymsTable | undefined {
    this.stats.kallsymsError = undefined;
    let text = this.options.kallsymsText;
    if (text === undefined) {
      try {
        text = fs.readFileSync(path.join(this.procRoot, 'kallsyms'), 'utf8');
      } catch (err) {
        this.stats.kallsymsError = `read ${path.join(this.procRoot, 'kallsyms')}: ${(err as Error).message}`;
        text = '';
      }
    }
    const table = parseKallsyms(text);
    this.kallsyms = table;
    this.kernelFrames = new Map();
    this.stats.kallsymsSymbols = table.symbolCount;
    this.stats.kallsymsRestricted = table.restricted;
    if (table.restricted) this.stats.kallsymsError = 'kernel addresses hidden (kernel.kptr_restrict): run as root or set kernel.kptr_restrict=0';
    this.kernelMapping = Object.freeze({
      file: '[kernel.kallsyms]',
      buildId: this.kernelBuildId(),
      start: table.range?.min ?? 0n,
      // The last symbol has no size: cover the span a size-less kernel symbol may claim.
      limit: table.range ? minBig(table.range.max + (1n << 20n), U64_MAX) : U64_MAX,
      offset: 0n,
      hasFunctions: table.symbolCount > 0,
    });
    return table;
  }

  private kernelBuildId(): string {
    if (this.options.kallsymsText !== undefined) return '';
    try {
      // /sys/kernel/notes holds the running kernel's ELF notes, build-id included.
      return parseElfNotes(fs.readFileSync('/sys/kernel/notes')).buildId;
    } catch {
      return '';
    }
  }

  /** Names kernel addresses (leaf first in, leaf first out). Never throws. */
  symbolizeKernel(addrs: readonly bigint[]): ProfileFrame[] {
    if (!this.kallsyms) this.reloadKallsyms();
    const table = this.kallsyms!;
    const out: ProfileFrame[] = [];
    for (const addr of addrs) {
      this.stats.framesTotal++;
      this.stats.kernelFrames++;
      let frame = this.kernelFrames.get(addr);
      if (!frame) {
        const sym = table.lookup(addr);
        const name = sym ? (sym.module ? `${sym.name} [${sym.module}]` : sym.name) : undefined;
        frame = { address: addr, functionName: name, systemName: name, kind: 'kernel', mapping: this.kernelMapping };
        if (this.kernelFrames.size >= MAX_FRAME_CACHE * 4) this.kernelFrames.clear();
        this.kernelFrames.set(addr, frame);
      }
      if (frame.functionName !== undefined) this.stats.framesSymbolized++;
      out.push(frame);
    }
    return out;
  }

  /** Names user-space addresses of `pid` (same order as the input). Never throws. */
  symbolizeUser(pid: number, addrs: readonly bigint[]): ProfileFrame[] {
    if (!this.inDrain) this.drain++; // outside an explicit drain every call is its own window
    const st = this.pidState(pid);
    const out: ProfileFrame[] = [];
    for (const addr of addrs) {
      let frame: ProfileFrame;
      try {
        frame = this.userFrame(pid, st, addr);
      } catch {
        frame = { address: addr, kind: 'unknown', mapping: UNKNOWN_MAPPING };
      }
      this.count(frame);
      out.push(frame);
    }
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

  private stateOf(pid: number): PidState {
    let st = this.pids.get(pid);
    if (!st) {
      st = { lastSeenDrain: this.drain, mapsDrain: -1, gone: false, files: new Map(), failedDrain: new Map(), perfMapDrain: -1, metaDrain: -1 };
      this.pids.set(pid, st);
    }
    st.lastSeenDrain = this.drain;
    return st;
  }

  private pidState(pid: number): PidState {
    const st = this.stateOf(pid);
    if (st.mapsDrain !== this.drain) {
      st.mapsDrain = this.drain;
      const r = readBounded(path.join(this.procRoot, String(pid), 'maps'), this.opts.maxMapsBytes);
      if (r.ok) {
        st.maps = parseProcMaps(r.text).mappings;
        st.gone = false;
        if (st.files.size > st.maps.length) this.pruneFiles(st);
      } else {
        st.maps = undefined;
        st.files.clear();
        st.gone = r.code === 'ENOENT' || r.code === 'ESRCH';
        if (st.gone) this.stats.processesGone++;
        else this.stats.mapsErrors++;
      }
    }
    return st;
  }

  /** Drops per-pid file references for mappings the process no longer has (dlclose, munmap). */
  private pruneFiles(st: PidState): void {
    const live = new Set(st.maps!.map(lineKey));
    for (const key of st.files.keys()) if (!live.has(key)) st.files.delete(key);
    for (const key of st.failedDrain.keys()) if (!live.has(key)) st.failedDrain.delete(key);
  }

  private userFrame(pid: number, st: PidState, addr: bigint): ProfileFrame {
    if (!st.maps) return { address: addr, kind: 'unknown', mapping: UNKNOWN_MAPPING };
    const m = findMapping(st.maps, addr);
    if (m && (m.kind === 'file' || m.kind === 'memfd')) {
      const entry = this.fileFor(pid, st, m);
      if (entry?.elf) return this.fileFrame(entry, addr - m.start + m.offset, addr);
      // A memfd that is not ELF is likely JIT code: fall through to the perf map.
      if (m.kind === 'file') return { address: addr, kind: 'native', mapping: entry?.mapping ?? this.failedMapping(m.path) };
    }
    if (m && m.kind === 'vdso') {
      const entry = this.vdsoFor(pid, m);
      if (entry) return this.fileFrame(entry, addr - m.start, addr);
      return { address: addr, functionName: '[vdso]', systemName: '[vdso]', kind: 'native', mapping: UNKNOWN_MAPPING };
    }
    if (m && m.kind === 'vsyscall') {
      return { address: addr, functionName: '[vsyscall]', systemName: '[vsyscall]', kind: 'native', mapping: VSYSCALL_MAPPING };
    }
    // Anonymous, memfd without ELF, or outside every mapping: JIT code named by the runtime's perf map, if any.
    const jit = this.perfMapFor(pid, st)?.lookup(addr);
    if (jit) return { address: addr, functionName: jit.name, systemName: jit.name, kind: 'jit', mapping: JIT_MAPPING };
    return { address: addr, kind: 'unknown', mapping: UNKNOWN_MAPPING };
  }

  /** Frame for a file-backed address, given its file offset; cached per file by normalized address. */
  private fileFrame(entry: FileEntry, fileOffset: bigint, addr: bigint): ProfileFrame {
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
      if (entry.frames.size >= MAX_FRAME_CACHE) entry.frames.clear();
      entry.frames.set(vaddr, frame);
    }
    return frame;
  }

  private failedMapping(file: string): ProfileMapping {
    const key = `failed:${file}`;
    let m = this.mappings.get(key);
    if (!m) {
      m = Object.freeze({ file, buildId: '', start: 0n, limit: U64_MAX, offset: 0n, hasFunctions: false });
      this.rememberMapping(key, m);
    }
    return m;
  }

  private rememberMapping(key: string, m: ProfileMapping): void {
    if (this.mappings.size >= this.opts.maxFiles * 8) this.mappings.delete(this.mappings.keys().next().value!);
    this.mappings.set(key, m);
  }

  private fileFor(pid: number, st: PidState, m: ProcMapping): FileEntry | undefined {
    const key = lineKey(m);
    const cached = st.files.get(key);
    if (cached && !cached.evicted) {
      this.touch(cached);
      return cached;
    }
    if (cached === null && st.failedDrain.get(key) === this.drain) return undefined;
    const entry = this.openFile(pid, m);
    st.files.set(key, entry ?? null);
    if (!entry) st.failedDrain.set(key, this.drain);
    else st.failedDrain.delete(key);
    return entry;
  }

  private openFile(pid: number, m: ProcMapping): FileEntry | undefined {
    const pidDir = path.join(this.procRoot, String(pid));
    let fd = -1;
    // map_files names exactly the mapped file (deleted, replaced or in another mount namespace alike).
    try {
      fd = fs.openSync(path.join(pidDir, 'map_files', `${m.start.toString(16)}-${m.end.toString(16)}`), 'r');
    } catch {
      const resolved = resolveInRoot(path.join(pidDir, 'root'), m.path);
      if (resolved && !m.deleted) {
        try {
          fd = fs.openSync(resolved, SAFE_OPEN_FLAGS);
        } catch {
          fd = -1;
        }
      }
    }
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
      const key = `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}`;
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
      // Stripped (no .symtab): its debug file may be cached already, else ask debuginfod in the background.
      if (entry.elf && !entry.elf.hasSymtab && entry.elf.buildId && this.debuginfod) {
        const cached = this.debuginfod.cachedPath(entry.elf.buildId);
        if (cached) this.attachDebugFile(entry, cached);
        else {
          entry.pendingBuildId = entry.elf.buildId;
          this.pendingDebug.add(entry);
          this.debuginfod.request(entry.elf.buildId);
        }
      }
      return entry;
    } catch {
      this.stats.fileOpenErrors++;
      return undefined;
    } finally {
      fs.closeSync(fd);
    }
  }

  private mappingFor(key: string, file: string, elf: ElfFile): ProfileMapping {
    let mp = this.mappings.get(key);
    if (!mp) {
      const x = elf.execSegment;
      mp = Object.freeze({
        file,
        buildId: elf.buildId,
        start: x?.vaddr ?? 0n,
        limit: x ? x.vaddr + x.memsz : U64_MAX,
        offset: x?.offset ?? 0n,
        hasFunctions: elf.symbolCount > 0,
      });
      this.rememberMapping(key, mp);
    }
    return mp;
  }

  private touch(entry: FileEntry): void {
    if (entry.key.startsWith('vdso:')) return;
    this.files.delete(entry.key);
    this.files.set(entry.key, entry);
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

  /** The vdso is the same image in every 64-bit process of this kernel: read it once from process memory. */
  private vdsoFor(pid: number, m: ProcMapping): FileEntry | undefined {
    if (this.vdso !== undefined) return this.vdso ?? undefined;
    const len = m.end - m.start;
    if (len <= 0n || len > BigInt(MAX_VDSO_BYTES)) {
      this.stats.vdsoErrors++;
      this.vdso = null;
      return undefined;
    }
    let fd = -1;
    try {
      fd = fs.openSync(path.join(this.procRoot, String(pid), 'mem'), 'r');
      const buf = Buffer.alloc(Number(len));
      const n = fs.readSync(fd, buf, 0, buf.length, m.start);
      const parsed = parseElf(bufferSource(buf.subarray(0, n)));
      if (!parsed.ok) throw new Error(parsed.error);
      const key = 'vdso:' + parsed.elf.buildId;
      const x = parsed.elf.execSegment;
      const mapping: ProfileMapping = Object.freeze({
        file: '[vdso]',
        buildId: parsed.elf.buildId,
        start: x?.vaddr ?? 0n,
        limit: x ? x.vaddr + x.memsz : len,
        offset: x?.offset ?? 0n,
        hasFunctions: parsed.elf.symbolCount > 0,
      });
      this.vdso = { key, elf: parsed.elf, mapping, frames: new Map(), symbols: parsed.elf.symbolCount, evicted: false };
    } catch {
      // The process may have exited, or be a 32-bit process whose vdso is ELF32: retry a few times, then give up.
      this.stats.vdsoErrors++;
      if (++this.vdsoFailures >= 8) this.vdso = null;
      return undefined;
    } finally {
      if (fd >= 0) fs.closeSync(fd);
    }
    return this.vdso;
  }

  /**
   * The perf map of a process, looked at most once per drain. JIT runtimes append to it, so only the new
   * complete lines are read; a shrunk or replaced file, or too many appended parts, is read again in full.
   */
  private perfMapFor(pid: number, st: PidState): { lookup(addr: bigint): { name: string } | undefined } | undefined {
    if (st.perfMapDrain !== this.drain) {
      st.perfMapDrain = this.drain;
      st.perfMap = this.refreshPerfMap(pid, st.perfMap);
    }
    const pm = st.perfMap;
    if (!pm) return undefined;
    return {
      lookup: (addr) => {
        for (let i = pm.tables.length - 1; i >= 0; i--) {
          const hit = pm.tables[i].lookup(addr);
          if (hit) return hit;
        }
        return undefined;
      },
    };
  }

  private refreshPerfMap(pid: number, prev: PerfMapState | undefined): PerfMapState | undefined {
    const pidDir = path.join(this.procRoot, String(pid));
    const nspid = readNsPid(pidDir) ?? pid;
    const file = resolveInRoot(path.join(pidDir, 'root'), `/tmp/perf-${nspid}.map`);
    if (!file) return undefined;
    let fd = -1;
    try {
      fd = fs.openSync(file, SAFE_OPEN_FLAGS);
      const s = fs.fstatSync(fd, { bigint: true });
      if (!s.isFile()) return undefined;
      const identity = `${s.dev}:${s.ino}`;
      const size = Number(s.size);
      let state: PerfMapState;
      if (prev && prev.identity === identity && prev.file === file && size >= prev.offset && prev.tables.length < MAX_PERF_MAP_TABLES) {
        if (size === prev.offset) return prev;
        state = prev;
        this.stats.perfMapAppends++;
      } else {
        state = { file, identity, offset: 0, tables: [] };
        this.stats.perfMapsLoaded++;
      }
      const budget = this.opts.maxPerfMapBytes - state.offset;
      if (budget <= 0) return state; // at the cap: keep what was read
      const want = Math.min(size - state.offset, budget);
      const buf = Buffer.allocUnsafe(want);
      let got = 0;
      while (got < want) {
        const n = fs.readSync(fd, buf, got, want - got, state.offset + got);
        if (n <= 0) break;
        got += n;
      }
      // Only complete lines: the runtime may be writing the last one right now.
      const end = buf.subarray(0, got).lastIndexOf(10);
      if (end < 0) return state;
      const table = parsePerfMap(buf.subarray(0, end + 1).toString('utf8'));
      state.tables = [...state.tables, table];
      state.offset += end + 1;
      return state;
    } catch {
      this.stats.perfMapErrors++;
      return prev;
    } finally {
      if (fd >= 0) fs.closeSync(fd);
    }
  }
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function lineKey(m: ProcMapping): string {
  return `${m.start}-${m.end}-${m.offset}-${m.inode}-${m.path}`;
}

function fdSource(fd: number, size: number): ByteSource {
  return {
    size,
    read(offset, length) {
      const buf = Buffer.allocUnsafe(Math.max(0, Math.min(length, size - offset)));
      let got = 0;
      while (got < buf.length) {
        const n = fs.readSync(fd, buf, got, buf.length - got, offset + got);
        if (n <= 0) break;
        got += n;
      }
      return buf.subarray(0, got);
    },
  };
}

type ReadResult = { ok: true; text: string; truncated: boolean } | { ok: false; code: string };

/** Reads at most `max` bytes of a file (procfs files report size 0, so read until EOF). */
function readBounded(file: string, max: number): ReadResult {
  let fd = -1;
  try {
    fd = fs.openSync(file, 'r');
    const chunks: Buffer[] = [];
    let total = 0;
    while (total < max) {
      const buf = Buffer.allocUnsafe(Math.min(1 << 20, max - total));
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      chunks.push(buf.subarray(0, n));
      total += n;
    }
    return { ok: true, text: Buffer.concat(chunks, total).toString('utf8'), truncated: total >= max };
  } catch (err) {
    return { ok: false, code: (err as NodeJS.ErrnoException).code ?? 'EIO' };
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

/** The pid as the process's own pid namespace sees it: last field of `NSpid:` in /proc/<pid>/status. */
function readNsPid(pidDir: string): number | undefined {
  const r = readBounded(path.join(pidDir, 'status'), 1 << 16);
  if (!r.ok) return undefined;
  const line = /^NSpid:\s*(.*)$/m.exec(r.text);
  const last = line?.[1].trim().split(/\s+/).pop();
  const n = last ? Number(last) : NaN;
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/**
 * Resolves `p` inside `root` the way the process would, following symlinks by hand so an absolute link
 * target stays under `root` instead of escaping to the host's file system. Returns undefined on a missing
 * component or a symlink loop.
 */
export function resolveInRoot(root: string, p: string): string | undefined {
  if (!p.startsWith('/')) return undefined;
  let pending = p.split('/').filter(Boolean);
  const done: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const comp = pending.shift()!;
    if (comp === '.') continue;
    if (comp === '..') {
      done.pop();
      continue;
    }
    const candidate = path.join(root, ...done, comp);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(candidate);
    } catch {
      return undefined;
    }
    if (st.isSymbolicLink()) {
      if (++hops > 40) return undefined;
      let target: string;
      try {
        target = fs.readlinkSync(candidate);
      } catch {
        return undefined;
      }
      const parts = target.split('/').filter(Boolean);
      if (target.startsWith('/')) done.length = 0;
      pending = [...parts, ...pending];
      continue;
    }
    done.push(comp);
  }
  return path.join(root, ...done);
}
