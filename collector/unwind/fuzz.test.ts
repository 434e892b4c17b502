// The parser and the table builder on hostile input: random bytes, real sections truncated and bit-flipped,
// whole ELF files corrupted, and programs built to be slow. Nothing may throw, every table must be well
// formed, and every case must finish quickly. Deterministic (seeded).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bufferSource, parseElf } from '../symbolize/elf.js';
import { CfaEvaluator, parseDebugFrame, parseEhFrame, type CfiSection } from './eh-frame.js';
import { CfaRule, RbpRule, UNWIND_ROW_SIZE, UnwindRowOffsets, unwindRowPc } from './rows.js';
import { CfiBuilder, le, pcrel4 } from './test-support/cfi-builder.js';
import { buildUnwindRows, buildUnwindTable, type UnwindTable } from './unwind-table.js';
import { prng } from '../test-support/prng.js';

const LIBC = '/lib/x86_64-linux-gnu/libc.so.6';


/** Why a table is malformed, or '' when it is well formed. */
function malformed(t: UnwindTable): string {
  if (t.rows.length !== t.count * UNWIND_ROW_SIZE) return `rows.length ${t.rows.length} != count ${t.count} * 16`;
  let prevPc = -1;
  let prevKey = '';
  for (let i = 0; i < t.count; i++) {
    const pc = unwindRowPc(t.rows, i);
    if (!(pc > prevPc)) return `row ${i}: pc ${pc} not above ${prevPc}`;
    const o = i * UNWIND_ROW_SIZE;
    const cfa = t.rows[o + UnwindRowOffsets.CFA_RULE];
    const rbp = t.rows[o + UnwindRowOffsets.RBP_RULE];
    if (cfa > CfaRule.END) return `row ${i}: cfa_rule ${cfa}`;
    if (rbp > RbpRule.UNSUPPORTED) return `row ${i}: rbp_rule ${rbp}`;
    const key = t.rows.toString('hex', o + 8, o + 16);
    if (key === prevKey) return `row ${i}: same rules as row ${i - 1}`;
    if ((cfa === CfaRule.NONE || cfa === CfaRule.END) && key.slice(0, 12) !== '000000000000') return `row ${i}: offsets on a ${cfa} row`;
    prevPc = pc;
    prevKey = key;
  }
  if (t.count > 0 && t.rows[(t.count - 1) * UNWIND_ROW_SIZE + UnwindRowOffsets.CFA_RULE] !== CfaRule.NONE) return 'last row is not CFA_NONE';
  return '';
}

interface FuzzReport {
  cases: number;
  failures: string[];
  maxMs: number;
  totalMs: number;
  rows: number;
}

/** Runs `build` on each input; a throw or a malformed table is a failure. */
function fuzz(inputs: Iterable<{ name: string; build: () => UnwindTable }>): FuzzReport {
  const report: FuzzReport = { cases: 0, failures: [], maxMs: 0, totalMs: 0, rows: 0 };
  for (const input of inputs) {
    report.cases++;
    const t0 = performance.now();
    try {
      const t = input.build();
      const why = malformed(t);
      if (why && report.failures.length < 10) report.failures.push(`${input.name}: ${why}`);
      report.rows += t.count;
    } catch (err) {
      if (report.failures.length < 10) report.failures.push(`${input.name}: threw ${(err as Error)?.stack ?? String(err)}`);
    }
    const ms = performance.now() - t0;
    report.totalMs += ms;
    report.maxMs = Math.max(report.maxMs, ms);
  }
  return report;
}

/** Also drives the evaluator over every FDE directly (the builder skips overlapping ones). */
function evaluateAll(section: CfiSection): number {
  const ev = new CfaEvaluator(section);
  let rows = 0;
  for (let i = 0; i < section.fdeCount; i++) rows += ev.evaluate(i, () => {}).rows;
  return rows;
}

function parseAndBuild(kind: 'eh_frame' | 'debug_frame', data: Buffer, vaddr: number, maxRows?: number): UnwindTable {
  const section = kind === 'eh_frame' ? parseEhFrame(data, { vaddr }) : parseDebugFrame(data);
  evaluateAll(section);
  return buildUnwindRows(section, { maxRows });
}

