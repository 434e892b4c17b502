// True user stacks without frame pointers (issue 9): the in-kernel walker over .eh_frame/.debug_frame tables,
// checked end to end through `hotpath record` on programs built without frame pointers, a Debian binary,
// a Go program, and against `perf record --call-graph dwarf` on the same binary.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { requireRoot, runCli, runTool, tempDir } from '../test-support/kernel.js';

/** comparator ← libc qsort ← level4 ← level3 ← level2 ← level1 ← main, no frame pointers anywhere. */
const QSORT_SOURCE = `
#include <stdlib.h>
#include <stdint.h>
volatile uint64_t sink;
__attribute__((noinline)) int unwind_cmp_hot(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  for (int i = 0; i < 20; i++) sink += i;
  return x < y ? -1 : x > y;
}
static uint64_t data[4096];
/* Work after each call keeps the calls from becoming tail jumps, so every level keeps its frame. */
__attribute__((noinline)) void level4(void) { for (int i = 0; i < 4096; i++) data[i] = (uint64_t)rand(); qsort(data, 4096, 8, unwind_cmp_hot); sink++; }
__attribute__((noinline)) void level3(void) { level4(); sink++; }
__attribute__((noinline)) void level2(void) { level3(); sink++; }
__attribute__((noinline)) void level1(void) { level2(); sink++; }
int main(void) { for (;;) level1(); }
`;

const CHAIN = ['main', 'level1', 'level2', 'level3', 'level4'];

interface FoldedStack {
  frames: string[]; // root first, after the process name
  count: number;
}

function readFolded(file: string): FoldedStack[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const sp = line.lastIndexOf(' ');
      return { frames: line.slice(0, sp).split(';').slice(1), count: Number(line.slice(sp + 1)) };
    });
}

/** Whether `names` holds `wanted` in this order (other frames may sit between them). */
function inOrder(names: string[], wanted: string[]): boolean {
  let i = 0;
  for (const n of names) if (i < wanted.length && n === wanted[i]) i++;
  return i === wanted.length;
}

const share = (stacks: FoldedStack[], pick: (s: FoldedStack) => boolean) => {
  const all = stacks.reduce((a, s) => a + s.count, 0);
  return all === 0 ? 0 : stacks.filter(pick).reduce((a, s) => a + s.count, 0) / all;
};

let children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children = [];
});

function start(file: string, args: string[] = [], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  const c = spawn(file, args, { stdio: 'ignore', ...opts });
  children.push(c);
  return c;
}

