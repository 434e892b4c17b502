// The UI's load time on a busy hour of retained history (issue 13 item 5), in three steps:
//   record DIR [--windows 380]   run `hotpath serve --window 1s --hz 990` under stress-ng --cpu 2 and four Python
//                                busy loops (each 1 s window then carries about what a default 10 s window does),
//                                and save every retained CPU window as its own pprof file (needs root, the kernel)
//   serve DIR [--port N]         HttpServers (--servers N, on consecutive ports) over those windows replayed into
//         [--repeat N]           one WindowStore (no kernel), the saved windows N times over (later passes shifted
//                                in time: the same distinct stacks, N times the windows)
//   measure DIR [--runs 3]       per run a server of its own (cold caches and worker): Chromium loads / and reads
//         [--repeat N]           the time to the first flamegraph (data-ready-ms); then, each on a server of its
//                                own too, the time of /flamegraph and of /api/top alone over the whole history
//   check DIR                    the page's direct fold against the pprof path on those windows: identical stacks
// Run from dist/: node dist/bench/ui-load.js record /tmp/hour
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { Profile } from 'pprof-format';
import { decodePprof, encodePprofSteps, type ProfileData, type ProfileFrame, type ProfileMapping, type ProfileSample } from '../exporters/pprof/index.js';
import type { MetricsExporter } from '../exporters/metrics/index.js';
import { classifyFrame } from '../flamegraph/index.js';
import type { Agent, ProfileSelection } from '../collector/agent/agent.js';
import { buildSelectionSteps } from '../collector/http/profile-build.js';
import { HttpServer } from '../collector/http/server.js';
import { foldedStacksOf, foldStored } from '../collector/windows/fold-stored.js';
import { foldForFlamegraph } from '../collector/windows/output-formats.js';
import { WindowStore } from '../collector/windows/window-store.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const cli = join(here, '..', 'collector', 'cli.js');

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Nanoseconds as unix seconds with all nine decimals (what the routes parse exactly). */
function unixSeconds(ns: bigint): string {
  return `${ns / 1_000_000_000n}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}`;
}

