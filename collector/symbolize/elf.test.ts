import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bufferSource, parseElf, parseElfNotes, type ElfFile } from './elf.js';
import { fdSource } from './file-reads.js';
import { LIB_SOURCE, gcc, inflateStringTable, makeTempDir, nmFunctions, readelfBuildId } from './test-support/native.js';

const PROGRAM = `
#include <stdio.h>
volatile int sink;
__attribute__((noinline)) int alpha(int n) { for (int i = 0; i < n; i++) sink += i; return sink; }
__attribute__((noinline)) int beta(int n) { return alpha(n) * 2; }
static __attribute__((noinline)) int gamma_local(int n) { return beta(n) + 1; }
int main(int argc, char **argv) { printf("%d\\n", gamma_local(argc)); return 0; }
`;

let dir: string;
let pie: string;
let nopie: string;
let lib: string;
let libStripped: string;
let progStripped: string;

function parse(file: string): ElfFile {
  const r = parseElf(bufferSource(fs.readFileSync(file)));
  if (!r.ok) throw new Error(r.error);
  return r.elf;
}

/** Every function nm reports resolves to that name (or an alias at the same address) at its start and last byte. */
function expectMatchesNm(elf: ElfFile, file: string, dynamic = false): number {
  const syms = nmFunctions(file, dynamic);
  const aliases = new Map<bigint, Set<string>>();
  for (const s of syms) (aliases.get(s.address) ?? aliases.set(s.address, new Set()).get(s.address)!).add(s.name);
  let checked = 0;
  for (const s of syms) {
    if (s.size === 0n) continue;
    for (const a of [s.address, s.address + s.size - 1n]) {
      const hit = elf.lookup(a);
      expect(hit, `${s.name} @ ${a.toString(16)}`).toBeDefined();
      expect(aliases.get(hit!.address)?.has(hit!.name) || hit!.name === s.name, `${s.name} → ${hit!.name}`).toBe(true);
      checked++;
    }
  }
  return checked;
}

function loadsFromReadelf(file: string): Array<{ offset: bigint; vaddr: bigint; filesz: bigint; memsz: bigint }> {
  const out = execFileSync('readelf', ['-lW', file], { encoding: 'utf8' });
  return [...out.matchAll(/^\s*LOAD\s+0x([0-9a-f]+) 0x([0-9a-f]+) 0x[0-9a-f]+ 0x([0-9a-f]+) 0x([0-9a-f]+)/gm)].map((m) => ({
    offset: BigInt('0x' + m[1]),
    vaddr: BigInt('0x' + m[2]),
    filesz: BigInt('0x' + m[3]),
    memsz: BigInt('0x' + m[4]),
  }));
}