function sectionBytes(file: string, name: string): { data: Buffer; addr: number } {
  const bytes = fs.readFileSync(file);
  const r = parseElf(bufferSource(bytes), { skipSymbols: true });
  if (!r.ok) throw new Error(r.error);
  const sec = r.elf.sections.find((s) => s.name === name);
  if (!sec) throw new Error(`${name} not in ${file}`);
  let data = bytes.subarray(Number(sec.offset), Number(sec.offset + sec.size));
  if ((sec.flags & 0x800n) !== 0n) data = zlib.inflateSync(data.subarray(24));
  return { data, addr: Number(sec.addr) };
}

function flip(rand: () => number, src: Buffer, flips: number): Buffer {
  const out = Buffer.from(src);
  for (let k = 0; k < flips; k++) {
    const at = Math.floor(rand() * out.length);
    if (rand() < 0.7) out[at] ^= 1 << Math.floor(rand() * 8);
    else out[at] = Math.floor(rand() * 256);
  }
  return out;
}

let dir: string;
let cProgram: string;
let goProgram: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-unwind-fuzz-'));
  fs.writeFileSync(
    path.join(dir, 'p.c'),
    '#include <stdio.h>\n#include <stdlib.h>\nstatic int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }\n' +
      'int main(int c, char **v) { int x[8] = {3, 1, 2}; qsort(x, 8, 4, cmp); printf("%d %s\\n", x[c & 7], v[0]); return 0; }\n',
  );
  cProgram = path.join(dir, 'p');
  execFileSync('gcc', ['-O2', '-fomit-frame-pointer', '-o', cProgram, path.join(dir, 'p.c')], { stdio: 'pipe' });
  fs.mkdirSync(path.join(dir, 'go'));
  fs.writeFileSync(path.join(dir, 'go', 'main.go'), 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hi") }\n');
  fs.writeFileSync(path.join(dir, 'go', 'go.mod'), 'module hotpath.test/fuzz\n\ngo 1.19\n');
  goProgram = path.join(dir, 'gobin');
  execFileSync('go', ['build', '-o', goProgram, '.'], {
    cwd: path.join(dir, 'go'),
    stdio: 'pipe',
    env: { ...process.env, HOME: dir, GOCACHE: path.join(dir, 'gocache'), GOPATH: path.join(dir, 'gopath'), CGO_ENABLED: '0', GOTOOLCHAIN: 'local' },
  });
}, 300_000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function expectClean(name: string, r: FuzzReport, maxCaseMs: number): void {
  console.log(`${name}: ${r.cases} cases, ${r.rows} rows, ${r.totalMs.toFixed(0)} ms total, slowest ${r.maxMs.toFixed(1)} ms`);
  expect(r.failures, name).toEqual([]);
  expect(r.maxMs, name).toBeLessThan(maxCaseMs);
}

