// Turns a drained window of raw stacks into a symbolized ProfileData (the exporters' input). Symbolization
// is done once per distinct stack in the window, not per sample.
import type { ProfileData, ProfileFrame, ProfileSample } from '../../exporters/pprof/types.js';
import type { Symbolizer } from '../symbolize/index.js';
import { processLabels, type CgroupIdentity } from '../symbolize/process-metadata.js';
import type { ProfileKind, RawStackSample, StackWindow } from '../sources/index.js';

export interface WindowProfileOptions {
  kind: ProfileKind;
  /** CPU profiles: sampling frequency, for the period and cpu/nanoseconds values. */
  hz?: number;
  startNs: bigint;
  endNs: bigint;
  /**
   * Kubernetes labels (namespace, pod, container, workload) of a process's pod and container, when known.
   * Called once per process per window; must answer from memory.
   */
  podLabels?: (identity: CgroupIdentity) => Readonly<Record<string, string>> | undefined;
}

export function sampleTypesOf(kind: ProfileKind, hz = 99): Pick<ProfileData, 'sampleTypes' | 'periodType' | 'period' | 'defaultSampleType'> {
  if (kind === 'wall') {
    // Wall first and named the default: go tool pprof otherwise shows the last type.
    return {
      sampleTypes: [
        { type: 'wall', unit: 'nanoseconds' },
        { type: 'cpu', unit: 'nanoseconds' },
        { type: 'offcpu', unit: 'nanoseconds' },
      ],
      periodType: { type: 'wall', unit: 'nanoseconds' },
      period: 1,
      defaultSampleType: 'wall',
    };
  }
  if (kind === 'cpu') {
    return {
      sampleTypes: [
        { type: 'samples', unit: 'count' },
        { type: 'cpu', unit: 'nanoseconds' },
      ],
      periodType: { type: 'cpu', unit: 'nanoseconds' },
      period: Math.round(1e9 / hz),
    };
  }
  if (kind === 'io') {
    // Requests and their time from issue to completion; the time (last) is pprof's default.
    return {
      sampleTypes: [
        { type: 'requests', unit: 'count' },
        { type: 'io', unit: 'nanoseconds' },
      ],
      periodType: { type: 'io', unit: 'nanoseconds' },
      period: 1,
    };
  }
  return {
    sampleTypes: [
      { type: 'samples', unit: 'count' },
      { type: 'offcpu', unit: 'nanoseconds' },
    ],
    periodType: { type: 'offcpu', unit: 'nanoseconds' },
    period: 1,
  };
}

/**
 * Frames of the tracing machinery that ran the program itself (tracepoint iterators, BPF trampolines). The
 * program skips a fixed number of them, but how many there are depends on how many programs share the
 * tracepoint, so what is left is trimmed by name.
 */
const TRACING_FRAME = /^(__traceiter_|__bpf_trace_|bpf_trace_run\d|bpf_prog_|__probestub_|trace_call_bpf)/;

export function isTracingFrame(name: string | null | undefined): boolean {
  return typeof name === 'string' && TRACING_FRAME.test(name);
}

/** The wall profile's `state` label values. */
export const WALL_STATES = ['running', 'runnable', 'io', 'lock', 'sleeping'] as const;
export type WallState = (typeof WALL_STATES)[number];

/**
 * Kernel functions a thread waits in for a lock: futexes (pthread mutexes, condition variables' internal lock
 * and every other futex wait), kernel mutexes, rw-semaphores, rt-mutexes.
 */
const LOCK_WAIT_FRAME = /^(futex_wait|__futex_wait|futex_q_lock|__mutex_lock|mutex_lock|rwsem_down_|rt_mutex_|__rt_mutex|down_read|down_write|percpu_down_|__percpu_down_)/;

/** Whether a blocked thread's kernel stack (leaf first) waits on a lock. */
export function isLockWait(kernel: readonly ProfileFrame[]): boolean {
  for (const f of kernel) if (f.functionName !== undefined && LOCK_WAIT_FRAME.test(f.functionName)) return true;
  return false;
}

/**
 * The wall profile's parts of one drained sample: a CPU sample (no totalNs) is `running` for `runningNs`, its
 * share of its thread's measured CPU time (see buildWallWindowProfile);
 * an off-CPU block is split into its blocked part, under the state it left the CPU in (a sleep whose kernel
 * stack waits on a lock is `lock`), and its run-queue part, `runnable`. Values: [wall, cpu, offcpu] ns.
 */
export function wallParts(s: RawStackSample, kernel: readonly ProfileFrame[], runningNs: number): { state: WallState; values: [number, number, number] }[] {
  if (s.totalNs === undefined) {
    const ns = Math.round(runningNs);
    return [{ state: 'running', values: [ns, ns, 0] }];
  }
  const runnable = Math.min(s.runnableNs ?? 0, s.totalNs);
  const blocked = s.totalNs - runnable;
  const out: { state: WallState; values: [number, number, number] }[] = [];
  if (blocked > 0) {
    const state: WallState = s.state === 'io' ? 'io' : isLockWait(kernel) ? 'lock' : 'sleeping';
    out.push({ state, values: [blocked, 0, blocked] });
  }
  if (runnable > 0) out.push({ state: 'runnable', values: [runnable, 0, runnable] });
  return out;
}

