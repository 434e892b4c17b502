// Scheduler-hook cost: hotpath's runqlat + offcpu against libbpf-tools' runqlat + offcputime, on
// `perf bench sched pipe`. Reads per-program run time and run count (kernel.bpf_stats_enabled=1) and prints
// nanoseconds per event for each program, the median of several runs, and the ratio hotpath / libbpf-tools.
// Run as root after `npm run build`: node dist/bench/sched-overhead.js [--runs 3] [--loops 200000]
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { OffcpuSource, RunqlatSource } from '../collector/sources/index.js';

const STATS_SYSCTL = '/proc/sys/kernel/bpf_stats_enabled';

interface Counters {
  runTimeNs: bigint;
  runCount: bigint;
}
interface Run {
  /** ns per event, by program role (e.g. "runqlat sched_switch"). */
  perEvent: Record<string, number>;
  /** perf bench's own figure: microseconds per pipe round trip. */
  usecsPerOp: number;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v <= 0) {
    console.error(`sched-overhead: --${name} wants a positive integer`);
    process.exit(2);
  }
  return v;
}

function perfPipe(loops: number): number {
  const out = execFileSync('perf', ['bench', 'sched', 'pipe', '-l', String(loops)], { encoding: 'utf8' });
  const m = /([\d.]+) usecs\/op/.exec(out);
  return m ? Number(m[1]) : Number.NaN;
}

function perEvent(before: Record<string, Counters>, after: Record<string, Counters>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, a] of Object.entries(after)) {
    const b = before[name];
    const runs = a.runCount - (b?.runCount ?? 0n);
    out[name] = runs > 0n ? Number(a.runTimeNs - (b?.runTimeNs ?? 0n)) / Number(runs) : Number.NaN;
  }
  return out;
}

async function hotpathRun(loops: number): Promise<Run> {
  const runqlat = RunqlatSource.start();
  let offcpu: OffcpuSource | null = null;
  try {
    offcpu = OffcpuSource.start();
    const stats = () => {
      const byName = (list: ({ program: string } & Counters)[]): Record<string, Counters> =>
        Object.fromEntries(list.map((s) => [s.program, s]));
      const r = byName(runqlat.programStats());
      const o = byName(offcpu!.programStats());
      return {
        'runqlat sched_wakeup': r.runqlat_wakeup_btf ?? r.runqlat_wakeup_raw,
        'runqlat sched_wakeup_new': r.runqlat_wakeup_new_btf ?? r.runqlat_wakeup_new_raw,
        'runqlat sched_switch': r.runqlat_switch_btf ?? r.runqlat_switch_raw,
        'offcpu sched_switch': o.offcpu_switch_btf ?? o.offcpu_switch_raw,
        // Runs on every system call's return: the user-stack walk of blocks past --min-block happens here.
        'offcpu sys_exit': o.offcpu_sys_exit_btf ?? o.offcpu_sys_exit_raw,
      };
    };
    const before = stats();
    const usecsPerOp = perfPipe(loops);
    return { perEvent: perEvent(before, stats()), usecsPerOp };
  } finally {
    await offcpu?.close();
    runqlat.close();
  }
}

interface ProgInfo {
  id: number;
  name: string;
  run_time_ns?: number;
  run_cnt?: number;
}

function bpftoolProgs(): ProgInfo[] {
  return JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as ProgInfo[];
}

/** Starts a tool and waits until `expected` new programs are loaded; returns their ids by name. */
async function startTool(path: string, args: string[], expected: number) {
  const known = new Set(bpftoolProgs().map((p) => p.id));
  const child = spawn(path, args, { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    const fresh = bpftoolProgs().filter((p) => !known.has(p.id));
    if (fresh.length >= expected) {
      await sleep(200); // attach follows load
      return { child, ids: new Map(fresh.map((p) => [p.id, p.name])) };
    }
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`${path}: its programs never appeared in bpftool prog show`);
}

async function stopTool(child: ReturnType<typeof spawn>): Promise<void> {
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  child.kill('SIGINT');
  await Promise.race([exited, sleep(5000).then(() => child.kill('SIGKILL'))]);
}

async function libbpfToolsRun(loops: number): Promise<Run> {
  const offcpu = await startTool('/usr/sbin/offcputime', [], 1);
  const runqlat = await startTool('/usr/sbin/runqlat', [], 3).catch(async (err) => {
    await stopTool(offcpu.child);
    throw err;
  });
  try {
    const roles = new Map<number, string>();
    for (const [id, name] of offcpu.ids) roles.set(id, `offcputime ${name}`);
    for (const [id, name] of runqlat.ids) roles.set(id, `runqlat ${name}`);
    const stats = () => {
      const out: Record<string, Counters> = {};
      for (const p of bpftoolProgs()) {
        const role = roles.get(p.id);
        if (role) out[role] = { runTimeNs: BigInt(p.run_time_ns ?? 0), runCount: BigInt(p.run_cnt ?? 0) };
      }
      return out;
    };
    const before = stats();
    const usecsPerOp = perfPipe(loops);
    return { perEvent: perEvent(before, stats()), usecsPerOp };
  } finally {
    await stopTool(runqlat.child);
    await stopTool(offcpu.child);
  }
}

function median(xs: number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.floor(s.length / 2)];
}

function summarize(runs: Run[]): Record<string, number> {
  const out: Record<string, number> = { 'perf usecs/op': median(runs.map((r) => r.usecsPerOp)) };
  for (const name of Object.keys(runs[0].perEvent)) out[name] = median(runs.map((r) => r.perEvent[name]));
  return out;
}

/** Sum of the per-event costs of every program on a hook: what one such event costs in total. */
function hookCost(summary: Record<string, number>, hook: string): number {
  return Object.entries(summary).filter(([k]) => k.endsWith(` ${hook}`)).reduce((a, [, v]) => a + v, 0);
}

async function main(): Promise<void> {
  const runs = arg('runs', 3);
  const loops = arg('loops', 200_000);
  const previous = readFileSync(STATS_SYSCTL, 'utf8').trim();
  writeFileSync(STATS_SYSCTL, '1');
  try {
    const baseline = median(Array.from({ length: runs }, () => perfPipe(loops)));
    const hotpath: Run[] = [];
    const tools: Run[] = [];
    for (let i = 0; i < runs; i++) {
      hotpath.push(await hotpathRun(loops));
      tools.push(await libbpfToolsRun(loops));
    }
    const h = summarize(hotpath);
    const t = summarize(tools);
    const fmt = (v: number) => (Number.isNaN(v) ? 'n/a' : v.toFixed(1));
    console.log(`perf bench sched pipe -l ${loops}, median of ${runs} runs (ns per event, bpf_stats)`);
    console.log(`  no tracing                        ${fmt(baseline)} usecs/op`);
    console.log('hotpath (runqlat + offcpu):');
    for (const [k, v] of Object.entries(h)) console.log(`  ${k.padEnd(32)}  ${fmt(v)}`);
    console.log('libbpf-tools (runqlat + offcputime):');
    for (const [k, v] of Object.entries(t)) console.log(`  ${k.padEnd(32)}  ${fmt(v)}`);
    for (const hook of ['sched_switch', 'sched_wakeup']) {
      const a = hookCost(h, hook);
      const b = hookCost(t, hook);
      console.log(`${hook}: hotpath ${fmt(a)} ns/event, libbpf-tools ${fmt(b)} ns/event, ratio ${(a / b).toFixed(2)}`);
    }
  } finally {
    writeFileSync(STATS_SYSCTL, previous);
  }
}

main().catch((err) => {
  console.error(`sched-overhead: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
