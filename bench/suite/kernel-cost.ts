// Section 2: kernel nanoseconds per event (bpf_stats) of hotpath's programs beside libbpf-tools and bpftrace,
// all attached at the same time to the same workload, so every tool sees the same events.
import { startAgent, waitForDrains } from './agent.js';
import { costsBetween, enableBpfStats, ensureTracefs, programNames, programsOf, type ProgCounters } from './bpf-stats.js';
import { haveCommand, runChecked, sleep, type ProcessGroup } from './procs.js';
import { missingRow, type Section, type SectionContext } from './section.js';
import { ratioRuns, type Row } from './stats.js';
import { pinned, startLoad } from './workloads.js';

const SECTION = 'kernel';

export const BPFTRACE_PROFILE = 'profile:hz:99 { @[kstack, ustack] = count(); } END { clear(@); }';

/** runqlat.bt's probes (TASK_RUNNING is 0; the shipped script #includes kernel headers this machine lacks). */
export const BPFTRACE_RUNQLAT = `tracepoint:sched:sched_wakeup, tracepoint:sched:sched_wakeup_new { @qtime[args->pid] = nsecs; }
tracepoint:sched:sched_switch {
  if (args->prev_state == 0) { @qtime[args->prev_pid] = nsecs; }
  $ns = @qtime[args->next_pid];
  if ($ns) { @usecs = hist((nsecs - $ns) / 1000); }
  delete(@qtime[args->next_pid]);
}
END { clear(@qtime); clear(@usecs); }`;

/** Off-CPU time by the blocked thread's stacks, taken when it switches out and summed when it comes back. */
export const BPFTRACE_OFFCPU = `tracepoint:sched:sched_switch {
  @ts[args->prev_pid] = nsecs;
  @ks[args->prev_pid] = kstack;
  @us[args->prev_pid] = ustack;
  $t = @ts[args->next_pid];
  if ($t) {
    @off[@ks[args->next_pid], @us[args->next_pid], args->next_comm] = sum(nsecs - $t);
    delete(@ts[args->next_pid]);
  }
}
END { clear(@ts); clear(@ks); clear(@us); clear(@off); }`;

export const BPFTRACE_BIOLATENCY = `tracepoint:block:block_rq_issue { @start[args->dev, args->sector] = nsecs; }
tracepoint:block:block_rq_complete /@start[args->dev, args->sector]/ {
  @usecs = hist((nsecs - @start[args->dev, args->sector]) / 1000);
  delete(@start[args->dev, args->sector]);
}
END { clear(@start); clear(@usecs); }`;

/** A tool whose programs are attached: its process (all its programs are read from there). */
interface Peer {
  label: string;
  /** Processes whose program fds are the tool's (two for the two-process tools). */
  pids: number[];
  stop(): Promise<void>;
}

type PeerSpec = { label: string; start: () => Promise<Peer> };

