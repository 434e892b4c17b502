// Fuzzes every parser of what a profiled process controls (issue 10): ELF (parseElf, and buildUnwindTable on
// the same files), .eh_frame/.debug_frame (parser, CFA evaluator and row table), perf maps, /proc/<pid>/maps,
// /proc/<pid>/cgroup and the demangler (Itanium and Rust). Inputs are random and mutated real ones (this
// machine's binaries, its own maps and cgroup, real mangled names, generated bombs), seeded so a run replays.
// Each input is timed against its parser's budget; an input over it is run again, and counts only if it is
// over again (a GC pause is not the parser's). A throw from a parser that must never throw is a crash.
//   node dist/bench/fuzz-parsers.js [--scale 1] [--seed 1] [--out DIR]
// Runs about 1.2 million inputs at --scale 1 (a few minutes, one CPU). Exits 1 on a crash or an input over
// budget; the inputs that did are written to DIR (default: a temporary directory) for replay.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { demangle } from '../collector/symbolize/demangle/index.js';
import { bufferSource, parseElf } from '../collector/symbolize/elf.js';
import { parsePerfMap } from '../collector/symbolize/perf-map.js';
import { findMapping, parseProcMaps } from '../collector/symbolize/proc-maps.js';
import { parseCgroupIdentity } from '../collector/symbolize/process-metadata.js';
import { CfaEvaluator, parseDebugFrame, parseEhFrame } from '../collector/unwind/eh-frame.js';
import { buildUnwindRows, buildUnwindTable } from '../collector/unwind/unwind-table.js';
import { prng } from '../collector/test-support/prng.js';

const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!(v > 0)) {
    console.error(`fuzz-parsers: --${name} wants a positive number`);
    process.exit(2);
  }
  return v;
}

const scale = numberArg('scale', 1);
const seed = numberArg('seed', 1);
const outIndex = process.argv.indexOf('--out');
const outDir = outIndex >= 0 ? process.argv[outIndex + 1] : fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-fuzz-'));

const rand = prng(seed);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];

// ---------------------------------------------------------------------------------------------------------
// Mutations.

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0xfe, 0x40, 0x20, 0x10];
const INTERESTING_WORDS = [0n, 1n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0xfffffff0n, 1n << 53n, (1n << 63n) - 1n, (1n << 64n) - 1n];

function mutateBytes(src: Buffer, hot?: Array<[number, number]>): Buffer {
  let out = Buffer.from(src);
  const n = 1 + int(8);
  for (let k = 0; k < n; k++) {
    const region = hot && hot.length > 0 && rand() < 0.6 ? pick(hot) : ([0, out.length] as [number, number]);
    const span = Math.max(1, Math.min(out.length, region[1]) - region[0]);
    const at = region[0] + int(span);
    if (out.length === 0) break;
    const r = rand();
    if (r < 0.35) out[at % out.length] ^= 1 << int(8);
    else if (r < 0.55) out[at % out.length] = pick(INTERESTING);
    else if (r < 0.7 && at + 8 <= out.length) out.writeBigUInt64LE(pick(INTERESTING_WORDS), at - (at % 4));
    else if (r < 0.8 && at + 4 <= out.length) out.writeUInt32LE(Number(pick(INTERESTING_WORDS) & 0xffffffffn), at - (at % 4));
    else if (r < 0.88) out = out.subarray(0, int(out.length + 1)); // truncate
    else if (r < 0.94) {
      // duplicate a chunk somewhere else
      const len = int(Math.min(256, out.length));
      const from = int(out.length - len + 1);
      const to = int(out.length - len + 1);
      out = Buffer.from(out);
      out.copy(out, to, from, from + len);
    } else {
      for (let i = 0; i < 16 && at + i < out.length; i++) out[at + i] = int(256);
    }
  }
  return out;
}

const MANGLING_CHARS = 'NESTIJLZXDFPRKOVAMCdvilmcfbhsjtxyaenozgu_0123456789BU';

