// Unwind tables of real files checked against `readelf --debug-dump=frames-interp`: programs gcc builds here
// (-O2 without frame pointers, -O0 with them, a lazy PLT, hand-written CFI, .debug_frame only, compressed),
// Go binaries (a zlib-compressed .debug_frame only; with cgo, .eh_frame and .debug_frame together), and the
// system's libc, libpython and node. Prints build times and sizes for the closing note.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bufferSource, parseElf } from '../symbolize/elf.js';
import { CfaRule, RbpRule, findUnwindRow, readUnwindRow } from './rows.js';
import { compareWithReadelf, readelfFrames } from './test-support/readelf-frames.js';
import { buildUnwindTable, type UnwindTable } from './unwind-table.js';

const LIBC = '/lib/x86_64-linux-gnu/libc.so.6';
const NODE = '/usr/bin/node';
const LIBPYTHON = fs.existsSync('/usr/lib/x86_64-linux-gnu')
  ? fs
      .readdirSync('/usr/lib/x86_64-linux-gnu')
      .filter((f) => /^libpython3\.\d+\.so\.1\.0$/.test(f))
      .map((f) => path.join('/usr/lib/x86_64-linux-gnu', f))[0]
  : undefined;

const PROGRAM = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
volatile int sink;
static void consume_impl(char *p) { sink += p[1]; }
void (*volatile consume)(char *) = consume_impl;
static int cmp(const void *a, const void *b) { int x = *(const int *)a, y = *(const int *)b; return (x > y) - (x < y); }
__attribute__((noinline)) void sort_some(int n) {
  int *v = malloc(n * sizeof *v);
  for (int i = 0; i < n; i++) v[i] = rand();
  qsort(v, n, sizeof *v, cmp);
  sink += v[0];
  free(v);
}
__attribute__((noinline)) int with_vla(int n) { char buf[n]; memset(buf, n, n); consume(buf); return buf[n / 2] + sink; }
__attribute__((noinline)) int aligned_local(int n) { _Alignas(64) char big[256]; memset(big, n, sizeof big); consume(big); return big[3]; }
static void release(char **p) { free(*p); }
__attribute__((noinline)) int with_cleanup(int n) { __attribute__((cleanup(release))) char *p = malloc(n + 1); p[0] = (char)n; sort_some(n); return p[0]; }
__attribute__((noinline)) int many_regs(int a, int b, int c, int d) {
  int r = 0;
  for (int i = 0; i < a; i++) r += with_vla(b + i) * c + aligned_local(d + i);
  return r;
}
int main(int argc, char **argv) { (void)argv; printf("%d\\n", many_regs(argc, 8, 3, 4) + with_cleanup(argc * 16)); return 0; }
`;

// Hand-written CFI: every rule kind the table distinguishes, at known places.
const CFI_ASM = `
	.text
	.type	cfi_outermost, @function
cfi_outermost:
	.cfi_startproc
	.cfi_undefined rip
	xorl	%ebp, %ebp
	call	cfi_states
	hlt
	.cfi_endproc
	.size	cfi_outermost, .-cfi_outermost

	.type	cfi_states, @function
cfi_states:
	.cfi_startproc
	pushq	%rbp
	.cfi_def_cfa_offset 16
	.cfi_offset rbp, -16
	movq	%rsp, %rbp
	.cfi_def_cfa_register rbp
	testl	%edi, %edi
	je	1f
	.cfi_remember_state
	leave
	.cfi_def_cfa rsp, 8
	.cfi_restore rbp
	ret
1:
	.cfi_restore_state
	.skip	300, 0x90
	nop
	.skip	70000, 0x90
	leave
	.cfi_def_cfa rsp, 8
	.cfi_restore rbp
	ret
	.cfi_endproc
	.size	cfi_states, .-cfi_states

	.type	cfi_rules, @function
