// Keeps the kernel's unwind tables in step with the processes being profiled: for each process, its
// executable file mappings; for each file (by identity, shared by every process and container that maps it),
// its rows in the one rows array. Tables are built in a worker thread, off the event loop, one file at a time;
// a process whose files are not tabled yet (or do not fit) is walked by frame pointer meanwhile.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BpfMap } from '../bpf/libbpf.js';
import { encodeUnwindProcess, UNWIND_MAX_MAPPINGS, type UnwindMapping } from '../layouts/unwind.js';
import { openMappedFile } from '../symbolize/process-files.js';
import { readBounded, textHash } from '../symbolize/file-reads.js';
import { parseProcMaps, type ProcMapping } from '../symbolize/proc-maps.js';
import type { BuildRequest, BuildResponse, BuiltSegment } from './build-worker.js';
import { UNWIND_ROW_SIZE } from './rows.js';
import { RowAllocator, type RowRange } from './table-store.js';

/** Files larger than this are not read for tables (their code walks by frame pointer). */
export const MAX_TABLED_FILE_BYTES = 1024 * 1024 * 1024;
/** A build that takes longer is abandoned (the worker restarted) and the file marked failed. */
export const BUILD_TIMEOUT_MS = 30_000;
/** Rows of one file the kernel's binary search covers (2^24, programs/unwind.bpf.h). */
export const MAX_ROWS_PER_FILE = 1 << 24;
const MAX_MAPS_BYTES = 4 * 1024 * 1024;
/** A process's maps (and the exited-process sweep) are read at most this often. */
const REREAD_MS = 500;

export interface ProcessTablesOptions {
  rows: BpfMap;
  procs: BpfMap;
  procRoot?: string;
  /** Builds a table from an open file; default: in a worker thread. */
  build?: (req: Omit<BuildRequest, 'id'>) => Promise<BuildResponse>;
  log?: (line: string) => void;
}

type FileState = 'building' | 'ready' | 'failed' | 'no-room';

interface FileTable {
  key: string;
  state: FileState;
  range?: RowRange;
  loads: BuiltSegment[];
  users: Set<number>;
  lastUsed: number;
}

interface ProcessEntry {
  /** The executable mappings last seen and the file key of each. */
  signature: string;
  /** Hash and length of the maps text the signature was taken from. */
  textKey: number;
  mappings: { m: ProcMapping; key: string }[];
  written: string;
  /** When its maps were last read (Date.now()). */
  readAt: number;
}

export interface ProcessTablesStats {
  files: number;
  filesReady: number;
  filesFailed: number;
  filesNoRoom: number;
  filesEvicted: number;
  processes: number;
  rowsInUse: number;
  rowCapacity: number;
  buildMsTotal: number;
  buildErrors: number;
}

export class ProcessTables {
  private readonly opts: ProcessTablesOptions;
  private readonly procRoot: string;
  private readonly allocator: RowAllocator;
  private readonly files = new Map<string, FileTable>();
  private readonly processes = new Map<number, ProcessEntry>();
  private readonly builder: Builder;
  private clock = 0;
  private sweptAt = 0;
  private closed = false;
  readonly stats: ProcessTablesStats;

  constructor(opts: ProcessTablesOptions) {
    this.opts = opts;
    this.procRoot = opts.procRoot ?? '/proc';
    this.allocator = new RowAllocator(Math.min(opts.rows.maxEntries, 0xffff_ffff));
    this.builder = opts.build ? { build: opts.build, close: () => {} } : new WorkerBuilder();
    this.stats = {
      files: 0, filesReady: 0, filesFailed: 0, filesNoRoom: 0, filesEvicted: 0, processes: 0, rowsInUse: 0,
      rowCapacity: this.allocator.capacity, buildMsTotal: 0, buildErrors: 0,
    };
  }

  /** Memory the tables use in the kernel: rows in use × 16 bytes. */
  get bytesInUse(): number {
    return this.stats.rowsInUse * UNWIND_ROW_SIZE;
  }

  /**
   * Brings the tables of `pids` up to date (new or changed mappings start builds) and forgets processes that
   * exited. Resolves when the process entries are written; builds go on in the background.
   */
  refresh(pids: Iterable<number>): void {
    if (this.closed) return;
    this.clock++;
    // The CPU and off-CPU sources share one table set and both refresh after their drains: a process read
    // moments ago is not read again.
    const now = Date.now();
    for (const pid of pids) {
      const entry = this.processes.get(pid);
      if (pid > 0 && (!entry || now - entry.readAt >= REREAD_MS)) this.refreshProcess(pid, now);
    }
    if (now - this.sweptAt >= REREAD_MS) {
      this.sweptAt = now;
      for (const pid of [...this.processes.keys()]) {
        if (!fs.existsSync(path.join(this.procRoot, String(pid)))) this.forget(pid);
      }
    }
    this.stats.processes = this.processes.size;
  }

