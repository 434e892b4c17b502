// Builds small C programs and libraries for the symbolizer tests (real gcc output, inspected with binutils).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function gcc(dir: string, name: string, source: string, args: string[]): string {
  const src = path.join(dir, `${name}.c`);
  const out = path.join(dir, name);
  fs.writeFileSync(src, source);
  execFileSync('gcc', ['-O1', '-g0', '-fno-omit-frame-pointer', '-Wl,--build-id', '-o', out, src, ...args], { cwd: dir, stdio: 'pipe' });
  return out;
}

/** Function symbols per `nm -S --defined-only`: address → names (aliases share an address), with sizes. */
export function nmFunctions(file: string, dynamic = false): Array<{ address: bigint; size: bigint; name: string }> {
  const out = execFileSync('nm', ['-S', '--defined-only', ...(dynamic ? ['-D'] : []), file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const rows: Array<{ address: bigint; size: bigint; name: string }> = [];
  for (const line of out.split('\n')) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) ([tTiW]) (\S+)$/.exec(line);
    if (m) rows.push({ address: BigInt('0x' + m[1]), size: BigInt('0x' + m[2]), name: m[4] });
  }
  return rows;
}

export function readelfBuildId(file: string): string {
  const out = execFileSync('readelf', ['-n', file], { encoding: 'utf8' });
  return /Build ID: ([0-9a-f]+)/.exec(out)?.[1] ?? '';
}

export const LIB_SOURCE = `
volatile int osprey_lib_sink;
__attribute__((noinline)) int osprey_lib_work(int n) { for (int i = 0; i < n; i++) osprey_lib_sink += i; return osprey_lib_sink; }
__attribute__((noinline)) int osprey_lib_other(int n) { return osprey_lib_work(n) * 2; }
static __attribute__((noinline)) int osprey_lib_local(int n) { return n + osprey_lib_sink; }
int osprey_lib_entry(int n) { return osprey_lib_local(n) + osprey_lib_other(n); }
`;

export const PROGRAM_SOURCE = `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
extern int osprey_lib_work(int n);
volatile uint64_t sink;
__attribute__((noinline)) void osprey_hot_loop(void) { for (;;) { sink += osprey_lib_work(100); usleep(20000); } }
__attribute__((noinline)) int osprey_helper(int x) { return x * 3 + (int)sink; }
int main(void) {
  void *anon = mmap(0, 65536, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void *h = dlopen("linux-vdso.so.1", RTLD_NOW | RTLD_NOLOAD);
  void *vd = h ? dlsym(h, "__vdso_clock_gettime") : 0;
  printf("hot=%p helper=%p lib=%p anon=%p vdso=%p\\n", (void *)osprey_hot_loop, (void *)osprey_helper,
         (void *)osprey_lib_work, anon, vd);
  fflush(stdout);
  osprey_hot_loop();
  return 0;
}
`;

/**
 * Rewrites ELF `file` in place so that its `.strtab` is `tableBytes` long, almost all of it a hole: the old
 * table moves to the end of the new one (after the end of the file, which is extended sparsely) and every
 * `.symtab` name offset follows it. The program still runs and `nm` still names its functions; a reader that
 * loads string tables whole reads `tableBytes`.
 */
export function inflateStringTable(file: string, tableBytes: number): void {
  const elf = fs.readFileSync(file);
  const shoff = Number(elf.readBigUInt64LE(40));
  const shnum = elf.readUInt16LE(60);
  const header = (i: number) => elf.subarray(shoff + i * 64, shoff + (i + 1) * 64);
  let symtab = -1;
  for (let i = 0; i < shnum; i++) if (header(i).readUInt32LE(4) === 2) symtab = i;
  if (symtab < 0) throw new Error(`${file}: no .symtab`);
  const sym = header(symtab);
  const str = header(sym.readUInt32LE(40));
  const oldTable = Buffer.from(elf.subarray(Number(str.readBigUInt64LE(24)), Number(str.readBigUInt64LE(24) + str.readBigUInt64LE(32))));
  const shift = tableBytes - oldTable.length;
  const symOff = Number(sym.readBigUInt64LE(24));
  const symCount = Number(sym.readBigUInt64LE(32)) / 24;
  for (let i = 1; i < symCount; i++) {
    const at = symOff + i * 24;
    const name = elf.readUInt32LE(at);
    if (name !== 0) elf.writeUInt32LE(name + shift, at);
  }
  const newOffset = Math.ceil(elf.length / 4096) * 4096;
  str.writeBigUInt64LE(BigInt(newOffset), 24);
  str.writeBigUInt64LE(BigInt(tableBytes), 32);
  fs.writeFileSync(file, elf);
  const fd = fs.openSync(file, 'r+');
  try {
    fs.ftruncateSync(fd, newOffset + tableBytes);
    fs.writeSync(fd, oldTable, 0, oldTable.length, newOffset + shift);
  } finally {
    fs.closeSync(fd);
  }
}

/** The `k`-th substitution reference of the Itanium ABI: S_, S0_, S1_, ..., SZ_, S10_, ... */
function substitution(k: number): string {
  return k === 0 ? 'S_' : `S${(k - 1).toString(36).toUpperCase()}_`;
}

/**
 * Valid mangled C++ names (c++filt prints them) whose printed form doubles per level: each level names a
 * template instantiation, or a function type, with the previous level twice, by substitution
 * (`f(A<A, A>, A<A<A, A>, A<A, A> >, ...)`). A few hundred bytes print more than 2^40 characters.
 */
export function demanglerBombs(levels = 60): Record<string, string> {
  let templates = '_Z1f1AIS_S_E';
  for (let k = 1; k < levels; k++) templates += `S_I${substitution(k)}${substitution(k)}E`;
  let functions = '_Z1fPi';
  for (let k = 0; k < levels; k++) functions += `Fv${substitution(k)}${substitution(k)}E`;
  // As long as the input cap allows (4 KiB), three references per level.
  let wide = '_Z1f1AIS_S_S_E';
  for (let k = 1; wide.length < 4000; k++) wide += `S_I${substitution(k)}${substitution(k)}${substitution(k)}E`;
  return { templateArguments: templates, functionTypes: functions, fourKiB: wide };
}
