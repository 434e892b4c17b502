// Section 1: what the agent itself costs in steady state, per program set, on a busy machine.
import { startAgent } from './agent.js';
import { procCpu, procMemory, sleep } from './procs.js';
import type { Section, SectionContext } from './section.js';
import type { Row } from './stats.js';
import { startLoad } from './workloads.js';

export const PROGRAM_SETS: { label: string; args: string[] }[] = [
  { label: 'cpu', args: ['--programs', 'cpu'] },
  { label: 'offcpu', args: ['--programs', 'offcpu'] },
  { label: 'runqlat,biolatency', args: ['--programs', 'runqlat,biolatency'] },
  { label: 'all (default)', args: [] },
];

/** The label of the default set, whose CPU figure section 3 compares with perf. */
export const ALL_PROGRAMS = 'all (default)';

function timings(quick: boolean) {
  return quick ? { warmupS: 5, intervalS: 2, intervals: 2 } : { warmupS: 25, intervalS: 10, intervals: 3 };
}

export interface AgentSteadyState {
  /** Per interval: % of one core, total, user and system. */
  cpu: number[];
  user: number[];
  system: number[];
  /** Per interval: VmRSS at its end and the peak of the 1 s samples in it, MiB. */
  rssEnd: number[];
  rssPeak: number[];
  /** VmHWM at the end (includes startup: the unwind tables' builder), MiB. */
  hwm: number;
  intervalS: number;
}

const MiB = 1024 * 1024;

/** Runs the agent with `args` under the standard load and measures `intervals` consecutive steady intervals. */
export async function measureAgentSteadyState(ctx: SectionContext, args: string[], quick: boolean): Promise<AgentSteadyState> {
  const { warmupS, intervalS, intervals } = timings(quick);
  const load = startLoad(ctx.procs, ctx.binaries.spin, warmupS + intervalS * intervals + 60);
  try {
    const agent = await startAgent(ctx.procs, ctx.root, args);
    try {
      await sleep(warmupS * 1000);
      const out: AgentSteadyState = { cpu: [], user: [], system: [], rssEnd: [], rssPeak: [], hwm: 0, intervalS };
      for (let i = 0; i < intervals; i++) {
        const c0 = procCpu(agent.pid);
        const t0 = performance.now();
        let peak = procMemory(agent.pid).rss;
        while (performance.now() - t0 < intervalS * 1000 - 5) {
          await sleep(Math.min(1000, intervalS * 1000 - (performance.now() - t0)));
          peak = Math.max(peak, procMemory(agent.pid).rss);
        }
        const c1 = procCpu(agent.pid);
        const seconds = (performance.now() - t0) / 1000;
        const user = (c1.user - c0.user) / seconds;
        const system = (c1.system - c0.system) / seconds;
        out.cpu.push((user + system) * 100);
        out.user.push(user * 100);
        out.system.push(system * 100);
        out.rssEnd.push(procMemory(agent.pid).rss / MiB);
        out.rssPeak.push(peak / MiB);
      }
      out.hwm = procMemory(agent.pid).hwm / MiB;
      return out;
    } finally {
      await agent.stop();
    }
  } finally {
    await load.stop();
  }
}

export const agentCostSection: Section = {
  name: 'agent',
  title: '1. Agent CPU and memory, steady state, per program set',
  about:
    'The agent (`node dist/collector/cli.js serve --programs SET`, default flags otherwise: 99 Hz, 10 s windows, DWARF ' +
    'unwinding) runs under a load that keeps both cores busy: a spinning C process and `stress-ng --cpu 1`. After a ' +
    '25 s warm-up (the first window, at 10 s, parses and tables everything), three consecutive 10 s intervals (each ' +
    'holds one window drain) are measured: CPU as % of one core from `/proc/<pid>/stat` utime+stime (all threads), ' +
    'user and system apart; VmRSS at each interval\'s end and the peak of 1 s samples within it. VmHWM is the ' +
    'lifetime peak, startup included (the DWARF unwind tables\' builder).',
  estimateS: (quick) => {
    const t = timings(quick);
    return PROGRAM_SETS.length * (t.warmupS + t.intervalS * t.intervals + 3);
  },
  async run(ctx) {
    const rows: Row[] = [];
    for (const set of PROGRAM_SETS) {
      ctx.log(`agent --programs ${set.label}: warm-up then ${timings(ctx.quick).intervals} intervals`);
      const section = 'agent';
      try {
        const m = await measureAgentSteadyState(ctx, set.args, ctx.quick);
        rows.push(
          { section, metric: `${set.label}: CPU`, unit: '% of one core', runs: m.cpu },
          { section, metric: `${set.label}: CPU, user`, unit: '% of one core', runs: m.user },
          { section, metric: `${set.label}: CPU, system`, unit: '% of one core', runs: m.system },
          { section, metric: `${set.label}: RSS at interval end`, unit: 'MiB', runs: m.rssEnd },
          { section, metric: `${set.label}: RSS peak (1 s samples)`, unit: 'MiB', runs: m.rssPeak },
          { section, metric: `${set.label}: VmHWM (lifetime peak)`, unit: 'MiB', runs: [m.hwm] },
        );
      } catch (err) {
        rows.push({ section, metric: `${set.label}: CPU`, unit: '% of one core', runs: [], note: `failed: ${(err as Error).message}` });
      }
    }
    return rows;
  },
};