async function record(dir: string): Promise<void> {
  const windows = arg('windows', 380);
  const port = arg('port', 9479);
  mkdirSync(dir, { recursive: true });
  const agent = spawn(process.execPath, [cli, 'serve', '--window', '1s', '--hz', '990', '--port', String(port), '--retention', '1h', '--retention-memory', '512M'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const load: ChildProcess[] = [spawn('stress-ng', ['--cpu', '2', '--timeout', `${windows + 60}s`], { stdio: 'ignore' })];
  for (let i = 0; i < 4; i++) load.push(spawn('python3', ['-c', `import math\ndef spin${i}(n):\n    s = 0\n    for j in range(n): s += math.sqrt(j)\n    return s\nwhile True: spin${i}(10000)`], { stdio: 'ignore' }));
  const base = `http://127.0.0.1:${port}`;
  try {
    await sleep((windows + 3) * 1000);
    for (const p of load) p.kill('SIGKILL');
    const timeline = (await (await fetch(`${base}/api/timeline?type=cpu`)).json()) as { windows: [number, number][] };
    let n = 0;
    for (const [start, end] of timeline.windows) {
      // A nanosecond in the middle of the window selects it alone.
      const mid = BigInt(Math.round(((start + end) / 2) * 1e9));
      const res = await fetch(`${base}/debug/pprof/profile?from=${unixSeconds(mid)}&to=${unixSeconds(mid + 1n)}`);
      if (!res.ok) throw new Error(`window ${n}: ${res.status} ${await res.text()}`);
      writeFileSync(join(dir, `w${String(n++).padStart(5, '0')}.pb.gz`), Buffer.from(await res.arrayBuffer()));
    }
    console.log(`${n} windows saved in ${dir}`);
  } finally {
    for (const p of load) p.kill('SIGKILL');
    agent.kill('SIGTERM');
  }
}

/** A decoded window as the collector hands it to the store: frames and mappings shared within the window. */
function profileDataOf(p: Profile): ProfileData {
  const str = (i: unknown) => p.stringTable.strings[Number(i)] ?? '';
  const mappings = new Map<number, ProfileMapping>();
  for (const m of p.mapping) {
    mappings.set(Number(m.id), {
      file: str(m.filename), buildId: str(m.buildId), start: BigInt(m.memoryStart), limit: BigInt(m.memoryLimit),
      offset: BigInt(m.fileOffset), hasFunctions: m.hasFunctions,
    });
  }
  const functions = new Map(p.function.map((f) => [Number(f.id), f]));
  const frames = new Map<number, ProfileFrame>();
  for (const l of p.location) {
    const mapping = mappings.get(Number(l.mappingId));
    const line = l.line[0];
    const fn = line ? functions.get(Number(line.functionId)) : undefined;
    const name = fn ? str(fn.name) : '';
    const fileName = fn ? str(fn.filename) : '';
    frames.set(Number(l.id), {
      address: BigInt(l.address),
      ...(fn ? { functionName: name, systemName: str(fn.systemName), fileName, line: Number(line!.line) } : {}),
      kind: classifyFrame(name, mapping?.file ?? '', fileName),
      ...(mapping ? { mapping } : {}),
    });
  }
  const labelSets = new Map<string, Pick<ProfileSample, 'numLabels' | 'strLabels'>>();
  const samples: ProfileSample[] = p.sample.map((s) => {
    const numLabels: Record<string, number> = {};
    const strLabels: Record<string, string> = {};
    for (const l of s.label) {
      if (str(l.str) !== '') strLabels[str(l.key)] = str(l.str);
      else numLabels[str(l.key)] = Number(l.num);
    }
    const key = JSON.stringify([numLabels, strLabels]);
    let set = labelSets.get(key);
    if (!set) labelSets.set(key, (set = { numLabels, strLabels }));
    return { frames: s.locationId.map((id) => frames.get(Number(id))!), values: s.value.map(Number), ...set };
  });
  return {
    sampleTypes: p.sampleType.map((t) => ({ type: str(t.type), unit: str(t.unit) })),
    periodType: { type: str(p.periodType!.type), unit: str(p.periodType!.unit) },
    period: Number(p.period),
    ...(p.defaultSampleType ? { defaultSampleType: str(p.defaultSampleType) } : {}),
    timeNanos: BigInt(p.timeNanos),
    durationNanos: BigInt(p.durationNanos),
    samples,
    comments: p.comment.map(str),
  };
}

/** The saved windows in a store, and the agent's part of what the server asks (history reads). */
export function replayAgent(dir: string, repeat = 1): { agent: Agent; nowNs: bigint; store: WindowStore; hz: number } {
  const saved = readdirSync(dir).filter((f) => f.endsWith('.pb.gz')).sort();
  const files = Array.from({ length: repeat }, () => saved).flat();
  const store = new WindowStore({ retentionNs: 3600_000_000_000n * 2n, maxBytes: Number.MAX_SAFE_INTEGER });
  let nowNs = 0n;
  let header: ProfileSelection['header'] | undefined;
  let shiftNs = 0n;
  for (const [i, f] of files.entries()) {
    const data = profileDataOf(decodePprof(readFileSync(join(dir, f))));
    // Repeated: each pass after the last, as if the same windows had come again.
    if (i > 0 && i % saved.length === 0) shiftNs = nowNs + 1_000_000n - data.timeNanos;
    data.timeNanos += shiftNs;
    header ??= { sampleTypes: data.sampleTypes, periodType: data.periodType, period: data.period, defaultSampleType: data.defaultSampleType };
    const end = data.timeNanos + data.durationNanos;
    if (end > nowNs) nowNs = end;
    store.add(data, end);
  }
  if (!header) throw new Error(`no windows in ${dir}`);
  const hz = Math.round(1e9 / header.period);
  const h = header;
  const agent = {
    statuses: [{ program: 'cpu', attached: true }],
    options: { retentionSeconds: 3600, windowSeconds: 1, hz },
    latencyPrograms: [],
    hasProfile: (kind: string) => kind === 'cpu',
    whyNoProfile: () => 'replay holds cpu windows only',
    oldestRetainedNs: () => store.oldestStartNs,
    history(kind: 'cpu', fromNs: bigint, toNs: bigint, pids: number[], filters = {}): ProfileSelection {
      const oldest = store.oldestStartNs ?? nowNs;
      const from = fromNs > oldest ? fromNs : oldest;
      let to = toNs < nowNs ? toNs : nowNs;
      if (to < from) to = from;
      return { kind, header: h, fromNs: from, toNs: to, pids, filters, windows: store.overlapping(fromNs, toNs), catalog: store.catalog };
    },
    health: () => ({ ok: true, reason: 'replay' }),
  } as unknown as Agent;
  return { agent, nowNs, store, hz };
}

/** Servers on ports port .. port + servers - 1 over one replayed store: each starts cold (caches, worker). */
async function serve(dir: string): Promise<void> {
  const port = arg('port', 9478);
  const servers = arg('servers', 1);
  const t0 = performance.now();
  const { agent, nowNs, store } = replayAgent(dir, arg('repeat', 1));
  const metrics = { collect: async () => ({ text: '' }) } as unknown as MetricsExporter;
  for (let i = 0; i < servers; i++) {
    const server = new HttpServer({ host: '127.0.0.1', port: port + i, agent, metrics, retentionNs: 3600_000_000_000n, nowNs: () => nowNs });
    await server.listen();
  }
  const s = store.catalog.stats;
  console.log(`ready ${port} windows=${store.size.windows} stacks=${s.stacks} frames=${s.frames} labelSets=${s.labelSets} loadMs=${Math.round(performance.now() - t0)}`);
}

/**
 * The direct fold (what the page shows) against the pprof path (what "download pprof" gives), on the recorded
 * windows: whole history and a pid filter, with and without process roots. Exits 1 on a difference.
 */
async function check(dir: string): Promise<void> {
  const { agent } = replayAgent(dir, arg('repeat', 1));
  const whole = agent.history('cpu', 0n, 1n << 62n, []);
  const pid = whole.catalog.labelSet(whole.windows[0].labels[0])?.pid ?? 1;
  for (const [what, sel] of [['whole history', whole], [`pid ${pid}`, agent.history('cpu', 0n, 1n << 62n, [pid])]] as const) {
    for (const processRoot of [true, false]) {
      let t = performance.now();
      const { profile } = runSteps(buildSelectionSteps(sel));
      const want = foldForFlamegraph(decodePprof(runSteps(encodePprofSteps(profile))), { processRoot }).stacks;
      const pprofMs = performance.now() - t;
      t = performance.now();
      const fold = foldStored({ ...sel, sampleTypes: sel.header.sampleTypes, period: sel.header.period, defaultSampleType: sel.header.defaultSampleType });
      const got = foldedStacksOf(fold, { processRoot });
      const directMs = performance.now() - t;
      const same = isDeepStrictEqual(got, want);
      console.log(`${what}, processRoot ${processRoot}: ${got.length} stacks, ${same ? 'identical' : 'DIFFERENT'} (pprof path ${Math.round(pprofMs)} ms, direct ${Math.round(directMs)} ms)`);
      if (!same) process.exitCode = 1;
    }
  }
}

function runSteps<T>(it: Generator<void, T>): T {
  for (;;) {
    const r = it.next();
    if (r.done) return r.value;
  }
}

/** Starts `serve` in a child process and waits until it listens. */
async function startServe(dir: string, port: number, servers: number): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), 'serve', dir, '--port', String(port), '--servers', String(servers), '--repeat', String(arg('repeat', 1))], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^ready .*$/m.exec(out);
      if (m) resolve(m[0]);
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
  return { child, line };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(dir: string): Promise<void> {
  const runs = arg('runs', 3);
  const port = arg('port', 9478);
  const { chromium } = await import('playwright-core');
  const page: number[] = [];
  const graph: number[] = [];
  const top: number[] = [];
  const graphAlone: number[] = [];
  const topAlone: number[] = [];
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  // One process holds the store (loading it takes a while); every measurement asks a server of its own.
  const s = await startServe(dir, port, 3 * runs);
  console.log(s.line);
  try {
    for (let r = 0; r < runs; r++) {
      const base = `http://127.0.0.1:${port + 3 * r}`;
      const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      const p = await context.newPage();
      const took = new Map<string, number>();
      const started = new Map<object, number>();
      p.on('request', (q) => started.set(q, performance.now()));
      p.on('requestfinished', (q) => {
        const path = new URL(q.url()).pathname;
        if (!took.has(path)) took.set(path, performance.now() - started.get(q)!);
      });
      await p.goto(`${base}/`);
      await p.waitForSelector('body[data-ready-ms]', { timeout: 120_000 });
      page.push(Number(await p.locator('body').getAttribute('data-ready-ms')));
      await p.waitForFunction(() => document.querySelectorAll('#top tbody tr').length > 0, undefined, { timeout: 120_000 });
      graph.push(took.get('/flamegraph') ?? NaN);
      top.push(took.get('/api/top') ?? NaN);
      await context.close();
      // Each route alone on a server of its own: its whole cost (cold worker and caches), as the page asks for it.
      for (const [i, route, into] of [[1, '/flamegraph?type=cpu&from=0&to=9999999999&width=1000', graphAlone], [2, '/api/top?type=cpu&from=0&to=9999999999', topAlone]] as const) {
        const t0 = performance.now();
        const res = await fetch(`http://127.0.0.1:${port + 3 * r + i}${route}`);
        await res.arrayBuffer();
        into.push(performance.now() - t0);
      }
    }
  } finally {
    s.child.kill();
    await browser.close();
  }
  const fmt = (xs: number[]) => `median ${Math.round(median(xs))} ms [${xs.map((x) => Math.round(x)).join(', ')}]`;
  console.log(`page to first flamegraph: ${fmt(page)}`);
  console.log(`in the page: /flamegraph ${fmt(graph)}; /api/top ${fmt(top)}`);
  console.log(`alone: /flamegraph ${fmt(graphAlone)}; /api/top ${fmt(topAlone)}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [cmd, dir] = process.argv.slice(2);
  if (!dir || !['record', 'serve', 'measure', 'check'].includes(cmd)) {
    console.error('usage: ui-load.js record|serve|measure|check DIR [--windows N] [--port N] [--runs N] [--servers N] [--repeat N]');
    process.exit(2);
  }
  if (cmd === 'record') await record(dir);
  else if (cmd === 'serve') await serve(dir);
  else if (cmd === 'check') await check(dir);
  else await measure(dir);
}
