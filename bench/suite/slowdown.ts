// Section 5: how much slower fixed work runs while the agent runs (default flags, every program), in pairs
// of agent on / agent off, alternating which goes first.
import { startAgent, waitForDrains, type RunningAgent } from './agent.js';
import { haveCommand, runChecked } from './procs.js';
import type { Section, SectionContext } from './section.js';
import { ratioRuns, summarize, type Row } from './stats.js';
import { compileC, FIXED_SOURCE, pinned } from './workloads.js';

const SECTION = 'slowdown';

function timings(quick: boolean) {
  return quick ? { pairs: 2, jobS: 0.3, repeats: 1 } : { pairs: 5, jobS: 1, repeats: 3 };
}

async function computeJob(ctx: SectionContext, binary: string, steps: number): Promise<{ wall: number; cpu: number }> {
  const r = await runChecked(ctx.procs, ...pinned(binary, [String(steps)]), 120_000);
  const m = /wall=([\d.]+) cpu=([\d.]+)/.exec(r.stdout);
  if (!m) throw new Error(`fixed job printed no timings: ${r.stdout.trim()}`);
  return { wall: Number(m[1]), cpu: Number(m[2]) };
}

async function pipeJob(ctx: SectionContext, loops: number): Promise<number> {
  const r = await runChecked(ctx.procs, ...pinned('perf', ['bench', 'sched', 'pipe', '-l', String(loops)]), 120_000);
  const m = /Total time:\s*([\d.]+) \[sec\]/.exec(r.stdout);
  if (!m) throw new Error('perf bench sched pipe: no total time in its output');
  return Number(m[1]);
}

export const slowdownSection: Section = {
  name: 'slowdown',
  title: '5. Fixed work with the agent on and off',
  about:
    'Two fixed jobs, each calibrated to about 1 s on this machine and pinned to the last CPU (taskset): a compiled C ' +
    'loop (xorshift steps in registers, wall time by clock_gettime; CPU bound, it pays for the sampling interrupts) ' +
    'and `perf bench sched pipe -l N` (a pipe ping-pong: it pays for the scheduler and system-call hooks). Five ' +
    'pairs, alternating which goes first: agent off, and agent on (`hotpath serve` with default flags, every ' +
    'program, started fresh and past its first window drain); in each, every job runs three times and counts its ' +
    'median. The ratio on/off is computed per pair; nothing else runs.',
  estimateS: (quick) => {
    const t = timings(quick);
    return t.pairs * (14 + 4 * t.jobS * t.repeats);
  },
  async run(ctx) {
    const t = timings(ctx.quick);
    const binary = compileC(ctx.tmp, 'fixed', FIXED_SOURCE);
    const probeSteps = 50_000_000;
    const probe = await computeJob(ctx, binary, probeSteps);
    const steps = Math.max(1_000_000, Math.round((probeSteps * t.jobS) / probe.wall));
    const pipe = haveCommand('perf');
    let loops = 0;
    if (pipe) {
      const probeLoops = 20_000;
      loops = Math.max(2000, Math.round((probeLoops * t.jobS) / (await pipeJob(ctx, probeLoops))));
    }
    ctx.log(`${t.pairs} pairs: ${steps} xorshift steps, ${loops} pipe round trips per job`);
    const wall = { on: [] as number[], off: [] as number[] };
    const cpu = { on: [] as number[], off: [] as number[] };
    const pipeS = { on: [] as number[], off: [] as number[] };
    for (let i = 0; i < t.pairs; i++) {
      for (const state of i % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
        let agent: RunningAgent | undefined;
        try {
          if (state === 'on') {
            agent = await startAgent(ctx.procs, ctx.root, []);
            await waitForDrains(agent, 1, 40_000);
          }
          const w: number[] = [];
          const c: number[] = [];
          const p: number[] = [];
          for (let k = 0; k < t.repeats; k++) {
            const job = await computeJob(ctx, binary, steps);
            w.push(job.wall);
            c.push(job.cpu);
            if (pipe) p.push(await pipeJob(ctx, loops));
          }
          wall[state].push(summarize(w)!.median);
          cpu[state].push(summarize(c)!.median);
          if (pipe) pipeS[state].push(summarize(p)!.median);
        } finally {
          await agent?.stop();
        }
      }
      ctx.log(`pair ${i + 1}: compute ${(wall.on[i] / wall.off[i]).toFixed(3)}×${pipe ? `, pipe ${(pipeS.on[i] / pipeS.off[i]).toFixed(3)}×` : ''}`);
    }
    const rows: Row[] = [
      { section: SECTION, metric: 'compute job, agent off', unit: 's', runs: wall.off },
      { section: SECTION, metric: 'compute job, agent on', unit: 's', runs: wall.on },
      { section: SECTION, metric: 'compute job: on / off (wall)', unit: '×', runs: ratioRuns(wall.on, wall.off) },
      { section: SECTION, metric: 'compute job: on / off (its CPU time)', unit: '×', runs: ratioRuns(cpu.on, cpu.off) },
    ];
    if (pipe) {
      rows.push(
        { section: SECTION, metric: 'pipe job, agent off', unit: 's', runs: pipeS.off },
        { section: SECTION, metric: 'pipe job, agent on', unit: 's', runs: pipeS.on },
        { section: SECTION, metric: 'pipe job: on / off', unit: '×', runs: ratioRuns(pipeS.on, pipeS.off) },
      );
    } else {
      rows.push({ section: SECTION, metric: 'pipe job: on / off', unit: '×', runs: [], note: 'not installed: perf (linux-perf)' });
    }
    return rows;
  },
};