async function record(pid: number, out: string, extra: string[] = []): Promise<FoldedStack[]> {
  const r = await runCli(['record', '--pid', String(pid), '--duration', '3', '--output', out, ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return readFolded(out);
}

describe('user stacks without frame pointers (kernel)', () => {
  it('(a) a qsort comparator carries the whole chain to main, as perf --call-graph dwarf does', async () => {
    requireRoot();
    const dir = tempDir('hotpath-unwind-');
    writeFileSync(join(dir, 'qs.c'), QSORT_SOURCE);
    const bin = join(dir, 'qs-nofp');
    execFileSync('gcc', ['-O2', '-fomit-frame-pointer', '-o', bin, join(dir, 'qs.c')]);
    const child = start(bin);
    await new Promise((r) => setTimeout(r, 300));

    const ours = (await record(child.pid!, join(dir, 'dwarf.folded'))).filter((s) => s.frames.at(-1) === 'unwind_cmp_hot');
    const fp = (await record(child.pid!, join(dir, 'fp.folded'), ['--unwind', 'fp'])).filter((s) => s.frames.at(-1) === 'unwind_cmp_hot');
    const whole = (s: FoldedStack) => inOrder(s.frames, [...CHAIN, 'unwind_cmp_hot']) && s.frames.some((f) => /qsort|msort/.test(f));
    const ourShare = share(ours, whole);
    const fpShare = share(fp, whole);

    // perf on the same binary, the reference users compare with.
    const data = join(dir, 'perf.data');
    await runTool('perf', ['record', '-q', '-e', 'cpu-clock', '-F', '99', '--call-graph', 'dwarf', '-p', String(child.pid), '-o', data, '--', 'sleep', '3']);
    const script = (await runTool('perf', ['script', '-i', data, '-F', 'ip,sym'])).stdout;
    const perfStacks: FoldedStack[] = script
      .split('\n\n')
      .map((block) =>
        block
          .split('\n')
          .filter((l) => l.trim() && !l.includes('(inlined)'))
          .map((l) => l.trim().split(/\s+/)[1]?.replace(/\+0x[0-9a-f]+$/, '') ?? '')
          .reverse(),
      )
      .filter((frames) => frames.at(-1) === 'unwind_cmp_hot')
      .map((frames) => ({ frames, count: 1 }));
    const perfShare = share(perfStacks, (s) => inOrder(s.frames, [...CHAIN, 'unwind_cmp_hot']));
    console.log(
      `qsort chain to main: hotpath dwarf ${(100 * ourShare).toFixed(1)}% of ${ours.reduce((a, s) => a + s.count, 0)} comparator samples, ` +
        `frame pointers ${(100 * fpShare).toFixed(1)}%, perf --call-graph dwarf ${(100 * perfShare).toFixed(1)}% of ${perfStacks.length}`,
    );
    expect(ours.length).toBeGreaterThan(0);
    expect(ourShare).toBeGreaterThanOrEqual(0.9);
    expect(perfShare).toBeGreaterThanOrEqual(0.9);
    // Without tables the walk loses the chain (the reason this exists).
    expect(fpShare).toBeLessThan(0.5);
  });

  it('(b) off-CPU: a function that blocks in usleep owns >= 80% of its process\'s off-CPU time', async () => {
    requireRoot();
    const dir = tempDir('hotpath-unwind-offcpu-');
    writeFileSync(
      join(dir, 'sleeper.c'),
      `#include <unistd.h>
volatile int sink;
__attribute__((noinline)) void unwind_blocks_here(void) { usleep(5000); sink++; }
__attribute__((noinline)) void unwind_caller(void) { unwind_blocks_here(); sink++; }
int main(void) { for (;;) unwind_caller(); }
`,
    );
    const bin = join(dir, 'sleeper');
    execFileSync('gcc', ['-O2', '-fomit-frame-pointer', '-o', bin, join(dir, 'sleeper.c')]);
    const child = start(bin);
    await new Promise((r) => setTimeout(r, 300));
    const owns = (s: FoldedStack) => s.frames.includes('unwind_blocks_here') && inOrder(s.frames, ['main', 'unwind_caller', 'unwind_blocks_here']);
    const dwarf = await record(child.pid!, join(dir, 'dwarf.folded'), ['--type', 'offcpu']);
    const fp = await record(child.pid!, join(dir, 'fp.folded'), ['--type', 'offcpu', '--unwind', 'fp']);
    console.log(
      `off-CPU in unwind_blocks_here (under unwind_caller and main): dwarf ${(100 * share(dwarf, owns)).toFixed(1)}%, ` +
        `frame pointers ${(100 * share(fp, owns)).toFixed(1)}%`,
    );
    expect(share(dwarf, owns)).toBeGreaterThanOrEqual(0.8);
    expect(share(fp, owns)).toBeLessThan(0.5);
  });

  it('(c) a Debian binary built without frame pointers (xz) reaches main in >= 90% of its samples', async () => {
    requireRoot();
    const dir = tempDir('hotpath-unwind-xz-');
    const input = join(dir, 'input');
    writeFileSync(input, Buffer.alloc(96 * 1024 * 1024, 0).map((_, i) => (i * 2654435761) >>> 13));
    const child = start('/usr/bin/xz', ['-9', '-T1', '-k', '-f', '-c', input], { cwd: dir });
    await new Promise((r) => setTimeout(r, 300));
    const stacks = await record(child.pid!, join(dir, 'xz.folded'));
    // main is not in xz's dynamic symbols; its caller in libc is (libc6-dbg): a stack that reaches it went through main.
    const reached = share(stacks, (s) => s.frames.includes('__libc_start_call_main'));
    const depth = stacks.reduce((a, s) => a + s.frames.length * s.count, 0) / stacks.reduce((a, s) => a + s.count, 0);
    console.log(`xz -9: ${(100 * reached).toFixed(1)}% of samples reach main, mean depth ${depth.toFixed(1)} frames`);
    expect(reached).toBeGreaterThanOrEqual(0.9);
  });

  it('(d) a Go program\'s frameless hot leaf keeps its caller main.main (tables from .debug_frame)', async () => {
    requireRoot();
    const dir = tempDir('hotpath-unwind-go-');
    const env = { ...process.env, HOME: dir, GOCACHE: join(dir, 'gocache'), GOPATH: join(dir, 'gopath'), GOFLAGS: '-mod=mod', CGO_ENABLED: '0' };
    mkdirSync(join(dir, 'app'));
    writeFileSync(join(dir, 'app', 'go.mod'), 'module hotgo\n\ngo 1.19\n');
    writeFileSync(
      join(dir, 'app', 'main.go'),
      `package main

//go:noinline
func hotGo(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i * i
	}
	return s
}

func main() {
	t := 0
	for {
		t += hotGo(50000000)
		if t == 42 {
			println(t)
		}
	}
}
`,
    );
    execFileSync('go', ['build', '-o', join(dir, 'hotgo'), '.'], { cwd: join(dir, 'app'), env });
    const child = start(join(dir, 'hotgo'));
    await new Promise((r) => setTimeout(r, 300));
    const stacks = (await record(child.pid!, join(dir, 'go.folded'))).filter((s) => s.frames.at(-1) === 'main.hotGo');
    const withCaller = share(stacks, (s) => s.frames.at(-2) === 'main.main');
    console.log(`go: main.main is main.hotGo's caller in ${(100 * withCaller).toFixed(1)}% of ${stacks.reduce((a, s) => a + s.count, 0)} samples`);
    expect(stacks.length).toBeGreaterThan(0);
    expect(withCaller).toBeGreaterThanOrEqual(0.95);
  });
});