cfi_rules:
	.cfi_startproc
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset rbp, 0
	movq	%rsp, %r10
	.cfi_def_cfa_register r10
	nop
	.cfi_def_cfa rsp, 16
	.cfi_register rbp, r11
	nop
	.cfi_same_value rbp
	nop
	.cfi_val_offset rbp, -16
	nop
	.cfi_offset rbp, 16
	nop
	.cfi_escape 0x2e, 0x10
	nop
	.cfi_escape 0x10, 0x06, 0x02, 0x77, 0x08
	nop
	.cfi_offset rbp, -16
	.cfi_escape 0x0f, 0x0b, 0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x3a, 0x2a, 0x33, 0x24, 0x22
	nop
	.cfi_escape 0x0f, 0x03, 0x77, 0x08, 0x06
	nop
	.cfi_def_cfa rsp, 16
	.cfi_escape 0x2f, 0x06, 0x03
	nop
	.cfi_offset rip, -16
	nop
	.cfi_offset rip, -8
	.cfi_def_cfa rsp, 0x12345
	nop
	popq	%rbp
	.cfi_def_cfa rsp, 8
	.cfi_restore rbp
	ret
	.cfi_endproc
	.size	cfi_rules, .-cfi_rules

	.type	cfi_signal, @function
cfi_signal:
	.cfi_startproc
	.cfi_signal_frame
	nop
	ret
	.cfi_endproc
	.size	cfi_signal, .-cfi_signal
	.section	.note.GNU-stack,"",@progbits
`;

const GO_PROGRAM = `package main

import "fmt"

//go:noinline
func hot(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i * i
	}
	return s
}

func main() { fmt.Println(hot(1000)) }
`;

const CGO_PROGRAM = `package main

// int add(int a, int b) { return a + b; }
import "C"
import "fmt"

//go:noinline
func hot(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i * i
	}
	return s
}

