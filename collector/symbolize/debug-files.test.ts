// Debug files where distributions put them, through the Symbolizer with a synthetic /proc: this machine's libc
// named from libc6-dbg by build-id, debuglinks verified by CRC32 (host and container roots), and debug files
// that are garbled, planted or out of the root, none of which may throw or name a frame wrongly.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIdDebugPath } from './debug-link.js';
import { type ElfFile, bufferSource, parseElf } from './elf.js';
import { type ProcMapping, parseProcMaps } from './proc-maps.js';
import { processRoot } from './process-files.js';
import { Symbolizer, type SymbolizerOptions } from './symbolizer.js';
import { gcc, makeTempDir, nmFunctions, readelfBuildId } from './test-support/native.js';

const LIBC = '/lib/x86_64-linux-gnu/libc.so.6';
const BASE = 0x7f0000000000n;

const APP_SOURCE = `
#include <stdio.h>
volatile int sink;
static __attribute__((noinline)) int osprey_debug_local(int n) { for (int i = 0; i < n; i++) sink += i; return sink; }
__attribute__((noinline)) int osprey_debug_global(int n) { return osprey_debug_local(n) * 2; }
int main(int argc, char **argv) { printf("%d\\n", osprey_debug_global(argc)); return 0; }
`;

let dir: string;
let full: string;
let debug: string;
let stripped: string;
let buildId: string;
let nextPid = 5100;

