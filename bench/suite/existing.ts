// Section 7: the headline figures of the older single-purpose bench scripts, run as they are (dist/bench/*.js)
// and read from their output.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from './procs.js';
import { missingRow, type Section, type SectionContext } from './section.js';
import type { Row } from './stats.js';

const SECTION = 'existing';

interface Pattern {
  metric: string;
  unit: string;
  re: RegExp;
}

/**
 * One row per pattern: its first capture as the figure (a comma-separated capture: one run each), or a note
 * when the script's output lacks it.
 */
export function figuresFromOutput(script: string, text: string, patterns: Pattern[]): Row[] {
  return patterns.map((p) => {
    const m = p.re.exec(text);
    const runs = m ? m[1].split(',').map((v) => Number(v.trim())) : [];
    return runs.length > 0 && runs.every(Number.isFinite)
      ? { section: SECTION, metric: `${script}: ${p.metric}`, unit: p.unit, runs }
      : missingRow(SECTION, `${script}: ${p.metric}`, p.unit, 'not found in its output');
  });
}

export const UNWIND_COST_PATTERNS: Pattern[] = [
  { metric: 'kernel ns per CPU sample, frame pointers', unit: 'ns', re: /frame pointers \(bpf_get_stack\):\s+([\d.]+) ns/ },
  { metric: 'kernel ns per CPU sample, DWARF tables', unit: 'ns', re: /tables \(unwind\.bpf\.h\):\s+([\d.]+) ns/ },
  { metric: 'mean user depth, frame pointers (no-FP workloads)', unit: 'frames', re: /frame pointers \(bpf_get_stack\):.*mean user depth ([\d.]+)/ },
  { metric: 'mean user depth, DWARF tables', unit: 'frames', re: /tables \(unwind\.bpf\.h\):.*mean user depth ([\d.]+)/ },
  { metric: 'whole-system unwind tables', unit: 'MiB', re: /whole system:.* rows = ([\d.]+) MiB/ },
  { metric: 'whole-system table build time', unit: 's', re: /whole system:.*build time ([\d.]+) s/ },
];

export const RETENTION_STORE_PATTERNS: Pattern[] = [
  { metric: 'an hour of windows, heap (and array buffers) measured', unit: 'MiB', re: /retained store: (-?[\d.]+) MiB of heap/ },
  { metric: "an hour of windows, the store's own estimate", unit: 'MiB', re: /measured; (-?[\d.]+) MiB estimated/ },
  { metric: 'from/to merge of the hour', unit: 'ms', re: /merge of all windows: median [\d.]+ ms \(runs: ([\d., ]+)\)/ },
  { metric: 'encode the merged hour', unit: 'ms', re: /encode merged profile: ([\d.]+) ms/ },
];

async function runScript(ctx: SectionContext, script: string, nodeArgs: string[], args: string[], patterns: Pattern[]): Promise<Row[]> {
  const file = join(ctx.root, 'dist', 'bench', `${script}.js`);
  if (!existsSync(file)) return [missingRow(SECTION, script, '', `${file} is missing (not built)`)];
  ctx.log(`${script} ${args.join(' ')}`);
  // In our scratch directory, removed at the end: what the script leaves in its temp directory (unwind-cost
  // writes a 256 MiB input) and in its working directory (V8's isolate-*.log of a --perf-basic-prof child).
  const r = await runCommand(ctx.procs, process.execPath, [...nodeArgs, file, ...args], 300_000, {
    cwd: ctx.tmp,
    env: { ...process.env, TMPDIR: ctx.tmp },
  });
  if (r.code !== 0) {
    const tail = r.stderr.trim().split('\n').slice(-2).join(' | ');
    return [missingRow(SECTION, script, '', `failed (exit ${r.code}): ${tail}`)];
  }
  return figuresFromOutput(script, r.stdout, patterns);
}

export const existingSection: Section = {
  name: 'existing',
  title: '7. Headlines of the older bench scripts',
  about:
    '`node dist/bench/unwind-cost.js --runs 3 --seconds 3` (kernel ns per CPU sample with the frame-pointer walk and ' +
    'with the DWARF table walker, on no-frame-pointer qsort and xz -9; the script prints the median of its 3 runs, so ' +
    'each figure here is one value) and `node --expose-gc dist/bench/retention-store.js` (an hour of real 10 s ' +
    'windows replayed into the retained store: heap it takes, from/to merge time).',
  estimateS: (quick) => (quick ? 25 : 70),
  async run(ctx) {
    return [
      ...(await runScript(ctx, 'unwind-cost', [], ctx.quick ? ['--runs', '1', '--seconds', '1'] : ['--runs', '3', '--seconds', '3'], UNWIND_COST_PATTERNS)),
      ...(await runScript(ctx, 'retention-store', ['--expose-gc'], ctx.quick ? ['--windows', '20', '--seconds', '2'] : [], RETENTION_STORE_PATTERNS)),
    ];
  },
};
