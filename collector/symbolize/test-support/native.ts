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
