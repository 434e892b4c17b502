// The double-buffered window protocol of the stack programs (cpu-profile, offcpu, io), written once.
//
// Each program aggregates into counts_{generation % 2} and captures stacks into stacks_{generation % S},
// where `generation` is the first u32 of its .bss. A drain bumps the generation (the flip), waits out the
// programs still running on the old buffer, then reads and empties the idle counts map and frees the stack
// map that no later window can reference. Nothing is lost or counted twice across a flip.
//
// Shutdown: close() waits for a drain in progress, and a drain that finds the protocol closed after its
// grace sleep stops before touching the maps, so no libbpf call follows close().
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, HotpathError } from '../errors.js';
import { decodeStack } from '../layouts/common.js';
import type { OffcpuState } from '../layouts/offcpu.js';
import type { BpfMap } from './libbpf.js';
import type { LostCounters } from './lost-counters.js';

/** Time for programs already running on the old buffer to finish after a flip (they run for microseconds). */
export const FLIP_GRACE_MS = 10;

/** Wall-clock time in Unix nanoseconds: window boundaries and profile timestamps. */
export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** One drained aggregate: a thread, its stacks (addresses, leaf first), and what was counted for them. */
export interface RawStackSample {
  pid: number;
  tid: number;
  comm: string;
  /** Empty when there was no stack of that kind (or it was lost: see the window's `lost`). */
  kernelStack: bigint[];
  /** Leaf first: an array, or a view of a drained buffer's copy (layouts/unwind.ts copyUserStack). */
  userStack: ArrayLike<bigint>;
  /**
   * The program's 64-bit hash of the user stack's frames (own user-stack maps), the same in every window for
   * the same frames: the symbolizer keeps a process's symbolized stacks by it across windows.
   */
  userStackKey?: bigint;
  /** Samples (CPU) or blocks (off-CPU). */
  count: number;
  /** CPU: the thread's CPU time these samples stand for, measured by the scheduler (cpu_sample_value.cpu_ns). */
  cpuNs?: number;
  /** Off-CPU: nanoseconds blocked; I/O: nanoseconds from issue to completion. */
  totalNs?: number;
  /** Labels of this aggregate beyond the thread's (I/O: device, operation); the same object for equal labels. */
  labels?: Readonly<Record<string, string>>;
  /** Off-CPU in wall mode: the thread's state when it left the CPU, and the run-queue part of totalNs. */
  state?: OffcpuState;
  runnableNs?: number;
  /** Off-CPU in wall mode: the thread's CPU time before these blocks that no CPU sample carried. */
  oncpuNs?: number;
  /** Off-CPU in wall mode: blocks shorter than --min-block, for the wall profile only (no user stack). */
  belowMinBlock?: boolean;
}

export interface StackWindow {
  /** Unix epoch nanoseconds. */
  startNs: bigint;
  endNs: bigint;
  samples: RawStackSample[];
  /** Samples (or parts of them) lost during this window, by reason. */
  lost: Record<string, number>;
  /** Distinct stacks read from the kernel. */
  stacksRead: number;
}

/**
 * A counts-map entry as its layout decodes it: the stack ids index `stacks[stackMap]`, or for the user stack
 * `userStacks.maps[stackMap]` when the program keeps user stacks in its own maps (a bigint key, 0n: none).
 */
export interface StackCountEntry {
  pid: number;
  tid: number;
  comm: string;
  /** A stack-trace map id (< 0: none), or with `kernelStacks` a key in the program's own maps (0n: none). */
  kernelStackId: number | bigint;
  userStackId: number | bigint;
  stackMap: number;
  count: number;
  cpuNs?: number;
  totalNs?: number;
  labels?: Readonly<Record<string, string>>;
  state?: OffcpuState;
  runnableNs?: number;
  oncpuNs?: number;
  belowMinBlock?: boolean;
}

/**
 * A program's own user-stack maps: u64 keys, values its layout decodes. Either a pair written like the counts
 * (generation % 2), or, with `rotate`, one per kernel stack map, written and freed with them (the entry's
 * `stackMap` picks the map): for programs that take stacks in one window and count them in a later one.
 */
export interface OwnStackMaps {
  maps: BpfMap[];
  decode(value: Buffer): ArrayLike<bigint>;
  rotate?: boolean;
}

