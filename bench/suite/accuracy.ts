// Section 6: does each profiler see a known 3:1 split? Two callers of one leaf (workloads.ts SPLIT_SOURCE),
// built with and without frame pointers, profiled by the agent and by perf over the same seconds.
import { decodePprof } from '../../exporters/pprof/index.js';
import { httpGet, startAgent, waitForDrains } from './agent.js';
import { haveCommand, runChecked, type ProcessGroup } from './procs.js';
import { missingRow, type Section, type SectionContext } from './section.js';
import type { Row } from './stats.js';
import { compileC, SPLIT_SOURCE } from './workloads.js';

const SECTION = 'accuracy';

export interface SplitShares {
  /** % of the process's samples with split_heavy on the stack, and with split_light. */
  heavy: number;
  light: number;
  samples: number;
}

function shares(heavy: number, light: number, total: number): SplitShares {
  return total > 0 ? { heavy: (heavy / total) * 100, light: (light / total) * 100, samples: total } : { heavy: Number.NaN, light: Number.NaN, samples: 0 };
}

/** Shares in a pprof profile (gzipped or not), weighted by the first sample value (samples/count). */
export function pprofSplitShares(buf: Buffer): SplitShares {
  const p = decodePprof(buf);
  const strings = p.stringTable.strings;
  const fnName = new Map(p.function.map((f) => [Number(f.id), strings[Number(f.name)]]));
  const locNames = new Map(p.location.map((l) => [Number(l.id), l.line.map((ln) => fnName.get(Number(ln.functionId)) ?? '')]));
  let heavy = 0;
  let light = 0;
  let total = 0;
  for (const s of p.sample) {
    const v = Number(s.value[0] ?? 0);
    const names = s.locationId.flatMap((id) => locNames.get(Number(id)) ?? []);
    total += v;
    if (names.includes('split_heavy')) heavy += v;
    if (names.includes('split_light')) light += v;
  }
  return shares(heavy, light, total);
}

/** Shares in `perf script` output: one block per sample (header, then one line per frame), blank-line separated. */
export function perfScriptSplitShares(text: string): SplitShares {
  let heavy = 0;
  let light = 0;
  let total = 0;
  for (const block of text.split(/\n\s*\n/)) {
    if (block.trim() === '') continue;
    total++;
    if (/\bsplit_heavy\b/.test(block)) heavy++;
    if (/\bsplit_light\b/.test(block)) light++;
  }
  return shares(heavy, light, total);
}

function timings(quick: boolean) {
  return quick ? { seconds: 3, runs: 1 } : { seconds: 15, runs: 2 };
}

async function perfRecord(group: ProcessGroup, pid: number, callGraph: string[], file: string, seconds: number): Promise<void> {
  await runChecked(group, 'perf', ['record', '-N', '-F', '99', ...callGraph, '-p', String(pid), '-o', file, '--', 'sleep', String(seconds)], seconds * 1000 + 60_000);
}

async function perfShares(group: ProcessGroup, file: string): Promise<SplitShares> {
  const r = await runChecked(group, 'perf', ['script', '-i', file, '-F', 'comm,tid,ip,sym'], 120_000);
  return perfScriptSplitShares(r.stdout);
}

