// Kernel tests of the wall-clock profile through the product: /debug/pprof/wall read by the real go tool pprof
// (tagfocus on the state label, sample_index), /flamegraph?type=wall, the route's answer when a program it is
// built from is not running, and `hotpath record --type wall`.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAndWait, requireRoot, runCli, runTool, startAgent, tempDir, type RunningAgent } from '../test-support/kernel.js';

const WORKLOAD = join(import.meta.dirname, '..', 'sources', 'test-support', 'wall-workload.c');

/** Per sample: its values, labels and function names (leaf first). */
function samplesOf(p: Profile) {
  const s = p.stringTable.strings;
  const locs = new Map(p.location.map((l) => [Number(l.id), l]));
  const fns = new Map(p.function.map((f) => [Number(f.id), f]));
  return p.sample.map((x) => ({
    values: x.value.map(Number),
    str: Object.fromEntries(x.label.filter((l) => Number(l.str) !== 0).map((l) => [s[Number(l.key)], s[Number(l.str)]])),
    num: Object.fromEntries(x.label.filter((l) => Number(l.str) === 0).map((l) => [s[Number(l.key)], Number(l.num)])),
    functions: x.locationId.flatMap((id) => (locs.get(Number(id))?.line ?? []).map((line) => s[Number(fns.get(Number(line.functionId))?.name ?? 0)])),
  }));
}