export interface WindowProtocolOptions {
  /** Program name, for errors. */
  name: string;
  /** The object's .bss: its first u32 is the generation the programs read. */
  bss: BpfMap;
  counts: [BpfMap, BpfMap];
  stacks: BpfMap[];
  /**
   * Set when `stacks` are the program's own hash maps (u64 keys, values this decodes) instead of stack-trace
   * maps: the entries' kernelStackId is then a bigint key.
   */
  kernelStacks?: { decode(value: Buffer): bigint[] };
  /**
   * User stacks in the program's own maps, a pair written like the counts (generation % 2): a count and the
   * user stack it references are written in the same window. Default: user stacks are in `stacks`.
   */
  userStacks?: OwnStackMaps;
  /**
   * How many consecutive windows' counts may reference the stacks captured in one window: 1 when a count
   * and its stack are taken together (CPU samples), 2 when a count is added when a block ends, possibly in
   * the next window (off-CPU). `stacks.length` must exceed it.
   */
  stackLifetime: number;
  /** Decodes one counts entry; `generation` is the window's, for programs whose key omits the stack map. */
  decodeEntry(key: Buffer, value: Buffer, generation: number): StackCountEntry;
  lost: LostCounters<string>;
}

export function closedError(what: string): HotpathError {
  return new HotpathError(ErrorCodes.CLOSED, `read ${what}: the source is closed`);
}

export class WindowProtocol {
  private readonly opts: WindowProtocolOptions;
  private generation = 0;
  private windowStart = nowNs();
  private draining: Promise<StackWindow> | null = null;
  private closed = false;

  constructor(opts: WindowProtocolOptions) {
    if (opts.stacks.length <= opts.stackLifetime) {
      throw new HotpathError(ErrorCodes.LAYOUT, `${opts.name}: ${opts.stacks.length} stack maps cannot outlive ${opts.stackLifetime} windows`);
    }
    if (opts.userStacks && !opts.userStacks.rotate && opts.userStacks.maps.length !== 2) {
      throw new HotpathError(ErrorCodes.LAYOUT, `${opts.name}: own user-stack maps come in a pair, like the counts`);
    }
    if (opts.userStacks?.rotate && opts.userStacks.maps.length !== opts.stacks.length) {
      throw new HotpathError(ErrorCodes.LAYOUT, `${opts.name}: rotating user-stack maps come one per kernel stack map`);
    }
    this.opts = opts;
  }

  /** Starts the first window now (call once the programs are attached). */
  restart(): void {
    this.windowStart = nowNs();
  }

  /**
   * Ends the current window: flips the programs to the other buffer, waits out programs in flight, then reads
   * and clears the idle buffer. Concurrent calls share one drain. Rejects with HP_ERR_CLOSED once closed.
   */
  drain(): Promise<StackWindow> {
    if (this.closed) return Promise.reject(closedError(`${this.opts.name} window`));
    if (!this.draining) {
      this.draining = this.drainOnce().finally(() => {
        this.draining = null;
      });
    }
    return this.draining;
  }

