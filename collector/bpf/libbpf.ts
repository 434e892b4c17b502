// The one module that binds libbpf.so.1 and the few system calls hotpath needs (through koffi). Nothing else
// imports koffi. Stays within the libbpf 1.1 API (Debian 12): pointer-returning calls give NULL and set errno,
// int-returning calls give -errno. Calls are synchronous; errno is read right after a failing call.
import koffi from 'koffi';
import { readFileSync } from 'node:fs';
import { ErrorCodes, HotpathError, type ErrorCode } from '../errors.js';

type Ptr = bigint;

const libbpf = koffi.load('libbpf.so.1');
const libc = koffi.load('libc.so.6');

const PrintFn = koffi.proto('int hotpath_libbpf_print_fn(int level, const char *fmt, void *ap)');

const c = {
  objectOpenFile: libbpf.func('void *bpf_object__open_file(const char *path, void *opts)'),
  objectLoad: libbpf.func('int bpf_object__load(void *obj)'),
  objectClose: libbpf.func('void bpf_object__close(void *obj)'),
  findProgram: libbpf.func('void *bpf_object__find_program_by_name(void *obj, const char *name)'),
  findMap: libbpf.func('void *bpf_object__find_map_by_name(void *obj, const char *name)'),
  programSetAutoload: libbpf.func('int bpf_program__set_autoload(void *prog, bool autoload)'),
  programFd: libbpf.func('int bpf_program__fd(void *prog)'),
  attachPerfEvent: libbpf.func('void *bpf_program__attach_perf_event(void *prog, int pfd)'),
  attach: libbpf.func('void *bpf_program__attach(void *prog)'),
  linkDestroy: libbpf.func('int bpf_link__destroy(void *link)'),
  mapFd: libbpf.func('int bpf_map__fd(void *map)'),
  mapKeySize: libbpf.func('uint32_t bpf_map__key_size(void *map)'),
  mapValueSize: libbpf.func('uint32_t bpf_map__value_size(void *map)'),
  mapMaxEntries: libbpf.func('uint32_t bpf_map__max_entries(void *map)'),
  mapSetMaxEntries: libbpf.func('int bpf_map__set_max_entries(void *map, uint32_t max_entries)'),
  mapReuseFd: libbpf.func('int bpf_map__reuse_fd(void *map, int fd)'),
  mapSetInitialValue: libbpf.func('int bpf_map__set_initial_value(void *map, const void *data, size_t size)'),
  mapLookup: libbpf.func('int bpf_map_lookup_elem(int fd, const void *key, void *value)'),
  mapUpdate: libbpf.func('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)'),
  mapDelete: libbpf.func('int bpf_map_delete_elem(int fd, const void *key)'),
  mapNextKey: libbpf.func('int bpf_map_get_next_key(int fd, const void *key, void *next_key)'),
  mapLookupAndDeleteBatch: libbpf.func(
    'int bpf_map_lookup_and_delete_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, uint32_t *count, void *opts)',
  ),
  mapUpdateBatch: libbpf.func('int bpf_map_update_batch(int fd, const void *keys, const void *values, uint32_t *count, void *opts)'),
  objGetInfoByFd: libbpf.func('int bpf_obj_get_info_by_fd(int fd, void *info, uint32_t *info_len)'),
  setPrint: libbpf.func('void *libbpf_set_print(hotpath_libbpf_print_fn *fn)'),
  syscall: libc.func('long syscall(long number, ...)'),
  close: libc.func('int close(int fd)'),
  strerror: libc.func('const char *strerror(int errnum)'),
  vsnprintf: libc.func('int vsnprintf(char *buf, size_t size, const char *fmt, void *ap)'),
  mallocTrim: libc.func('int malloc_trim(size_t pad)'),
  mallopt: libc.func('int mallopt(int param, int value)'),
};