/** Starts a command and resolves once it holds at least `programs` BPF programs (loaded; attach follows). */
async function startTool(group: ProcessGroup, label: string, cmd: string, args: string[], programs: number): Promise<Peer> {
  if (!haveCommand(cmd)) throw new NotInstalled(cmd);
  const t = group.start(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let exited: number | string | undefined;
  void t.exited.then((c) => (exited = c));
  const deadline = Date.now() + 45_000;
  while (programsOf(t.pid).size < programs) {
    if (exited !== undefined || Date.now() > deadline) {
      await group.stop(t, 'SIGKILL');
      const why = exited !== undefined ? `exited (${exited})` : 'never loaded its programs';
      throw new Error(`${cmd} ${why}: ${t.output().stderr.trim().split('\n').slice(-2).join(' | ')}`);
    }
    await sleep(200);
  }
  await sleep(700); // programs are attached right after they load
  return { label, pids: [t.pid], stop: () => group.stop(t, 'SIGINT', 8000) };
}

class NotInstalled extends Error {
  constructor(readonly cmd: string) {
    super(`not installed: ${cmd}`);
  }
}

async function startBpftrace(group: ProcessGroup, label: string, scripts: string[], programs: number[]): Promise<Peer> {
  const peers: Peer[] = [];
  try {
    for (let i = 0; i < scripts.length; i++) peers.push(await startTool(group, label, 'bpftrace', ['-e', scripts[i]], programs[i]));
  } catch (err) {
    for (const p of peers) await p.stop();
    throw err;
  }
  return { label, pids: peers.flatMap((p) => p.pids), stop: async () => void (await Promise.all(peers.map((p) => p.stop()))) };
}

async function startHotpath(ctx: SectionContext, label: string, args: string[], waitDrain: boolean): Promise<Peer> {
  const agent = await startAgent(ctx.procs, ctx.root, args);
  try {
    if (waitDrain) await waitForDrains(agent, 1, 40_000);
  } catch (err) {
    await agent.stop();
    throw err;
  }
  return { label, pids: [agent.pid], stop: agent.stop };
}

function snapshot(peer: Peer): Map<number, ProgCounters> {
  const out = new Map<number, ProgCounters>();
  for (const pid of peer.pids) for (const [id, p] of programsOf(pid)) out.set(id, p);
  return out;
}

interface PeerResult {
  /** Per hook, one value per run: ns per event. */
  hooks: Map<string, number[]>;
  /** Per run: all the tool's programs' ns divided by the workload's operations. */
  perOp: number[];
}

/**
 * Starts every peer (one after the other, each waiting for its programs), runs the workload `runs` times with a
 * snapshot of every peer's counters around each, and stops them all. A peer that could not start is `missing`.
 */
async function comparePeers(
  ctx: SectionContext,
  specs: PeerSpec[],
  runs: number,
  workload: () => Promise<number>,
): Promise<{ results: Map<string, PeerResult>; missing: Map<string, string> }> {
  const peers: Peer[] = [];
  const missing = new Map<string, string>();
  try {
    for (const spec of specs) {
      ctx.log(`  starting ${spec.label}`);
      try {
        peers.push(await spec.start());
      } catch (err) {
        const note = err instanceof NotInstalled ? err.message : `failed: ${(err as Error).message}`;
        ctx.log(`  ${spec.label}: ${note}`);
        missing.set(spec.label, note);
      }
    }
    const names = programNames();
    const results = new Map<string, PeerResult>(peers.map((p) => [p.label, { hooks: new Map(), perOp: [] }]));
    for (let r = 0; r < runs; r++) {
      const before = peers.map(snapshot);
      const ops = await workload();
      const after = peers.map(snapshot);
      peers.forEach((p, i) => {
        const { hooks, totalNs } = costsBetween(before[i], after[i], names);
        const res = results.get(p.label)!;
        for (const [hook, cost] of hooks) {
          const list = res.hooks.get(hook) ?? [];
          list.push(cost.nsPerEvent);
          res.hooks.set(hook, list);
        }
        res.perOp.push(ops > 0 ? totalNs / ops : Number.NaN);
      });
    }
    return { results, missing };
  } finally {
    await Promise.all(peers.map((p) => p.stop()));
  }
}

/**
 * Rows for `hooks` of every peer (a missing one says why) and for its ns per workload operation when
 * `perOpLabel` is given, then the ratio of each of `subjects` to every peer that is not hotpath.
 */
function comparisonRows(
  group: string,
  specs: PeerSpec[],
  outcome: { results: Map<string, PeerResult>; missing: Map<string, string> },
  hooks: string[],
  perOpLabel: string | undefined,
  subjects: string[],
): Row[] {
  const rows: Row[] = [];
  const figures = perOpLabel ? [...hooks, perOpLabel] : hooks;
  const figure = (label: string, hook: string): number[] =>
    hook === perOpLabel ? (outcome.results.get(label)?.perOp ?? []) : (outcome.results.get(label)?.hooks.get(hook) ?? []);
  for (const hook of figures) {
    const unit = hook === perOpLabel ? 'ns' : 'ns/event';
    for (const spec of specs) {
      const note = outcome.missing.get(spec.label);
      const metric = `${group}: ${hook}, ${spec.label}`;
      if (note) rows.push(missingRow(SECTION, metric, unit, note));
      else if (figure(spec.label, hook).length > 0) rows.push({ section: SECTION, metric, unit, runs: figure(spec.label, hook) });
    }
  }
  for (const hook of figures) {
    for (const subject of subjects) {
      const a = figure(subject, hook);
      if (a.length === 0) continue;
      for (const spec of specs) {
        if (spec.label.startsWith('hotpath')) continue;
        const b = figure(spec.label, hook);
        if (b.length === 0 && !outcome.missing.has(spec.label)) continue; // the peer has no program on this hook
        const metric = `${group}: ${hook}, ${subject} / ${spec.label}`;
        const note = outcome.missing.get(spec.label);
        if (note) rows.push(missingRow(SECTION, metric, '×', note));
        else rows.push({ section: SECTION, metric, unit: '×', runs: ratioRuns(a, b) });
      }
    }
  }
  return rows;
}

function timings(quick: boolean) {
  return quick
    ? { runs: 2, cpuIntervalS: 2, pipeLoops: 20_000, fioS: 2 }
    : { runs: 3, cpuIntervalS: 8, pipeLoops: 50_000, fioS: 8 };
}

async function perfPipe(ctx: SectionContext, loops: number): Promise<number> {
  const r = await runChecked(ctx.procs, ...pinned('perf', ['bench', 'sched', 'pipe', '-l', String(loops)]), 120_000);
  const m = /([\d.]+) usecs\/op/.exec(r.stdout);
  if (!m) throw new Error('perf bench sched pipe: no usecs/op in its output');
  return Number(m[1]);
}

async function cpuComparison(ctx: SectionContext): Promise<Row[]> {
  const t = timings(ctx.quick);
  const specs: PeerSpec[] = [
    { label: 'hotpath', start: () => startHotpath(ctx, 'hotpath', ['--programs', 'cpu'], true) },
    { label: 'hotpath --unwind fp', start: () => startHotpath(ctx, 'hotpath --unwind fp', ['--programs', 'cpu', '--unwind', 'fp'], false) },
    // The CPU program in wall mode: a task-storage lookup per sample on top of the walk.
    { label: 'hotpath +wall', start: () => startHotpath(ctx, 'hotpath +wall', ['--programs', 'cpu,offcpu,wall'], true) },
    { label: 'libbpf-tools profile', start: () => startTool(ctx.procs, 'libbpf-tools profile', '/usr/sbin/profile', ['-F', '99'], 1) },
    { label: 'bpftrace', start: () => startBpftrace(ctx.procs, 'bpftrace', [BPFTRACE_PROFILE], [1]) },
  ];
  const load = startLoad(ctx.procs, ctx.binaries.spin, 300);
  try {
    ctx.log(`profile at 99 Hz: ${t.runs} intervals of ${t.cpuIntervalS} s under spin + stress-ng`);
    const outcome = await comparePeers(ctx, specs, t.runs, async () => {
      await sleep(t.cpuIntervalS * 1000);
      return 0;
    });
    const rows = comparisonRows('profile 99 Hz', specs, outcome, ['cpu sample'], undefined, ['hotpath', 'hotpath --unwind fp', 'hotpath +wall']);
    const notes = outcome.missing.get('libbpf-tools profile');
    if (notes?.startsWith('not installed')) {
      for (const r of rows) if (r.metric.includes('libbpf-tools profile')) r.note = `${r.note}: Debian 12's libbpf-tools 0.26 ships no profile`;
    }
    return rows;
  } finally {
    await load.stop();
  }
}

async function schedComparison(ctx: SectionContext): Promise<Row[]> {
  const t = timings(ctx.quick);
  const baseline: number[] = [];
  for (let i = 0; i < t.runs; i++) baseline.push(await perfPipe(ctx, t.pipeLoops));
  const specs: PeerSpec[] = [
    { label: 'hotpath', start: () => startHotpath(ctx, 'hotpath', ['--programs', 'runqlat,offcpu'], false) },
    // The wall profile puts the off-CPU program in wall mode (every block classified and counted, run-queue
    // time, preempted threads' user stacks) and needs the CPU program.
    { label: 'hotpath +wall', start: () => startHotpath(ctx, 'hotpath +wall', ['--programs', 'runqlat,cpu,offcpu,wall'], false) },
    {
      label: 'libbpf-tools',
      start: async () => {
        const a = await startTool(ctx.procs, 'libbpf-tools', '/usr/sbin/runqlat', [], 3);
        try {
          const b = await startTool(ctx.procs, 'libbpf-tools', '/usr/sbin/offcputime', [], 1);
          return { label: 'libbpf-tools', pids: [...a.pids, ...b.pids], stop: async () => void (await Promise.all([a.stop(), b.stop()])) };
        } catch (err) {
          await a.stop();
          throw err;
        }
      },
    },
    { label: 'bpftrace', start: () => startBpftrace(ctx.procs, 'bpftrace', [BPFTRACE_RUNQLAT, BPFTRACE_OFFCPU], [3, 1]) },
  ];
  const traced: number[] = [];
  ctx.log(`perf bench sched pipe -l ${t.pipeLoops}: ${t.runs} runs with runqlat + off-CPU of every tool attached`);
  const outcome = await comparePeers(ctx, specs, t.runs, async () => {
    traced.push(await perfPipe(ctx, t.pipeLoops));
    return t.pipeLoops;
  });
  const hooks = ['sched_switch', 'sched_wakeup', 'sys_exit'];
  const figure = (label: string, hook: string) => outcome.results.get(label)?.hooks.get(hook) ?? [];
  // What wall mode adds: the same agent's programs with and without it, on the same events.
  const wallRows: Row[] = hooks
    .filter((hook) => figure('hotpath +wall', hook).length > 0 && figure('hotpath', hook).length > 0)
    .map((hook) => ({ section: SECTION, metric: `sched pipe: ${hook}, hotpath +wall / hotpath`, unit: '×', runs: ratioRuns(figure('hotpath +wall', hook), figure('hotpath', hook)) }));
  return [
    { section: SECTION, metric: 'sched pipe: µs per round trip, no tracing', unit: 'µs', runs: baseline },
    { section: SECTION, metric: 'sched pipe: µs per round trip, all tools attached', unit: 'µs', runs: traced },
    ...comparisonRows('sched pipe', specs, outcome, hooks, 'all programs per round trip', ['hotpath', 'hotpath +wall']),
    ...wallRows,
  ];
}

/**
 * What the wall profile's mode adds on the scheduler hooks, each agent alone on the machine (attached together,
 * a program's cost depends on whether it runs first or second on an event: the second finds the task's cache
 * lines warm). Rounds alternate which agent goes first.
 */
async function wallModeAlone(ctx: SectionContext): Promise<Row[]> {
  const t = timings(ctx.quick);
  const configs = [
    { label: 'hotpath', programs: 'runqlat,offcpu', extra: [] as string[] },
    { label: 'hotpath +wall', programs: 'runqlat,cpu,offcpu,wall', extra: [] as string[] },
    // Run-queue latency per container: a cgroup-id read and a per-CPU hash update per wakeup.
    { label: 'hotpath +per-container', programs: 'runqlat,offcpu', extra: ['--runqlat-per-container', '16'] },
  ];
  const hooks = ['sched_switch', 'sched_wakeup', 'sys_exit'];
  const perHook = new Map<string, number[]>();
  const perOp = new Map<string, number[]>();
  for (let round = 0; round < t.runs; round++) {
    for (const c of round % 2 === 0 ? configs : [...configs].reverse()) {
      const outcome = await comparePeers(ctx, [{ label: c.label, start: () => startHotpath(ctx, c.label, ['--programs', c.programs, ...c.extra], false) }], 1, async () => {
        await perfPipe(ctx, t.pipeLoops);
        return t.pipeLoops;
      });
      const r = outcome.results.get(c.label);
      if (!r) throw new Error(`${c.label}: ${outcome.missing.get(c.label) ?? 'did not start'}`);
      for (const hook of hooks) perHook.set(`${c.label} ${hook}`, [...(perHook.get(`${c.label} ${hook}`) ?? []), ...(r.hooks.get(hook) ?? [])]);
      perOp.set(c.label, [...(perOp.get(c.label) ?? []), ...r.perOp]);
    }
  }
  const rows: Row[] = [];
  for (const hook of hooks) {
    for (const c of configs) rows.push({ section: SECTION, metric: `sched pipe, alone: ${hook}, ${c.label}`, unit: 'ns/event', runs: perHook.get(`${c.label} ${hook}`) ?? [] });
    for (const mode of ['hotpath +wall', 'hotpath +per-container']) {
      rows.push({
        section: SECTION, metric: `sched pipe, alone: ${hook}, ${mode} / hotpath`, unit: '×',
        runs: ratioRuns(perHook.get(`${mode} ${hook}`) ?? [], perHook.get(`hotpath ${hook}`) ?? []),
      });
    }
  }
  for (const c of configs) rows.push({ section: SECTION, metric: `sched pipe, alone: all programs per round trip, ${c.label}`, unit: 'ns', runs: perOp.get(c.label) ?? [] });
  for (const mode of ['hotpath +wall', 'hotpath +per-container']) {
    rows.push({ section: SECTION, metric: `sched pipe, alone: all programs per round trip, ${mode} / hotpath`, unit: '×', runs: ratioRuns(perOp.get(mode) ?? [], perOp.get('hotpath') ?? []) });
  }
  return rows;
}

async function blockComparison(ctx: SectionContext): Promise<Row[]> {
  const t = timings(ctx.quick);
  if (!haveCommand('fio')) return [missingRow(SECTION, 'block I/O comparison', '', 'not installed: fio')];
  const file = `${ctx.tmp}/fio-file`;
  await runChecked(ctx.procs, 'fio', ['--name=prep', `--filename=${file}`, '--size=64M', '--rw=write', '--bs=1M', '--direct=1', '--ioengine=psync'], 120_000);
  const specs: PeerSpec[] = [
    { label: 'hotpath', start: () => startHotpath(ctx, 'hotpath', ['--programs', 'biolatency'], false) },
    // The I/O profile: stacks (kernel, and user by DWARF tables) at block_io_start, then issue and completion.
    { label: 'hotpath io', start: () => startHotpath(ctx, 'hotpath io', ['--programs', 'io'], false) },
    { label: 'libbpf-tools', start: () => startTool(ctx.procs, 'libbpf-tools', '/usr/sbin/biolatency', [], 2) },
    { label: 'bpftrace', start: () => startBpftrace(ctx.procs, 'bpftrace', [BPFTRACE_BIOLATENCY], [2]) },
  ];
  const iops: number[] = [];
  ctx.log(`fio 4 KiB direct random reads of a 64 MiB file in ${ctx.tmp}: ${t.runs} runs of ${t.fioS} s`);
  const outcome = await comparePeers(ctx, specs, t.runs, async () => {
    const r = await runChecked(
      ctx.procs,
      'fio',
      ['--name=bench', `--filename=${file}`, '--size=64M', '--rw=randread', '--bs=4k', '--direct=1', '--ioengine=psync', `--runtime=${t.fioS}`, '--time_based', '--output-format=json'],
      t.fioS * 1000 + 60_000,
    );
    const ios = (JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { jobs: { read: { total_ios: number } }[] }).jobs[0].read.total_ios;
    iops.push(ios / t.fioS);
    return ios;
  });
  return [
    { section: SECTION, metric: 'fio: I/Os per second, all three tools attached', unit: 'IOPS', runs: iops },
    ...comparisonRows('block I/O', specs, outcome, ['block_io_start', 'block_rq_issue', 'block_rq_complete'], 'all programs per I/O', ['hotpath', 'hotpath io']),
  ];
}

export const kernelCostSection: Section = {
  name: 'kernel',
  title: '2. Kernel time per event (bpf_stats), beside libbpf-tools and bpftrace',
  about:
    'With `kernel.bpf_stats_enabled=1` (restored afterwards), each tool\'s programs are found by the process holding ' +
    'them (`/proc/<pid>/fdinfo`: prog_id, run_time_ns, run_cnt) and named by `bpftool prog show -j`; ns/event is ' +
    'run time over run count in an interval, summed over a tool\'s programs on the same hook (what one event costs ' +
    'that tool). All tools run at the same time on the same workload. CPU sampling at 99 Hz under spin + stress-ng ' +
    '(hotpath `--programs cpu` with DWARF unwinding, and a second agent with `--unwind fp`; libbpf-tools `profile -F 99`; ' +
    '`bpftrace -e \'profile:hz:99 { @[kstack, ustack] = count(); }\'`), measured after hotpath\'s first window. ' +
    'Scheduler: hotpath `--programs runqlat,offcpu`, and `--programs runqlat,cpu,offcpu,wall` ("hotpath +wall": the ' +
    'off-CPU program in wall mode; also each alone, "sched pipe, alone", rounds alternating which goes first, beside ' +
    '"hotpath +per-container", runqlat with `--runqlat-per-container 16`), ' +
    'libbpf-tools `runqlat` + `offcputime`, bpftrace runqlat.bt\'s ' +
    'probes + an off-CPU one-liner on sched_switch, on `perf bench sched pipe` pinned to one CPU (taskset: its ' +
    'speed otherwise depends on where the scheduler puts its two tasks); "all programs per round trip" ' +
    'divides every program\'s time (hotpath\'s off-CPU sys_exit program included) by the round trips. Block: ' +
    'hotpath `--programs biolatency`, hotpath `--programs io` (the I/O profile: submitter\'s kernel and user stacks ' +
    'at block_io_start, issue time, completion into the window\'s counts), libbpf-tools `biolatency`, a bpftrace ' +
    'block_rq_issue/complete one-liner, on ' +
    'fio 4 KiB direct random reads of a 64 MiB file in /var/tmp. tracefs is mounted for bpftrace if it was not.',
  estimateS: (quick) => (quick ? 60 : 170),
  async run(ctx) {
    const restoreStats = enableBpfStats();
    let unmount: () => void = () => {};
    let tracefsNote: string | undefined;
    try {
      try {
        unmount = ensureTracefs();
      } catch (err) {
        tracefsNote = `tracefs could not be mounted (bpftrace's tracepoints need it): ${(err as Error).message}`;
        ctx.log(tracefsNote);
      }
      const rows: Row[] = [];
      for (const [name, part] of [
        ['CPU sampling', cpuComparison],
        ['scheduler', schedComparison],
        ['wall mode', wallModeAlone],
        ['block I/O', blockComparison],
      ] as const) {
        ctx.log(`${name} comparison`);
        try {
          rows.push(...(await part(ctx)));
        } catch (err) {
          rows.push(missingRow(SECTION, `${name} comparison`, '', `failed: ${(err as Error).message}`));
        }
      }
      return rows;
    } finally {
      unmount();
      restoreStats();
    }
  },
};