  /** No drain starts after this; resolves once a drain in progress has stopped. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await this.draining?.catch(() => undefined);
  }

  private async drainOnce(): Promise<StackWindow> {
    const ended = this.generation;
    this.generation = (ended + 1) >>> 0;
    const selector = Buffer.alloc(this.opts.bss.valueSize);
    selector.writeUInt32LE(this.generation, 0);
    this.opts.bss.update(Buffer.alloc(4), selector);
    const startNs = this.windowStart;
    const endNs = nowNs();
    this.windowStart = endNs;
    await sleep(FLIP_GRACE_MS);
    if (this.closed) throw closedError(`${this.opts.name} window`);
    return this.read(ended, startNs, endNs);
  }

  private read(ended: number, startNs: bigint, endNs: bigint): StackWindow {
    const { counts, stacks, stackLifetime, decodeEntry } = this.opts;
    const entries: StackCountEntry[] = [];
    counts[ended % 2].drainBatch((k, v) => entries.push(decodeEntry(k, v, ended)));

    const ownKernel = this.opts.kernelStacks;
    const idBuf = Buffer.alloc(ownKernel ? 8 : 4);
    const stackBuf = Buffer.alloc(stacks[0].valueSize);
    const kernelStackOf = cachedStacks((map, id: number | bigint) => {
      const stackMap = stacks[map];
      if (stackMap === undefined) return null;
      if (typeof id === 'bigint') idBuf.writeBigUInt64LE(id, 0);
      else idBuf.writeUInt32LE(id, 0);
      if (!stackMap.lookup(idBuf, stackBuf)) return null;
      return ownKernel ? ownKernel.decode(stackBuf) : decodeStack(stackBuf);
    }, NO_KERNEL_STACK);
    // The program's own user stacks belong to the window of the counts that reference them: the window's map
    // is read and emptied in batches, not looked up key by key.
    const own = this.opts.userStacks;
    const ownStacks = new Map<bigint, ArrayLike<bigint>>();
    if (own && !own.rotate) own.maps[ended % 2].drainBatch((k, v) => ownStacks.set(k.readBigUInt64LE(0), own.decode(v)));
    // Rotating maps outlive the window: their stacks are looked up one by one and freed with the kernel stacks.
    const userKey = Buffer.alloc(8);
    const userValue = own?.rotate ? Buffer.alloc(own.maps[0].valueSize) : Buffer.alloc(0);
    const ownStackOf = cachedStacks((map, id: bigint) => {
      if (!own?.rotate) return ownStacks.get(id) ?? null;
      const m = own.maps[map];
      if (m === undefined) return null;
      userKey.writeBigUInt64LE(id, 0);
      return m.lookup(userKey, userValue) ? own.decode(userValue) : null;
    }, NO_USER_STACK);
    const samples: RawStackSample[] = entries.map((e) => {
      const sample: RawStackSample = {
        pid: e.pid,
        tid: e.tid,
        comm: e.comm,
        kernelStack:
          typeof e.kernelStackId === 'bigint'
            ? e.kernelStackId === 0n ? [] : kernelStackOf.get(e.stackMap, e.kernelStackId)
            : e.kernelStackId < 0 ? [] : kernelStackOf.get(e.stackMap, e.kernelStackId),
        userStack:
          typeof e.userStackId === 'bigint'
            ? e.userStackId === 0n ? [] : ownStackOf.get(e.stackMap, e.userStackId)
            : e.userStackId < 0 ? [] : kernelStackOf.get(e.stackMap, e.userStackId),
        count: e.count,
      };
      if (e.totalNs !== undefined) sample.totalNs = e.totalNs;
      if (e.labels !== undefined) sample.labels = e.labels;
      if (e.cpuNs !== undefined) sample.cpuNs = e.cpuNs;
      if (e.state !== undefined) {
        sample.state = e.state;
        sample.runnableNs = e.runnableNs ?? 0;
        sample.oncpuNs = e.oncpuNs ?? 0;
        if (e.belowMinBlock) sample.belowMinBlock = true;
      }
      if (typeof e.userStackId === 'bigint' && sample.userStack.length > 0) sample.userStackKey = e.userStackId;
      return sample;
    });

    // The oldest stack map any later window could still reference is freed before the programs reuse it.
    const recycledIndex = (ended + stacks.length - (stackLifetime - 1)) % stacks.length;
    const recycled = stacks[recycledIndex];
    if (ownKernel) recycled.drainBatch(() => undefined);
    else for (const key of recycled.keys()) recycled.delete(key);
    if (own?.rotate) own.maps[recycledIndex].drainBatch(() => undefined);

    const notFound = kernelStackOf.notFound + ownStackOf.notFound;
    return { startNs, endNs, samples, lost: { stack_not_found: notFound, ...this.opts.lost.delta() }, stacksRead: kernelStackOf.size + ownStackOf.size };
  }
}

/** Stack reads cached per (map, id) for one window; counts ids whose stack was not there. */
/** Shared empty stacks (read-only, like every drained stack). */
const NO_KERNEL_STACK: bigint[] = [];
const NO_USER_STACK: ArrayLike<bigint> = [];

function cachedStacks<Id extends number | bigint, Stack extends ArrayLike<bigint>>(read: (map: number, id: Id) => Stack | null, empty: Stack) {
  // By map, then id: no key string per sample.
  const cache = new Map<number, Map<Id, Stack | null>>();
  let size = 0;
  return {
    notFound: 0,
    get(map: number, id: Id): Stack {
      let byId = cache.get(map);
      if (byId === undefined) cache.set(map, (byId = new Map()));
      let s = byId.get(id);
      if (s === undefined) {
        s = read(map, id);
        byId.set(id, s);
        size++;
      }
      if (s === null) {
        this.notFound++;
        return empty;
      }
      return s;
    },
    get size(): number {
      return size;
    },
  };
}