// libbpf's messages (verifier logs included) go to a bounded buffer: they are attached to load errors and
// printed only when HOTPATH_DEBUG is set.
const LOG_LINES_KEPT = 200;
const libbpfLog: string[] = [];
const printBuffer = Buffer.alloc(4096);
const printCallback = koffi.register((level: number, fmt: string, ap: Ptr) => {
  const n = c.vsnprintf(printBuffer, printBuffer.length, fmt, ap) as number;
  const text = printBuffer.subarray(0, Math.max(0, Math.min(n, printBuffer.length - 1))).toString('utf8');
  for (const line of text.split('\n')) {
    if (line.length === 0) continue;
    libbpfLog.push(line);
    if (libbpfLog.length > LOG_LINES_KEPT) libbpfLog.shift();
    if (process.env.HOTPATH_DEBUG) process.stderr.write(`libbpf[${level}]: ${line}\n`);
  }
  return 0;
}, koffi.pointer(PrintFn));
c.setPrint(printCallback);

/** The last lines libbpf printed (for error messages). */
export function recentLibbpfLog(lines = 40): string[] {
  return libbpfLog.slice(-lines);
}

export function errnoMessage(errno: number): string {
  return `${c.strerror(errno) as string} (errno ${errno})`;
}

function fail(code: ErrorCode, step: string, errno: number, extra = ''): never {
  throw new HotpathError(code, `${step}: ${errnoMessage(errno)}${extra}`, errno);
}

/** -errno from an int-returning libbpf call, or errno after a NULL-returning one. */
function errnoOf(ret: number): number {
  return ret < 0 ? -ret : koffi.errno();
}

/** Refuses to go on without the privileges BPF needs; returns the one-line reason, or null when fine. */
export function missingPrivileges(): string | null {
  if (process.geteuid?.() === 0) return null;
  let capEff = 0n;
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
    if (m) capEff = BigInt(`0x${m[1]}`);
  } catch {
    // No /proc: report the capabilities as missing.
  }
  const CAP_SYS_ADMIN = 21n;
  const CAP_PERFMON = 38n;
  const CAP_BPF = 39n;
  const has = (cap: bigint) => (capEff >> cap) & 1n;
  if (has(CAP_SYS_ADMIN)) return null;
  const missing = [has(CAP_BPF) ? '' : 'CAP_BPF', has(CAP_PERFMON) ? '' : 'CAP_PERFMON'].filter(Boolean);
  if (missing.length === 0) return null;
  return `not privileged enough to load BPF programs: run as root, or grant ${missing.join(' + ')}`;
}

/**
 * A map or program of an object. Its libbpf pointer lives as long as the object: every use checks that the
 * object is still open, so a call after close() is a coded error instead of a read of freed memory.
 */
abstract class ObjectPart {
  readonly name: string;
  private readonly ptr: Ptr;
  private readonly owner: BpfObject;

  constructor(owner: BpfObject, name: string, ptr: Ptr) {
    this.owner = owner;
    this.name = name;
    this.ptr = ptr;
  }

  protected handle(): Ptr {
    this.owner.assertOpen(this.name);
    return this.ptr;
  }
}

const DRAIN_BATCH_BYTES = 256 << 10;

export class BpfMap extends ObjectPart {
  private drainScratch?: { batch: number; keys: Buffer; values: Buffer };

  get fd(): number {
    return c.mapFd(this.handle()) as number;
  }
  get keySize(): number {
    return c.mapKeySize(this.handle()) as number;
  }
  get valueSize(): number {
    return c.mapValueSize(this.handle()) as number;
  }
  get maxEntries(): number {
    return c.mapMaxEntries(this.handle()) as number;
  }

  /** Before load: resize the map. */
  setMaxEntries(n: number): void {
    const ret = c.mapSetMaxEntries(this.handle(), n) as number;
    if (ret < 0) fail(ErrorCodes.MAP, `set max entries of map ${this.name}`, errnoOf(ret));
  }

  /** Before load: use an existing map (another object's, by its fd) instead of creating this one. */
  reuseFd(fd: number): void {
    const ret = c.mapReuseFd(this.handle(), fd) as number;
    if (ret < 0) fail(ErrorCodes.MAP, `reuse map fd ${fd} for map ${this.name}`, errnoOf(ret));
  }

