// A process's JIT perf map (/tmp/perf-<pid>.map inside its root) read incrementally: JIT runtimes only append
// to it, so each refresh reads just the complete lines added since the last one, as an extra table.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { readAt } from './file-reads.js';
import { type PerfMapEntry, type PerfMapTable, parsePerfMap } from './perf-map.js';
import { SAFE_OPEN_FLAGS, readNsPid, resolveInRoot } from './process-files.js';
import type { SymbolizerStats } from './symbolizer-stats.js';

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
}

export class PerfMapReader {
  constructor(
    private readonly stats: SymbolizerStats,
    private readonly opts: PerfMapReaderOptions,
  ) {}

  /**
   * `pid`'s perf map brought up to date from `prev`: appended complete lines are read; a shrunk or replaced
   * file, or one with too many appended parts, is read again in full. Undefined when there is none; `prev` on
   * a read error. Never throws.
   */
  refresh(pid: number, prev: PerfMapState | undefined): PerfMapState | undefined {
    const pidDir = path.join(this.opts.procRoot, String(pid));
    // The runtime names the file after its pid in its own pid namespace.
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
      const data = readAt(fd, state.offset, Math.min(size - state.offset, budget));
      // Only complete lines: the runtime may be writing the last one right now.
      const end = data.lastIndexOf(10);
      if (end < 0) return state;
      const table = parsePerfMap(data.subarray(0, end + 1).toString('utf8'));
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
