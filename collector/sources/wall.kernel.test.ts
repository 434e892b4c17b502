// Real kernel, as root: the wall-clock profile (CPU samples + off-CPU blocks in wall mode) of gcc-built
// workloads whose time is known: a thread alternating 5 ms of CPU and 20 ms of sleep, more spinning threads
// than the CPUs they may use, a thread waiting on a mutex, and fsync.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ProfileData } from '../../exporters/pprof/types.js';
import { Symbolizer } from '../symbolize/index.js';
import { killAndWait, requireRoot } from '../test-support/kernel.js';
import { buildWallWindowProfile, type WallState } from '../windows/window-profile.js';
import { CpuSource } from './cpu.js';
import { OffcpuSource } from './offcpu.js';

const HZ = 99;
let dir: string;
let binary: string;
let sources: (CpuSource | OffcpuSource)[] = [];
let children: ChildProcess[] = [];

beforeAll(() => {
  requireRoot();
  dir = mkdtempSync(join(tmpdir(), 'hp-wall-'));
  binary = join(dir, 'wall-workload');
  execFileSync('gcc', ['-O1', '-fno-omit-frame-pointer', '-pthread', '-o', binary, join(import.meta.dirname, 'test-support', 'wall-workload.c')]);
});
afterEach(async () => {
  await killAndWait(children);
  children = [];
  await Promise.all(sources.map((s) => s.close()));
  sources = [];
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface WallRun {
  pid: number;
  /** Per thread, the scheduler's own figures over the measured windows (/proc/PID/task/TID/schedstat): ns on CPU, ns waiting on a run queue. */
  schedstat: Map<number, { onCpuNs: number; runDelayNs: number }>;
  lost: Record<string, number>;
  /** The measured windows (the first, with the start, left out). */
  windows: ProfileData[];
  /** Their total span, ns (the CPU windows' spans: the wall windows'). */
  spanNs: number;
}

/**
 * Runs the workload (`args`, under `prefix` such as taskset) for `seconds`, profiles it with the CPU and the
 * wall-mode off-CPU programs, drains a first window after `warmupMs` (left out: it holds the start) and then
 * `windows` windows of `windowMs` each, and builds their wall profiles.
 */
async function wallRun(args: string[], opts: { seconds: number; windows: number; windowMs: number; warmupMs?: number; prefix?: string[] }): Promise<WallRun> {
  const cmd = [...(opts.prefix ?? []), binary, args[0], String(opts.seconds), ...args.slice(1)];
  const child = spawn(cmd[0], cmd.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  await sleep(100); // let it exec and block on stdin
  const pid = child.pid!;
  const cpu = CpuSource.start({ hz: HZ, pids: [pid], windowSeconds: 2, wall: true });
  sources.push(cpu);
  const off = OffcpuSource.start({ pids: [pid], wall: true, shareTables: cpu.sharedTables(), wallRecords: cpu.wallRecords() });
  sources.push(off);
  expect(off.wallRecordsShared).toBe(true);
  child.stdin!.write('go\n');
  const symbolizer = new Symbolizer({ debuginfod: null });
  const drainBoth = async () => {
    const c = await cpu.drain();
    const o = await off.drain();
    return { c, o };
  };
  await sleep(opts.warmupMs ?? 1000);
  await drainBoth();
  const before = schedstats(pid);
  const lost: Record<string, number> = {};
  const windows: ProfileData[] = [];
  let spanNs = 0;
  for (let i = 0; i < opts.windows; i++) {
    await sleep(opts.windowMs);
    const { c, o } = await drainBoth();
    for (const w of [c, o]) {
      for (const [k, n] of Object.entries(w.lost)) lost[k] = (lost[k] ?? 0) + n;
      expect(w.lost.stack_not_found).toBe(0);
      expect(w.lost.offcpu_counts_map_full ?? 0).toBe(0);
    }
    windows.push(buildWallWindowProfile(c, o, symbolizer, { hz: HZ }));
    spanNs += Number(c.endNs - c.startNs);
  }
  const after = schedstats(pid);
  expect(child.exitCode, 'the workload ended before the measured windows did').toBe(null);
  const schedstat = new Map<number, { onCpuNs: number; runDelayNs: number }>();
  for (const [tid, a] of after) {
    const b = before.get(tid) ?? { onCpuNs: 0, runDelayNs: 0 };
    schedstat.set(tid, { onCpuNs: a.onCpuNs - b.onCpuNs, runDelayNs: a.runDelayNs - b.runDelayNs });
  }
  return { pid, windows, spanNs, schedstat, lost };
}

/** Each thread's cumulative time on CPU and waiting on a run queue, from the kernel's schedstat. */
function schedstats(pid: number): Map<number, { onCpuNs: number; runDelayNs: number }> {
  const out = new Map<number, { onCpuNs: number; runDelayNs: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const [onCpu, runDelay] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ').map(Number);
    out.set(Number(tid), { onCpuNs: onCpu, runDelayNs: runDelay });
  }
  return out;
}

/** The profile's running and runnable time of a thread beside the scheduler's own figures. */
function versusSchedstat(run: WallRun, t: ReturnType<typeof tally>, tid: number): string {
  const s = run.schedstat.get(tid);
  if (!s) return '';
  return `; schedstat: on CPU ${(s.onCpuNs / 1e9).toFixed(3)} s (profile ${(t.stateNs(tid, 'running') / 1e9).toFixed(3)}), ` +
    `run queue ${(s.runDelayNs / 1e9).toFixed(3)} s (profile ${(t.stateNs(tid, 'runnable') / 1e9).toFixed(3)}); lost ${JSON.stringify(Object.fromEntries(Object.entries(run.lost).filter(([, n]) => n > 0)))}`;
}

/** Wall ns by thread, and by thread and state, with `fn` in the stack or not. */
function tally(windows: ProfileData[], pid: number) {
  const byThread = new Map<number, number>();
  const byThreadState = new Map<string, number>();
  const cpuByThread = new Map<number, number>();
  const offByThread = new Map<number, number>();
  const samples = windows.flatMap((w) => w.samples).filter((s) => s.numLabels?.pid === pid);
  for (const s of samples) {
    const tid = s.numLabels!.tid;
    byThread.set(tid, (byThread.get(tid) ?? 0) + s.values[0]);
    cpuByThread.set(tid, (cpuByThread.get(tid) ?? 0) + s.values[1]);
    offByThread.set(tid, (offByThread.get(tid) ?? 0) + s.values[2]);
    const key = `${tid} ${s.strLabels!.state}`;
    byThreadState.set(key, (byThreadState.get(key) ?? 0) + s.values[0]);
    // Every sample is one of its parts: wall = cpu + offcpu.
    expect(s.values[0]).toBe(s.values[1] + s.values[2]);
  }
  const stateNs = (tid: number, state: WallState, fn?: string) =>
    samples
      .filter((s) => s.numLabels!.tid === tid && s.strLabels!.state === state && (fn === undefined || s.frames.some((f) => f.functionName === fn)))
      .reduce((a, s) => a + s.values[0], 0);
  return { byThread, byThreadState, cpuByThread, offByThread, stateNs, samples };
}

const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(1)}%`;

describe('wall-clock profile (cpu + offcpu in wall mode)', () => {
  it('a thread alternating 5 ms in burn_cpu and 20 ms in take_nap: ~20% running there, ~80% sleeping there, summing to the span', async () => {
    const run = await wallRun(['alternate'], { seconds: 12, windows: 4, windowMs: 2000 });
    const t = tally(run.windows, run.pid);
    const total = t.byThread.get(run.pid) ?? 0;
    const running = t.stateNs(run.pid, 'running');
    const runningBurn = t.stateNs(run.pid, 'running', 'burn_cpu');
    const sleeping = t.stateNs(run.pid, 'sleeping');
    const sleepingNap = t.stateNs(run.pid, 'sleeping', 'take_nap');
    const runnable = t.stateNs(run.pid, 'runnable');
    console.log(
      `wall alternate: span ${(run.spanNs / 1e9).toFixed(3)} s, thread wall ${(total / 1e9).toFixed(3)} s (${pct(total, run.spanNs)}); ` +
        `running ${pct(running, total)} (burn_cpu ${pct(runningBurn, total)}), sleeping ${pct(sleeping, total)} (take_nap ${pct(sleepingNap, total)}), ` +
        `runnable ${pct(runnable, total)} (burn_cpu ${pct(t.stateNs(run.pid, 'runnable', 'burn_cpu'), total)}); cpu ${(t.cpuByThread.get(run.pid)! / 1e9).toFixed(3)} s, ` +
        `offcpu ${(t.offByThread.get(run.pid)! / 1e9).toFixed(3)} s${versusSchedstat(run, t, run.pid)}`,
    );
    // One thread: nothing else of the process.
    expect([...t.byThread.keys()]).toEqual([run.pid]);
    expect(Math.abs(total - run.spanNs) / run.spanNs).toBeLessThan(0.02);
    // 5 ms of 25 ms (plus the nap's own overshoot, tens of µs): 20%.
    expect(runningBurn / total).toBeGreaterThan(0.15);
    expect(runningBurn / total).toBeLessThan(0.25);
    expect(runningBurn / running).toBeGreaterThan(0.9);
    // 20 ms of 25, less the wait for a CPU after each wakeup (runnable: a few % on a shared machine).
    expect(sleepingNap / total).toBeGreaterThan(0.68);
    expect(sleepingNap / total).toBeLessThan(0.85);
    expect((sleepingNap + runnable) / total).toBeGreaterThan(0.74);
    expect(sleepingNap / sleeping).toBeGreaterThan(0.95);
    expect(t.stateNs(run.pid, 'lock') + t.stateNs(run.pid, 'io')).toBeLessThan(0.01 * total);
    // The scheduler's own figures over the same span (read just after the window drains: a few ms apart, on
    // another clock: its on-CPU time and our off-CPU time do not tile the span, ours do). A cross-check, not the
    // measure: 1.656 s against our 1.755 s (6%) in one CI run, 2% in others.
    const sched = run.schedstat.get(run.pid)!;
    expect(Math.abs(running - sched.onCpuNs) / sched.onCpuNs).toBeLessThan(0.1);
    expect(Math.abs(runnable - sched.runDelayNs)).toBeLessThan(Math.max(0.1 * sched.runDelayNs, 20e6));
  });

  it('more spinning threads than CPUs: time waiting for a CPU is runnable, under spin_forever', async () => {
    // Four threads on one CPU: each runs about a quarter of the time and waits the rest.
    const run = await wallRun(['spin', '4'], { seconds: 10, windows: 3, windowMs: 2000, prefix: ['taskset', '-c', '0'] });
    const t = tally(run.windows, run.pid);
    const spinners = [...t.byThread.keys()].filter((tid) => tid !== run.pid);
    expect(spinners.length).toBe(4);
    let total = 0;
    let runnable = 0;
    let running = 0;
    for (const tid of spinners) {
      total += t.byThread.get(tid)!;
      runnable += t.stateNs(tid, 'runnable');
      running += t.stateNs(tid, 'running');
    }
    const runnableSpin = spinners.reduce((a, tid) => a + t.stateNs(tid, 'runnable', 'spin_forever'), 0);
    console.log(
      `wall spin 4 on 1 CPU: span ${(run.spanNs / 1e9).toFixed(3)} s x 4 threads, wall ${(total / 1e9).toFixed(3)} s (${pct(total, 4 * run.spanNs)}); ` +
        `running ${pct(running, total)}, runnable ${pct(runnable, total)} (under spin_forever ${pct(runnableSpin, total)}), ` +
        `sleeping ${pct(spinners.reduce((a, tid) => a + t.stateNs(tid, 'sleeping'), 0), total)}`,
    );
    expect(Math.abs(total - 4 * run.spanNs) / (4 * run.spanNs)).toBeLessThan(0.02);
    expect(runnable / total).toBeGreaterThan(0.6);
    expect(running / total).toBeGreaterThan(0.15);
    expect(running / total).toBeLessThan(0.3);
    // Preempted in user space: the user stack is walked as the thread leaves the CPU, so the wait is where
    // it spins.
    expect(runnableSpin / runnable).toBeGreaterThan(0.9);
  });

  it('a thread waiting on a pthread mutex held by another is in state lock, under wait_for_lock', async () => {
    const run = await wallRun(['lock'], { seconds: 8, windows: 2, windowMs: 2000 });
    const t = tally(run.windows, run.pid);
    const tids = [...t.byThread.keys()].filter((tid) => tid !== run.pid);
    expect(tids.length).toBe(2);
    // The waiter is the thread with lock time; the holder sleeps in hold_lock while it holds the mutex.
    const [waiter, holder] = tids.sort((a, b) => t.stateNs(b, 'lock') - t.stateNs(a, 'lock'));
    const wTotal = t.byThread.get(waiter)!;
    const lock = t.stateNs(waiter, 'lock');
    const lockInFn = t.stateNs(waiter, 'lock', 'wait_for_lock');
    console.log(
      `wall lock: waiter ${(wTotal / 1e9).toFixed(3)} s (${pct(wTotal, run.spanNs)} of the span): lock ${pct(lock, wTotal)} ` +
        `(wait_for_lock ${pct(lockInFn, wTotal)}), sleeping ${pct(t.stateNs(waiter, 'sleeping'), wTotal)}; holder sleeping in hold_lock ` +
        `${pct(t.stateNs(holder, 'sleeping', 'hold_lock'), t.byThread.get(holder)!)}, lock ${pct(t.stateNs(holder, 'lock'), t.byThread.get(holder)!)}`,
    );
    expect(Math.abs(wTotal - run.spanNs) / run.spanNs).toBeLessThan(0.02);
    // The holder keeps it 30 ms of every ~31: the waiter waits most of the time, then naps 2 ms.
    expect(lock / wTotal).toBeGreaterThan(0.7);
    expect(lockInFn / lock).toBeGreaterThan(0.9);
    expect(t.stateNs(holder, 'sleeping', 'hold_lock') / t.byThread.get(holder)!).toBeGreaterThan(0.8);
  });

  it('a thread in fsync waits in state io, under sync_to_disk', async () => {
    const run = await wallRun(['fsync', join(dir, 'synced')], { seconds: 6, windows: 2, windowMs: 1500 });
    const t = tally(run.windows, run.pid);
    const total = t.byThread.get(run.pid)!;
    const io = t.stateNs(run.pid, 'io');
    const ioInFn = t.stateNs(run.pid, 'io', 'sync_to_disk');
    console.log(`wall fsync: thread ${(total / 1e9).toFixed(3)} s (${pct(total, run.spanNs)} of the span): io ${pct(io, total)} (sync_to_disk ${pct(ioInFn, total)}), ` +
      `running ${pct(t.stateNs(run.pid, 'running'), total)}, sleeping ${pct(t.stateNs(run.pid, 'sleeping'), total)}, runnable ${pct(t.stateNs(run.pid, 'runnable'), total)}, lock ${pct(t.stateNs(run.pid, 'lock'), total)}${versusSchedstat(run, t, run.pid)}`);
    expect(Math.abs(total - run.spanNs) / run.spanNs).toBeLessThan(0.02);
    expect(io / total).toBeGreaterThan(0.3);
    // An fsync blocks many times; only the last block of a system call gets its user stack walked (at its
    // sys_exit), the others keep their time and kernel stack (offcpu_user_stack_outside_syscall).
    expect(ioInFn / io).toBeGreaterThan(0.25);
    expect(run.lost.offcpu_user_stack_outside_syscall).toBeGreaterThan(0);
  });
});