  /** Before load: the initial contents of a global-data map (.rodata/.bss/.data); sizes must match exactly. */
  setInitialValue(data: Buffer): void {
    if (data.length !== this.valueSize) {
      throw new HotpathError(
        ErrorCodes.LAYOUT,
        `set initial value of map ${this.name}: ${data.length} bytes given, the map holds ${this.valueSize}`,
      );
    }
    const ret = c.mapSetInitialValue(this.handle(), data, data.length) as number;
    if (ret < 0) fail(ErrorCodes.MAP, `set initial value of map ${this.name}`, errnoOf(ret));
  }

  /** Refuses a map whose key or value size differs from the layout the caller's decoder mirrors. */
  checkLayout(keySize: number, valueSize: number, header: string): void {
    if (this.keySize !== keySize || this.valueSize !== valueSize) {
      throw new HotpathError(
        ErrorCodes.LAYOUT,
        `map ${this.name}: key/value sizes ${this.keySize}/${this.valueSize} differ from ${keySize}/${valueSize} ` +
          `of the decoder mirroring ${header}: rebuild the programs and the collector together`,
      );
    }
  }

  /** Looks a key up into `value`; false when absent. */
  lookup(key: Buffer, value: Buffer): boolean {
    const ret = c.mapLookup(this.fd, key, value) as number;
    if (ret === 0) return true;
    const errno = errnoOf(ret);
    if (errno === 2) return false;
    fail(ErrorCodes.MAP, `look up in map ${this.name}`, errno);
  }

  update(key: Buffer, value: Buffer, flags = 0): void {
    const ret = c.mapUpdate(this.fd, key, value, flags) as number;
    if (ret < 0) fail(ErrorCodes.MAP, `update map ${this.name}`, errnoOf(ret));
  }

  /**
   * Writes `count` consecutive entries of an array map from index `first` (5.6+: one system call per batch of
   * up to `batchSize` entries). `values` holds `count` values of valueSize bytes.
   */
  updateRange(first: number, values: Buffer, count: number, batchSize = 65536): void {
    const valueSize = this.valueSize;
    if (values.length < count * valueSize) {
      throw new HotpathError(ErrorCodes.LAYOUT, `update map ${this.name}: ${values.length} bytes for ${count} values of ${valueSize}`);
    }
    const fd = this.fd;
    const n = Buffer.alloc(4);
    for (let done = 0; done < count; ) {
      const batch = Math.min(batchSize, count - done);
      const keys = Buffer.alloc(4 * batch);
      for (let i = 0; i < batch; i++) keys.writeUInt32LE(first + done + i, 4 * i);
      n.writeUInt32LE(batch, 0);
      const ret = c.mapUpdateBatch(fd, keys, values.subarray(done * valueSize, (done + batch) * valueSize), n, null) as number;
      if (ret < 0) fail(ErrorCodes.MAP, `update map ${this.name} at ${first + done}`, errnoOf(ret));
      done += batch;
    }
  }

  /** Deletes a key; false when it was absent. */
  delete(key: Buffer): boolean {
    const ret = c.mapDelete(this.fd, key) as number;
    if (ret === 0) return true;
    const errno = errnoOf(ret);
    if (errno === 2) return false;
    fail(ErrorCodes.MAP, `delete from map ${this.name}`, errno);
  }

  /** Every key, by get_next_key (works for every map type, stack trace maps included). */
  keys(limit = this.maxEntries): Buffer[] {
    const out: Buffer[] = [];
    let prev: Buffer | null = null;
    while (out.length < limit) {
      const next = Buffer.alloc(this.keySize);
      const ret = c.mapNextKey(this.fd, prev, next) as number;
      if (ret < 0) {
        const errno = errnoOf(ret);
        if (errno === 2) break;
        fail(ErrorCodes.MAP, `iterate map ${this.name}`, errno);
      }
      out.push(next);
      prev = next;
    }
    return out;
  }