describe('wall-clock profile over HTTP and record (kernel)', () => {
  let dir: string;
  let binary: string;
  let workload: ChildProcess;
  let agent: RunningAgent;
  const goEnv: Record<string, string> = {};

  beforeAll(async () => {
    requireRoot();
    dir = tempDir('hotpath-wall-');
    for (const k of ['HOME', 'GOCACHE', 'GOPATH', 'PPROF_TMPDIR']) {
      goEnv[k] = join(dir, k.toLowerCase());
      mkdirSync(goEnv[k], { recursive: true });
    }
    binary = join(dir, 'wall-workload');
    execFileSync('gcc', ['-O1', '-fno-omit-frame-pointer', '-pthread', '-o', binary, WORKLOAD]);
    workload = spawn(binary, ['alternate', '300'], { stdio: ['pipe', 'ignore', 'inherit'] });
    workload.stdin!.write('go\n');
    agent = await startAgent(['--programs', 'cpu,offcpu,wall', '--pid', String(workload.pid), '--window', '1s', '--retention', '5m']);
  });

  afterAll(async () => {
    await killAndWait([workload]);
    if (agent) expect(await agent.stop()).toBe(0);
  });

  it('serves /debug/pprof/wall: wall, cpu and offcpu nanoseconds, a state label, the thread\'s time summing to the span', async () => {
    const res = await request(`${agent.url}/debug/pprof/wall?seconds=4`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    const p = Profile.decode(gunzipSync(Buffer.from(await res.body.arrayBuffer())));
    const s = p.stringTable.strings;
    expect(p.sampleType.map((t) => `${s[Number(t.type)]}/${s[Number(t.unit)]}`)).toEqual(['wall/nanoseconds', 'cpu/nanoseconds', 'offcpu/nanoseconds']);
    expect(s[Number(p.defaultSampleType)]).toBe('wall');
    const samples = samplesOf(p).filter((x) => x.num.tid === workload.pid);
    const total = samples.reduce((a, x) => a + x.values[0], 0);
    const byState = (state: string, fn?: string) =>
      samples.filter((x) => x.str.state === state && (fn === undefined || x.functions.includes(fn))).reduce((a, x) => a + x.values[0], 0);
    const span = Number(p.durationNanos);
    console.log(
      `wall route: span ${(span / 1e9).toFixed(3)} s, thread ${(total / 1e9).toFixed(3)} s (${((100 * total) / span).toFixed(1)}%), ` +
        `running in burn_cpu ${((100 * byState('running', 'burn_cpu')) / total).toFixed(1)}%, sleeping in take_nap ${((100 * byState('sleeping', 'take_nap')) / total).toFixed(1)}%`,
    );
    expect(samples.every((x) => x.num.pid === workload.pid && x.str.comm === 'wall-workload')).toBe(true);
    expect(new Set(samples.map((x) => x.str.state))).toContain('sleeping');
    // A live profile spans whole windows; the thread lived through all of them.
    expect(Math.abs(total - span) / span).toBeLessThan(0.02);
    expect(byState('running', 'burn_cpu') / total).toBeGreaterThan(0.13);
    expect(byState('sleeping', 'take_nap') / total).toBeGreaterThan(0.65);
  });

  it('go tool pprof reads it: wall by default, -tagfocus=state=sleeping keeps take_nap only, -sample_index=cpu the CPU time', async () => {
    const sleeping = await runTool('go', ['tool', 'pprof', '-top', '-cum', '-symbolize=none', '-tagfocus=state=sleeping', `${agent.url}/debug/pprof/wall?seconds=2`], goEnv);
    expect(sleeping.code, sleeping.stderr).toBe(0);
    expect(sleeping.stdout).toMatch(/Type: wall/);
    expect(sleeping.stdout).toMatch(/take_nap$/m);
    expect(sleeping.stdout).not.toMatch(/burn_cpu$/m);
    const running = await runTool('go', ['tool', 'pprof', '-top', '-cum', '-symbolize=none', '-tagfocus=state=running', `${agent.url}/debug/pprof/wall?seconds=2`], goEnv);
    expect(running.code, running.stderr).toBe(0);
    // A CPU sample can land in take_nap on its way into or out of nanosleep: a sliver, not its time. Shares of
    // the running time (main's cum%: -tagfocus keeps the whole profile's total as 100%).
    const cumPercent = (out: string, fn: string) => Number(new RegExp(`\\s([\\d.]+)%\\s+${fn}$`, 'm').exec(out)?.[1] ?? 0);
    const ofRunning = (fn: string) => cumPercent(running.stdout, fn) / cumPercent(running.stdout, 'main');
    expect(ofRunning('burn_cpu'), running.stdout).toBeGreaterThan(0.8);
    expect(ofRunning('take_nap'), running.stdout).toBeLessThan(0.1);
    const cpu = await runTool('go', ['tool', 'pprof', '-top', '-symbolize=none', '-sample_index=cpu', `${agent.url}/debug/pprof/wall?seconds=2`], goEnv);
    expect(cpu.code, cpu.stderr).toBe(0);
    expect(cpu.stdout).toMatch(/Type: cpu/);
    expect(cpu.stdout).toMatch(/burn_cpu$/m);
    const tags = await runTool('go', ['tool', 'pprof', '-tags', '-symbolize=none', `${agent.url}/debug/pprof/wall?seconds=2`], goEnv);
    expect(tags.code, tags.stderr).toBe(0);
    expect(tags.stdout).toMatch(/state: .*sleeping/s);
  });

  it('renders /flamegraph?type=wall and reads retained history with from/to', async () => {
    const page = await request(`${agent.url}/flamegraph?type=wall&seconds=1`);
    expect(page.statusCode).toBe(200);
    const html = await page.body.text();
    expect(html).toContain('wall-clock');
    expect(html).toContain('take_nap');
    const now = Math.floor(Date.now() / 1000);
    const history = await request(`${agent.url}/debug/pprof/wall?from=${now - 60}&to=${now + 1}`);
    expect(history.statusCode).toBe(200);
    await history.body.arrayBuffer();
    const bad = await request(`${agent.url}/flamegraph?type=walls`);
    expect(bad.statusCode).toBe(400);
    expect(await bad.body.text()).toMatch(/expected cpu, offcpu, wall or io/);
  });

  it('answers 404 naming the missing program when wall runs without offcpu', async () => {
    const partial = await startAgent(['--programs', 'cpu,wall', '--pid', String(workload.pid), '--window', '1s']);
    try {
      const res = await request(`${partial.url}/debug/pprof/wall?seconds=1`);
      expect(res.statusCode).toBe(404);
      expect(res.headers['x-go-pprof']).toBe('1');
      expect(await res.body.text()).toMatch(/wall profile is built from the cpu and offcpu programs: offcpu not running \(add it to --programs\)/);
      expect(partial.stderr()).toMatch(/program wall not running/);
    } finally {
      expect(await partial.stop()).toBe(0);
    }
  });

  it('hotpath record --type wall writes a wall profile with the state label', async () => {
    const out = join(dir, 'wall.pb.gz');
    const r = await runCli(['record', '--type', 'wall', '--duration', '3', '--pid', String(workload.pid), '--output', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/s of thread time in 3\.\d s/);
    const p = Profile.decode(gunzipSync(readFileSync(out)));
    const s = p.stringTable.strings;
    expect(p.sampleType.map((t) => s[Number(t.type)])).toEqual(['wall', 'cpu', 'offcpu']);
    expect(s[Number(p.defaultSampleType)]).toBe('wall');
    const samples = samplesOf(p);
    const total = samples.reduce((a, x) => a + x.values[0], 0);
    const nap = samples.filter((x) => x.str.state === 'sleeping' && x.functions.includes('take_nap')).reduce((a, x) => a + x.values[0], 0);
    expect(total / Number(p.durationNanos)).toBeGreaterThan(0.9);
    expect(nap / total).toBeGreaterThan(0.6);
  });
});
