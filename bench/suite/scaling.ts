// Section 4: drain → symbolize → pprof → gzip, as the agent does per window and per profile request, for
// windows of 1k, 10k and 100k distinct stacks shaped like a busy 64-core node: about a hundred real processes
// (coreutils, bash, perl, python3, node), user stacks 10-30 deep through addresses inside their mapped
// executable files, a third of the samples with kernel stacks through /proc/kallsyms text addresses. The
// addresses are synthetic (random offsets into real text), so every frame goes through the real symbolizer.
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DEFAULT_MEMORY_LIMIT_BYTES, splitMemoryBudget } from '../../collector/agent/memory-budget.js';
import type { RawStackSample } from '../../collector/sources/index.js';
import { Symbolizer } from '../../collector/symbolize/index.js';
import { buildWindowProfile } from '../../collector/windows/window-profile.js';
import { encodePprofSteps, gzipPprof, PprofBuilder } from '../../exporters/pprof/index.js';
import { haveCommand, sleep, type ProcessGroup, type Tracked } from './procs.js';
import type { Section } from './section.js';
import { seededRandom, type Row } from './stats.js';

const SECTION = 'scaling';
const MiB = 1024 * 1024;

/** One process the synthetic stacks run in: its pid, comm and addresses inside its executable mappings. */
export interface StackPool {
  pid: number;
  comm: string;
  addresses: bigint[];
}

export interface WindowFixture {
  pools: StackPool[];
  /** Kernel text addresses (empty when /proc/kallsyms hides them). */
  kernel: bigint[];
}

/** Samples of a 10 s window at 99 Hz on 64 busy CPUs: the counts are spread over the distinct stacks. */
const NODE_SAMPLES_PER_WINDOW = 64 * 99 * 10;

/**
 * A window of `distinct` distinct stacks over the fixture's processes (a few of them hot), deterministic for a
 * seed. User stacks are 10-30 frames, leaf first: a per-process trunk (the thread's entry path) under random
 * frames; about a third of the samples also have a kernel stack of 3-14 frames. User stacks carry a 64-bit key
 * as the CPU program's do.
 */