  /**
   * Reads and removes every entry of a hash map in batches (kernel 5.6+). Calls `onEntry` with views into
   * reused buffers: copy what must outlive the call.
   */
  drainBatch(onEntry: (key: Buffer, value: Buffer) => void, batchSize?: number): number {
    // Scratch buffers kept with the map: a window's drain used to allocate up to 4 MB per call (4096 user stacks
    // of 1 KB), the largest share of the agent's allocations. A batch holds at most 256 KiB of values.
    const keySize = this.keySize;
    const valueSize = this.valueSize;
    if (batchSize === undefined) batchSize = Math.max(16, Math.min(4096, Math.floor(DRAIN_BATCH_BYTES / Math.max(1, valueSize))));
    if (this.drainScratch === undefined || this.drainScratch.batch !== batchSize) {
      this.drainScratch = { batch: batchSize, keys: Buffer.alloc(keySize * batchSize), values: Buffer.alloc(valueSize * batchSize) };
    }
    const { keys, values } = this.drainScratch;
    const count = Buffer.alloc(4);
    const inBatch = Buffer.alloc(8);
    const outBatch = Buffer.alloc(8);
    let first = true;
    let total = 0;
    for (;;) {
      count.writeUInt32LE(batchSize, 0);
      const ret = c.mapLookupAndDeleteBatch(this.fd, first ? null : inBatch, outBatch, keys, values, count, null) as number;
      const errno = ret < 0 ? errnoOf(ret) : 0;
      if (ret < 0 && errno !== 2) fail(ErrorCodes.MAP, `drain map ${this.name}`, errno);
      const n = count.readUInt32LE(0);
      for (let i = 0; i < n; i++) {
        onEntry(keys.subarray(i * keySize, (i + 1) * keySize), values.subarray(i * valueSize, (i + 1) * valueSize));
      }
      total += n;
      if (errno === 2) return total; // ENOENT: the last batch, count still filled
      outBatch.copy(inBatch);
      first = false;
    }
  }
}

/** Run-time statistics of a loaded program (filled only while kernel.bpf_stats_enabled=1). */
export interface ProgramRunStats {
  runTimeNs: bigint;
  runCount: bigint;
  /**
   * Runs the kernel skipped because the program was already running on that CPU (an interrupt on top of it):
   * its events are lost (5.12+; 0 before). Counted whether or not bpf_stats are enabled.
   */
  recursionMisses?: bigint;
}

// Offsets in struct bpf_prog_info (include/uapi/linux/bpf.h): stable UAPI, appended to over time.
const PROG_INFO_SIZE = 256;
const PROG_INFO_RUN_TIME_NS = 192;
const PROG_INFO_RUN_CNT = 200;
const PROG_INFO_RECURSION_MISSES = 208;

export class BpfProgram extends ObjectPart {
  get fd(): number {
    return c.programFd(this.handle()) as number;
  }

  /** Before load: whether the program is loaded at all (used to choose between tp_btf and raw_tp twins). */
  setAutoload(autoload: boolean): void {
    const ret = c.programSetAutoload(this.handle(), autoload) as number;
    if (ret < 0) fail(ErrorCodes.LOAD_OBJECT, `set autoload of program ${this.name}`, errnoOf(ret));
  }

  /** Attaches to an open perf event fd; the link owns the fd from then on (closed with the link). */
  attachPerfEvent(perfFd: number, step: string): BpfLink {
    const link = c.attachPerfEvent(this.handle(), perfFd) as Ptr | null;
    if (!link) fail(ErrorCodes.ATTACH, step, koffi.errno());
    return new BpfLink(link, perfFd);
  }

  /** Attaches by the program's section (tp_btf/, raw_tp/, tracepoint/ ...). */
  attach(): BpfLink {
    const link = c.attach(this.handle()) as Ptr | null;
    if (!link) fail(ErrorCodes.ATTACH, `attach program ${this.name}`, koffi.errno());
    return new BpfLink(link, -1);
  }

  stats(): ProgramRunStats {
    const info = Buffer.alloc(PROG_INFO_SIZE);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(PROG_INFO_SIZE, 0);
    const ret = c.objGetInfoByFd(this.fd, info, len) as number;
    if (ret < 0) fail(ErrorCodes.MAP, `get info of program ${this.name}`, errnoOf(ret));
    return {
      runTimeNs: info.readBigUInt64LE(PROG_INFO_RUN_TIME_NS),
      runCount: info.readBigUInt64LE(PROG_INFO_RUN_CNT),
      recursionMisses: info.readBigUInt64LE(PROG_INFO_RECURSION_MISSES),
    };
  }
}

