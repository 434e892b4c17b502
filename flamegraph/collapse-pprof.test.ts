import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Profile, StringTable, ValueType } from 'pprof-format';
import { afterAll, describe, expect, test } from 'vitest';
import { collapsePprof, collapsePprofDetailed, FlamegraphError, selectSampleType, type FoldedStack } from './index.js';
import { decodedTestProfile } from './test-support/test-profile.js';

const names = (s: FoldedStack) => s.frames.map((f) => `${f.name}<${f.kind}>`).join(';');

describe('collapsePprof', () => {
  test('expands inlined lines, names unsymbolized frames, classifies kinds; default value is the last type', () => {
    const r = collapsePprofDetailed(decodedTestProfile());
    expect(r.sampleType).toEqual({ index: 1, type: 'cpu', unit: 'nanoseconds' });
    expect(r.stacks.map((s) => [names(s), s.value])).toEqual([
      ['0xdead0<unknown>', 10_000_000],
      ['main<native>;Builtin:JSEntry<jit>;JS:*handler /srv/app.js:10:3<jit>', 40_000_000],
      ['main<native>;app+0x2234<unknown>', 10_000_000], // 0x401234 - 0x400000 + file offset 0x1000
      ['main<native>;app+0x2300<unknown>', 10_000_000], // a function without a name falls back to the address
      ['main<native>;compute<native>;inner_inlined<native>', 40_000_000], // two samples merged; inline expanded
      ['main<native>;do_syscall_64<kernel>;vfs_read<kernel>', 20_000_000],
    ]);
    expect(r.total).toBe(130_000_000);
    expect(r.dropped).toEqual({ negativeValues: 1, missingLocations: 0, truncatedStacks: 0 });
  });

  test('selects sample types by name, index, or the profile default; rejects unknown ones with a code', () => {
    const p = decodedTestProfile();
    const counts = collapsePprof(p, { sampleType: 'samples' });
    // The sample with a negative cpu value has a positive count, so it counts here.
    expect(counts.reduce((a, s) => a + s.value, 0)).toBe(14);
    expect(collapsePprof(p, { valueIndex: 0 })).toEqual(counts);
    expect(selectSampleType(decodedTestProfile({ defaultSampleType: 'samples' })).type).toBe('samples');
    expect(() => collapsePprof(p, { sampleType: 'alloc_space' })).toThrow(FlamegraphError);
    try {
      collapsePprof(p, { valueIndex: 5 });
    } catch (err) {
      expect((err as FlamegraphError).code).toBe('FLAMEGRAPH_BAD_VALUE_INDEX');
    }
    expect.assertions(5);
  });

  test('process root frames from comm/pid labels when asked', () => {
    const stacks = collapsePprof(decodedTestProfile(), { processRoot: true });
    const roots = stacks.map((s) => s.frames[0].name);
    expect(roots).toEqual(['0xdead0', 'app-42', 'app-42', 'app-42', 'app-42', 'node-7']);
  });

  test('dangling location ids and oversized stacks are counted, not thrown', () => {
    const st = new StringTable();
    const p = new Profile({
      sampleType: [new ValueType({ type: st.dedup('samples'), unit: st.dedup('count') })],
      sample: [{ locationId: [99, 98], value: [2] }, { locationId: Array.from({ length: 50 }, () => 99), value: [1] }] as never,
      stringTable: st,
    });
    const r = collapsePprofDetailed(Profile.decode(p.encode()), { maxDepth: 10 });
    expect(r.dropped.missingLocations).toBe(52);
    expect(r.dropped.truncatedStacks).toBe(1);
    expect(r.stacks[0].frames.map((f) => f.name)).toEqual(['[missing location 98]', '[missing location 99]']);
    expect(r.stacks[1].frames).toHaveLength(10);
  });

  test('a profile without sample types is refused with a code', () => {
    expect(() => collapsePprof(new Profile())).toThrow(/no sample types/);
  });
});

// A real Go CPU profile, read back by `go tool pprof -traces`: our stacks must be Go's stacks.
describe('collapsePprof on a real Go CPU profile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hotpath-fg-go-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('matches go tool pprof -traces, inlined frames included', () => {
    writeFileSync(join(dir, 'go.mod'), 'module fgtest\n\ngo 1.19\n');
    writeFileSync(join(dir, 'main.go'), GO_PROGRAM);
    execFileSync('go', ['build', '-o', 'app', '.'], { cwd: dir, env: { ...process.env, GOFLAGS: '-mod=mod' } });
    execFileSync(join(dir, 'app'), [join(dir, 'cpu.pprof')]);
    const profile = Profile.decode(gunzipSync(readFileSync(join(dir, 'cpu.pprof'))));
    const ours = new Map<string, number>();
    for (const s of collapsePprof(profile)) ours.set(s.frames.map((f) => f.name).join(';'), s.value);

    const traces = execFileSync('go', ['tool', 'pprof', '-traces', '-unit=ns', join(dir, 'app'), join(dir, 'cpu.pprof')],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const theirs = new Map<string, number>();
    for (const block of traces.split(/^-+\+-+$/m).slice(1)) {
      const lines = block.split('\n').filter((l) => l.trim() !== '');
      if (lines.length === 0) continue;
      const m = /^\s*(\d+)ns\s+(.*)$/.exec(lines[0]);
      if (!m) continue;
      const frames = [m[2], ...lines.slice(1)].map((l) => l.trim().replace(/ \(inline\)$/, '')).reverse();
      const key = frames.join(';');
      theirs.set(key, (theirs.get(key) ?? 0) + Number(m[1]));
    }
    expect(theirs.size).toBeGreaterThan(0);
    expect(Object.fromEntries([...ours].sort())).toEqual(Object.fromEntries([...theirs].sort()));
    // The inlined helper must appear as its own frame between main.main and main.hotLoop.
    expect([...ours.keys()].some((k) => k.endsWith('main.main;main.inlinedHelper;main.hotLoop'))).toBe(true);
    expect(collapsePprof(profile).every((s) => s.frames.every((f) => f.kind === 'native'))).toBe(true);
  });
});

const GO_PROGRAM = `package main

import (
	"os"
	"runtime/pprof"
	"time"
)

var sink int

//go:noinline
func hotLoop(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i * i % 7
	}
	return s
}

func inlinedHelper(n int) int { return hotLoop(n) + 1 }

//go:noinline
func coldLoop(n int) int { return hotLoop(n / 4) }

func main() {
	f, _ := os.Create(os.Args[1])
	pprof.StartCPUProfile(f)
	deadline := time.Now().Add(1000 * time.Millisecond)
	for time.Now().Before(deadline) {
		sink += inlinedHelper(200000)
		sink += coldLoop(200000)
	}
	pprof.StopCPUProfile()
	f.Close()
}
`;