export function syntheticWindow(fixture: WindowFixture, distinct: number, seed = 1): RawStackSample[] {
  const rand = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const pools = fixture.pools.filter((p) => p.addresses.length > 0);
  if (pools.length === 0) throw new Error('synthetic window: no process with executable mappings');
  const trunks = pools.map(() => Array.from({ length: 6 }, () => 3 + Math.floor(rand() * 6)));
  const trunkFrames = pools.map((p, i) => trunks[i].map((len) => Array.from({ length: len }, () => pick(p.addresses))));
  const kernelTrunks = Array.from({ length: 40 }, () => Array.from({ length: 2 + Math.floor(rand() * 5) }, () => pick(fixture.kernel)));
  const seen = new Set<string>();
  const out: RawStackSample[] = [];
  let attempts = 0;
  while (out.length < distinct) {
    if (++attempts > distinct * 20) throw new Error(`synthetic window: could not make ${distinct} distinct stacks`);
    const i = Math.floor(rand() * rand() * pools.length); // skewed: low indexes are the hot processes
    const pool = pools[i];
    const depth = 10 + Math.floor(rand() * 21);
    const trunk = pick(trunkFrames[i]).slice(0, depth - 1);
    const rootFirst = [...trunk];
    while (rootFirst.length < depth) rootFirst.push(pick(pool.addresses));
    const userStack = rootFirst.reverse();
    let kernelStack: bigint[] = [];
    if (fixture.kernel.length > 0 && rand() < 0.35) {
      const k = [...pick(kernelTrunks)];
      const extra = 1 + Math.floor(rand() * 8);
      for (let j = 0; j < extra; j++) k.push(pick(fixture.kernel));
      kernelStack = k.reverse();
    }
    const tid = pool.pid + Math.floor(rand() * 4);
    const key = `${pool.pid}/${tid}/${kernelStack.join(',')}/${userStack.join(',')}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const count = 1 + Math.floor(rand() * 2 * Math.max(0, NODE_SAMPLES_PER_WINDOW / distinct - 1));
    // The key the CPU program gives a user stack (a 64-bit hash of its addresses): the symbolizer keeps named
    // stacks across windows by it.
    out.push({ pid: pool.pid, tid, comm: pool.comm, kernelStack, userStack, count, userStackKey: stackHash(userStack) });
  }
  return out;
}

/** A 64-bit hash of a user stack's addresses (FNV-1a), standing for the key the CPU program computes. */
function stackHash(addrs: readonly bigint[]): bigint {
  let h = 0xcbf29ce484222325n;
  for (const a of addrs) h = BigInt.asUintN(64, (h ^ a) * 0x100000001b3n);
  return h;
}

/** Executable file mappings of a process from its maps text: [start, end) and path. */
export function executableMappings(maps: string): { start: bigint; end: bigint; path: string }[] {
  const out: { start: bigint; end: bigint; path: string }[] = [];
  for (const line of maps.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) r-xp [0-9a-f]+ \S+ \d+\s+(\/\S.*)$/.exec(line);
    if (m) out.push({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), path: m[3] });
  }
  return out;
}

/** Kernel text symbol addresses of vmlinux (modules left out) from /proc/kallsyms text; none when hidden. */
export function kernelTextAddresses(kallsyms: string, max: number, rand: () => number): bigint[] {
  const all: bigint[] = [];
  for (const line of kallsyms.split('\n')) {
    const m = /^([0-9a-f]+) [tT] (\S+)$/.exec(line);
    if (m && !/^0+$/.test(m[1])) all.push(BigInt(`0x${m[1]}`));
  }
  const out: bigint[] = [];
  for (let i = 0; i < Math.min(max, all.length); i++) out.push(all[Math.floor(rand() * all.length)] + BigInt(Math.floor(rand() * 48)));
  return out;
}

/** The processes the stacks run in; a command that is not installed is left out. */
const HELPERS: { cmd: string; args: string[]; full: number; stdin?: boolean }[] = [
  { cmd: 'sleep', args: ['900'], full: 38 },
  { cmd: 'cat', args: [], full: 24, stdin: true },
  { cmd: 'bash', args: ['-c', 'read x'], full: 14, stdin: true },
  { cmd: 'perl', args: ['-e', 'sleep 900'], full: 10 },
  { cmd: 'python3', args: ['-c', 'import time; time.sleep(900)'], full: 8 },
  { cmd: process.execPath, args: ['-e', 'setTimeout(() => {}, 900e3)'], full: 2 },
];

/**
 * Starts the helper processes (`small`: one of each) and builds the fixture from their maps and this process's
 * own (node). Offsets are chosen per file, so the same functions recur across the processes that map it.
 */
export async function startFixture(group: ProcessGroup, small: boolean): Promise<WindowFixture & { helpers: Tracked[] }> {
  const rand = seededRandom(7);
  const helpers: Tracked[] = [];
  for (const h of HELPERS) {
    if (!haveCommand(h.cmd)) continue;
    for (let i = 0; i < (small ? 1 : h.full); i++) {
      helpers.push(group.start(h.cmd, h.args, { stdio: [h.stdin ? 'pipe' : 'ignore', 'ignore', 'ignore'] }));
    }
  }
  const pids = [process.pid, ...helpers.map((h) => h.pid)];
  await sleep(small ? 500 : 1500); // exec'd and their libraries mapped (node and python take longest)
  const offsetsByFile = new Map<string, bigint[]>();
  const pools: StackPool[] = [];
  for (const pid of pids) {
    let maps: string;
    let comm: string;
    try {
      maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    const addresses: bigint[] = [];
    for (const m of executableMappings(maps)) {
      const size = m.end - m.start;
      let offsets = offsetsByFile.get(m.path);
      if (!offsets) {
        const n = size > 8n * BigInt(MiB) ? 600 : 150;
        offsets = Array.from({ length: n }, () => BigInt(Math.floor(rand() * Number(size))));
        offsetsByFile.set(m.path, offsets);
      }
      for (const o of offsets) if (o < size) addresses.push(m.start + o);
    }
    pools.push({ pid, comm, addresses });
  }
  let kernel: bigint[] = [];
  try {
    kernel = kernelTextAddresses(readFileSync('/proc/kallsyms', 'utf8'), 3000, rand);
  } catch {
    // no kernel frames
  }
  return { pools, kernel, helpers };
}

export interface BuildTimings {
  symbolizeMs: number;
  pprofMs: number;
  encodeMs: number;
  gzipMs: number;
  totalMs: number;
  gzBytes: number;
  /** heapUsed at the end of each stage, the highest, bytes (no GC forced in between). */
  heapHighWater: number;
  /** Share of the window's frames the symbolizer named (counted after the timed part). */
  namedFrames: number;
}

/**
 * The window path the agent and its HTTP route take, in one place so a change of the window code's types is
 * adapted here only: buildWindowProfile (symbolize) → PprofBuilder (as collector/http/profile-build.ts feeds
 * it) → encodePprofSteps → gzip (as collector/http/server.ts answers).
 */
export async function buildAndEncode(raw: RawStackSample[], symbolizer: Symbolizer, startNs: bigint, endNs: bigint): Promise<BuildTimings> {
  let high = process.memoryUsage().heapUsed;
  const mark = () => (high = Math.max(high, process.memoryUsage().heapUsed));
  const t0 = performance.now();
  const data = buildWindowProfile(raw, symbolizer, { kind: 'cpu', hz: 99, startNs, endNs });
  const t1 = performance.now();
  mark();
  const builder = new PprofBuilder(data);
  for (const s of data.samples) builder.add(s);
  const { profile } = builder.finish(data);
  const t2 = performance.now();
  mark();
  const steps = encodePprofSteps(profile);
  let step = steps.next();
  while (!step.done) step = steps.next();
  const t3 = performance.now();
  mark();
  const gz = await gzipPprof(step.value);
  const t4 = performance.now();
  mark();
  let frames = 0;
  let named = 0;
  for (const s of data.samples) {
    frames += s.frames.length;
    for (const f of s.frames) if (f.functionName) named++;
  }
  return {
    symbolizeMs: t1 - t0,
    pprofMs: t2 - t1,
    encodeMs: t3 - t2,
    gzipMs: t4 - t3,
    totalMs: t4 - t0,
    gzBytes: gz.length,
    heapHighWater: high,
    namedFrames: frames > 0 ? named / frames : 0,
  };
}

let gcFn: (() => void) | undefined;

/** A full GC (node's gc, exposed here if node was not started with --expose-gc). */
export function collectGarbage(): void {
  if (!gcFn) {
    gcFn = (globalThis as { gc?: () => void }).gc;
    if (!gcFn) {
      setFlagsFromString('--expose-gc');
      gcFn = runInNewContext('gc') as () => void;
    }
  }
  gcFn();
}

export interface ScalingOptions {
  sizes: number[];
  coldRuns: number;
  warmRuns: number;
  /** One helper process of each kind instead of ~100. */
  smallFixture: boolean;
  log(message: string): void;
}

/** The symbolizer the agent makes with its default --memory-limit (its share of the symbol caches). */
function agentSymbolizer(): Symbolizer {
  const budget = splitMemoryBudget(DEFAULT_MEMORY_LIMIT_BYTES, { profiles: 2 });
  return new Symbolizer({ maxCacheBytes: budget.symbolCacheBytes, debuginfod: null });
}

/** Runs the scaling measurements; every helper process is stopped before it returns. */
export async function runScaling(group: ProcessGroup, opts: ScalingOptions): Promise<Row[]> {
  const fixture = await startFixture(group, opts.smallFixture);
  const rows: Row[] = [];
  try {
    const pids = fixture.pools.length;
    for (const size of opts.sizes) {
      const raw = syntheticWindow(fixture, size, size);
      const frames = raw.reduce((a, s) => a + s.userStack.length + s.kernelStack.length, 0);
      opts.log(`${size} distinct stacks over ${pids} processes (${(frames / size).toFixed(1)} frames each): ${opts.coldRuns} cold + ${opts.warmRuns} warm runs`);
      const startNs = BigInt(Date.now()) * 1_000_000n;
      const endNs = startNs + 10_000_000_000n;
      const cold: BuildTimings[] = [];
      const coldHeap: number[] = [];
      const retained: number[] = [];
      let symbolizer: Symbolizer | undefined;
      for (let r = 0; r < opts.coldRuns; r++) {
        symbolizer = undefined;
        collectGarbage();
        const before = process.memoryUsage().heapUsed;
        const t0 = performance.now();
        symbolizer = agentSymbolizer();
        const t = await buildAndEncode(raw, symbolizer, startNs, endNs);
        t.totalMs = performance.now() - t0; // a fresh agent's first window: the symbolizer's making included
        cold.push(t);
        coldHeap.push((t.heapHighWater - before) / MiB);
        collectGarbage();
        retained.push((process.memoryUsage().heapUsed - before) / MiB);
      }
      const warm: BuildTimings[] = [];
      const warmHeap: number[] = [];
      for (let r = 0; r < opts.warmRuns; r++) {
        collectGarbage();
        const before = process.memoryUsage().heapUsed;
        const t = await buildAndEncode(raw, symbolizer!, startNs, endNs);
        warm.push(t);
        warmHeap.push((t.heapHighWater - before) / MiB);
      }
      const label = size >= 1000 ? `${size / 1000}k stacks` : `${size} stacks`;
      const row = (metric: string, unit: string, runs: number[], chart?: Row['chart']): Row => ({
        section: SECTION,
        metric: `${label}: ${metric}`,
        unit,
        runs,
        ...(chart ? { chart } : {}),
      });
      rows.push(
        row('cold, total', 'ms', cold.map((t) => t.totalMs), { series: 'cold: fresh symbolizer', x: size }),
        row('warm, total', 'ms', warm.map((t) => t.totalMs), { series: 'warm: same windows again', x: size }),
        row('warm, symbolize (buildWindowProfile)', 'ms', warm.map((t) => t.symbolizeMs)),
        row('warm, PprofBuilder', 'ms', warm.map((t) => t.pprofMs)),
        row('warm, encode + gzip', 'ms', warm.map((t) => t.encodeMs + t.gzipMs)),
        row('cold, heap growth (high-water)', 'MiB', coldHeap),
        row('warm, heap growth (high-water)', 'MiB', warmHeap),
        row('cold, heap kept after GC (symbol caches)', 'MiB', retained),
        row('pprof size, gzipped', 'KiB', warm.map((t) => t.gzBytes / 1024)),
        row('frames named by the symbolizer', '%', warm.map((t) => t.namedFrames * 100)),
      );
      symbolizer = undefined;
    }
  } finally {
    await Promise.all(fixture.helpers.map((h) => group.stop(h, 'SIGKILL')));
  }
  return rows;
}

export const scalingSection: Section = {
  name: 'scaling',
  title: '4. Drain → symbolize → pprof → gzip, by distinct stacks per window',
  about:
    'Synthetic windows shaped like a busy 64-core node (63,360 samples per 10 s window spread over the distinct ' +
    'stacks): about a hundred live processes (coreutils, bash, perl, python3, node and the bench itself), user ' +
    'stacks 10-30 frames deep at random offsets inside their real executable mappings, a third with kernel stacks ' +
    'of 3-14 frames from /proc/kallsyms. Each window goes through the real path: `buildWindowProfile` with the ' +
    'Symbolizer the agent makes (its default share of `--memory-limit`), the exporters\' `PprofBuilder` as the HTTP ' +
    'route feeds it, `encodePprofSteps` and gzip. Cold: a fresh Symbolizer (ELF files parsed, maps read) on its first ' +
    'window; warm: the same windows again (user stacks carry a 64-bit key as the CPU program\'s do, so the warm runs ' +
    'find them in the symbolizer\'s cross-window stack cache as the agent\'s later windows do). Heap growth is the highest `heapUsed` at the end of a stage over the ' +
    'figure after a forced GC before the run; "kept after GC" is what the cold run leaves (the symbol caches). ' +
    'Chart: bench/scaling.svg.',
  estimateS: (quick) => (quick ? 10 : 45),
  async run(ctx) {
    return runScaling(ctx.procs, {
      sizes: ctx.quick ? [200, 500] : [1000, 10_000, 100_000],
      coldRuns: ctx.quick ? 1 : 2,
      warmRuns: ctx.quick ? 2 : 3,
      smallFixture: ctx.quick,
      log: ctx.log,
    });
  },
};