/** One attachment. `destroy()` is idempotent and also closes the perf event fd it was given. */
export class BpfLink {
  private ptr: Ptr | null;
  private perfFd: number;

  constructor(ptr: Ptr, perfFd: number) {
    this.ptr = ptr;
    this.perfFd = perfFd;
  }

  destroy(): void {
    if (this.ptr !== null) {
      c.linkDestroy(this.ptr);
      this.ptr = null;
    }
    if (this.perfFd >= 0) {
      c.close(this.perfFd);
      this.perfFd = -1;
    }
  }
}

/** An opened (then loaded) BPF object file. `close()` is idempotent and frees maps and programs. */
export class BpfObject {
  readonly path: string;
  private ptr: Ptr | null;

  private constructor(path: string, ptr: Ptr) {
    this.path = path;
    this.ptr = ptr;
  }

  static open(path: string): BpfObject {
    const ptr = c.objectOpenFile(path, null) as Ptr | null;
    if (!ptr) fail(ErrorCodes.OPEN_OBJECT, `open BPF object ${path}`, koffi.errno());
    return new BpfObject(path, ptr);
  }

  private handle(): Ptr {
    this.assertOpen('');
    return this.ptr as Ptr;
  }

  /** Throws a coded error once the object is closed: its maps and programs are freed then. */
  assertOpen(part: string): void {
    if (this.ptr === null) {
      throw new HotpathError(ErrorCodes.CLOSED, `use ${part ? `${part} of ` : ''}BPF object ${this.path}: the object is closed`);
    }
  }

  program(name: string): BpfProgram {
    const p = c.findProgram(this.handle(), name) as Ptr | null;
    if (!p) throw new HotpathError(ErrorCodes.NOT_FOUND, `find program ${name} in ${this.path}: not there`);
    return new BpfProgram(this, name, p);
  }

  /** A map by name; global data maps are found by their section name (".rodata", ".bss"). */
  map(name: string): BpfMap {
    const m = c.findMap(this.handle(), name) as Ptr | null;
    if (!m) throw new HotpathError(ErrorCodes.NOT_FOUND, `find map ${name} in ${this.path}: not there`);
    return new BpfMap(this, name, m);
  }

  load(): void {
    const ret = c.objectLoad(this.handle()) as number;
    if (ret < 0) {
      const log = recentLibbpfLog(25).join('\n  ');
      fail(ErrorCodes.LOAD_OBJECT, `load BPF object ${this.path}`, errnoOf(ret), log ? `\n  ${log}` : '');
    }
  }

  close(): void {
    if (this.ptr !== null) {
      c.objectClose(this.ptr);
      this.ptr = null;
    }
  }
}

const PERF_TYPE_SOFTWARE = 1;
const PERF_COUNT_SW_CPU_CLOCK = 0;
const PERF_ATTR_SIZE = 128; // PERF_ATTR_SIZE_VER7 and later kernels accept a larger, zeroed tail
const PERF_FLAG_FD_CLOEXEC = 8;
const SYS_PERF_EVENT_OPEN: Record<string, number> = { x64: 298, arm64: 241 };

/** Opens a software cpu-clock event sampling at `hz` on one CPU, for every task. Returns the fd. */
export function openCpuClockEvent(cpu: number, hz: number): number {
  const nr = SYS_PERF_EVENT_OPEN[process.arch];
  if (nr === undefined) throw new HotpathError(ErrorCodes.PERF_EVENT, `perf_event_open: unsupported arch ${process.arch}`);
  const attr = Buffer.alloc(PERF_ATTR_SIZE);
  attr.writeUInt32LE(PERF_TYPE_SOFTWARE, 0);
  attr.writeUInt32LE(PERF_ATTR_SIZE, 4);
  attr.writeBigUInt64LE(BigInt(PERF_COUNT_SW_CPU_CLOCK), 8);
  attr.writeBigUInt64LE(BigInt(hz), 16); // sample_freq (with the freq flag)
  attr.writeBigUInt64LE(1n << 10n, 40); // flags: freq
  const fd = Number(
    c.syscall(nr, 'void *', attr, 'int', -1, 'int', cpu, 'int', -1, 'unsigned long', PERF_FLAG_FD_CLOEXEC),
  );
  if (fd < 0) fail(ErrorCodes.PERF_EVENT, `open cpu-clock perf event on cpu ${cpu}`, koffi.errno());
  return fd;
}