function mutateText(src: string, alphabet: string): string {
  let s = src;
  const n = 1 + int(6);
  for (let k = 0; k < n; k++) {
    const at = int(s.length + 1);
    const r = rand();
    if (r < 0.3) s = s.slice(0, at) + alphabet[int(alphabet.length)] + s.slice(at + 1);
    else if (r < 0.45) s = s.slice(0, at) + alphabet[int(alphabet.length)] + s.slice(at);
    else if (r < 0.6) s = s.slice(0, at) + s.slice(at + 1 + int(8));
    else if (r < 0.7) s = s.slice(0, at);
    else if (r < 0.85) {
      // repeat a slice (nesting, substitutions)
      const from = int(s.length);
      const piece = s.slice(from, from + 1 + int(12));
      s = s.slice(0, at) + piece.repeat(1 + int(20)) + s.slice(at);
    } else s = s.slice(0, at) + String.fromCharCode(int(rand() < 0.9 ? 128 : 0xffff)) + s.slice(at);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------------------
// The harness.

interface Report {
  inputs: number;
  crashes: number;
  overBudget: number;
  /** Slowest input, re-measured when the first run was over budget. */
  maxMs: number;
  /** Slowest first run (GC pauses and JIT included). */
  rawMaxMs: number;
  totalMs: number;
  /** The slowest input, re-timed at the end (best of three): what the parser itself costs on it. */
  slowest?: () => number;
  slowestMs?: number;
}

const reports = new Map<string, Report>();
const failures: string[] = [];

/** Runs `fn(input)`, timed; a throw is a crash, an input over `budgetMs` twice is over budget. */
function runOne<T>(parser: string, budgetMs: number, input: T, fn: (x: T) => void, save: (x: T) => Buffer | string): void {
  let r = reports.get(parser);
  if (!r) reports.set(parser, (r = { inputs: 0, crashes: 0, overBudget: 0, maxMs: 0, rawMaxMs: 0, totalMs: 0 }));
  r.inputs++;
  const t0 = performance.now();
  try {
    fn(input);
  } catch (err) {
    r.crashes++;
    keep(parser, 'crash', save(input), (err as Error)?.stack ?? String(err));
    return;
  }
  let ms = performance.now() - t0;
  r.totalMs += ms;
  r.rawMaxMs = Math.max(r.rawMaxMs, ms);
  if (ms > budgetMs) {
    const t1 = performance.now();
    fn(input);
    const again = performance.now() - t1;
    if (again > budgetMs) {
      r.overBudget++;
      keep(parser, 'slow', save(input), `${ms.toFixed(1)} ms, again ${again.toFixed(1)} ms`);
    } else ms = again;
  }
  if (ms > r.maxMs) {
    r.maxMs = ms;
    r.slowest = () => {
      let best = Infinity;
      for (let k = 0; k < 3; k++) {
        const t = performance.now();
        fn(input);
        best = Math.min(best, performance.now() - t);
      }
      if (best > budgetMs / 4) keep(parser, 'slowest', save(input), `${best.toFixed(1)} ms`);
      return best;
    };
  }
}

function keep(parser: string, kind: string, data: Buffer | string, why: string): void {
  if (failures.length >= 50) return;
  const file = path.join(outDir, `${parser}-${kind}-${failures.length}`);
  fs.writeFileSync(file, data);
  failures.push(`${parser} ${kind}: ${why.split('\n')[0]} (input: ${file})`);
}

// ---------------------------------------------------------------------------------------------------------
// Corpora.

/** Small ELF files of this machine that parse (fast enough to mutate many times). */
function elfCorpus(): Buffer[] {
  const dirs = ['/usr/bin', '/usr/lib/x86_64-linux-gnu', '/usr/sbin'];
  const out: Buffer[] = [];
  for (const d of dirs) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(d).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      if (out.length >= 12) break;
      const file = path.join(d, name);
      try {
        const st = fs.statSync(file);
        if (!st.isFile() || st.size < 8 << 10 || st.size > 160 << 10) continue;
        const b = fs.readFileSync(file);
        const r = parseElf(bufferSource(b));
        if (r.ok && r.elf.symbolCount > 0 && r.elf.sections.some((s) => s.name === '.eh_frame')) out.push(b);
      } catch {
        // unreadable: skip
      }
    }
  }
  if (out.length === 0) throw new Error('fuzz-parsers: no small ELF files found to mutate');
  return out;
}

