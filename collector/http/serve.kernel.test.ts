// Kernel tests of `hotpath serve`: a live agent profiling a known workload, read by the real go tool pprof.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import {
  HOT_LOOP_SOURCE, compileWorkload, requireRoot, runTool, startAgent, startProcess, tempDir, type RunningAgent,
} from '../test-support/kernel.js';

function namesIn(p: Profile): Set<string> {
  const s = p.stringTable.strings;
  return new Set(p.function.map((f) => s[Number(f.name)]));
}

describe('hotpath serve (kernel)', () => {
  let agent: RunningAgent;
  let workload: ChildProcess;
  let stripped: ChildProcess;
  let dir: string;
  const goEnv: Record<string, string> = {};

  beforeAll(async () => {
    requireRoot();
    dir = tempDir('hotpath-serve-');
    for (const k of ['HOME', 'GOCACHE', 'GOPATH', 'PPROF_TMPDIR']) {
      goEnv[k] = join(dir, k.toLowerCase());
      mkdirSync(goEnv[k], { recursive: true });
    }
    workload = startProcess(compileWorkload(dir, 'hot', HOT_LOOP_SOURCE));
    // A binary without any symbol table: its frames stay unnamed, so go tool pprof asks /debug/pprof/symbol.
    stripped = startProcess(compileWorkload(dir, 'stripped-hot', HOT_LOOP_SOURCE.replaceAll('hotpath_serve_hot', 'stripped_hot'), ['-s']));
    agent = await startAgent(['--programs', 'cpu,offcpu', '--window', '1s', '--retention', '5m']);
  });

  afterAll(async () => {
    workload?.kill('SIGKILL');
    stripped?.kill('SIGKILL');
    if (agent) expect(await agent.stop()).toBe(0);
  });

  it('serves a live profile that go tool pprof -top reads, with the hot function on top', async () => {
    const r = await runTool('go', ['tool', 'pprof', '-top', '-symbolize=none', `${agent.url}/debug/pprof/profile?seconds=2`], goEnv);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Type: cpu/);
    expect(r.stdout).toMatch(/Duration: 2(\.\d+)?s,/);
    const top = r.stdout.split('\n').filter((l) => /^\s+\d/.test(l)).slice(0, 5).join('\n');
    expect(top).toContain('hotpath_serve_hot');
  });

  it('go tool pprof with its default symbolization reads a profile with frames nobody can name', async () => {
    // pprof posts the unnamed addresses to /debug/pprof/symbol and gives up on the profile unless it gets a 200.
    const r = await runTool('go', ['tool', 'pprof', '-top', '-nodecount=200', `${agent.url}/debug/pprof/profile?seconds=3`], goEnv);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Type: cpu/);
    // The stripped binary's frames are there, unnamed, under its mapping; the named workload too. The stripped
    // copy has the named binary's layout: its addresses must not be given the other's names by symbolz.
    expect(r.stdout).toMatch(/\[stripped-hot\]$/m);
    expect(r.stdout).toMatch(/hotpath_serve_hot$/m);
    const share = (re: RegExp) => Number(re.exec(r.stdout)?.[1] ?? 0);
    // The two spin alike: similar shares (given to the named one, the copy's share would be near 0 and the
    // named one's doubled).
    const strippedShare = share(/([\d.]+)%\s+\S+\s+\S+\s+\S+\s+\[stripped-hot\]$/m);
    const namedShare = share(/([\d.]+)%\s+\S+\s+\S+\s+\S+\s+hotpath_serve_hot$/m);
    expect(strippedShare).toBeGreaterThan(5);
    expect(strippedShare / namedShare).toBeGreaterThan(0.4);
    expect(strippedShare / namedShare).toBeLessThan(2.5);
  });

  it('answers /debug/pprof/symbol and /debug/pprof/cmdline as Go does', async () => {
    const get = await request(`${agent.url}/debug/pprof/symbol`);
    expect(get.statusCode).toBe(200);
    expect(await get.body.text()).toBe('num_symbols: 1\n');
    // Names come from the profiles served: an agent that profiles only the named workload serves one, then
    // is asked for its addresses (this agent also served the stripped copy, which makes them ambiguous).
    const own = await startAgent(['--programs', 'cpu', '--pid', String(workload.pid)]);
    try {
      const res = await request(`${own.url}/debug/pprof/profile?seconds=1`);
      const p = Profile.decode(gunzipSync(Buffer.from(await res.body.arrayBuffer())));
      const s = p.stringTable.strings;
      const hot = p.function.find((f) => s[Number(f.name)] === 'hotpath_serve_hot')!;
      const address = BigInt(p.location.find((l) => l.line.some((ln) => ln.functionId === hot.id))!.address);
      const post = await request(`${own.url}/debug/pprof/symbol`, { method: 'POST', body: `0x${address.toString(16)}+0x1+junk` });
      expect(post.statusCode).toBe(200);
      expect(await post.body.text()).toBe(`num_symbols: 1\n0x${address.toString(16)} hotpath_serve_hot\n`);
      // The agent that also profiled the stripped copy leaves the same address out.
      const shared = await request(`${agent.url}/debug/pprof/symbol`, { method: 'POST', body: `0x${address.toString(16)}` });
      expect(await shared.body.text()).toBe('num_symbols: 1\n');
    } finally {
      expect(await own.stop()).toBe(0);
    }
    const tooBig = await request(`${agent.url}/debug/pprof/symbol`, { method: 'POST', body: Buffer.alloc(3 * 1024 * 1024, 0x31) });
    expect(tooBig.statusCode).toBe(413);
    await tooBig.body.text();
    const cmdline = await request(`${agent.url}/debug/pprof/cmdline`);
    expect((await cmdline.body.text()).split('\0').slice(1, 2)).toEqual(['serve']);
  });

  it('answers pid-filtered live profiles with only that process', async () => {
    const res = await request(`${agent.url}/debug/pprof/profile?seconds=1&pid=${workload.pid}`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['content-encoding']).toBeUndefined();
    const p = Profile.decode(gunzipSync(Buffer.from(await res.body.arrayBuffer())));
    const s = p.stringTable.strings;
    const pids = new Set(p.sample.flatMap((x) => x.label.filter((l) => s[Number(l.key)] === 'pid').map((l) => Number(l.num))));
    expect([...pids]).toEqual([workload.pid]);
    expect(namesIn(p).has('hotpath_serve_hot')).toBe(true);
  });

  it('answers concurrent live requests from the one set of attached programs', async () => {
    const t0 = Date.now();
    const responses = await Promise.all([1, 2, 2].map((sec) => request(`${agent.url}/debug/pprof/profile?seconds=${sec}`)));
    const profiles = await Promise.all(responses.map(async (r) => {
      expect(r.statusCode).toBe(200);
      return Profile.decode(gunzipSync(Buffer.from(await r.body.arrayBuffer())));
    }));
    // They ran side by side, not one after another.
    expect(Date.now() - t0).toBeLessThan(4500);
    for (const p of profiles) expect(namesIn(p).has('hotpath_serve_hot')).toBe(true);
    expect(profiles.map((p) => Math.round(Number(p.durationNanos) / 1e9))).toEqual([1, 2, 2]);
  });

  it('merges retained windows for a from/to history query', async () => {
    await new Promise((r) => setTimeout(r, 3500));
    const to = Math.floor(Date.now() / 1000);
    const from = to - 3;
    const res = await request(`${agent.url}/debug/pprof/profile?from=${from}&to=${new Date(to * 1000).toISOString()}`);
    expect(res.statusCode).toBe(200);
    const p = Profile.decode(gunzipSync(Buffer.from(await res.body.arrayBuffer())));
    expect(namesIn(p).has('hotpath_serve_hot')).toBe(true);
    // Several 1 s windows were merged: the profile spans at least 2 s and about one CPU's worth of samples.
    expect(Number(p.durationNanos)).toBeGreaterThanOrEqual(2e9);
    const samples = p.sample.reduce((a, x) => a + Number(x.value[0]), 0);
    expect(samples).toBeGreaterThan(2 * 99 * 0.8);
  });

  it('serves off-CPU profiles and flamegraphs', async () => {
    const res = await request(`${agent.url}/debug/pprof/offcpu?seconds=1`);
    expect(res.statusCode).toBe(200);
    const p = Profile.decode(gunzipSync(Buffer.from(await res.body.arrayBuffer())));
    const s = p.stringTable.strings;
    expect(p.sampleType.map((t) => s[Number(t.type)])).toEqual(['samples', 'offcpu']);
    // Something on the machine always blocks in the kernel's scheduler.
    expect(namesIn(p).has('__schedule')).toBe(true);
    const page = await request(`${agent.url}/flamegraph?type=offcpu&seconds=1`);
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(await page.body.text()).toMatch(/class="frame" data-name="__schedule"/);
  });

  const bad: [string, number, RegExp][] = [
    ['/debug/pprof/profile?seconds=abc', 400, /invalid seconds/],
    ['/debug/pprof/profile?seconds=0', 400, /invalid seconds/],
    ['/debug/pprof/profile?seconds=-5', 400, /invalid seconds/],
    ['/debug/pprof/profile?seconds=100000', 400, /exceeds the limit/],
    ['/debug/pprof/profile?from=yesterday&to=now', 400, /invalid from/],
    ['/debug/pprof/profile?from=1000&to=999', 400, /must be after/],
    ['/debug/pprof/profile?from=1000', 400, /go together/],
    ['/debug/pprof/profile?from=1000&to=2000', 404, /outside the retained history/],
    ['/debug/pprof/profile?seconds=1&pid=abc', 400, /invalid pid/],
    ['/debug/pprof/profile?bogus=1', 400, /unknown query parameter/],
    ['/debug/pprof/offcpu?seconds=0', 400, /invalid seconds/],
    ['/flamegraph?type=gpu', 400, /invalid type/],
    ['/flamegraph?type=cpu&seconds=x', 400, /invalid seconds/],
    ['/flamegraph?pid=1;2', 400, /invalid pid/],
    ['/no/such/route', 404, /404 page not found/],
  ];
  it.each(bad)('rejects %s with %i, text/plain and X-Go-Pprof', async (path, status, message) => {
    const res = await request(`${agent.url}${path}`);
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.headers['x-go-pprof']).toBe('1');
    expect(await res.body.text()).toMatch(message);
  });

  it('keeps serving after bad input: index, pprof index, healthz, metrics', async () => {
    for (const path of ['/', '/debug/pprof/', '/healthz', '/metrics']) {
      const res = await request(`${agent.url}${path}`);
      expect(res.statusCode, path).toBe(200);
      await res.body.text();
    }
    const post = await request(`${agent.url}/debug/pprof/profile`, { method: 'POST' });
    expect(post.statusCode).toBe(405);
    await post.body.text();
  });

  it('exports the unwinder\'s self-metrics, which promtool accepts', async () => {
    await new Promise((r) => setTimeout(r, 1500)); // a window for the tables and the walker to have worked
    const res = await request(`${agent.url}/metrics`);
    const text = await res.body.text();
    const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? Number.NaN);
    expect(value(/^hotpath_unwind_table_bytes (\d+)$/m)).toBeGreaterThan(0);
    expect(value(/^hotpath_unwind_table_capacity_bytes (\d+)$/m)).toBe(32 * 1024 * 1024);
    expect(value(/^hotpath_unwind_frames_total\{method="table"\} (\d+)$/m)).toBeGreaterThan(0);
    expect(value(/^hotpath_unwind_table_files\{state="ready"\} (\d+)$/m)).toBeGreaterThan(0);
    expect(text).toMatch(/^hotpath_unwind_walks_total\{end="outermost"\} \d+$/m);
    const file = join(dir, 'metrics.txt');
    writeFileSync(file, text);
    const check = await runTool('sh', ['-c', `promtool check metrics < ${file}`]);
    expect(check.stdout + check.stderr).toBe('');
  });

  it('go tool pprof prints the error body of a bad request', async () => {
    const r = await runTool('go', ['tool', 'pprof', '-top', `${agent.url}/debug/pprof/profile?seconds=abc`], goEnv);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/invalid seconds/);
  });
});