describe('fuzz', () => {
  it('random bytes as .eh_frame and .debug_frame', () => {
    const rand = prng(1);
    function* inputs() {
      for (let i = 0; i < 4000; i++) {
        const len = Math.floor(rand() * 700);
        const data = Buffer.alloc(len);
        for (let k = 0; k < len; k++) data[k] = Math.floor(rand() * 256);
        // Small lengths make the entry chain go further.
        if (len >= 4 && rand() < 0.5) data.writeUInt32LE(Math.floor(rand() * len), 0);
        const kind = i % 2 === 0 ? 'eh_frame' : 'debug_frame';
        yield { name: `random #${i}`, build: () => parseAndBuild(kind, data, Math.floor(rand() * 0x100000)) };
      }
    }
    expectClean('random', fuzz(inputs()), 200);
  });

  it('random CFA programs behind a valid CIE and FDE', () => {
    const rand = prng(2);
    function* inputs() {
      for (let i = 0; i < 4000; i++) {
        const b = new CfiBuilder('eh_frame');
        const cieProgram = Array.from({ length: Math.floor(rand() * 8) }, () => Math.floor(rand() * 256));
        const cie = b.cie({ instructions: rand() < 0.5 ? [0x0c, 7, 8, 0x90, 1, ...cieProgram] : cieProgram });
        for (let f = 0; f < 3; f++) {
          const program = Array.from({ length: Math.floor(rand() * 120) }, () => {
            // Favour real opcodes (0x00-0x16, 0x2e, 0x2f, advance/offset/restore) over random bytes.
            const r = rand();
            if (r < 0.3) return Math.floor(rand() * 0x17);
            if (r < 0.5) return 0x40 | Math.floor(rand() * 64);
            return Math.floor(rand() * 256);
          });
          b.fde({ cie, address: pcrel4(0x1000 + f * 0x400, 0x8000), range: le(Math.floor(rand() * 0x800), 4), augmentationData: [], instructions: program });
        }
        const data = b.buffer();
        yield { name: `program #${i}`, build: () => parseAndBuild('eh_frame', data, 0x8000) };
      }
    }
    expectClean('programs', fuzz(inputs()), 200);
  });

  it("libc's .eh_frame and Go's .debug_frame, truncated and bit-flipped", () => {
    const libc = sectionBytes(LIBC, '.eh_frame');
    const go = sectionBytes(goProgram, '.debug_frame');
    const rand = prng(3);
    function* inputs() {
      for (const [name, kind, s] of [
        ['libc', 'eh_frame', libc],
        ['go', 'debug_frame', go],
      ] as const) {
        for (let i = 0; i < 150; i++) {
          const cut = Math.floor(rand() * s.data.length);
          yield { name: `${name} truncated at ${cut}`, build: () => parseAndBuild(kind, s.data.subarray(0, cut), s.addr) };
        }
        // Bit flips in windows small enough to run thousands of cases: the section's start (its CIEs)
        // and a window further in (FDEs whose CIE is before the window: bad CIE pointers).
        const head = s.data.subarray(0, 6000);
        const mid = s.data.subarray(Math.floor(s.data.length / 2), Math.floor(s.data.length / 2) + 6000);
        for (let i = 0; i < 1000; i++) {
          const src = i % 4 === 3 ? mid : head;
          const data = flip(rand, src, 1 + Math.floor(rand() * 8));
          yield { name: `${name} flipped #${i}`, build: () => parseAndBuild(kind, data, s.addr) };
        }
        // A few flips over the whole section.
        for (let i = 0; i < 20; i++) {
          const data = flip(rand, s.data, 1 + Math.floor(rand() * 16));
          yield { name: `${name} whole flipped #${i}`, build: () => parseAndBuild(kind, data, s.addr) };
        }
      }
    }
    expectClean('real sections', fuzz(inputs()), 2_000);
  });

  it('whole ELF files corrupted: headers, section table, compressed .debug_frame', () => {
    const c = fs.readFileSync(cProgram);
    const go = fs.readFileSync(goProgram);
    const goElf = parseElf(bufferSource(go), { skipSymbols: true });
    if (!goElf.ok) throw new Error(goElf.error);
    const dbg = goElf.elf.sections.find((s) => s.name === '.debug_frame')!;
    const rand = prng(4);
    function* inputs() {
      for (let i = 0; i < 1500; i++) {
        const data = flip(rand, c, 1 + Math.floor(rand() * 6));
        yield { name: `c flipped #${i}`, build: () => buildUnwindTable(data) };
      }
      // Flips in the first 4 KiB (ELF and program headers) and in the section header table.
      for (let i = 0; i < 500; i++) {
        const data = Buffer.from(c);
        const region = i % 2 === 0 ? [0, 128] : [c.length - 64 * 31, c.length];
        for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) {
          const at = region[0] + Math.floor(rand() * (region[1] - region[0]));
          data[at] ^= 1 << Math.floor(rand() * 8);
        }
        yield { name: `c header flipped #${i}`, build: () => buildUnwindTable(data) };
      }
      for (let i = 0; i < 200; i++) {
        const cut = Math.floor(rand() * c.length);
        yield { name: `c truncated at ${cut}`, build: () => buildUnwindTable(c.subarray(0, cut)) };
      }
      // Go: flips inside the compressed .debug_frame and its compression header.
      for (let i = 0; i < 60; i++) {
        const data = Buffer.from(go);
        const span = i % 3 === 0 ? 24 : Number(dbg.size);
        for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) data[Number(dbg.offset) + Math.floor(rand() * span)] ^= 1 << Math.floor(rand() * 8);
        yield { name: `go debug_frame flipped #${i}`, build: () => buildUnwindTable(data) };
      }
    }
    expectClean('ELF files', fuzz(inputs()), 2_000);
  });

  it('programs built to be slow or large stay bounded', () => {
    const cases: Array<{ name: string; build: () => UnwindTable }> = [];
    // One FDE with 300k rows, a 1000-row cap.
    {
      const program: number[] = [];
      for (let i = 0; i < 100_000; i++) program.push(0x41, 0x0e, 8 + (i % 2) * 8, 0x41, 0x0e, 24);
      const b = new CfiBuilder('eh_frame');
      const cie = b.cie();
      b.fde({ cie, address: pcrel4(0x1000, 0x800000), range: le(0x1000000, 4), augmentationData: [], instructions: program });
      const data = b.buffer();
      cases.push({ name: 'many rows, capped', build: () => parseAndBuild('eh_frame', data, 0x800000, 1000) });
      cases.push({ name: 'many rows', build: () => parseAndBuild('eh_frame', data, 0x800000) });
    }
    // 100k remember_state: stops at the depth limit.
    {
      const b = new CfiBuilder('eh_frame');
      const cie = b.cie();
      b.fde({ cie, address: pcrel4(0x1000, 0x800000), range: le(0x100, 4), augmentationData: [], instructions: new Array(100_000).fill(0x0a) });
      const data = b.buffer();
      cases.push({ name: 'remember_state flood', build: () => parseAndBuild('eh_frame', data, 0x800000) });
    }
    // 50k FDEs all pointing at bad CIEs, and 50k overlapping FDEs on one address.
    {
      const b = new CfiBuilder('eh_frame');
      const cie = b.cie();
      for (let i = 0; i < 50_000; i++) b.fde({ cie: cie + 4 + (i % 7), address: pcrel4(0x1000, 0x800000), range: le(0x10, 4), augmentationData: [] });
      for (let i = 0; i < 50_000; i++) b.fde({ cie, address: pcrel4(0x1000, 0x800000), range: le(0x10, 4), augmentationData: [], instructions: [0x41, 0x0e, 16] });
      const data = b.buffer();
      cases.push({ name: 'bad CIE pointers and overlaps', build: () => parseAndBuild('eh_frame', data, 0x800000) });
    }
    // One CIE with 1 MiB of initial instructions shared by 50k FDEs: the CIE runs once, not once per FDE.
    {
      const b = new CfiBuilder('eh_frame');
      const cie = b.cie({ instructions: [0x0c, 7, 8, 0x90, 1, ...new Array(1 << 20).fill(0x00)] });
      for (let i = 0; i < 50_000; i++) b.fde({ cie, address: pcrel4(0x1000 + i * 0x10, 0x800000), range: le(0x10, 4), augmentationData: [] });
      const data = b.buffer();
      cases.push({ name: 'large CIE program shared by many FDEs', build: () => parseAndBuild('eh_frame', data, 0x800000) });
    }
    // A huge uleb (1 MiB of continuation bytes) as an operand.
    {
      const b = new CfiBuilder('eh_frame');
      const cie = b.cie();
      b.fde({ cie, address: pcrel4(0x1000, 0x800000), range: le(0x100, 4), augmentationData: [], instructions: [0x0e, ...new Array(1 << 20).fill(0x80), 0x01] });
      const data = b.buffer();
      cases.push({ name: 'long uleb', build: () => parseAndBuild('eh_frame', data, 0x800000) });
    }
    const r = fuzz(cases);
    expectClean('adversarial', r, 2_000);
    const capped = parseAndBuild(
      'eh_frame',
      (() => {
        const b = new CfiBuilder('eh_frame');
        const cie = b.cie();
        const program: number[] = [];
        for (let i = 0; i < 10_000; i++) program.push(0x41, 0x0e, 8 + (i % 2) * 8);
        b.fde({ cie, address: pcrel4(0x1000, 0x800000), range: le(0x100000, 4), augmentationData: [], instructions: program });
        b.fde({ cie, address: pcrel4(0x200000, 0x800000), range: le(0x10, 4), augmentationData: [] });
        return b.buffer();
      })(),
      0x800000,
      1000,
    );
    expect(capped.stats.rowLimitReached).toBe(true);
    expect(capped.count).toBeLessThanOrEqual(1000);
  });
});
