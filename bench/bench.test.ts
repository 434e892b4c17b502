// Smoke test of the benchmark suite (npm run bench) at tiny sizes: its pure parts (statistics, parsers of what
// the tools print, RESULTS.md, the SVG chart) and the scaling section on real processes, without the agent.
import { afterAll, describe, expect, it } from 'vitest';
import { encodePprofGzip, type ProfileData } from '../exporters/pprof/index.js';
import { perfScriptSplitShares, pprofSplitShares } from './suite/accuracy.js';
import { parseBenchArgs, SECTIONS } from './suite/args.js';
import { metricSum } from './suite/agent.js';
import { costsBetween, hookOf, parseProgFdinfo, type ProgCounters } from './suite/bpf-stats.js';
import { figuresFromOutput, RETENTION_STORE_PATTERNS, UNWIND_COST_PATTERNS } from './suite/existing.js';
import { parseBashTimes, parseProcStat, ProcessGroup } from './suite/procs.js';
import { renderResultsMarkdown, renderSummaryTable, type Machine } from './suite/report.js';
import { executableMappings, kernelTextAddresses, runScaling, startFixture, syntheticWindow } from './suite/scaling.js';
import { formatSpread, ratioRuns, seededRandom, summarize, type Row } from './suite/stats.js';
import { niceTicks, renderScalingSvg } from './suite/svg.js';

const group = new ProcessGroup();
afterAll(() => group.killAll());