beforeAll(() => {
  dir = makeTempDir('hotpath-elf-');
  pie = gcc(dir, 'pie', PROGRAM, ['-fPIE', '-pie']);
  nopie = gcc(dir, 'nopie', PROGRAM, ['-fno-pie', '-no-pie']);
  lib = gcc(dir, 'libosprey.so', LIB_SOURCE, ['-shared', '-fPIC']);
  libStripped = path.join(dir, 'libosprey-stripped.so');
  execFileSync('strip', ['-o', libStripped, lib]);
  progStripped = path.join(dir, 'pie-stripped');
  execFileSync('strip', ['-o', progStripped, pie]);
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('parseElf on gcc output', () => {
  it('reads a PIE: type, build-id, segments and every nm symbol', () => {
    const elf = parse(pie);
    expect(elf.type).toBe('dyn');
    expect(elf.machine).toBe(62); // EM_X86_64
    expect(elf.buildId).toMatch(/^[0-9a-f]{40}$/);
    expect(elf.buildId).toBe(readelfBuildId(pie));
    expect(elf.hasSymtab).toBe(true);
    expect(elf.warnings).toEqual([]);
    expect(elf.loads.map(({ offset, vaddr, filesz, memsz }) => ({ offset, vaddr, filesz, memsz }))).toEqual(loadsFromReadelf(pie));
    expect(expectMatchesNm(elf, pie)).toBeGreaterThanOrEqual(8);
    const alpha = nmFunctions(pie).find((s) => s.name === 'alpha')!;
    expect(elf.lookup(alpha.address + 1n)).toEqual({ name: 'alpha', address: alpha.address, size: Number(alpha.size) });
    expect(elf.lookup(nmFunctions(pie).find((s) => s.name === 'gamma_local')!.address)?.name).toBe('gamma_local');
    expect(elf.lookup(0x10n)).toBeUndefined();
  });

  it('reads a non-PIE executable with absolute addresses', () => {
    const elf = parse(nopie);
    expect(elf.type).toBe('exec');
    expect(elf.buildId).toBe(readelfBuildId(nopie));
    expect(elf.execSegment!.vaddr).toBeGreaterThanOrEqual(0x400000n);
    expect(expectMatchesNm(elf, nopie)).toBeGreaterThanOrEqual(8);
  });

  it('converts between virtual addresses and file offsets through PT_LOAD', () => {
    const elf = parse(pie);
    const beta = nmFunctions(pie).find((s) => s.name === 'beta')!;
    const off = elf.vaddrToFileOffset(beta.address)!;
    const seg = loadsFromReadelf(pie).find((l) => beta.address >= l.vaddr && beta.address < l.vaddr + l.filesz)!;
    expect(off).toBe(beta.address - seg.vaddr + seg.offset);
    expect(elf.fileOffsetToVaddr(off)).toBe(beta.address);
    // The bytes at that offset are the function's code as objdump shows it.
    const dump = execFileSync('objdump', ['-d', `--start-address=0x${beta.address.toString(16)}`, `--stop-address=0x${(beta.address + 4n).toString(16)}`, pie], { encoding: 'utf8' });
    const firstByte = /^\s*[0-9a-f]+:\s+([0-9a-f]{2})/m.exec(dump)![1];
    expect(fs.readFileSync(pie)[Number(off)].toString(16).padStart(2, '0')).toBe(firstByte);
    expect(elf.vaddrToFileOffset(0xffffffffn)).toBeUndefined();
  });

  it('falls back to .dynsym in a stripped shared library', () => {
    const elf = parse(libStripped);
    expect(elf.hasSymtab).toBe(false);
    expect(elf.hasDynsym).toBe(true);
    expect(elf.buildId).toBe(readelfBuildId(lib));
    expect(expectMatchesNm(elf, libStripped, true)).toBeGreaterThanOrEqual(4);
    const local = nmFunctions(lib).find((s) => s.name === 'osprey_lib_local')!;
    // The static function is only in .symtab: stripped, its address is no longer named after it.
    expect(elf.lookup(local.address)?.name).not.toBe('osprey_lib_local');
    expect(parse(lib).lookup(local.address)?.name).toBe('osprey_lib_local');
  });

  it('keeps headers and build-id of a stripped executable with no exported functions', () => {
    const elf = parse(progStripped);
    expect(elf.hasSymtab).toBe(false);
    expect(elf.buildId).toBe(readelfBuildId(pie));
    expect(elf.lookup(nmFunctions(pie).find((s) => s.name === 'alpha')!.address)).toBeUndefined();
  });

  it('reads a large real binary quickly and agrees with nm', () => {
    const node = fs.realpathSync(process.execPath);
    const t0 = performance.now();
    const buf = fs.readFileSync(node);
    const r = parseElf(bufferSource(buf));
    const ms = performance.now() - t0;
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.elf.buildId).toBe(readelfBuildId(node));
    const syms = nmFunctions(node).filter((s) => s.size > 0n);
    let wrong = 0;
    for (let i = 0; i < syms.length; i += 97) {
      const hit = r.elf.lookup(syms[i].address);
      if (!hit || hit.address !== syms[i].address) wrong++;
    }
    expect(wrong).toBe(0);
    console.log(`parse ${node}: ${(buf.length / 1e6).toFixed(0)} MB, ${r.elf.symbolCount} functions, ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(5000);
  });
});

describe('parseElf on bad input', () => {
  it('rejects non-ELF, 32-bit and big-endian headers with a clear error', () => {
    expect(parseElf(bufferSource(Buffer.from('hello world')))).toEqual({ ok: false, error: expect.stringMatching(/too small/) });
    expect(parseElf(bufferSource(Buffer.alloc(64)))).toEqual({ ok: false, error: expect.stringMatching(/bad magic/) });
    const h = Buffer.from(fs.readFileSync(pie).subarray(0, 64));
    h[4] = 1;
    expect(parseElf(bufferSource(h))).toEqual({ ok: false, error: expect.stringMatching(/ELF64/) });
    h[4] = 2;
    h[5] = 2;
    expect(parseElf(bufferSource(h))).toEqual({ ok: false, error: expect.stringMatching(/little-endian/) });
  });

  it('returns an error for every truncation, without throwing', () => {
    const full = fs.readFileSync(pie);
    const cuts = new Set<number>();
    for (let i = 0; i < 512; i++) cuts.add(i);
    for (let i = 0; i < 400; i++) cuts.add(Math.floor((full.length * i) / 400));
    for (let i = 1; i <= 256; i++) cuts.add(full.length - i);
    const t0 = performance.now();
    for (const cut of cuts) {
      const r = parseElf(bufferSource(full.subarray(0, cut)));
      // Section headers sit at the end of gcc output, so any cut loses them.
      expect(r.ok, `cut at ${cut}`).toBe(false);
      if (!r.ok) expect(r.error).toMatch(/^parse ELF: /);
    }
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('survives random byte flips and hostile header values', () => {
    const full = fs.readFileSync(lib);
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const t0 = performance.now();
    let ok = 0;
    for (let iter = 0; iter < 3000; iter++) {
      const b = Buffer.from(full);
      const flips = 1 + Math.floor(rand() * 8);
      for (let f = 0; f < flips; f++) {
        // Bias towards headers and tables, where the parser's decisions are made.
        const pos = rand() < 0.5 ? Math.floor(rand() * 64) : Math.floor(rand() * b.length);
        b[pos] = Math.floor(rand() * 256);
      }
      const r = parseElf(bufferSource(b));
      if (r.ok) {
        ok++;
        r.elf.lookup(0x1100n);
        r.elf.fileOffsetToVaddr(0x1100n);
      } else expect(r.error).toMatch(/^parse ELF: /);
    }
    expect(ok).toBeGreaterThan(0);
    expect(performance.now() - t0).toBeLessThan(10000);

    // Header fields pointing far away or claiming huge counts.
    const set = (f: (b: Buffer) => void) => {
      const b = Buffer.from(full);
      f(b);
      return parseElf(bufferSource(b));
    };
    expect(set((b) => b.writeBigUInt64LE(0xffffffffffffff00n, 40)).ok).toBe(false); // e_shoff
    expect(set((b) => b.writeBigUInt64LE(0xffffffffffffff00n, 32)).ok).toBe(false); // e_phoff
    expect(set((b) => b.writeUInt16LE(0xffff, 60)).ok).toBe(false); // e_shnum
    expect(set((b) => b.writeUInt16LE(8, 58)).ok).toBe(false); // e_shentsize too small
  });

  it('reports a bad symbol table as a warning and keeps the rest', () => {
    const full = Buffer.from(fs.readFileSync(lib));
    const good = parse(lib);
    const shoff = Number(full.readBigUInt64LE(40));
    const idx = good.sections.findIndex((s) => s.name === '.symtab');
    full.writeBigUInt64LE(0x7fffffffffn, shoff + idx * 64 + 32); // .symtab sh_size
    const r = parseElf(bufferSource(full));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.elf.warnings.join()).toMatch(/\.symtab/);
    expect(r.elf.hasDynsym).toBe(true);
    expect(r.elf.buildId).toBe(good.buildId);
  });

  it('reads SHF_COMPRESSED (zlib) symbol and string tables, and refuses bombs and other compressions', () => {
    const plain = fs.readFileSync(pie);
    const compressed = compressSections(plain, ['.symtab', '.strtab']);
    const r = parseElf(bufferSource(compressed));
    if (!r.ok) throw new Error(r.error);
    expect(r.elf.sections.find((s) => s.name === '.symtab')!.flags & 0x800n).toBe(0x800n);
    expect(r.elf.warnings).toEqual([]);
    expect(r.elf.hasSymtab).toBe(true);
    expect(r.elf.symbolCount).toBe(parse(pie).symbolCount);
    expect(expectMatchesNm(r.elf, pie)).toBeGreaterThan(6);

    const symtabChdr = (b: Buffer) => Number(sectionHeader(b, '.symtab').readBigUInt64LE(24));
    const variants: Array<[string, (b: Buffer) => void, RegExp]> = [
      [
        'uncompressed size larger than the data',
        (b) => b.writeBigUInt64LE(BigInt(4 << 20), symtabChdr(b) + 8),
        /symbols: inflated to \d+ bytes, header says 4194304/,
      ],
      ['uncompressed size smaller than the data', (b) => b.writeBigUInt64LE(48n, symtabChdr(b) + 8), /symbols: inflate/],
      ['uncompressed size past the table cap', (b) => b.writeBigUInt64LE(1n << 40n, symtabChdr(b) + 8), /out of range/],
      ['zstd', (b) => b.writeUInt32LE(2, symtabChdr(b)), /compression type 2/],
      ['corrupt stream', (b) => b.fill(0xee, symtabChdr(b) + 24, symtabChdr(b) + 40), /symbols: inflate/],
    ];
    for (const [what, patch, warning] of variants) {
      const bad = Buffer.from(compressed);
      patch(bad);
      const v = parseElf(bufferSource(bad));
      expect(v.ok, what).toBe(true);
      if (!v.ok) continue;
      expect(v.elf.warnings.join(), what).toMatch(warning);
      expect(v.elf.hasSymtab, what).toBe(false);
    }
  });
});

describe('parseElf memory and time bounds (issue 10)', () => {
  it('reads only the names it keeps from a 256 MiB string table that is one hole', () => {
    const file = path.join(dir, 'pie-256m-strtab');
    fs.copyFileSync(pie, file);
    inflateStringTable(file, 256 << 20);
    expect(fs.statSync(file).size).toBeGreaterThan(256 << 20);
    expect(fs.statSync(file).blocks * 512).toBeLessThan(1 << 20); // sparse on disk
    const fd = fs.openSync(file, 'r');
    try {
      const t0 = performance.now();
      const r = parseElf(fdSource(fd, fs.fstatSync(fd).size));
      const ms = performance.now() - t0;
      if (!r.ok) throw new Error(r.error);
      console.log(`256 MiB .strtab: ${r.elf.symbolCount} functions, ${r.elf.bytesRead} bytes read, ${r.elf.retainedBytes} retained, ${ms.toFixed(1)} ms`);
      expect(r.elf.warnings).toEqual([]);
      expect(expectMatchesNm(r.elf, file)).toBeGreaterThan(6);
      expect(r.elf.bytesRead).toBeLessThan(1 << 20);
      expect(r.elf.retainedBytes).toBeLessThan(64 << 10);
      expect(ms).toBeLessThan(200);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('stops keeping symbols at maxRetainedBytes and says so', () => {
    const node = fs.realpathSync(process.execPath);
    const fd = fs.openSync(node, 'r');
    try {
      const src = fdSource(fd, fs.fstatSync(fd).size);
      const full = parseElf(src);
      const capped = parseElf(src, { maxRetainedBytes: 1 << 20 });
      if (!full.ok || !capped.ok) throw new Error('parse node');
      expect(full.elf.retainedBytes).toBeGreaterThan(4 << 20);
      expect(capped.elf.retainedBytes).toBeLessThanOrEqual(1 << 20);
      expect(capped.elf.symbolCount).toBeGreaterThan(1000);
      expect(capped.elf.symbolCount).toBeLessThan(full.elf.symbolCount);
      expect(capped.elf.warnings.join()).toMatch(/retained bytes limit/);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('reads one symbol table of each kind, however many a file declares', () => {
    const b = Buffer.from(fs.readFileSync(lib));
    const dynsym = sectionHeader(b, '.dynsym');
    dynsym.writeUInt32LE(2, 4); // a second SHT_SYMTAB
    const r = parseElf(bufferSource(b));
    if (!r.ok) throw new Error(r.error);
    expect(r.elf.warnings.join()).toMatch(/1 extra SHT_SYMTAB sections ignored/);
    expect(r.elf.hasSymtab).toBe(true);
    // The first one (the former .dynsym, before .symtab in the file) names the exported functions.
    expect(r.elf.lookup(nmFunctions(lib, true).find((f) => f.name === 'osprey_lib_work')!.address)?.name).toBe('osprey_lib_work');
  });
});

/** The 64-byte section header of section `name` (a view into `elf`). */
function sectionHeader(elf: Buffer, name: string): Buffer {
  const r = parseElf(bufferSource(elf), { skipSymbols: true });
  if (!r.ok) throw new Error(r.error);
  const i = r.elf.sections.findIndex((s) => s.name === name);
  const shoff = Number(elf.readBigUInt64LE(40));
  return elf.subarray(shoff + i * 64, shoff + i * 64 + 64);
}

/** `elf` with sections `names` moved to its end as SHF_COMPRESSED: an Elf64_Chdr (zlib) and the deflated data. */
function compressSections(elf: Buffer, names: string[]): Buffer {
  let out = Buffer.from(elf);
  for (const name of names) {
    const hdr = sectionHeader(out, name);
    const data = out.subarray(Number(hdr.readBigUInt64LE(24)), Number(hdr.readBigUInt64LE(24) + hdr.readBigUInt64LE(32)));
    const chdr = Buffer.alloc(24);
    chdr.writeUInt32LE(1, 0); // ELFCOMPRESS_ZLIB
    chdr.writeBigUInt64LE(BigInt(data.length), 8);
    chdr.writeBigUInt64LE(8n, 16);
    const body = Buffer.concat([chdr, zlib.deflateSync(data)]);
    const at = (out.length + 7) & ~7;
    out = Buffer.concat([out, Buffer.alloc(at - out.length), body]);
    const h = sectionHeader(out, name);
    h.writeBigUInt64LE(h.readBigUInt64LE(8) | 0x800n, 8); // sh_flags |= SHF_COMPRESSED
    h.writeBigUInt64LE(BigInt(at), 24);
    h.writeBigUInt64LE(BigInt(body.length), 32);
  }
  return out;
}

describe('parseElfNotes', () => {
  it('finds the GNU build-id among other notes and stops on garbage', () => {
    const note = (name: string, type: number, desc: Buffer) => {
      const n = Buffer.from(name + '\0');
      const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
      const h = Buffer.alloc(12);
      h.writeUInt32LE(n.length, 0);
      h.writeUInt32LE(desc.length, 4);
      h.writeUInt32LE(type, 8);
      return Buffer.concat([h, pad(n), pad(desc)]);
    };
    const id = Buffer.from('0123456789abcdef0123', 'hex');
    expect(parseElfNotes(Buffer.concat([note('Linux', 1, Buffer.alloc(5)), note('GNU', 3, id)])).buildId).toBe('0123456789abcdef0123');
    expect(parseElfNotes(Buffer.concat([note('GNU', 1, Buffer.alloc(16))])).buildId).toBe('');
    const bad = note('GNU', 3, id);
    bad.writeUInt32LE(0xfffffff0, 4);
    expect(parseElfNotes(bad).buildId).toBe('');
    expect(parseElfNotes(Buffer.alloc(3)).buildId).toBe('');
  });

  it('reads the running kernel build-id from /sys/kernel/notes', () => {
    expect(parseElfNotes(fs.readFileSync('/sys/kernel/notes')).buildId).toMatch(/^[0-9a-f]{40}$/);
  });
});