export const accuracySection: Section = {
  name: 'accuracy',
  title: '6. Accuracy: a 3:1 split, beside perf',
  about:
    'A C program calls one leaf (`split_work`) from two callers, `split_heavy` with 3N iterations and `split_light` ' +
    'with N, alternately: 75% of its CPU is under split_heavy, and only a walk from the leaf to its caller shows it. ' +
    'Built twice with gcc -O1: with frame pointers (`-fno-omit-frame-pointer`) and without (`-fomit-frame-pointer`, ' +
    'where a frame-pointer walk loses the caller and only DWARF/.eh_frame unwinding finds it). Both run; the agent ' +
    '(`--programs cpu`, DWARF unwinding by default, started after them and past its first window) serves ' +
    '`/debug/pprof/profile?seconds=15&pid=<pid>` for each (decoded with the exporters\' pprof decoder) while ' +
    '`perf record -F 99 -g -p <pid>` records the same 15 s (and `--call-graph dwarf` for the binary without frame ' +
    'pointers); shares from `perf script`. Each figure: % of the process\'s samples with split_heavy on the stack.',
  estimateS: (quick) => {
    const t = timings(quick);
    return 14 + t.runs * (t.seconds + 4);
  },
  async run(ctx: SectionContext) {
    const t = timings(ctx.quick);
    const fpBinary = compileC(ctx.tmp, 'split-fp', SPLIT_SOURCE, ['-fno-omit-frame-pointer']);
    const noFpBinary = compileC(ctx.tmp, 'split-nofp', SPLIT_SOURCE, ['-fomit-frame-pointer']);
    const life = String(40 + t.runs * (t.seconds + 30));
    const fp = ctx.procs.start(fpBinary, [life]);
    const noFp = ctx.procs.start(noFpBinary, [life]);
    const perf = haveCommand('perf');
    const figures = new Map<string, number[]>();
    const add = (key: string, v: number) => figures.set(key, [...(figures.get(key) ?? []), v]);
    try {
      const agent = await startAgent(ctx.procs, ctx.root, ['--programs', 'cpu']);
      try {
        await waitForDrains(agent, 1, 40_000);
        for (let r = 0; r < t.runs; r++) {
          ctx.log(`${t.seconds} s profiles of both binaries by hotpath${perf ? ' and perf' : ''} (run ${r + 1} of ${t.runs})`);
          const url = (pid: number) => `${agent.url}/debug/pprof/profile?seconds=${t.seconds}&pid=${pid}`;
          const files = { fp: `${ctx.tmp}/fp.data`, noFp: `${ctx.tmp}/nofp.data`, noFpDwarf: `${ctx.tmp}/nofp-dwarf.data` };
          const [hFp, hNoFp] = await Promise.all([
            httpGet(url(fp.pid), (t.seconds + 60) * 1000),
            httpGet(url(noFp.pid), (t.seconds + 60) * 1000),
            ...(perf
              ? [
                  perfRecord(ctx.procs, fp.pid, ['-g'], files.fp, t.seconds),
                  perfRecord(ctx.procs, noFp.pid, ['-g'], files.noFp, t.seconds),
                  perfRecord(ctx.procs, noFp.pid, ['--call-graph', 'dwarf'], files.noFpDwarf, t.seconds),
                ]
              : []),
          ]);
          add('frame pointers: hotpath', pprofSplitShares(hFp as Buffer).heavy);
          add('no frame pointers: hotpath', pprofSplitShares(hNoFp as Buffer).heavy);
          if (perf) {
            add('frame pointers: perf -g', (await perfShares(ctx.procs, files.fp)).heavy);
            add('no frame pointers: perf -g', (await perfShares(ctx.procs, files.noFp)).heavy);
            add('no frame pointers: perf --call-graph dwarf', (await perfShares(ctx.procs, files.noFpDwarf)).heavy);
          }
        }
      } finally {
        await agent.stop();
      }
    } finally {
      await Promise.all([ctx.procs.stop(fp, 'SIGKILL'), ctx.procs.stop(noFp, 'SIGKILL')]);
    }
    const rows: Row[] = [];
    for (const key of [
      'frame pointers: hotpath',
      'frame pointers: perf -g',
      'no frame pointers: hotpath',
      'no frame pointers: perf -g',
      'no frame pointers: perf --call-graph dwarf',
    ]) {
      const runs = figures.get(key);
      const metric = `${key}, split_heavy share (expected 75)`;
      rows.push(runs ? { section: SECTION, metric, unit: '%', runs } : missingRow(SECTION, metric, '%', 'not installed: perf (linux-perf)'));
    }
    return rows;
  },
};