  /** Every process under the proc root (for the first window, before any sample names them). */
  allPids(): number[] {
    try {
      return fs.readdirSync(this.procRoot).filter((d) => /^\d+$/.test(d)).map(Number);
    } catch {
      return [];
    }
  }

  close(): void {
    this.closed = true;
    this.builder.close();
  }

  private refreshProcess(pid: number, now: number): void {
    const read = readBounded(path.join(this.procRoot, String(pid), 'maps'), MAX_MAPS_BYTES);
    if (!read.ok) {
      this.forget(pid);
      return;
    }
    let entry = this.processes.get(pid);
    const textKey = textHash(read.text) + read.text.length * 2 ** 31;
    if (entry && entry.textKey === textKey) {
      // The same maps text as last time (most processes, most reads): nothing to parse.
      entry.readAt = now;
      for (const { key } of entry.mappings) this.touch(key);
      this.writeProcess(pid, entry);
      return;
    }
    const exec = parseProcMaps(read.text, { executableOnly: true }).mappings.filter((m) => m.kind === 'file' || m.kind === 'memfd');
    const signature = exec.map((m) => `${m.start}-${m.end}:${m.offset}:${m.devMajor}:${m.devMinor}:${m.inode}`).join(',');
    if (entry && entry.signature === signature) {
      entry.textKey = textKey;
      entry.readAt = now;
      for (const { key } of entry.mappings) this.touch(key);
      this.writeProcess(pid, entry);
      return;
    }
    const mappings: { m: ProcMapping; key: string }[] = [];
    for (const m of exec.slice(0, UNWIND_MAX_MAPPINGS)) {
      const key = this.ensureFile(pid, m);
      if (key) mappings.push({ m, key });
    }
    if (entry) for (const { key } of entry.mappings) this.files.get(key)?.users.delete(pid);
    entry = { signature, textKey, mappings, written: '', readAt: now };
    for (const { key } of mappings) this.files.get(key)?.users.add(pid);
    this.processes.set(pid, entry);
    this.writeProcess(pid, entry);
  }

  /** The file's key, its table built or being built; undefined when it cannot be opened. */
  private ensureFile(pid: number, m: ProcMapping): string | undefined {
    const fd = openMappedFile(this.procRoot, pid, m);
    if (fd < 0) return undefined;
    let st: fs.Stats;
    try {
      st = fs.fstatSync(fd);
    } catch {
      fs.closeSync(fd);
      return undefined;
    }
    if (!st.isFile() || BigInt(st.ino) !== m.inode) {
      fs.closeSync(fd);
      return undefined;
    }
    const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    const known = this.files.get(key);
    if (known) {
      fs.closeSync(fd);
      known.lastUsed = this.clock;
      return key;
    }
    const file: FileTable = { key, state: 'building', loads: [], users: new Set(), lastUsed: this.clock };
    this.files.set(key, file);
    this.stats.files++;
    if (st.size > MAX_TABLED_FILE_BYTES) {
      fs.closeSync(fd);
      file.state = 'failed';
      this.stats.filesFailed++;
      return key;
    }
    this.builder
      .build({ fd, size: st.size })
      .then((res) => this.onBuilt(file, res))
      .catch((err: unknown) => this.onBuilt(file, { id: 0, ok: false, error: err instanceof Error ? err.message : String(err) }))
      .finally(() => fs.closeSync(fd));
    return key;
  }

  private onBuilt(file: FileTable, res: BuildResponse): void {
    if (this.closed || this.files.get(file.key) !== file) return;
    if (!res.ok || res.count > MAX_ROWS_PER_FILE) {
      file.state = 'failed';
      this.stats.filesFailed++;
      this.stats.buildErrors++;
      if (!res.ok) this.opts.log?.(`unwind tables: ${file.key}: ${res.error}`);
      return;
    }
    this.stats.buildMsTotal += res.buildMs;
    file.loads = res.loads;
    const range = this.allocate(res.count, file);
    if (!range) {
      file.state = 'no-room';
      this.stats.filesNoRoom++;
      return;
    }
    try {
      this.opts.rows.updateRange(range.first, Buffer.from(res.rows), res.count);
    } catch (err) {
      this.allocator.release(range);
      file.state = 'failed';
      this.stats.filesFailed++;
      this.opts.log?.(`unwind tables: write rows of ${file.key}: ${(err as Error).message}`);
      return;
    }
    file.range = range;
    file.state = 'ready';
    this.stats.filesReady++;
    this.stats.rowsInUse += range.count;
    for (const pid of file.users) {
      const entry = this.processes.get(pid);
      if (entry) this.writeProcess(pid, entry);
    }
  }

  /** Rows for a file; evicts least-recently-used files no process maps until they fit. */
  private allocate(count: number, file: FileTable): RowRange | undefined {
    let range = this.allocator.allocate(count);
    while (!range) {
      let victim: FileTable | undefined;
      for (const f of this.files.values()) {
        if (f !== file && f.state === 'ready' && f.users.size === 0 && (!victim || f.lastUsed < victim.lastUsed)) victim = f;
      }
      if (!victim) return undefined;
      this.evict(victim);
      range = this.allocator.allocate(count);
    }
    return range;
  }

