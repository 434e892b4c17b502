// `npm run bench`: the benchmark suite. Runs every section (bench/suite/*.ts), prints progress on stderr and
// one summary table on stdout, and writes bench/RESULTS.md and bench/scaling.svg.
//   flock /tmp/hotpath-kernel.lock npm run bench [-- --only agent,kernel] [-- --quick] [-- --out-dir DIR]
// Needs root (it loads eBPF programs and reads other processes' /proc files). A full run takes about 11 minutes
// on 2 cores and stops starting sections past 14. --quick runs tiny sizes to check the suite works; it and
// --only write their results to a temporary directory unless --out-dir says where.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './suite/agent.js';
import { BUDGET_S, parseBenchArgs, SECTIONS, USAGE, type BenchArgs } from './suite/args.js';
import { atExit, ProcessGroup, runExitHandlers } from './suite/procs.js';
import { readMachine, renderResultsMarkdown, renderSummaryTable } from './suite/report.js';
import type { SectionContext } from './suite/section.js';
import type { Row } from './suite/stats.js';
import { renderScalingSvg } from './suite/svg.js';
import { compileC, SPIN_SOURCE } from './suite/workloads.js';

async function main(): Promise<number> {
  let args: BenchArgs;
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    console.error('bench: run as root (it loads eBPF programs and reads other processes\' /proc files)');
    return 1;
  }
  const root = repoRoot();
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  const stamp = () => {
    const s = Math.round(elapsed());
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  };
  const log = (msg: string) => console.error(`[bench ${stamp()}] ${msg}`);

  const tmp = mkdtempSync('/var/tmp/hotpath-bench-');
  const procs = new ProcessGroup(tmp);
  atExit(() => rmSync(tmp, { recursive: true, force: true }));
  const cleanup = () => {
    procs.killAll();
    runExitHandlers();
  };
  process.on('exit', cleanup);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      console.error(`bench: ${signal}: stopping every child, restoring bpf_stats, removing ${tmp}`);
      cleanup();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }

  const selected = SECTIONS.filter((s) => !args.only || args.only.includes(s.name));
  const total = selected.reduce((a, s) => a + s.estimateS(args.quick), 0);
  log(`${selected.length} sections (${selected.map((s) => s.name).join(', ')}), about ${Math.round(total / 60)} min${args.quick ? ', quick sizes' : ''}`);

  const rows: Row[] = [];
  const notes: string[] = [];
  let crashed = 0;
  try {
    const ctx: SectionContext = {
      quick: args.quick,
      root,
      tmp,
      procs,
      log,
      previous: rows,
      binaries: { spin: compileC(tmp, 'spin', SPIN_SOURCE) },
    };
    for (const section of selected) {
      if (!args.quick && elapsed() + section.estimateS(false) > BUDGET_S) {
        const note = `${section.name} skipped: it would have run past ${BUDGET_S / 60} minutes`;
        log(note);
        notes.push(note);
        continue;
      }
      log(`${section.title} (about ${section.estimateS(args.quick)} s)`);
      const t0 = elapsed();
      try {
        const got = await section.run({ ...ctx, log: (m) => log(`${section.name}: ${m}`) });
        rows.push(...got);
      } catch (err) {
        crashed++;
        const message = err instanceof Error ? err.message : String(err);
        log(`${section.name} failed: ${message}`);
        rows.push({ section: section.name, metric: 'section', unit: '', runs: [], note: `failed: ${message}` });
      }
      if (procs.running > 0) {
        log(`${section.name} left ${procs.running} processes running: killed`);
        procs.killAll();
      }
      log(`${section.name} done in ${Math.round(elapsed() - t0)} s`);
    }
  } finally {
    cleanup(); // children, bpf_stats, tracefs, the scratch directory
  }

  const outDir = args.outDir ?? (args.quick || args.only ? mkdtempSync(join(tmpdir(), 'hotpath-bench-results-')) : join(root, 'bench'));
  mkdirSync(outDir, { recursive: true });
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  if (rows.some((r) => r.chart)) {
    const svg = renderScalingSvg(rows, {
      title: 'hotpath: one window, symbolize → pprof → gzip',
      xLabel: 'distinct stacks per window (log scale)',
      yLabel: 'milliseconds (median; bar: min–max)',
    });
    writeFileSync(join(outDir, 'scaling.svg'), svg);
    notes.push('Section 4 as a chart: [scaling.svg](scaling.svg).');
  }
  writeFileSync(
    join(outDir, 'RESULTS.md'),
    renderResultsMarkdown({ machine: readMachine(root), sections: selected, rows, command, elapsedS: elapsed(), notes }),
  );
  log(`wrote ${join(outDir, 'RESULTS.md')}${rows.some((r) => r.chart) ? ` and ${join(outDir, 'scaling.svg')}` : ''} in ${stamp()}`);
  process.stdout.write(renderSummaryTable(rows));
  return crashed > 0 ? 1 : 0;
}

process.exitCode = await main();