/** Regions of an ELF file where the parser makes its decisions: headers, header tables, symbol tables. */
function elfHotRegions(b: Buffer): Array<[number, number]> {
  const regions: Array<[number, number]> = [[0, 64]];
  const phoff = Number(b.readBigUInt64LE(32));
  regions.push([phoff, phoff + b.readUInt16LE(56) * b.readUInt16LE(54)]);
  const shoff = Number(b.readBigUInt64LE(40));
  regions.push([shoff, shoff + b.readUInt16LE(60) * b.readUInt16LE(58)]);
  const r = parseElf(bufferSource(b), { skipSymbols: true });
  if (r.ok) {
    for (const s of r.elf.sections) {
      if (['.symtab', '.dynsym', '.note.gnu.build-id', '.eh_frame', '.gnu_debuglink'].includes(s.name)) regions.push([Number(s.offset), Number(s.offset + s.size)]);
    }
  }
  return regions;
}

function sectionOf(b: Buffer, name: string): { data: Buffer; addr: number } | undefined {
  const r = parseElf(bufferSource(b), { skipSymbols: true });
  const s = r.ok ? r.elf.sections.find((x) => x.name === name) : undefined;
  return s ? { data: b.subarray(Number(s.offset), Number(s.offset + s.size)), addr: Number(s.addr) } : undefined;
}

