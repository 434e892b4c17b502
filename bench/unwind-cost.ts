// What unwinding without frame pointers costs: kernel time per CPU sample (bpf_stats) with the kernel's
// frame-pointer walk vs the table walker, on the same workloads; the table build time and size of big files;
// and the kernel memory of the tables for a whole-system profile of this machine.
//   node dist/bench/unwind-cost.js [--runs 3] [--seconds 4]
// Needs root. Prints figures; asserts nothing.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CpuSource, type UnwindMode } from '../collector/sources/index.js';
import { buildUnwindTable } from '../collector/unwind/index.js';

const STATS_SYSCTL = '/proc/sys/kernel/bpf_stats_enabled';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v <= 0) {
    console.error(`unwind-cost: --${name} wants a positive integer`);
    process.exit(2);
  }
  return v;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A no-frame-pointer C workload: a qsort comparator under four levels of calls (deep-ish user stacks). */
function buildWorkload(dir: string): string {
  const src = join(dir, 'qs.c');
  writeFileSync(
    src,
    `#include <stdlib.h>
#include <stdint.h>
volatile uint64_t sink;
__attribute__((noinline)) int cmp(const void *a, const void *b) { uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b; for (int i = 0; i < 20; i++) sink += i; return x < y ? -1 : x > y; }
static uint64_t data[4096];
__attribute__((noinline)) void l4(void) { for (int i = 0; i < 4096; i++) data[i] = (uint64_t)rand(); qsort(data, 4096, 8, cmp); sink++; }
__attribute__((noinline)) void l3(void) { l4(); sink++; }
__attribute__((noinline)) void l2(void) { l3(); sink++; }
__attribute__((noinline)) void l1(void) { l2(); sink++; }
int main(void) { for (;;) l1(); }
`,
  );
  const bin = join(dir, 'qs');
  execFileSync('gcc', ['-O2', '-fomit-frame-pointer', '-o', bin, src]);
  return bin;
}

/** ns of kernel time per sample and mean user depth, one run of `seconds` profiling the workloads. */
async function run(mode: UnwindMode, pids: number[], seconds: number): Promise<{ nsPerSample: number; depth: number; samples: number }> {
  const source = CpuSource.start({ hz: 99, pids, unwind: mode });
  try {
    await sleep(1500); // tables built for the workloads before measuring
    await source.drain();
    const before = source.programStats()[0];
    await sleep(seconds * 1000);
    const w = await source.drain();
    const after = source.programStats()[0];
    const runs = Number(after.runCount - before.runCount);
    const frames = w.samples.reduce((a, s) => a + s.userStack.length * s.count, 0);
    const samples = w.samples.reduce((a, s) => a + s.count, 0);
    return { nsPerSample: runs > 0 ? Number(after.runTimeNs - before.runTimeNs) / runs : Number.NaN, depth: frames / Math.max(1, samples), samples };
  } finally {
    await source.close();
  }
}

async function wholeSystemTables(): Promise<void> {
  const source = CpuSource.start({ hz: 99 });
  try {
    // Builds go one file at a time in the worker: wait until the count stops moving.
    let last = -1;
    for (let i = 0; i < 120; i++) {
      await sleep(1000);
      const t = source.unwindStats().tables!;
      const settled = t.filesReady + t.filesFailed + t.filesNoRoom;
      if (settled === last && settled === t.files - t.filesEvicted) break;
      last = settled;
    }
    const u = source.unwindStats();
    const t = u.tables!;
    console.log(
      `whole system: ${t.processes} processes, ${t.filesReady} files tabled (${t.filesFailed} without tables, ${t.filesNoRoom} without room), ` +
        `${t.rowsInUse} rows = ${(u.tableBytes / 1048576).toFixed(1)} MiB of ${(t.rowCapacity * 16 / 1048576).toFixed(0)} MiB; ` +
        `build time ${(t.buildMsTotal / 1000).toFixed(2)} s in the worker`,
    );
  } finally {
    await source.close();
  }
}

function tableSizes(): void {
  const files = ['/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0', process.execPath];
  for (const file of files) {
    let buf: Buffer;
    try {
      buf = readFileSync(file);
    } catch {
      continue;
    }
    const times: number[] = [];
    let t = buildUnwindTable(buf);
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      t = buildUnwindTable(buf);
      times.push(performance.now() - t0);
    }
    console.log(`table of ${file}: ${t.count} rows, ${(t.rows.length / 1024).toFixed(0)} KiB, built in ${median(times).toFixed(0)} ms (median of 3, ${t.stats.source})`);
  }
}

async function main(): Promise<void> {
  const runs = arg('runs', 3);
  const seconds = arg('seconds', 4);
  const dir = mkdtempSync(join(tmpdir(), 'hotpath-unwind-cost-'));
  const qs = spawn(buildWorkload(dir), { stdio: 'ignore' });
  const input = join(dir, 'input');
  writeFileSync(input, Buffer.alloc(256 * 1024 * 1024, 0).map((_, i) => (i * 2654435761) >>> 13));
  const xz = spawn('/usr/bin/xz', ['-9', '-T1', '-c', input], { stdio: 'ignore' });
  const previous = readFileSync(STATS_SYSCTL, 'utf8').trim();
  writeFileSync(STATS_SYSCTL, '1');
  try {
    const pids = [qs.pid!, xz.pid!];
    const results: Record<UnwindMode, { ns: number[]; depth: number[] }> = { fp: { ns: [], depth: [] }, dwarf: { ns: [], depth: [] } };
    for (let i = 0; i < runs; i++) {
      for (const mode of ['fp', 'dwarf'] as const) {
        const r = await run(mode, pids, seconds);
        results[mode].ns.push(r.nsPerSample);
        results[mode].depth.push(r.depth);
      }
    }
    const fp = median(results.fp.ns);
    const dwarf = median(results.dwarf.ns);
    console.log(`kernel ns per CPU sample (bpf_stats, median of ${runs} runs of ${seconds} s, qsort + xz -9, no frame pointers):`);
    console.log(`  frame pointers (bpf_get_stack): ${fp.toFixed(0)} ns, mean user depth ${median(results.fp.depth).toFixed(1)}`);
    console.log(`  tables (unwind.bpf.h):          ${dwarf.toFixed(0)} ns, mean user depth ${median(results.dwarf.depth).toFixed(1)}`);
    console.log(`  ratio tables/fp: ${(dwarf / fp).toFixed(2)}`);
    tableSizes();
    await wholeSystemTables();
  } finally {
    writeFileSync(STATS_SYSCTL, previous);
    qs.kill('SIGKILL');
    xz.kill('SIGKILL');
  }
}

await main();