/**
 * Gives the C heap's free pages back to the kernel (glibc keeps what libbpf freed after loading, BTF included,
 * and what threads freed in their arenas, resident otherwise). Returns whether any memory was released.
 */
export function releaseFreeNativeMemory(): boolean {
  return (c.mallocTrim(0) as number) === 1;
}

/** glibc's mallopt parameters (malloc.h). */
const M_MMAP_THRESHOLD = -3;
const M_ARENA_MAX = -8;
/** Allocations of this size and more are mapped on their own and unmapped when freed. */
export const NATIVE_MMAP_THRESHOLD = 256 * 1024;
/** malloc arenas for every thread of the process (glibc's default: 8 per CPU). */
export const NATIVE_ARENA_MAX = 2;

/**
 * Keeps the C heap's resident peak down, for the agent's memory budget. glibc raises its mmap threshold each time a
 * mapped block is freed (up to 32 MiB), after which blocks that size come from the heap and stay resident when
 * freed: libbpf's copies of the kernel's BTF (several MiB per program loaded), the unwind builder's buffers.
 * A fixed threshold stops that; fewer arenas keep the worker threads' freed memory in fewer heaps. Measured on
 * `hotpath serve` defaults, 25 s: VmHWM 171 -> 141-149 MiB, RSS at 25 s 101-106 -> 92-93 MiB. Call before
 * programs load and worker threads start; later allocations follow it. Returns whether glibc took both.
 */
export function tuneNativeHeap(): boolean {
  try {
    return (c.mallopt(M_MMAP_THRESHOLD, NATIVE_MMAP_THRESHOLD) as number) === 1 && (c.mallopt(M_ARENA_MAX, NATIVE_ARENA_MAX) as number) === 1;
  } catch {
    return false; // not glibc (musl has no mallopt): nothing to tune
  }
}

export function closeFd(fd: number): void {
  if (fd >= 0) c.close(fd);
}

const SYS_OPENAT2: Record<string, number> = { x64: 437, arm64: 437 };
const OPEN_HOW_SIZE = 24; // struct open_how { u64 flags; u64 mode; u64 resolve; }
const RESOLVE_NO_MAGICLINKS = 0x02;
const RESOLVE_IN_ROOT = 0x10;
const EAGAIN = 11;
const ENOSYS = 38;

/**
 * openat2InRoot opens `path` relative to the directory `rootFd` as if `rootFd` were `/`: absolute symlinks and
 * `..` never leave it (RESOLVE_IN_ROOT) and /proc magic links are refused (RESOLVE_NO_MAGICLINKS), checked
 * by the kernel at each step, so a directory swapped for a symlink meanwhile cannot lead outside. Requires
 * openat2 (Linux 5.6). `flags` are open(2) flags (the caller adds O_CLOEXEC). Returns the fd, or -errno
 * (-ENOSYS where openat2 is missing). Never throws. Callers use openInRoot (open-in-root.ts), which falls
 * back to a user-space walk where openat2 is missing.
 */
export function openat2InRoot(rootFd: number, path: string, flags: number): number {
  const nr = SYS_OPENAT2[process.arch];
  if (nr === undefined) return -ENOSYS;
  const how = Buffer.alloc(OPEN_HOW_SIZE);
  how.writeBigUInt64LE(BigInt(flags), 0);
  how.writeBigUInt64LE(BigInt(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), 16);
  // EAGAIN: a rename or mount raced with a scoped lookup; the kernel asks for a retry.
  for (let attempt = 0; ; attempt++) {
    const fd = Number(c.syscall(nr, 'int', rootFd, 'const char *', path, 'void *', how, 'unsigned long', OPEN_HOW_SIZE));
    if (fd >= 0) return fd;
    const errno = koffi.errno();
    if (errno !== EAGAIN || attempt >= 3) return -errno;
  }
}