function mangledCorpus(): string[] {
  const names = new Set<string>();
  const nm = (args: string[]) => {
    try {
      for (const line of execFileSync('nm', args, { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')) {
        const n = line.split(' ').pop()?.replace(/@.*$/, '');
        if (n && (n.startsWith('_Z') || n.startsWith('_R'))) names.add(n);
      }
    } catch {
      // no nm or no such file
    }
  };
  nm(['-D', '--defined-only', execFileSync('g++', ['-print-file-name=libstdc++.so.6'], { encoding: 'utf8' }).trim()]);
  nm([fs.realpathSync(process.execPath)]);
  try {
    for (const n of fs.readFileSync(path.join(repoRoot, 'collector', 'symbolize', 'demangle', 'testdata', 'rust-symbols.txt'), 'utf8').split('\n')) if (n) names.add(n);
  } catch {
    // not in a checkout
  }
  return [...names].filter((n) => n.length <= 4096);
}

function substitution(k: number): string {
  return k === 0 ? 'S_' : `S${(k - 1).toString(36).toUpperCase()}_`;
}

/** Names built to be slow: exponential substitutions, deep nesting, long packs, v0 backref chains. */
function bomb(): string {
  const levels = 5 + int(80);
  switch (int(5)) {
    case 0: {
      let s = '_Z1f1AIS_S_E';
      for (let k = 1; k < levels; k++) s += `S_I${substitution(k)}${substitution(k)}E`;
      return s;
    }
    case 1: {
      let s = '_Z1fPi';
      for (let k = 0; k < levels; k++) s += `Fv${substitution(k)}${substitution(k)}E`;
      return s;
    }
    case 2:
      return '_Z1f' + 'P'.repeat(levels * 40) + 'i';
    case 3:
      return '_Z1fIJ' + 'i'.repeat(levels * 40) + 'EEvDpT_';
    default: {
      let s = '_RINvC1a1fu';
      let prev = s.length - 1;
      for (let k = 0; k < levels && s.length < 4000; k++) {
        const at = s.length;
        const ref = (i: number) => (i - 2 === 0 ? 'B_' : `B${(i - 3).toString(36)}_`);
        s += `T${ref(prev)}${ref(prev)}E`;
        prev = at;
      }
      return s + 'E';
    }
  }
}

function perfMapLine(): string {
  const addr = (0x10000000 + int(1 << 24)).toString(16);
  const names = ['JS:*main /srv/app.js:1:1', 'LazyCompile:~f file:///x y.mjs:3:1', 'Builtin:JSEntry', 'Stub:CEntry', 'py::<module>:/a.py', '[unknown]'];
  return `${rand() < 0.3 ? '0x' : ''}${addr} ${int(0x1000).toString(16)} ${pick(names)}`;
}

function cgroupCorpus(): string[] {
  const own = (() => {
    try {
      return fs.readFileSync('/proc/self/cgroup', 'utf8');
    } catch {
      return '0::/\n';
    }
  })();
  const id = 'ab'.repeat(32);
  return [
    own,
    `0::/system.slice/docker-${id}.scope\n`,
    `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f0c2d55_6f1e_4c1e_9a53_2b1d0c3e4f5a.slice/cri-containerd-${id}.scope\n`,
    `12:memory:/kubepods/besteffort/pod3f0c2d55-6f1e-4c1e-9a53-2b1d0c3e4f5a/${id}\n11:cpu,cpuacct:/kubepods/besteffort/pod3f0c2d55-6f1e-4c1e-9a53-2b1d0c3e4f5a/${id}\n0::/\n`,
    `0::/machine.slice/libpod-${id}.scope/container\n`,
  ];
}

// ---------------------------------------------------------------------------------------------------------
// Runs.

const count = (n: number) => Math.max(1, Math.round(n * scale));
const started = performance.now();
const elfs = elfCorpus();
const elfRegions = elfs.map(elfHotRegions);

// ELF: mutated real files, random bytes behind a valid header; every fifth also through buildUnwindTable.
for (let i = 0, n = count(150_000); i < n; i++) {
  const k = int(elfs.length);
  let input: Buffer;
  if (rand() < 0.1) {
    input = Buffer.alloc(64 + int(4096));
    for (let j = 0; j < input.length; j++) input[j] = int(256);
    elfs[k].copy(input, 0, 0, 16 + int(48));
  } else input = mutateBytes(elfs[k], elfRegions[k]);
  const probe = BigInt(int(0x100000));
  runOne('elf', 200, input, (b) => {
    const r = parseElf(bufferSource(b));
    if (r.ok) {
      r.elf.lookup(probe);
      r.elf.fileOffsetToVaddr(probe);
    }
  }, (b) => b);
  if (i % 5 === 0) runOne('elf-unwind-table', 500, input, (b) => void buildUnwindTable(b), (b) => b);
}

// .eh_frame / .debug_frame: real sections (whole or an 8 KiB window) mutated, and random bytes.
const frames = elfs.map((b) => sectionOf(b, '.eh_frame')).filter((s): s is { data: Buffer; addr: number } => !!s && s.data.length > 0);
const libc = (() => {
  try {
    return sectionOf(fs.readFileSync('/lib/x86_64-linux-gnu/libc.so.6'), '.eh_frame');
  } catch {
    return undefined;
  }
})();
if (libc) frames.push(libc);
for (let i = 0, n = count(150_000); i < n; i++) {
  const f = pick(frames);
  let data: Buffer;
  if (rand() < 0.1) {
    data = Buffer.alloc(int(1024));
    for (let j = 0; j < data.length; j++) data[j] = int(256);
    if (data.length >= 4 && rand() < 0.5) data.writeUInt32LE(int(data.length), 0);
  } else {
    const start = f.data.length > 8192 && rand() < 0.7 ? int(f.data.length - 8192) : 0;
    const window = f.data.subarray(start, start + 8192);
    data = mutateBytes(window);
  }
  const debug = rand() < 0.3;
  const maxRows = 1 + int(100_000);
  runOne('eh-frame', 200, data, (d) => {
    const section = debug ? parseDebugFrame(d) : parseEhFrame(d, { vaddr: f.addr });
    const ev = new CfaEvaluator(section);
    for (let j = 0; j < section.fdeCount && j < 64; j++) ev.evaluate(j, () => {});
    buildUnwindRows(section, { maxRows });
  }, (d) => d);
}

// Perf maps: generated maps, mutated; long lines and odd characters.
const PERF_MAP_ALPHABET = '0123456789abcdefx \n\r\t:*~/JSL';
for (let i = 0, n = count(200_000); i < n; i++) {
  const lines = Array.from({ length: 1 + int(60) }, perfMapLine).join('\n') + '\n';
  const text = rand() < 0.05 ? lines + 'x'.repeat(int(1 << 16)) + '\n' : mutateText(lines, PERF_MAP_ALPHABET);
  const maxLines = 1 + int(1000);
  const probe = BigInt(0x10000000 + int(1 << 24));
  runOne('perf-map', 50, text, (t) => void parsePerfMap(t, { maxLines }).lookup(probe), (t) => t);
}

// /proc/<pid>/maps: this process's own, mutated.
const ownMaps = fs.readFileSync('/proc/self/maps', 'utf8');
const MAPS_ALPHABET = '0123456789abcdef-rwxps: /[]()deleted\n';
for (let i = 0, n = count(200_000); i < n; i++) {
  const lines = ownMaps.split('\n');
  const start = int(lines.length);
  const base = lines.slice(start, start + 1 + int(40)).join('\n') + '\n';
  const text = mutateText(base, MAPS_ALPHABET);
  const executableOnly = rand() < 0.5;
  const probe = BigInt(int(2 ** 48));
  runOne('proc-maps', 50, text, (t) => void findMapping(parseProcMaps(t, { executableOnly }).mappings, probe), (t) => t);
}

// /proc/<pid>/cgroup: real and container-runtime layouts, mutated.
const cgroups = cgroupCorpus();
const CGROUP_ALPHABET = '0123456789abcdef:/-_.podkubesliceocker\n';
for (let i = 0, n = count(200_000); i < n; i++) {
  const text = mutateText(pick(cgroups), CGROUP_ALPHABET);
  runOne('cgroup', 50, text, (t) => void parseCgroupIdentity(t), (t) => t);
}

// Demangler: real names mutated, splices, random strings over the mangling alphabet, and bombs.
const names = mangledCorpus();
for (let i = 0, n = count(300_000); i < n; i++) {
  const r = rand();
  let name: string;
  if (r < 0.05) name = bomb();
  else if (r < 0.15) name = (rand() < 0.5 ? '_Z' : '_R') + Array.from({ length: int(200) }, () => MANGLING_CHARS[int(MANGLING_CHARS.length)]).join('');
  else if (r < 0.25) {
    const a = pick(names);
    const b = pick(names);
    name = a.slice(0, int(a.length)) + b.slice(2 + int(Math.max(1, b.length - 2)));
  } else name = mutateText(pick(names), MANGLING_CHARS);
  runOne(name.startsWith('_R') ? 'demangle-rust' : 'demangle-itanium', 20, name, (x) => void demangle(x, { overBudget: false }), (x) => x);
}

// ---------------------------------------------------------------------------------------------------------
// Report.

let total = 0;
let crashes = 0;
let slow = 0;
console.log(`fuzz-parsers: seed ${seed}, scale ${scale}, ${((performance.now() - started) / 1000).toFixed(0)} s`);
for (const r of reports.values()) r.slowestMs = r.slowest?.();
console.log('parser              inputs  crashes  over budget  max ms  (first run)  slowest again  mean ms');
for (const [parser, r] of reports) {
  total += r.inputs;
  crashes += r.crashes;
  slow += r.overBudget;
  console.log(
    `${parser.padEnd(18)} ${String(r.inputs).padStart(7)}  ${String(r.crashes).padStart(7)}  ${String(r.overBudget).padStart(11)}  ` +
      `${r.maxMs.toFixed(2).padStart(6)}  ${r.rawMaxMs.toFixed(2).padStart(11)}  ${(r.slowestMs ?? 0).toFixed(2).padStart(13)}  ${(r.totalMs / r.inputs).toFixed(3).padStart(7)}`,
  );
}
console.log(`total: ${total} inputs, ${crashes} crashes, ${slow} over budget`);
for (const f of failures) console.log(`  ${f}`);
if (failures.length === 0) fs.rmSync(outDir, { recursive: true, force: true });
process.exit(crashes + slow > 0 ? 1 : 0);
