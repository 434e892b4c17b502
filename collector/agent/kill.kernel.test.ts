// `kill -9` of a running agent (issue 10): nothing it attached outlives it, since every program, link and
// perf event is held by a file descriptor of the process and nothing is pinned, and a new agent (as systemd's
// Restart= or a DaemonSet would start) attaches and serves profiles again.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { HOT_LOOP_SOURCE, compileWorkload, requireRoot, startAgent, startProcess, tempDir, type RunningAgent } from '../test-support/kernel.js';

/** The BPF program and link ids behind a process's file descriptors (from /proc/<pid>/fdinfo). */
function heldBpfObjects(pid: number): { progIds: Set<number>; linkIds: Set<number> } {
  const progIds = new Set<number>();
  const linkIds = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    let info: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    const field = (name: string) => Number(new RegExp(`^${name}:\\s*(\\d+)$`, 'm').exec(info)?.[1] ?? NaN);
    if (target === 'anon_inode:bpf-prog') progIds.add(field('prog_id'));
    if (target === 'anon_inode:bpf_link') {
      linkIds.add(field('link_id'));
      progIds.add(field('prog_id'));
    }
  }
  return { progIds, linkIds };
}

/** Programs and links the kernel has now, as bpftool lists them: id → name (links: id → program id). */
function bpftoolList(kind: 'prog' | 'link'): Map<number, string> {
  const out = JSON.parse(execFileSync('bpftool', ['-j', kind, 'show'], { encoding: 'utf8', maxBuffer: 1 << 26 })) as Array<{ id: number; name?: string; prog_id?: number }>;
  return new Map(out.map((o) => [o.id, o.name ?? String(o.prog_id)]));
}

async function cpuSamples(agent: RunningAgent): Promise<Map<string, number>> {
  const res = await request(`${agent.url}/debug/pprof/profile?seconds=2`);
  expect(res.statusCode).toBe(200);
  const p = Profile.decode(gunzipSync(Buffer.from(await res.body.arrayBuffer())));
  const s = p.stringTable.strings;
  const fn = new Map(p.function.map((f) => [Number(f.id), s[Number(f.name)]]));
  const leafOf = new Map(p.location.map((l) => [Number(l.id), fn.get(Number(l.line[0]?.functionId)) ?? '']));
  const byLeaf = new Map<string, number>();
  for (const x of p.sample) {
    const leaf = leafOf.get(Number(x.locationId[0])) ?? '';
    byLeaf.set(leaf, (byLeaf.get(leaf) ?? 0) + Number(x.value[0]));
  }
  return byLeaf;
}

describe('kill -9 of a running agent (kernel)', () => {
  let workload: ChildProcess | undefined;
  let restarted: RunningAgent | undefined;

  afterAll(async () => {
    workload?.kill('SIGKILL');
    await restarted?.stop();
  });

  const EVERY_PROGRAM = ['--window', '1s', '--programs', 'cpu,offcpu,runqlat,biolatency,io'];

  it('leaves no program or link attached, and a restarted agent attaches and profiles again', async () => {
    requireRoot();
    workload = startProcess(compileWorkload(tempDir('hotpath-kill-'), 'hot', HOT_LOOP_SOURCE));
    const agent = await startAgent(EVERY_PROGRAM);
    const pid = agent.child.pid!;
    const held = heldBpfObjects(pid);
    const progs = bpftoolList('prog');
    const names = [...held.progIds].map((id) => progs.get(id));
    // Ours, by name: the CPU sampler (DWARF or frame-pointer twin) and the tracing programs (BTF or raw twins).
    expect(names.some((n) => n === 'sample_cpu' || n === 'sample_cpu_fp'), names.join(',')).toBe(true);
    for (const prefix of ['offcpu_switch_', 'offcpu_sys_exit_', 'runqlat_', 'bio_', 'io_start_', 'io_issue_', 'io_complete_']) {
      expect(names.some((n) => n?.startsWith(prefix)), `${prefix}* in ${names.join(',')}`).toBe(true);
    }
    expect(held.linkIds.size).toBeGreaterThanOrEqual(held.progIds.size);
    expect((await cpuSamples(agent)).get('hotpath_serve_hot') ?? 0).toBeGreaterThan(0);

    const exited = new Promise<NodeJS.Signals | null>((resolve) => agent.child.once('exit', (_code, signal) => resolve(signal)));
    agent.child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    // The kernel releases programs and links when their last fd is closed, after an RCU grace period.
    let leftProgs: number[] = [];
    let leftLinks: number[] = [];
    for (let waited = 0; waited <= 10_000; waited += 250) {
      const nowProgs = bpftoolList('prog');
      const nowLinks = bpftoolList('link');
      leftProgs = [...held.progIds].filter((id) => nowProgs.has(id));
      leftLinks = [...held.linkIds].filter((id) => nowLinks.has(id));
      if (leftProgs.length === 0 && leftLinks.length === 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(leftProgs, 'programs of the killed agent still loaded').toEqual([]);
    expect(leftLinks, 'links of the killed agent still attached').toEqual([]);

    restarted = await startAgent(EVERY_PROGRAM);
    const again = heldBpfObjects(restarted.child.pid!);
    expect(again.progIds.size).toBe(held.progIds.size);
    expect((await cpuSamples(restarted)).get('hotpath_serve_hot') ?? 0).toBeGreaterThan(0);
    const health = await request(`${restarted.url}/healthz`);
    expect(health.statusCode).toBe(200);
    await health.body.dump();
    expect(await restarted.stop()).toBe(0);
    restarted = undefined;
  });
});