beforeAll(() => {
  dir = makeTempDir('hotpath-debugfiles-');
  full = gcc(dir, 'app', APP_SOURCE, ['-fPIE', '-pie']);
  debug = path.join(dir, 'app.debug');
  execFileSync('objcopy', ['--only-keep-debug', full, debug]);
  // Stripped of .symtab, with a debuglink to app.debug (name and CRC of that file).
  stripped = path.join(dir, 'app-stripped');
  execFileSync('objcopy', ['--strip-all', `--add-gnu-debuglink=${debug}`, full, stripped]);
  buildId = readelfBuildId(full);
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function subdir(prefix: string): string {
  return fs.mkdtempSync(path.join(dir, prefix));
}

/**
 * A synthetic /proc with one process that maps `file` (as `mappedPath` in its maps) whole and executable at
 * BASE. `root`: '/' makes its root the host's (a symlink, as /proc/<pid>/root is), else a directory.
 */
function fakeProcess(file: string, mappedPath: string, root: string): { procRoot: string; pid: number } {
  const pid = nextPid++;
  const procRoot = path.join(dir, `proc-${pid}`);
  fs.mkdirSync(path.join(procRoot, String(pid)), { recursive: true });
  fs.symlinkSync(root, path.join(procRoot, String(pid), 'root'));
  const ino = fs.statSync(file).ino;
  const end = BASE + BigInt(fs.statSync(file).size + 0x1000);
  fs.writeFileSync(path.join(procRoot, String(pid), 'maps'), `${BASE.toString(16)}-${end.toString(16)} r-xp 00000000 fd:01 ${ino}   ${mappedPath}\n`);
  return { procRoot, pid };
}

const headers = new Map<string, ElfFile>();

/** The runtime address of ELF virtual address `vaddr` of `file` mapped whole at BASE. */
function runtimeAddress(file: string, vaddr: bigint): bigint {
  let elf = headers.get(file);
  if (!elf) {
    const r = parseElf(bufferSource(fs.readFileSync(file)), { skipSymbols: true });
    if (!r.ok) throw new Error(r.error);
    headers.set(file, (elf = r.elf));
  }
  return BASE + elf.vaddrToFileOffset(vaddr)!;
}

function symbolAddress(file: string, name: string): bigint {
  const sym = nmFunctions(file).find((s) => s.name === name);
  if (!sym) throw new Error(`${name} not in ${file}`);
  return sym.address;
}

function symbolize(proc: { procRoot: string; pid: number }, addrs: bigint[], options: SymbolizerOptions = {}) {
  const s = new Symbolizer({ procRoot: proc.procRoot, kallsymsText: '', debuginfod: null, ...options });
  return { s, frames: s.symbolizeUser(proc.pid, addrs) };
}

/** A container root holding the stripped app at /opt/app, with `place` putting debug files into it. */
function containerWith(place: (root: string) => void): { procRoot: string; pid: number; root: string } {
  const root = subdir('root-');
  fs.mkdirSync(path.join(root, 'opt'));
  fs.copyFileSync(stripped, path.join(root, 'opt', 'app'));
  place(root);
  return { ...fakeProcess(path.join(root, 'opt', 'app'), '/opt/app', root), root };
}

function put(root: string, p: string, content: Buffer | string): void {
  fs.mkdirSync(path.join(root, path.dirname(p)), { recursive: true });
  fs.writeFileSync(path.join(root, p), content);
}

describe('debug files: this machine libc from libc6-dbg', () => {
  const libc = fs.realpathSync(LIBC);
  const libcBuildId = readelfBuildId(libc);
  const libcDebug = buildIdDebugPath(libcBuildId)!;

  it('names __libc_start_call_main (in .symtab of the debug file only) through /usr/lib/debug/.build-id', () => {
    expect(fs.existsSync(libcDebug), `${libcDebug} (apt-get install libc6-dbg)`).toBe(true);
    const vaddr = symbolAddress(libcDebug, '__libc_start_call_main');
    expect(nmFunctions(libc, true).some((s) => s.name === '__libc_start_call_main')).toBe(false);
    const proc = fakeProcess(libc, libc, '/');
    const addr = runtimeAddress(libc, vaddr) + 3n;

    const before = symbolize(proc, [addr], { maxDebugFileBytes: 0 });
    expect(before.frames[0].functionName).not.toBe('__libc_start_call_main');

    const { s, frames } = symbolize(proc, [addr]);
    expect(frames[0]).toMatchObject({ functionName: '__libc_start_call_main', address: vaddr + 3n, kind: 'native' });
    expect(frames[0].mapping).toMatchObject({ file: libc, buildId: libcBuildId, hasFunctions: true });
    expect(s.stats).toMatchObject({ debugFilesByBuildId: 1, debugFilesByDebuglink: 0, debugFilesAttached: 1, debugFilesNotFound: 0, debugFileErrors: 0 });
  });

  it('names it in a live process through the real /proc (a host process: looked up on the host)', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      let maps: ProcMapping[] = [];
      for (let i = 0; i < 100 && !maps.some((m) => m.path === libc && m.executable); i++) {
        await new Promise((r) => setTimeout(r, 20));
        maps = parseProcMaps(fs.readFileSync(`/proc/${child.pid}/maps`, 'utf8')).mappings;
      }
      const text = maps.find((m) => m.path === libc && m.executable)!;
      const vaddr = symbolAddress(libcDebug, '__libc_start_call_main');
      const addr = text.start + (runtimeAddress(libc, vaddr) - BASE - text.offset);
      const s = new Symbolizer({ kallsymsText: '', debuginfod: null });
      expect(s.symbolizeUser(child.pid!, [addr])[0]).toMatchObject({ functionName: '__libc_start_call_main', address: vaddr });
      expect(s.stats.debugFilesByBuildId).toBe(1);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('names many more of libc functions than .dynsym alone', () => {
    const symtab = nmFunctions(libcDebug).filter((s) => s.size > 0n);
    const proc = fakeProcess(libc, libc, '/');
    const addrs = symtab.map((sym) => runtimeAddress(libc, sym.address));
    const names = new Map<bigint, Set<string>>();
    // Shown without symbol versions, as .dynsym names them: clock_nanosleep@GLIBC_2.2.5 is clock_nanosleep.
    for (const sym of symtab) (names.get(sym.address) ?? names.set(sym.address, new Set()).get(sym.address)!).add(sym.name.replace(/@.*/, ''));
    const exact = (frames: ReturnType<typeof symbolize>['frames']) =>
      frames.filter((f, i) => f.functionName !== undefined && names.get(symtab[i].address)!.has(f.systemName!)).length;
    const before = exact(symbolize(proc, addrs, { maxDebugFileBytes: 0 }).frames);
    const t0 = performance.now();
    const after = exact(symbolize(proc, addrs).frames);
    const ms = performance.now() - t0;
    console.log(
      `libc: ${symtab.length} functions of the debug file's .symtab; named exactly with .dynsym only: ${before}, ` +
        `with the debug file: ${after} (${ms.toFixed(0)} ms incl. reading both files)`,
    );
    expect(after).toBe(symtab.length);
    expect(before).toBeLessThan(after);
  });
});

describe('debug files by .gnu_debuglink', () => {
  it('on the host: next to the file and in its .debug/ directory, with a matching CRC', () => {
    const hot = symbolAddress(full, 'osprey_debug_local');
    const host = subdir('host-');
    const app = path.join(host, 'app');
    fs.copyFileSync(stripped, app);
    const proc = fakeProcess(app, app, '/');
    const addr = runtimeAddress(stripped, hot) + 1n;

    const none = symbolize(proc, [addr]);
    expect(none.frames[0].functionName).toBeUndefined();
    expect(none.s.stats).toMatchObject({ debugFilesNotFound: 1, debugFilesAttached: 0 });

    fs.mkdirSync(path.join(host, '.debug'));
    fs.copyFileSync(debug, path.join(host, '.debug', 'app.debug'));
    const inDotDebug = symbolize(proc, [addr]);
    expect(inDotDebug.frames[0]).toMatchObject({ functionName: 'osprey_debug_local', address: hot + 1n });
    expect(inDotDebug.frames[0].mapping).toMatchObject({ file: app, buildId, hasFunctions: true });
    expect(inDotDebug.s.stats).toMatchObject({ debugFilesByDebuglink: 1, debugFilesAttached: 1, debugLinkCrcMismatches: 0 });

    fs.copyFileSync(debug, path.join(host, 'app.debug'));
    const beside = symbolize(proc, [addr]);
    expect(beside.frames[0].functionName).toBe('osprey_debug_local');
    expect(beside.s.stats.debugFilesByDebuglink).toBe(1);
  });

  it('in a container: under its /usr/lib/debug/<dir>/, not the host directory of the same name', () => {
    const hot = symbolAddress(full, 'osprey_debug_global');
    const c = containerWith((root) => put(root, '/usr/lib/debug/opt/app.debug', fs.readFileSync(debug)));
    const { s, frames } = symbolize(c, [runtimeAddress(stripped, hot)]);
    expect(frames[0]).toMatchObject({ functionName: 'osprey_debug_global', address: hot });
    expect(frames[0].mapping).toMatchObject({ file: '/opt/app', buildId });
    expect(s.stats).toMatchObject({ debugFilesByDebuglink: 1, debugFilesNotFound: 0 });
  });

  it('rejects a debug file whose CRC32 is not the one the link names', () => {
    // The link is made against a modified copy of the debug file; the original is where the link points.
    const modified = path.join(subdir('mod-'), 'app.debug');
    fs.writeFileSync(modified, Buffer.concat([fs.readFileSync(debug), Buffer.from([0])]));
    const badLink = path.join(dir, 'app-badcrc');
    execFileSync('objcopy', ['--strip-all', `--add-gnu-debuglink=${modified}`, full, badLink]);
    const root = subdir('root-');
    put(root, '/opt/app', fs.readFileSync(badLink));
    put(root, '/opt/.debug/app.debug', fs.readFileSync(debug));
    const proc = fakeProcess(path.join(root, 'opt', 'app'), '/opt/app', root);
    const hot = symbolAddress(full, 'osprey_debug_local');
    const { s, frames } = symbolize(proc, [runtimeAddress(badLink, hot)]);
    expect(frames[0].functionName).toBeUndefined();
    expect(frames[0].mapping).toMatchObject({ file: '/opt/app', buildId, hasFunctions: false });
    expect(s.stats).toMatchObject({ debugLinkCrcMismatches: 1, debugFilesByDebuglink: 0, debugFilesAttached: 0, debugFilesNotFound: 1 });
  });
});

describe('debug files by build-id in a container root', () => {
  const idPath = () => buildIdDebugPath(buildId)!;

  it('uses the build-id path first, and only a file of the same build', () => {
    const hot = symbolAddress(full, 'osprey_debug_local');
    const good = containerWith((root) => put(root, idPath(), fs.readFileSync(debug)));
    const ok = symbolize(good, [runtimeAddress(stripped, hot)]);
    expect(ok.frames[0].functionName).toBe('osprey_debug_local');
    expect(ok.s.stats).toMatchObject({ debugFilesByBuildId: 1, debugFilesByDebuglink: 0 });

    // Another build's debug file at this build-id's path: refused, and the debuglink is tried next.
    const other = gcc(subdir('other-'), 'other', APP_SOURCE.replace('sink += i', 'sink += 2 * i'), ['-fPIE', '-pie']);
    expect(readelfBuildId(other)).not.toBe(buildId);
    const wrong = containerWith((root) => {
      put(root, idPath(), fs.readFileSync(other));
      put(root, '/opt/app.debug', fs.readFileSync(debug));
    });
    const w = symbolize(wrong, [runtimeAddress(stripped, hot)]);
    expect(w.frames[0].functionName).toBe('osprey_debug_local');
    expect(w.s.stats).toMatchObject({ debugFileErrors: 1, debugFilesByBuildId: 0, debugFilesByDebuglink: 1 });
  });

  it('never throws on garbled, truncated, planted or out-of-root debug files', () => {
    const hot = symbolAddress(full, 'osprey_debug_local');
    const bytes = fs.readFileSync(debug);
    // [case, how it is planted, debug files that were opened and refused]
    const cases: Array<[string, (root: string) => void, number]> = [
      ['garbage', (root) => put(root, idPath(), Buffer.alloc(4096, 0x5a)), 1],
      ['truncated', (root) => put(root, idPath(), bytes.subarray(0, 200)), 1],
      ['empty', (root) => put(root, idPath(), ''), 1],
      ['directory', (root) => fs.mkdirSync(path.join(root, idPath()), { recursive: true }), 0],
      ['fifo', (root) => {
        fs.mkdirSync(path.join(root, path.dirname(idPath())), { recursive: true });
        execFileSync('mkfifo', [path.join(root, idPath())]);
      }, 0],
      // An absolute link resolves inside the root, where there is no such file: the host's is not read.
      ['symlink to a host path', (root) => {
        fs.mkdirSync(path.join(root, path.dirname(idPath())), { recursive: true });
        fs.symlinkSync(debug, path.join(root, idPath()));
      }, 0],
      // Skipped as the mapped file itself (its CRC is not even computed).
      ['debuglink to itself', (root) => fs.symlinkSync('app', path.join(root, 'opt', 'app.debug')), 0],
    ];
    for (const [what, place, refused] of cases) {
      const c = containerWith(place);
      const t0 = performance.now();
      const { s, frames } = symbolize(c, [runtimeAddress(stripped, hot), runtimeAddress(stripped, hot) + 1n]);
      expect(performance.now() - t0, what).toBeLessThan(2000);
      expect(frames.map((f) => f.functionName), what).toEqual([undefined, undefined]);
      expect(frames[0].mapping, what).toMatchObject({ file: '/opt/app', buildId });
      expect(s.stats.debugFilesAttached, what).toBe(0);
      expect(s.stats.debugFilesNotFound, what).toBe(1);
      expect(s.stats.debugFileErrors, what).toBe(refused);
      expect(s.stats.debugLinkCrcMismatches, what).toBe(0);
    }
  });

  it('skips debug files over the size cap', () => {
    const hot = symbolAddress(full, 'osprey_debug_local');
    const c = containerWith((root) => put(root, idPath(), fs.readFileSync(debug)));
    const capped = symbolize(c, [runtimeAddress(stripped, hot)], { maxDebugFileBytes: 1024 });
    expect(capped.frames[0].functionName).toBeUndefined();
    expect(capped.s.stats).toMatchObject({ debugFilesNotFound: 1, debugFileErrors: 0 });
  });
});

describe('processRoot', () => {
  it("is / for a process sharing the collector's root, the process root otherwise, undefined when unreadable", () => {
    const host = fakeProcess(stripped, stripped, '/');
    expect(processRoot(host.procRoot, host.pid)).toBe('/');
    const c = containerWith(() => {});
    expect(processRoot(c.procRoot, c.pid)).toBe(path.join(c.procRoot, String(c.pid), 'root'));
    expect(processRoot(c.procRoot, c.pid + 1000)).toBeUndefined();
    expect(processRoot('/proc', process.pid)).toBe('/');
  });
});