/**
 * The wall profile of one span from the CPU and off-CPU (wall mode) windows drained for it. Off-CPU blocks
 * (every one, short ones too) are measured from switch-out to switch-in. Running time is measured on the same
 * clock: each run, switch-in to switch-out, is carried in pieces by the thread's CPU samples (the time since
 * its switch-in or previous sample, cpuNs) and at its switch-out (the rest, the off-CPU entries' oncpuNs), so
 * a thread's running and off-CPU time tile its life. The samples say where the time went: a thread's
 * measured running time in the window is shared among its samples by their counts, or, without a sample in
 * the window, kept as `running` without a stack. The span is the CPU window's.
 */
export function buildWallWindowProfile(cpu: StackWindow, offcpu: StackWindow, symbolizer: Symbolizer, opts: Omit<WindowProfileOptions, 'kind' | 'startNs' | 'endNs'>): ProfileData {
  return buildWindowProfile([...cpu.samples, ...offcpu.samples], symbolizer, { ...opts, kind: 'wall', startNs: cpu.startNs, endNs: cpu.endNs });
}

/** Symbolizes a window. The symbolizer's per-drain caches span exactly this call. */
export function buildWindowProfile(raw: RawStackSample[], symbolizer: Symbolizer, opts: WindowProfileOptions): ProfileData {
  const types = sampleTypesOf(opts.kind, opts.hz);
  const cpuPeriod = Math.round(1e9 / (opts.hz ?? 99));
  // Keyed by the stack arrays themselves: a drain hands out one array per distinct stack it read (joining
  // addresses into string keys cost more than the lookups they saved). Identical stacks in separate arrays are
  // merely symbolized twice.
  const kernelCache = new Map<readonly bigint[], ProfileFrame[]>();
  /** Per pid: two processes can share a stack's addresses (and its array), not its meaning. */
  const userCache = new Map<number, Map<ArrayLike<bigint>, ProfileFrame[]>>();
  // Every frame but the first is a return address: the call is the instruction before it, and a call at the
  // very end of a function would otherwise be named after the next function.
  /** Return addresses as call sites (the leaf stays): what a frame's line and inlined function are looked up by. */
  const callSites = (stack: ArrayLike<bigint>): bigint[] => {
    const out = new Array<bigint>(stack.length);
    for (let i = 0; i < stack.length; i++) out[i] = i === 0 ? stack[i] : stack[i] - 1n;
    return out;
  };
  const samples: ProfileSample[] = [];
  // process, container_id and pod_uid when known (`go tool pprof -tagfocus=process=nginx`), and with
  // --kubernetes namespace, pod, container and workload: worked out once per process per window.
  const labelsByPid = new Map<number, Record<string, string>>();
  const labelsOf = (pid: number): Record<string, string> => {
    let labels = labelsByPid.get(pid);
    if (!labels) {
      const meta = symbolizer.processMetadata(pid);
      labels = processLabels(meta);
      if (meta && opts.podLabels && (meta.podUid || meta.containerId)) Object.assign(labels, opts.podLabels(meta));
      labelsByPid.set(pid, labels);
    }
    return labels;
  };
  /** pid → tid → the thread's label objects (I/O: one per thread and device/operation labels object). */
  const threadLabels = new Map<number, Map<number, { comm: string; numLabels: ProfileSample['numLabels']; strLabels: ProfileSample['strLabels'] }>>();
  const sampleLabels = new Map<number, Map<number, Map<Readonly<Record<string, string>>, ProfileSample['strLabels']>>>();
  /** Wall: per thread's label object, its label objects with each state. */
  const stateLabels = new Map<object, Map<WallState, ProfileSample['strLabels']>>();
  const wall = opts.kind === 'wall';
  /** Wall: per thread (pid:tid), its running time measured in this window, and its CPU samples. */
  const carried = new Map<string, { runningNs: number; samples: number }>();
  if (wall) {
    for (const s of raw) {
      const key = `${s.pid}:${s.tid}`;
      let c = carried.get(key);
      if (c === undefined) carried.set(key, (c = { runningNs: 0, samples: 0 }));
      if (s.totalNs === undefined) {
        c.runningNs += s.cpuNs ?? s.count * cpuPeriod;
        c.samples += s.count;
      } else {
        c.runningNs += s.oncpuNs ?? 0;
      }
    }
  }
  symbolizer.beginDrain();
  try {
    for (const s of raw) {
      // Blocks below --min-block are drained only in wall mode, for the wall profile.
      if (s.belowMinBlock && opts.kind === 'offcpu') continue;
      let kernel: ProfileFrame[] = [];
      if (s.kernelStack.length > 0) {
        const cached = kernelCache.get(s.kernelStack);
        if (cached) kernel = cached;
        else {
          kernel = symbolizer.symbolizeKernel(callSites(s.kernelStack));
          if (opts.kind !== 'cpu') {
            let first = 0;
            while (first < kernel.length - 1 && isTracingFrame(kernel[first].functionName)) first++;
            if (first > 0) kernel = kernel.slice(first);
          }
          kernelCache.set(s.kernelStack, kernel);
        }
      }
      let user: ProfileFrame[] = [];
      if (s.userStack.length > 0) {
        let byStack = userCache.get(s.pid);
        if (!byStack) userCache.set(s.pid, (byStack = new Map()));
        const cached = byStack.get(s.userStack) ?? (s.userStackKey !== undefined ? symbolizer.cachedUserStack(s.pid, s.userStackKey) : undefined);
        if (cached) user = cached;
        else user = symbolizer.symbolizeUser(s.pid, callSites(s.userStack), s.userStackKey);
        byStack.set(s.userStack, user);
      }
      // One pair of label objects per thread, shared by its samples (read-only from here on): the pprof
      // builder and the store resolve a label set once per object.
      const processLabelSet = labelsOf(s.pid);
      let threads = threadLabels.get(s.pid);
      if (threads === undefined) threadLabels.set(s.pid, (threads = new Map()));
      let thread = threads.get(s.tid);
      if (thread === undefined || thread.comm !== s.comm) {
        thread = { comm: s.comm, numLabels: { pid: s.pid, tid: s.tid }, strLabels: { comm: s.comm, ...processLabelSet } };
        threads.set(s.tid, thread);
        sampleLabels.get(s.pid)?.delete(s.tid);
      }
      let strLabels = thread.strLabels;
      if (s.labels !== undefined) {
        let byPid = sampleLabels.get(s.pid);
        if (byPid === undefined) sampleLabels.set(s.pid, (byPid = new Map()));
        let byTid = byPid.get(s.tid);
        if (byTid === undefined) byPid.set(s.tid, (byTid = new Map()));
        let withLabels = byTid.get(s.labels);
        if (withLabels === undefined) byTid.set(s.labels, (withLabels = { ...thread.strLabels, ...s.labels }));
        strLabels = withLabels;
      }
      const frames = kernel.length + user.length > 0 ? [...kernel, ...user] : [];
      if (!wall) {
        const value = opts.kind === 'cpu' ? s.count * types.period : (s.totalNs ?? 0);
        samples.push({ frames, values: [s.count, value], numLabels: thread.numLabels, strLabels });
        continue;
      }
      const threadStr = thread.strLabels ?? {};
      let byState = stateLabels.get(threadStr);
      if (byState === undefined) stateLabels.set(threadStr, (byState = new Map()));
      const c = carried.get(`${s.pid}:${s.tid}`)!;
      for (const part of wallParts(s, kernel, c.samples > 0 ? (c.runningNs * s.count) / c.samples : 0)) {
        let strLabels = byState.get(part.state);
        if (strLabels === undefined) byState.set(part.state, (strLabels = { ...threadStr, state: part.state }));
        samples.push({ frames, values: part.values, numLabels: thread.numLabels, strLabels });
      }
    }
    // Threads that ran in this window without a CPU sample: their running time, without a stack.
    for (const [key, c] of carried) {
      if (c.samples > 0 || c.runningNs <= 0) continue;
      const [pid, tid] = key.split(':').map(Number);
      const thread = threadLabels.get(pid)?.get(tid);
      if (!thread) continue;
      const ns = Math.round(c.runningNs);
      samples.push({ frames: [], values: [ns, ns, 0], numLabels: thread.numLabels, strLabels: { ...thread.strLabels, state: 'running' } });
    }
  } finally {
    symbolizer.endDrain();
  }
  return {
    ...types,
    timeNanos: opts.startNs,
    durationNanos: opts.endNs - opts.startNs,
    samples,
  };
}

export interface ProfileSummary {
  samples: number;
  processes: number;
  threads: number;
  frames: number;
  symbolizedFrames: number;
}

/** Counts samples (first value), processes and the share of frames with a name, weighted by samples. */
export function summarizeProfile(data: ProfileData): ProfileSummary {
  const pids = new Set<number>();
  const tids = new Set<number>();
  let samples = 0;
  let frames = 0;
  let symbolizedFrames = 0;
  for (const s of data.samples) {
    const n = s.values[0] ?? 0;
    samples += n;
    if (s.numLabels?.pid !== undefined) pids.add(s.numLabels.pid);
    if (s.numLabels?.tid !== undefined) tids.add(s.numLabels.tid);
    frames += s.frames.length * n;
    for (const f of s.frames) if (f.functionName) symbolizedFrames += n;
  }
  return { samples, processes: pids.size, threads: tids.size, frames, symbolizedFrames };
}