// The calls of the user-space walk inside a root (open-in-root.ts), one name at a time. openat is variadic in
// libc; its mode argument is read only with O_CREAT or O_TMPFILE, which the walk never passes, so it is bound
// with the three fixed arguments (as syscall is above for capget).
const walk = {
  openat: libc.func('int openat(int dirfd, const char *name, int flags)'),
  readlinkat: libc.func('intptr_t readlinkat(int dirfd, const char *path, void *buf, size_t size)'),
  fstatfs: libc.func('int fstatfs(int fd, void *buf)'),
};
const EMPTY_PATH = Buffer.from([0]);
const STATFS_SIZE = 120; // struct statfs on x86-64 and arm64; f_type is its first field (a long)
const statfsBuffer = Buffer.alloc(STATFS_SIZE);

/** openat(2) of one NUL-terminated name (bytes) in the directory `dirFd`: the fd, or -errno. Never throws. */
export function openatName(dirFd: number, name: Buffer, flags: number): number {
  const fd = walk.openat(dirFd, name, flags) as number;
  return fd >= 0 ? fd : -koffi.errno();
}

/**
 * The target of the symlink `fd` (opened O_PATH | O_NOFOLLOW) read into `buf`: its length, or -errno
 * (-ENOENT when `fd` is not a symlink). A length equal to `buf.length` may be cut short. Never throws.
 */
export function readlinkOfFd(fd: number, buf: Buffer): number {
  const n = Number(walk.readlinkat(fd, EMPTY_PATH, buf, buf.length));
  return n >= 0 ? n : -koffi.errno();
}

/** The magic number (statfs f_type) of the file system holding `fd` (O_PATH descriptors work), or -errno. */
export function fileSystemTypeOf(fd: number): number {
  if ((walk.fstatfs(fd, statfsBuffer) as number) !== 0) return -koffi.errno();
  return Number(statfsBuffer.readBigInt64LE(0));
}

/** Parses a kernel CPU list ("0-3,5"). */
export function parseCpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const [a, b] = part.split('-').map((s) => Number.parseInt(s, 10));
    if (!Number.isInteger(a)) continue;
    const end = Number.isInteger(b) ? b : a;
    for (let cpu = a; cpu <= end && cpus.length < 65536; cpu++) cpus.push(cpu);
  }
  return cpus;
}

export function onlineCpus(): number[] {
  return parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'));
}

/** Number of possible CPUs: the length of per-CPU map values. */
export function possibleCpuCount(): number {
  const cpus = parseCpuList(readFileSync('/sys/devices/system/cpu/possible', 'utf8'));
  return cpus.length === 0 ? 1 : cpus[cpus.length - 1] + 1;
}

// Capabilities and no_new_privs: the raw calls (collector/bpf/privileges.ts decides what to keep). The kernel
// keeps credentials per thread: these act on the calling thread, the *OnPoolThread variants on whichever libuv
// pool thread runs them.
const caps = {
  syscall: libc.func('long syscall(long number, void *header, void *data)'),
  prctl: libc.func('int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)'),
  usleep: libc.func('int usleep(uint32_t usec)'),
};
const SYS_CAPGET: Record<string, number> = { x64: 125, arm64: 90 };
const SYS_CAPSET: Record<string, number> = { x64: 126, arm64: 91 };
const LINUX_CAPABILITY_VERSION_3 = 0x20080522;
const PR_CAPBSET_DROP = 24;
const PR_SET_NO_NEW_PRIVS = 38;
const PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_CLEAR_ALL = 4;

/** A thread's capability sets, one bit per capability number (CAP_BPF = 1n << 39n). */
export interface CapabilitySets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

function capSyscallNumber(table: Record<string, number>, name: string): number {
  const nr = table[process.arch];
  if (nr === undefined) throw new HotpathError(ErrorCodes.PRIVILEGE, `${name}: unsupported arch ${process.arch}`);
  return nr;
}

function capHeader(): Buffer {
  const header = Buffer.alloc(8); // struct __user_cap_header_struct { u32 version; int pid (0: this thread) }
  header.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0);
  return header;
}