  private evict(file: FileTable): void {
    if (file.range) {
      this.allocator.release(file.range);
      this.stats.rowsInUse -= file.range.count;
    }
    if (file.state === 'ready') this.stats.filesReady--;
    this.files.delete(file.key);
    this.stats.filesEvicted++;
  }

  private touch(key: string): void {
    const f = this.files.get(key);
    if (f) f.lastUsed = this.clock;
  }

  private writeProcess(pid: number, entry: ProcessEntry): void {
    const mappings: UnwindMapping[] = [];
    for (const { m, key } of entry.mappings) {
      const f = this.files.get(key);
      if (!f || f.state !== 'ready' || !f.range) continue;
      const seg = f.loads.find((s) => s.offset <= m.offset + 4095n && m.offset < s.offset + s.filesz);
      if (!seg) continue;
      mappings.push({
        start: m.start,
        end: m.end,
        bias: BigInt.asUintN(64, m.start - m.offset + seg.offset - seg.vaddr),
        firstRow: f.range.first,
        rows: f.range.count,
      });
    }
    mappings.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    const value = encodeUnwindProcess(mappings);
    const written = value.toString('base64');
    if (written === entry.written) return;
    const key = Buffer.alloc(4);
    key.writeUInt32LE(pid, 0);
    try {
      this.opts.procs.update(key, value);
      entry.written = written;
    } catch (err) {
      this.opts.log?.(`unwind tables: write process ${pid}: ${(err as Error).message}`);
    }
  }

  private forget(pid: number): void {
    const entry = this.processes.get(pid);
    if (!entry) return;
    for (const { key } of entry.mappings) this.files.get(key)?.users.delete(pid);
    this.processes.delete(pid);
    const key = Buffer.alloc(4);
    key.writeUInt32LE(pid, 0);
    try {
      this.opts.procs.delete(key);
    } catch {
      // The object is closing: nothing left to forget.
    }
  }
}

interface Builder {
  build(req: Omit<BuildRequest, 'id'>): Promise<BuildResponse>;
  close(): void;
}

/** Old-generation heap of the table builder thread. */
const WORKER_HEAP_MB = 64;
/** A worker idle this long is stopped (its heap is tens of MB); the next build starts a new one. */
const WORKER_IDLE_MS = 5_000;

/** One worker thread building tables one file at a time; restarted when a build runs past its time bound. */
class WorkerBuilder implements Builder {
  private worker: Worker | null = null;
  private nextId = 1;
  private queue: Promise<unknown> = Promise.resolve();
  private pending = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private closed = false;

  build(req: Omit<BuildRequest, 'id'>): Promise<BuildResponse> {
    this.pending++;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const run = this.queue.then(() => this.runOne({ ...req, id: this.nextId++ }));
    this.queue = run.catch(() => undefined).then(() => this.done());
    return run;
  }

  private done(): void {
    if (--this.pending > 0 || this.closed) return;
    this.idleTimer = setTimeout(() => {
      void this.worker?.terminate();
      this.worker = null;
    }, WORKER_IDLE_MS);
    this.idleTimer.unref();
  }

  private runOne(req: BuildRequest): Promise<BuildResponse> {
    if (this.closed) return Promise.resolve({ id: req.id, ok: false, error: 'closed' });
    const worker = (this.worker ??= this.start());
    return new Promise((resolve) => {
      const finish = (res: BuildResponse) => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        resolve(res);
      };
      const timer = setTimeout(() => {
        void worker.terminate();
        this.worker = null;
        finish({ id: req.id, ok: false, error: `build took longer than ${BUILD_TIMEOUT_MS} ms` });
      }, BUILD_TIMEOUT_MS);
      const onMessage = (res: BuildResponse) => {
        if (res.id === req.id) finish(res);
      };
      // A worker that dies (out of its heap limit on a hostile file) fails this build; the next starts anew.
      const onExit = (code: number) => {
        if (this.worker === worker) this.worker = null;
        finish({ id: req.id, ok: false, error: `table builder exited (${code}) while building` });
      };
      worker.on('message', onMessage);
      worker.on('exit', onExit);
      worker.postMessage(req);
    });
  }

  private start(): Worker {
    // Beside this module once built; from the TypeScript sources (tests), the built copy under dist/.
    let url = new URL('./build-worker.js', import.meta.url);
    if (!fs.existsSync(fileURLToPath(url))) url = new URL('../../dist/collector/unwind/build-worker.js', import.meta.url);
    // Bounded heap: a file's table is at most a few MiB (node's is 5.8), so a builder past this is refused.
    const worker = new Worker(url, { resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB, maxYoungGenerationSizeMb: 8 } });
    worker.unref();
    worker.on('error', () => {
      if (this.worker === worker) this.worker = null;
    });
    return worker;
  }

  close(): void {
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    void this.worker?.terminate();
    this.worker = null;
  }
}
