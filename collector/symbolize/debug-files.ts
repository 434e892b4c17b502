// Detached debug files on disk, where distributions put them (Debian's *-dbg/-dbgsym packages, Fedora's
// debuginfo): first by GNU build-id under /usr/lib/debug/.build-id/, then by the `.gnu_debuglink` name in the
// file's directory, its `.debug/` and /usr/lib/debug/<directory>/. Looked up inside the process's root, so a
// container's own debug files name its own libraries. A debug file is used only when it is the right one: the
// same build-id, or the CRC32 the link names (computed once per file identity, over at most maxDebugFileBytes).

import * as fs from 'node:fs';
import { buildIdDebugPath, crc32, debugLinkCandidates } from './debug-link.js';
import { type ElfFile, parseElf } from './elf.js';
import { fdSource } from './file-reads.js';
import { type OpenedFile, openInRootDir, processRoot } from './process-files.js';
import type { ProcMapping } from './proc-maps.js';
import type { SymbolizerStats } from './symbolizer-stats.js';

const CRC_CHUNK_BYTES = 1 << 20;
const MAX_CACHED_CRCS = 1024;

export type DebugFileSource = 'build-id' | 'debuglink';

/** A debug file found on disk, parsed. */
export interface LocalDebugFile {
  elf: ElfFile;
  source: DebugFileSource;
  /** The path inside the process's root. */
  path: string;
}

export interface DebugFileFinderOptions {
  /** procfs mount point. */
  procRoot: string;
  /** Larger files are not opened (the CRC check reads the whole file). */
  maxDebugFileBytes: number;
  /** Cap on a debug file's symbol count. */
  maxSymbolsPerFile: number;
  /** Cap on what a parsed debug file keeps alive (parseElf's maxRetainedBytes). */
  maxRetainedBytes: number;
}

export class DebugFileFinder {
  /** CRC32 by file identity (dev:ino:size:mtime), least recently computed first. */
  private readonly crcs = new Map<string, number>();

  constructor(
    private readonly stats: SymbolizerStats,
    private readonly opts: DebugFileFinderOptions,
  ) {}

  /**
   * The debug file of `elf`, a file without `.symtab` that `pid` maps as `m` and whose dev:ino is `ownInode`
   * (a debuglink that names the file itself is skipped). Undefined when none is found. Never throws.
   */
  find(pid: number, m: ProcMapping, elf: ElfFile, ownInode: string): LocalDebugFile | undefined {
    try {
      const found = this.search(pid, m, elf, ownInode);
      if (!found) this.stats.debugFilesNotFound++;
      return found;
    } catch {
      this.stats.debugFileErrors++;
      return undefined;
    }
  }

  private search(pid: number, m: ProcMapping, elf: ElfFile, ownInode: string): LocalDebugFile | undefined {
    const byBuildId = buildIdDebugPath(elf.buildId);
    // A memfd has no directory to look in.
    const linked = elf.debugLink && m.kind === 'file' ? debugLinkCandidates(m.path, elf.debugLink) : [];
    if (!byBuildId && linked.length === 0) return undefined;
    const root = processRoot(this.opts.procRoot, pid);
    if (root === undefined) return undefined;
    if (byBuildId) {
      const found = this.withFile(root, byBuildId, ownInode, (file) => {
        const debug = this.parse(file);
        // A file at the build-id path of another build would name the wrong functions.
        if (!debug || debug.buildId !== elf.buildId) return this.rejected();
        this.stats.debugFilesByBuildId++;
        return { elf: debug, source: 'build-id' as const, path: byBuildId };
      });
      if (found) return found;
    }
    for (const candidate of linked) {
      const found = this.withFile(root, candidate, ownInode, (file) => {
        if (this.crcOf(file) !== elf.debugLink!.crc) {
          this.stats.debugLinkCrcMismatches++;
          return undefined;
        }
        const debug = this.parse(file);
        if (!debug || (debug.buildId !== '' && elf.buildId !== '' && debug.buildId !== elf.buildId)) return this.rejected();
        this.stats.debugFilesByDebuglink++;
        return { elf: debug, source: 'debuglink' as const, path: candidate };
      });
      if (found) return found;
    }
    return undefined;
  }

  /** Runs `use` on `p` opened inside `root`, unless it is missing, not a regular file, too large, or the mapped file itself. */
  private withFile<T>(root: string, p: string, ownInode: string, use: (file: OpenedFile) => T | undefined): T | undefined {
    const opened = openInRootDir(root, p, { maxBytes: this.opts.maxDebugFileBytes });
    if (!opened.ok) {
      if (opened.reason === 'not-regular') this.stats.nonRegularFilesRefused++;
      else if (opened.reason === 'link-refused') this.stats.linksRefused++;
      return undefined;
    }
    const file = opened.file;
    try {
      return file.inode === ownInode ? undefined : use(file);
    } finally {
      fs.closeSync(file.fd);
    }
  }

  /** The debug file's symbols, or undefined (counted) when it does not parse or names no functions. */
  private parse(file: OpenedFile): ElfFile | undefined {
    const parsed = parseElf(fdSource(file.fd, file.size), { maxSymbols: this.opts.maxSymbolsPerFile, maxRetainedBytes: this.opts.maxRetainedBytes });
    return parsed.ok && parsed.elf.symbolCount > 0 ? parsed.elf : undefined;
  }

  private rejected(): undefined {
    this.stats.debugFileErrors++;
    return undefined;
  }

  /** CRC32 of the whole file, read in chunks; cached per file identity. */
  private crcOf(file: OpenedFile): number {
    const cached = this.crcs.get(file.identity);
    if (cached !== undefined) return cached;
    const buf = Buffer.allocUnsafe(Math.min(CRC_CHUNK_BYTES, Math.max(1, file.size)));
    let crc = 0;
    let off = 0;
    while (off < file.size) {
      const n = fs.readSync(file.fd, buf, 0, Math.min(buf.length, file.size - off), off);
      if (n <= 0) break;
      crc = crc32(buf.subarray(0, n), crc);
      off += n;
    }
    // Truncated meanwhile: the CRC of what is there will not match, and is not kept.
    if (off < file.size) return crc;
    if (this.crcs.size >= MAX_CACHED_CRCS) this.crcs.delete(this.crcs.keys().next().value!);
    this.crcs.set(file.identity, crc);
    return crc;
  }
}