function capData(sets: CapabilitySets): Buffer {
  const data = Buffer.alloc(24); // struct __user_cap_data_struct[2]: low 32 bits, then high 32 bits
  const lo = (v: bigint) => Number(v & 0xffffffffn);
  const hi = (v: bigint) => Number((v >> 32n) & 0xffffffffn);
  for (const [i, part] of [lo, hi].entries()) {
    data.writeUInt32LE(part(sets.effective), 12 * i);
    data.writeUInt32LE(part(sets.permitted), 12 * i + 4);
    data.writeUInt32LE(part(sets.inheritable), 12 * i + 8);
  }
  return data;
}

/** The calling thread's capability sets (capget). */
export function getCapabilities(): CapabilitySets {
  const data = Buffer.alloc(24);
  const ret = Number(caps.syscall(capSyscallNumber(SYS_CAPGET, 'capget'), capHeader(), data));
  if (ret < 0) fail(ErrorCodes.PRIVILEGE, 'capget', koffi.errno());
  const both = (off: number) => (BigInt(data.readUInt32LE(12 + off)) << 32n) | BigInt(data.readUInt32LE(off));
  return { effective: both(0), permitted: both(4), inheritable: both(8) };
}

/** Sets the calling thread's capability sets (capset): only a subset of what it holds can be kept. */
export function setCapabilities(sets: CapabilitySets): void {
  const ret = Number(caps.syscall(capSyscallNumber(SYS_CAPSET, 'capset'), capHeader(), capData(sets)));
  if (ret < 0) fail(ErrorCodes.PRIVILEGE, 'capset', koffi.errno());
}

/** capset on one libuv pool thread (whichever runs it); resolves to the syscall's return value (0 or -1). */
export function setCapabilitiesOnPoolThread(sets: CapabilitySets): Promise<number> {
  const nr = capSyscallNumber(SYS_CAPSET, 'capset');
  // The pool thread reads these while this thread runs on: they must stay reachable until the call ends, or a
  // garbage collection in between frees memory the call still uses (seen as heap corruption at startup).
  const header = capHeader();
  const data = capData(sets);
  return new Promise((resolve, reject) => {
    caps.syscall.async(nr, header, data, (err: unknown, ret: number | bigint) => {
      keepAlive(header, data);
      if (err) reject(err);
      else resolve(Number(ret));
    });
  });
}

/** Holds values until the point of the call (a callback's use keeps them from being collected before). */
function keepAlive(...values: unknown[]): void {
  if (values.length < 0) throw new Error('unreachable');
}

/** no_new_privs on one libuv pool thread (whichever runs it); resolves to prctl's return value. */
export function setNoNewPrivsOnPoolThread(): Promise<number> {
  return new Promise((resolve, reject) => {
    caps.prctl.async(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, (err: unknown, ret: number) => (err ? reject(err) : resolve(ret)));
  });
}

/** Keeps one libuv pool thread (whichever runs it) busy for `usec` microseconds. */
export function sleepOnPoolThread(usec: number): Promise<void> {
  return new Promise((resolve, reject) => {
    caps.usleep.async(usec, (err: unknown) => (err ? reject(err) : resolve()));
  });
}

/** Removes `cap` from the calling thread's bounding set (needs CAP_SETPCAP); 0 or the errno. */
export function dropBoundingCapability(cap: number): number {
  return caps.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) === 0 ? 0 : koffi.errno();
}

/** Empties the calling thread's ambient set (4.3+); 0 or the errno. */
export function clearAmbientCapabilities(): number {
  return caps.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) === 0 ? 0 : koffi.errno();
}

/** Sets no_new_privs on the calling thread: execve never grants privileges again (setuid, file caps). */
export function setNoNewPrivs(): void {
  if (caps.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) !== 0) fail(ErrorCodes.PRIVILEGE, 'prctl(PR_SET_NO_NEW_PRIVS)', koffi.errno());
}

/**
 * The errno of a map lookup on fd -1: EBADF when bpf() lets this thread operate on map fds it holds, EPERM
 * when the kernel checks CAP_BPF on every bpf() call (before 5.19, with kernel.unprivileged_bpf_disabled set).
 */
export function bpfFdAccessErrno(): number {
  return errnoOf(c.mapLookup(-1, Buffer.alloc(8), Buffer.alloc(8)) as number);
}