describe('statistics', () => {
  it('median, min and max over the finite runs', () => {
    expect(summarize([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3, n: 3 });
    expect(summarize([4, 1, 3, 2])).toEqual({ median: 2.5, min: 1, max: 4, n: 4 });
    expect(summarize([5, Number.NaN, Number.POSITIVE_INFINITY])).toEqual({ median: 5, min: 5, max: 5, n: 1 });
    expect(summarize([])).toBeUndefined();
    expect(summarize([Number.NaN])).toBeUndefined();
  });

  it('spreads and ratios', () => {
    const row = (runs: number[]): Row => ({ section: 's', metric: 'm', unit: 'ms', runs });
    expect(formatSpread(row([12.34, 11.9, 12.8]))).toBe('11.9–12.8');
    expect(formatSpread(row([7]))).toBe('7.00');
    expect(formatSpread(row([]))).toBe('');
    expect(ratioRuns([2, 4], [1, 2])).toEqual([2, 2]); // pairwise
    expect(ratioRuns([2, 4, 6], [2])).toEqual([2]); // medians
    expect(ratioRuns([1], [])).toEqual([]);
  });

  it('the seeded generator repeats itself', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const xs = Array.from({ length: 5 }, () => a());
    expect(xs).toEqual(Array.from({ length: 5 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });
});

describe('parsers of what the tools print', () => {
  it('/proc/<pid>/stat with a name holding spaces and parentheses', () => {
    const fields = ['S', ...Array.from({ length: 10 }, (_, i) => String(i)), '250', '130', '7', '3', ...Array.from({ length: 30 }, () => '0')];
    const t = parseProcStat(`1234 (we (ird) name) ${fields.join(' ')}`, 100);
    expect(t).toEqual({ user: 2.5, system: 1.3, childUser: 0.07, childSystem: 0.03 });
  });

  it("bash's times: the children line", () => {
    expect(parseBashTimes('0m0.002s 0m0.001s\n1m2.500s 0m0.250s\n')).toEqual({ user: 62.5, system: 0.25 });
    expect(parseBashTimes('garbage')).toBeUndefined();
  });

  it('program fdinfo, not link fdinfo', () => {
    const prog = 'pos:\t0\nflags:\t02000002\nprog_type:\t26\nprog_jited:\t1\nprog_id:\t11669\nrun_time_ns:\t1364039\nrun_cnt:\t1128\n';
    const link = 'pos:\t0\nflags:\t02000000\nlink_type:\traw_tracepoint\nlink_id:\t5\nprog_tag:\tb205300bf137067c\nprog_id:\t11669\n';
    expect(parseProgFdinfo(prog)).toEqual({ id: 11669, type: 26, runTimeNs: 1364039, runCount: 1128 });
    expect(parseProgFdinfo(link)).toBeUndefined();
    expect(parseProgFdinfo('pos:\t0\n')).toBeUndefined();
  });

  it('hooks from full and cut program names, and the cost of one event summed per hook', () => {
    expect(hookOf('runqlat_wakeup_new_btf', 26)).toBe('sched_wakeup_new');
    expect(hookOf('sched_wakeup_ne', 26)).toBe('sched_wakeup_new');
    expect(hookOf('offcpu_switch_btf', 26)).toBe('sched_switch');
    expect(hookOf('offcpu_sys_exit_btf', 26)).toBe('sys_exit');
    expect(hookOf('offcpu_free_btf', 26)).toBe('sched_process_free');
    expect(hookOf('block_rq_comple', 17)).toBe('block_rq_complete');
    expect(hookOf('bio_issue_btf', 26)).toBe('block_rq_issue');
    expect(hookOf('io_start_btf', 26)).toBe('block_io_start');
    expect(hookOf('io_issue_raw', 17)).toBe('block_rq_issue');
    expect(hookOf('io_complete_btf', 26)).toBe('block_rq_complete');
    expect(hookOf('anything', 7)).toBe('cpu sample');
    const p = (id: number, runTimeNs: number, runCount: number): [number, ProgCounters] => [id, { id, type: 26, runTimeNs, runCount }];
    const before = new Map([p(1, 1000, 10), p(2, 0, 0)]);
    const after = new Map([p(1, 3000, 20), p(2, 4000, 10), p(3, 500, 0)]);
    const names = new Map([
      [1, 'runqlat_switch_btf'],
      [2, 'offcpu_switch_btf'],
      [3, 'offcpu_sys_exit_btf'],
    ]);
    const { hooks, totalNs } = costsBetween(before, after, names);
    expect(hooks.get('sched_switch')).toEqual({ nsPerEvent: 200 + 400, events: 10 });
    expect(hooks.has('sys_exit')).toBe(false);
    expect(totalNs).toBe(2000 + 4000 + 500);
  });

  it('metric sums in Prometheus text', () => {
    const text = 'hotpath_drain_duration_seconds_count{profile="cpu"} 2\nhotpath_drain_duration_seconds_count 1\nhotpath_drain_duration_seconds_sum 0.5\n';
    expect(metricSum(text, 'hotpath_drain_duration_seconds_count')).toBe(3);
  });

  it('split shares from perf script and from a pprof profile', async () => {
    const script = [
      'split-fp 10\n\t401136 split_work\n\t401170 split_heavy\n\t4011a0 main',
      'split-fp 10\n\t401136 split_work\n\t401180 split_light\n\t4011a0 main',
      'split-fp 10\n\t401136 split_work\n\t401170 split_heavy\n\t4011a0 main',
      'split-fp 10\n\t401136 split_work',
    ].join('\n\n');
    expect(perfScriptSplitShares(`${script}\n\n`)).toEqual({ heavy: 50, light: 25, samples: 4 });
    const frame = (name: string) => ({ address: BigInt(name.length), functionName: name, kind: 'native' });
    const data: ProfileData = {
      sampleTypes: [
        { type: 'samples', unit: 'count' },
        { type: 'cpu', unit: 'nanoseconds' },
      ],
      periodType: { type: 'cpu', unit: 'nanoseconds' },
      period: 10_101_010,
      timeNanos: 0n,
      durationNanos: 1n,
      samples: [
        { frames: [frame('split_work'), frame('split_heavy'), frame('main')], values: [3, 3] },
        { frames: [frame('split_work'), frame('split_light'), frame('main')], values: [1, 1] },
      ],
    };
    expect(pprofSplitShares(await encodePprofGzip(data))).toEqual({ heavy: 75, light: 25, samples: 4 });
  });

  it("headline figures of the older scripts' output", () => {
    const unwind = [
      'kernel ns per CPU sample (bpf_stats, median of 3 runs of 3 s, qsort + xz -9, no frame pointers):',
      '  frame pointers (bpf_get_stack): 8066 ns, mean user depth 1.0',
      '  tables (unwind.bpf.h):          20484 ns, mean user depth 14.9',
      'whole system: 78 processes, 21 files tabled (0 without tables, 0 without room), 501381 rows = 7.7 MiB of 32 MiB; build time 1.11 s in the worker',
    ].join('\n');
    const rows = figuresFromOutput('unwind-cost', unwind, UNWIND_COST_PATTERNS);
    expect(rows.map((r) => r.runs)).toEqual([[8066], [20484], [1], [14.9], [7.7], [1.11]]);
    const retention = [
      'retained store: -0.3 MiB of heap and array buffers measured; 16.2 MiB estimated by the store',
      'from/to merge of all windows: median 37 ms (runs: 35, 37, 41)',
    ].join('\n');
    const r = figuresFromOutput('retention-store', retention, RETENTION_STORE_PATTERNS);
    expect(r.map((x) => x.runs)).toEqual([[-0.3], [16.2], [35, 37, 41], []]);
    expect(r[3].note).toBe('not found in its output');
  });

  it('the command line', () => {
    expect(parseBenchArgs(['--quick', '--only', 'scaling,agent'])).toEqual({ quick: true, only: ['scaling', 'agent'] });
    expect(parseBenchArgs(['--out-dir=/tmp/x'])).toEqual({ quick: false, outDir: '/tmp/x' });
    expect(() => parseBenchArgs(['--only', 'nope'])).toThrow(/unknown section nope/);
    expect(() => parseBenchArgs(['--fast'])).toThrow(/unknown argument/);
    expect(SECTIONS.map((s) => s.name)).toEqual(['agent', 'kernel', 'perf', 'scaling', 'slowdown', 'accuracy', 'existing']);
  });
});

const machine: Machine = {
  cpu: 'AMD EPYC | test',
  cores: 2,
  memoryBytes: 24 * 1024 ** 3,
  kernel: '6.18.0',
  node: 'v20.20.2',
  date: '2026-11-23T00:00:00Z',
  revision: 'abc1234',
};

describe('reports', () => {
  const rows: Row[] = [
    { section: 'agent', metric: 'cpu: CPU', unit: '% of one core', runs: [2, 1, 3] },
    { section: 'kernel', metric: 'profile: libbpf-tools', unit: 'ns/event', runs: [], note: 'not installed: /usr/sbin/profile' },
  ];

  it('one summary table, every row, medians and notes', () => {
    const table = renderSummaryTable(rows).split('\n');
    expect(table[0]).toMatch(/^section\s+metric\s+median\s+min–max\s+unit\s+n\s+note$/);
    expect(table[1]).toMatch(/^agent\s+cpu: CPU\s+2\.00\s+1\.00–3\.00\s+% of one core\s+3$/);
    expect(table[2]).toMatch(/^kernel\s+profile: libbpf-tools\s+n\/a\s+ns\/event\s+0\s+not installed: \/usr\/sbin\/profile$/);
  });

  it('RESULTS.md: the machine, then each section with its figures', () => {
    const md = renderResultsMarkdown({
      machine,
      sections: [
        { name: 'agent', title: '1. Agent', about: 'How it was measured.' },
        { name: 'kernel', title: '2. Kernel', about: 'Per event.' },
        { name: 'scaling', title: '4. Scaling', about: 'Windows.' },
      ],
      rows,
      command: 'npm run bench',
      elapsedS: 600.4,
      notes: ['a note'],
    });
    expect(md).toContain('| CPU | AMD EPYC \\| test |');
    expect(md).toContain('| cores | 2 |');
    expect(md).toContain('| memory | 24.0 GiB |');
    expect(md).toContain('| kernel | 6.18.0 |');
    expect(md).toContain('| Node.js | v20.20.2 |');
    expect(md).toContain('| date | 2026-11-23T00:00:00Z |');
    expect(md).toContain('in 600 s');
    expect(md).toContain('- a note');
    expect(md).toContain('## 1. Agent\n\nHow it was measured.');
    expect(md).toContain('| cpu: CPU | 2.00 | 1.00–3.00 | % of one core | 3 |  |');
    expect(md).toContain('| profile: libbpf-tools | n/a |  | ns/event | 0 | not installed: /usr/sbin/profile |');
    expect(md).toContain('## 4. Scaling\n\nWindows.\n\nNo figures (the section did not run).');
  });

  it('the SVG chart: log x, one line per series, a bar per point', () => {
    const chartRows: Row[] = [1000, 10_000, 100_000].flatMap((x, i) => [
      { section: 'scaling', metric: `cold ${x}`, unit: 'ms', runs: [10 * (i + 1), 12 * (i + 1)], chart: { series: 'cold', x } },
      { section: 'scaling', metric: `warm ${x}`, unit: 'ms', runs: [5 * (i + 1)], chart: { series: 'warm & <fast>', x } },
    ]);
    const svg = renderScalingSvg([...chartRows, rows[0]], { title: 'T', xLabel: 'stacks', yLabel: 'ms' });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('warm &amp; &lt;fast&gt;');
    for (const label of ['>1k<', '>10k<', '>100k<']) expect(svg).toContain(label);
    const lines = [...svg.matchAll(/<polyline [^>]*points="([^"]+)"/g)].map((m) => m[1].split(' ').map((p) => p.split(',').map(Number)));
    expect(lines).toHaveLength(2);
    const [x1, x2, x3] = lines[0].map((p) => p[0]);
    expect(x2 - x1).toBeCloseTo(x3 - x2, 0); // equal steps per decade: log scale
    const ys = lines[0].map((p) => p[1]);
    expect(ys[0]).toBeGreaterThan(ys[1]); // larger medians sit higher (smaller y)
    expect(ys[1]).toBeGreaterThan(ys[2]);
    expect(svg.match(/<circle /g)).toHaveLength(6);
    expect(renderScalingSvg([], { title: 'T', xLabel: 'x', yLabel: 'y' })).toContain('no data');
    expect(niceTicks(37)).toEqual([0, 10, 20, 30, 40]);
  });
});

describe('scaling section at tiny sizes', () => {
  it('synthetic windows: distinct stacks, 10-30 user frames, deterministic', () => {
    const fixture = {
      pools: [1, 2, 3].map((pid) => ({ pid, comm: `p${pid}`, addresses: Array.from({ length: 50 }, (_, i) => 0x400000n + BigInt(pid * 1000 + i)) })),
      kernel: Array.from({ length: 30 }, (_, i) => 0xffffffff81000000n + BigInt(i * 64)),
    };
    const a = syntheticWindow(fixture, 300, 5);
    const b = syntheticWindow(fixture, 300, 5);
    expect(a).toEqual(b);
    expect(a).toHaveLength(300);
    expect(new Set(a.map((s) => `${s.pid}/${s.tid}/${s.kernelStack.join(',')}/${Array.from(s.userStack).join(',')}`)).size).toBe(300);
    expect(a.every((s) => s.userStack.length >= 10 && s.userStack.length <= 30 && s.count >= 1)).toBe(true);
    expect(a.some((s) => s.kernelStack.length > 0)).toBe(true);
  });

  it('maps and kallsyms readers', () => {
    const maps = [
      '55d0c0a00000-55d0c0a02000 r--p 00000000 fe:00 123 /usr/bin/sleep',
      '55d0c0a02000-55d0c0a06000 r-xp 00002000 fe:00 123 /usr/bin/sleep',
      '7f0000000000-7f0000100000 r-xp 00000000 00:00 0 ',
      '7ffd1c9f0000-7ffd1c9f2000 r-xp 00000000 00:00 0                          [vdso]',
    ].join('\n');
    expect(executableMappings(maps)).toEqual([{ start: 0x55d0c0a02000n, end: 0x55d0c0a06000n, path: '/usr/bin/sleep' }]);
    const kallsyms = 'ffffffff81000000 T _stext\nffffffff81000100 t helper\nffffffff82000000 D data\nffffffffc0000000 t mod_fn\t[ext4]\n';
    const addrs = kernelTextAddresses(kallsyms, 10, seededRandom(1));
    expect(addrs).toHaveLength(2);
    expect(addrs.every((a) => a >= 0xffffffff81000000n && a < 0xffffffff81000100n + 48n)).toBe(true);
    expect(kernelTextAddresses('0000000000000000 T _stext\n', 10, seededRandom(1))).toEqual([]);
  });

  it('runs the real path on live processes: rows with figures, frames named, chart points', async () => {
    const logs: string[] = [];
    const rows = await runScaling(group, { sizes: [200, 500], coldRuns: 1, warmRuns: 1, smallFixture: true, log: (m) => logs.push(m) });
    expect(group.running).toBe(0); // the helper processes are gone
    expect(logs).toHaveLength(2);
    for (const size of ['200 stacks', '500 stacks']) {
      for (const metric of ['cold, total', 'warm, total', 'warm, symbolize (buildWindowProfile)', 'warm, PprofBuilder', 'pprof size, gzipped']) {
        const row = rows.find((r) => r.metric === `${size}: ${metric}`);
        expect(row, `${size}: ${metric}`).toBeDefined();
        expect(row!.runs.length).toBeGreaterThan(0);
        expect(row!.runs.every((v) => Number.isFinite(v) && v > 0)).toBe(true);
      }
      const named = rows.find((r) => r.metric === `${size}: frames named by the symbolizer`)!;
      expect(named.runs[0]).toBeGreaterThan(50); // real files, real symbol tables
    }
    expect(rows.filter((r) => r.chart).map((r) => `${r.chart!.series}@${r.chart!.x}`)).toEqual([
      'cold: fresh symbolizer@200',
      'warm: same windows again@200',
      'cold: fresh symbolizer@500',
      'warm: same windows again@500',
    ]);
    expect(renderScalingSvg(rows, { title: 'T', xLabel: 'x', yLabel: 'y' }).match(/<polyline /g)).toHaveLength(2);
  });

  it('the fixture reads the helper processes it starts', async () => {
    const fixture = await startFixture(group, true);
    try {
      expect(fixture.pools.length).toBeGreaterThanOrEqual(2); // this process and at least `sleep`
      expect(fixture.pools.find((p) => p.pid === process.pid)!.addresses.length).toBeGreaterThan(100);
    } finally {
      await Promise.all(fixture.helpers.map((h) => group.stop(h, 'SIGKILL')));
    }
  });
});