func main() { fmt.Println(hot(1000), C.add(1, 2)) }
`;

let dir: string;
const bins: Record<string, string> = {};

function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): void {
  execFileSync(cmd, args, { cwd: dir, stdio: 'pipe', env: env ?? process.env });
}

function gcc(name: string, sources: string[], args: string[]): string {
  const out = path.join(dir, name);
  run('gcc', [...args, '-o', out, ...sources]);
  return out;
}

function goBuild(name: string, source: string, cgo: boolean): string {
  const src = path.join(dir, `go-${name}`);
  fs.mkdirSync(src, { recursive: true });
  fs.writeFileSync(path.join(src, 'main.go'), source);
  fs.writeFileSync(path.join(src, 'go.mod'), `module hotpath.test/${name}\n\ngo 1.19\n`);
  const out = path.join(dir, name);
  execFileSync('go', ['build', '-o', out, '.'], {
    cwd: src,
    stdio: 'pipe',
    env: {
      ...process.env,
      HOME: dir,
      GOCACHE: path.join(dir, 'gocache'),
      GOPATH: path.join(dir, 'gopath'),
      GOFLAGS: '-mod=mod',
      GOTOOLCHAIN: 'local',
      CGO_ENABLED: cgo ? '1' : '0',
    },
  });
  return out;
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-unwind-'));
  const prog = path.join(dir, 'prog.c');
  fs.writeFileSync(prog, PROGRAM);
  fs.writeFileSync(path.join(dir, 'cfi.s'), CFI_ASM);
  fs.writeFileSync(path.join(dir, 'main.c'), 'int main(void) { return 0; }\n');
  fs.writeFileSync(path.join(dir, 'plt.c'), '#include <stdio.h>\n#include <stdlib.h>\nint main(int c, char **v) { puts(v[0]); printf("%d\\n", abs(c)); return atoi(v[0]); }\n');
  bins.o2 = gcc('o2', [prog], ['-O2', '-fomit-frame-pointer', '-fexceptions']);
  bins.o0 = gcc('o0', [prog], ['-O0', '-fno-omit-frame-pointer']);
  bins.plt = gcc('plt', [path.join(dir, 'plt.c')], ['-O1', '-no-pie', '-Wl,-z,lazy']);
  bins.asm = gcc('asm', [path.join(dir, 'main.c'), path.join(dir, 'cfi.s')], ['-O1']);
  // .debug_frame: gcc emits it instead of .eh_frame for its own code without asynchronous unwind tables;
  // the crt files still bring a small .eh_frame.
  bins.dbg = gcc('dbg', [prog], ['-O2', '-g', '-fno-asynchronous-unwind-tables']);
  bins.dbgOnly = path.join(dir, 'dbg-only');
  run('objcopy', ['--remove-section', '.eh_frame', '--remove-section', '.eh_frame_hdr', bins.dbg, bins.dbgOnly]);
  bins.dbgZlib = path.join(dir, 'dbg-zlib');
  run('objcopy', ['--compress-debug-sections=zlib', bins.dbgOnly, bins.dbgZlib]);
  bins.dbgZlibGnu = path.join(dir, 'dbg-zlib-gnu');
  run('objcopy', ['--compress-debug-sections=zlib-gnu', bins.dbgOnly, bins.dbgZlibGnu]);
  bins.go = goBuild('gobin', GO_PROGRAM, false);
  bins.cgo = goBuild('cgobin', CGO_PROGRAM, true);
}, 300_000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function agree(file: string, sample = 1): { t: UnwindTable; fdes: number; checked: number; plt: number; none: number } {
  const t = buildUnwindTable(fs.readFileSync(file));
  expect(t.error, file).toBeUndefined();
  const entries = readelfFrames(file);
  const r = compareWithReadelf(entries, t.rows, t.count, sample);
  expect(r.mismatches, file).toEqual([]);
  const fdes = entries.filter((e) => e.kind === 'FDE' && e.pcEnd > e.pcBegin).length;
  expect(r.fdesSkipped, file).toBe(t.stats.fdesOverlapping);
  if (sample === 1) expect(r.fdesChecked + r.fdesSkipped, file).toBe(fdes);
  expect(t.stats.fdes, file).toBe(entries.filter((e) => e.kind === 'FDE').length);
  expect(r.segmentsChecked, file).toBeGreaterThan(0);
  return { t, fdes, checked: r.fdesChecked, plt: r.expressions.plt, none: r.expressions.none };
}

function ruleAt(t: UnwindTable, pc: bigint | number) {
  const i = findUnwindRow(t.rows, t.count, pc);
  return i < 0 ? undefined : readUnwindRow(t.rows, i);
}

function symbol(file: string, name: string): number {
  const out = execFileSync('nm', [file], { encoding: 'utf8' });
  const m = new RegExp(`^([0-9a-f]+) \\w ${name}$`, 'm').exec(out);
  if (!m) throw new Error(`${name} not in ${file}`);
  return parseInt(m[1], 16);
}

describe('unwind tables agree with readelf --debug-dump=frames-interp', () => {
  it('gcc -O2 -fomit-frame-pointer (rsp-based frames, a realigned stack, a VLA, zPLR)', () => {
    const { t } = agree(bins.o2);
    expect(t.source).toBe('eh_frame');
    // _start: the outermost frame.
    const elf = parseElf(bufferSource(fs.readFileSync(bins.o2)), { skipSymbols: true });
    expect(elf.ok).toBe(true);
    if (elf.ok) expect(ruleAt(t, elf.elf.entry)?.cfaRule).toBe(CfaRule.END);
    // A VLA and a realigned stack keep a frame pointer even here: the CFA moves to rbp.
    for (const f of ['with_vla', 'aligned_local']) {
      const start = findUnwindRow(t.rows, t.count, symbol(bins.o2, f));
      const next = findUnwindRow(t.rows, t.count, symbol(bins.o2, f) + 64);
      const rules = Array.from({ length: next - start + 1 }, (_, k) => readUnwindRow(t.rows, start + k).cfaRule);
      expect(rules, f).toContain(CfaRule.RBP);
    }
    expect(ruleAt(t, symbol(bins.o2, 'sort_some'))).toMatchObject({ cfaRule: CfaRule.RSP, cfaOffset: 8 });
  });

  it('gcc -O0 with frame pointers (rbp-based CFA, rbp saved at CFA-16)', () => {
    const { t } = agree(bins.o0);
    const f = symbol(bins.o0, 'many_regs');
    expect(ruleAt(t, f)).toMatchObject({ cfaRule: CfaRule.RSP, cfaOffset: 8, rbpRule: RbpRule.UNCHANGED });
    expect(ruleAt(t, f + 1)).toMatchObject({ cfaRule: CfaRule.RSP, cfaOffset: 16, rbpRule: RbpRule.CFA_OFFSET, rbpOffset: -16 });
    expect(ruleAt(t, f + 4)).toMatchObject({ cfaRule: CfaRule.RBP, cfaOffset: 16, rbpRule: RbpRule.CFA_OFFSET, rbpOffset: -16 });
  });

  it('a lazy-binding PLT (the .plt CFA expression)', () => {
    const { t, plt } = agree(bins.plt);
    expect(plt).toBeGreaterThan(0);
    const elf = parseElf(bufferSource(fs.readFileSync(bins.plt)), { skipSymbols: true });
    const sec = elf.ok ? elf.elf.sections.find((s) => s.name === '.plt') : undefined;
    expect(sec).toBeDefined();
    // PLT0 pushes twice; the entries after it use the expression.
    expect(ruleAt(t, sec!.addr + 0x10n)?.cfaRule).toBe(CfaRule.PLT1);
    expect(t.stats.pltRows).toBeGreaterThan(0);
  });

  it('hand-written CFI: remember/restore, advance_loc2/4, register, same_value, val_offset, expressions, PLT2, signal frames', () => {
    const { t, plt, none } = agree(bins.asm);
    expect(plt).toBe(1);
    expect(none).toBe(1);
    const rules = symbol(bins.asm, 'cfi_rules');
    // After push: rsp+16, rbp at CFA-16; then CFA from r10 (unsupported).
    expect(ruleAt(t, rules + 1)).toMatchObject({ cfaRule: CfaRule.RSP, cfaOffset: 16, rbpRule: RbpRule.CFA_OFFSET, rbpOffset: -16 });
    expect(ruleAt(t, rules + 4)).toMatchObject({ cfaRule: CfaRule.NONE });
    expect(ruleAt(t, rules + 5)).toMatchObject({ cfaRule: CfaRule.RSP, rbpRule: RbpRule.UNSUPPORTED });
    expect(ruleAt(t, rules + 6)).toMatchObject({ cfaRule: CfaRule.RSP, rbpRule: RbpRule.UNCHANGED });
    expect(ruleAt(t, rules + 11)).toMatchObject({ cfaRule: CfaRule.PLT2, rbpRule: RbpRule.CFA_OFFSET, rbpOffset: -16 });
    expect(ruleAt(t, rules + 12)).toMatchObject({ cfaRule: CfaRule.NONE });
    expect(ruleAt(t, rules + 13)).toMatchObject({ cfaRule: CfaRule.RSP, rbpRule: RbpRule.CFA_OFFSET, rbpOffset: 24 });
    expect(ruleAt(t, rules + 14)).toMatchObject({ cfaRule: CfaRule.NONE });
    expect(ruleAt(t, rules + 15)).toMatchObject({ cfaRule: CfaRule.RSP, cfaOffset: 0x12345 });
    expect(ruleAt(t, symbol(bins.asm, 'cfi_outermost'))?.cfaRule).toBe(CfaRule.END);
    expect(t.stats.signalFrameFdes).toBe(1);
  });

  it('.debug_frame from gcc: alone, SHF_COMPRESSED zlib, .zdebug_frame, and next to the crt files\' .eh_frame', () => {
    const only = agree(bins.dbgOnly);
    expect(only.t.source).toBe('debug_frame');
    const z = agree(bins.dbgZlib);
    expect(z.t.stats.compressed).toBe(true);
    expect(z.t.rows.equals(only.t.rows)).toBe(true);
    // readelf reads .zdebug_frame too.
    const zg = agree(bins.dbgZlibGnu);
    expect(zg.t.rows.equals(only.t.rows)).toBe(true);
    const both = agree(bins.dbg);
    expect(both.t.source).toBe('eh_frame+debug_frame');
    expect(both.t.stats.fdesUsedDebugFrame).toBeGreaterThan(0);
    expect(both.t.stats.fdesUsedEhFrame).toBeGreaterThan(0);
  });

  it('Go: a zlib-compressed .debug_frame only', () => {
    const { t, fdes } = agree(bins.go);
    expect(t.source).toBe('debug_frame');
    expect(t.stats.compressed).toBe(true);
    expect(t.stats.fdesUsed).toBe(fdes);
    const hot = symbol(bins.go, 'main\\.hot');
    expect(ruleAt(t, hot)).toMatchObject({ cfaRule: CfaRule.RSP, cfaOffset: 8 });
    console.log(`Go ${bins.go}: ${JSON.stringify(summary(t))}`);
  });

  it('Go with cgo: C code in .eh_frame, Go code in .debug_frame, combined', () => {
    const { t } = agree(bins.cgo);
    expect(t.source).toBe('eh_frame+debug_frame');
    expect(t.stats.fdesUsedDebugFrame).toBeGreaterThan(t.stats.fdesUsedEhFrame);
    expect(ruleAt(t, symbol(bins.cgo, 'main\\.hot'))).toMatchObject({ cfaRule: CfaRule.RSP, cfaOffset: 8 });
    console.log(`Go+cgo ${bins.cgo}: ${JSON.stringify(summary(t))}`);
  });

  it('libc.so.6: every FDE', () => {
    const { t, checked } = agree(LIBC);
    expect(checked).toBeGreaterThan(1000);
    console.log(`libc: ${checked} FDEs agree with readelf; ${JSON.stringify(summary(t))}`);
  });

  it('libpython (when installed): every FDE', () => {
    if (!LIBPYTHON) return;
    const { t, checked } = agree(LIBPYTHON);
    console.log(`${path.basename(LIBPYTHON)}: ${checked} FDEs agree with readelf; ${JSON.stringify(summary(t))}`);
  });

  it('node: every FDE', () => {
    const { t, checked } = agree(NODE);
    expect(checked).toBeGreaterThan(10_000);
    console.log(`node: ${checked} FDEs agree with readelf; ${JSON.stringify(summary(t))}`);
  });
});

function summary(t: UnwindTable) {
  const s = t.stats;
  return {
    source: s.source,
    fdes: s.fdes,
    rowsBeforeMerge: s.rowsBeforeMerge,
    rows: s.rows,
    bytes: s.bytes,
    pltRows: s.pltRows,
    endRows: s.endRows,
    signalFrameFdes: s.signalFrameFdes,
    unsupportedCfa: s.unsupportedCfa,
    unsupportedRbp: s.unsupportedRbp,
    unsupported: s.unsupported,
  };
}

describe('build time and size', () => {
  it('measures libc, libpython and node', () => {
    const files = [LIBC, ...(LIBPYTHON ? [LIBPYTHON] : []), NODE];
    const lines: string[] = ['file | file MB | FDEs | rows before merge | rows | table bytes | first build ms | best of 3 ms'];
    for (const file of files) {
      const bytes = fs.readFileSync(file);
      const times: number[] = [];
      let t: UnwindTable | undefined;
      for (let i = 0; i < 4; i++) {
        const t0 = performance.now();
        t = buildUnwindTable(bytes);
        times.push(performance.now() - t0);
      }
      expect(t!.error).toBeUndefined();
      const s = t!.stats;
      lines.push(
        `${file} | ${(bytes.length / 1e6).toFixed(1)} | ${s.fdes} | ${s.rowsBeforeMerge} | ${s.rows} | ${s.bytes} | ${times[0].toFixed(0)} | ${Math.min(...times.slice(1)).toFixed(0)}`,
      );
      // A generous bound: building must stay well under a second per file here.
      expect(Math.min(...times)).toBeLessThan(5_000);
    }
    console.log(`unwind table build (${os.cpus()[0]?.model ?? 'cpu'}):\n${lines.join('\n')}`);
  });
});
