// A process's JIT perf map (/tmp/perf-<pid>.map inside its root) read incrementally: JIT runtimes only append
// to it, so each refresh reads just the complete lines added since the last one, as an extra table.
// The file is the process's to plant: it is opened inside its root without following a last symlink, and
// refused unless a regular file (process-files.ts). What all perf maps keep is bounded twice: per process
// (`maxPerfMapBytes`) and across processes (`maxTotalBytes`); lines past either are left unread (counted)
// until room is made by a process that goes away.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { readAt } from './file-reads.js';
import { type PerfMapEntry, type PerfMapTable, parsePerfMap } from './perf-map.js';
import { openInProcessRoot, readNsPid } from './process-files.js';
import type { SymbolizerStats } from './symbolizer-stats.js';

/** Estimated bytes per entry of a parsed perf map beyond its name (index, name array, string header). */
const ENTRY_BYTES = 48;

/** Appended parts kept before the map is read again in full (lookups search every part). */
const MAX_PERF_MAP_TABLES = 8;

/** A perf map read so far. */
export interface PerfMapState {
  file: string;
  /** dev:ino of the file. */
  identity: string;
  /** Bytes consumed (through the last complete line). */
  offset: number;
  /** Oldest first; lookups search newest first so re-used addresses get their latest name. */
  tables: PerfMapTable[];
  /** Estimated bytes the tables keep alive (counted in the reader's total). */
  bytes: number;
}

/** The newest name for `addr` in a perf map read so far. */
export function lookupPerfMap(state: PerfMapState, addr: bigint): PerfMapEntry | undefined {
  for (let i = state.tables.length - 1; i >= 0; i--) {
    const hit = state.tables[i].lookup(addr);
    if (hit) return hit;
  }
  return undefined;
}

export interface PerfMapReaderOptions {
  /** procfs mount point. */
  procRoot: string;
  /** Bytes of one perf map read at most; the rest stays unnamed. */
  maxPerfMapBytes: number;
  /** Bytes all perf maps together keep at most. */
  maxTotalBytes: number;
}

export class PerfMapReader {
  private total = 0;

  constructor(
    private readonly stats: SymbolizerStats,
    private readonly opts: PerfMapReaderOptions,
  ) {}

  /** Estimated bytes all perf maps read so far keep alive. */
  get bytesUsed(): number {
    return this.total;
  }

  /** Gives back the share of a perf map state that is no longer used (its process was forgotten). */
  release(state: PerfMapState | undefined): void {
    if (!state) return;
    this.total -= state.bytes;
    state.bytes = 0;
    state.tables = [];
    state.offset = 0;
  }

  /**
   * `pid`'s perf map brought up to date from `prev`: appended complete lines are read; a shrunk or replaced
   * file, or one with too many appended parts, is read again in full. Undefined when there is none; `prev` on
   * a read error. Never throws.
   */
  refresh(pid: number, prev: PerfMapState | undefined): PerfMapState | undefined {
    const pidDir = path.join(this.opts.procRoot, String(pid));
    // The runtime names the file after its pid in its own pid namespace.
    const nspid = readNsPid(pidDir) ?? pid;
    const file = `/tmp/perf-${nspid}.map`;
    const opened = openInProcessRoot(this.opts.procRoot, pid, file, { followLast: false });
    if (!opened.ok) {
      if (opened.reason === 'not-regular') this.stats.nonRegularFilesRefused++;
      else if (opened.reason === 'link-refused') this.stats.linksRefused++;
      this.release(prev);
      return undefined;
    }
    const { fd, size, inode: identity } = opened.file;
    try {
      let state: PerfMapState;
      if (prev && prev.identity === identity && prev.file === file && size >= prev.offset && prev.tables.length < MAX_PERF_MAP_TABLES) {
        if (size === prev.offset) return prev;
        state = prev;
        this.stats.perfMapAppends++;
      } else {
        this.release(prev);
        state = { file, identity, offset: 0, tables: [], bytes: 0 };
        this.stats.perfMapsLoaded++;
      }
      const room = Math.min(this.opts.maxPerfMapBytes - state.offset, this.opts.maxTotalBytes - this.total);
      const want = size - state.offset;
      if (want > room) this.stats.perfMapBytesCapped++;
      if (room <= 0) return state; // at a cap: keep what was read
      const data = readAt(fd, state.offset, Math.min(want, room));
      // Only complete lines: the runtime may be writing the last one right now.
      const end = data.lastIndexOf(10);
      if (end < 0) return state;
      const table = parsePerfMap(data.subarray(0, end + 1).toString('utf8'));
      const bytes = end + 1 + table.entryCount * ENTRY_BYTES;
      state.tables = [...state.tables, table];
      state.offset += end + 1;
      state.bytes += bytes;
      this.total += bytes;
      return state;
    } catch {
      this.stats.perfMapErrors++;
      return prev;
    } finally {
      fs.closeSync(fd);
    }
  }
}
