// Section 3: what people do today: `perf record -a -g` for 30 s then `perf report`, in CPU seconds, beside
// the agent's CPU seconds for 30 s of steady state (section 1's default set, or measured here).
import { statSync } from 'node:fs';
import { ALL_PROGRAMS, measureAgentSteadyState } from './agent-cost.js';
import { haveCommand, parseBashTimes, runChecked } from './procs.js';
import { missingRow, type Section, type SectionContext } from './section.js';
import { ratioRuns, type Row } from './stats.js';
import { startLoad } from './workloads.js';

const SECTION = 'perf';

function timings(quick: boolean) {
  return quick ? { recordS: 3, runs: 1 } : { recordS: 30, runs: 2 };
}

/** CPU seconds (user + system) of `command` and every child it waited for, from bash's `times`. */
async function cpuSecondsOf(ctx: SectionContext, command: string, timeoutMs: number): Promise<number> {
  const r = await runChecked(ctx.procs, 'bash', ['-c', `${command} >/dev/null 2>&1; status=$?; times; exit $status`], timeoutMs);
  const t = parseBashTimes(r.stdout);
  if (!t) throw new Error(`no times output from: ${command}`);
  return t.user + t.system;
}

/** The agent's CPU seconds per `seconds` of steady state, per interval of section 1's set `label`. */
function agentFromSection1(previous: readonly Row[], label: string, seconds: number): number[] | undefined {
  const row = previous.find((r) => r.section === 'agent' && r.metric === `${label}: CPU`);
  if (!row || row.runs.length === 0) return undefined;
  return row.runs.map((pct) => (pct / 100) * seconds);
}

export const perfTodaySection: Section = {
  name: 'perf',
  title: '3. What people do today: perf record + perf report',
  about:
    'The same load as section 1 (spin + `stress-ng --cpu 1`) under `perf record -N -a -g -F 99 -o FILE -- sleep 30` ' +
    '(-N: no build-id cache, so nothing is left in ~/.debug), then `perf report --stdio -i FILE > /dev/null`. CPU ' +
    'seconds are user + system of each command and all its children (bash `times` after it ends). The agent\'s ' +
    'figure is its CPU for 30 s of steady state with every program attached (section 1\'s default set, scaled from ' +
    'its 10 s intervals; measured here when section 1 did not run), and with `--programs cpu` alone, the same work ' +
    'as perf\'s (from section 1). perf gives one profile of those 30 s; the agent ' +
    'gives the same, continuously, plus latency histograms, history and HTTP.',
  estimateS: (quick) => {
    const t = timings(quick);
    return t.runs * (t.recordS + 8);
  },
  async run(ctx) {
    const t = timings(ctx.quick);
    if (!haveCommand('perf')) return [missingRow(SECTION, 'perf record', 'CPU s', 'not installed: perf (linux-perf)')];
    const record: number[] = [];
    const report: number[] = [];
    const sizes: number[] = [];
    const file = `${ctx.tmp}/perf.data`;
    for (let i = 0; i < t.runs; i++) {
      const load = startLoad(ctx.procs, ctx.binaries.spin, t.recordS + 120);
      try {
        ctx.log(`perf record -a -g -F 99 for ${t.recordS} s (run ${i + 1} of ${t.runs})`);
        record.push(await cpuSecondsOf(ctx, `perf record -N -a -g -F 99 -o ${file} -- sleep ${t.recordS}`, t.recordS * 1000 + 120_000));
      } finally {
        await load.stop();
      }
      sizes.push(statSync(file).size / (1024 * 1024));
      ctx.log('perf report --stdio');
      report.push(await cpuSecondsOf(ctx, `perf report --stdio -i ${file}`, 300_000));
    }
    const both = record.map((r, i) => r + report[i]);
    const rows: Row[] = [
      { section: SECTION, metric: `perf record -a -g -F 99, ${t.recordS} s`, unit: 'CPU s', runs: record },
      { section: SECTION, metric: 'perf report --stdio', unit: 'CPU s', runs: report },
      { section: SECTION, metric: 'perf record + report', unit: 'CPU s', runs: both },
      { section: SECTION, metric: 'perf.data size', unit: 'MiB', runs: sizes },
    ];
    let agent = agentFromSection1(ctx.previous, ALL_PROGRAMS, t.recordS);
    let source = 'section 1, default set';
    if (!agent) {
      ctx.log(`agent with every program: steady-state CPU for ${t.recordS} s`);
      const m = await measureAgentSteadyState(ctx, [], ctx.quick);
      agent = m.cpu.map((pct) => (pct / 100) * t.recordS);
      source = 'measured in this section';
    }
    const cpuOnly = agentFromSection1(ctx.previous, 'cpu', t.recordS);
    rows.push(
      { section: SECTION, metric: `hotpath agent, every program, ${t.recordS} s of steady state`, unit: 'CPU s', runs: agent, note: source },
      { section: SECTION, metric: 'perf record + report / hotpath agent (every program)', unit: '×', runs: ratioRuns(both, agent) },
    );
    if (cpuOnly) {
      rows.push(
        { section: SECTION, metric: `hotpath agent, --programs cpu, ${t.recordS} s of steady state`, unit: 'CPU s', runs: cpuOnly, note: 'section 1' },
        { section: SECTION, metric: 'perf record + report / hotpath agent (--programs cpu)', unit: '×', runs: ratioRuns(both, cpuOnly) },
      );
    }
    return rows;
  },
};
