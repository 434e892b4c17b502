// The symbolizer under hostile processes (issue 10), through a synthetic /proc: its memory stays within
// maxCacheBytes whatever the processes map or write (evictions and give-ups counted), perf maps that are not
// regular files are refused without blocking, and kernel symbols are read again only when modules change.
import { symbolizerGaveUp } from './symbolizer-stats.js';
import { INTERNED_FRAME_BYTES } from './frame-interner.js';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bufferSource, parseElf } from './elf.js';
import { KernelSymbols } from './kernel-symbols.js';
import { emptySymbolizerStats } from './symbolizer-stats.js';
import { Symbolizer } from './symbolizer.js';
import { gcc, makeTempDir, nmFunctions } from './test-support/native.js';
import { IN_ROOT_RESOLVERS, useInRootResolver } from '../test-support/in-root-resolvers.js';

const FUNCTIONS = 1500;
const MANY_FUNCTIONS = Array.from(
  { length: FUNCTIONS },
  (_, i) => `__attribute__((noinline)) int osprey_bounds_function_with_a_rather_long_name_${i}(int x) { return x * ${i + 1}; }`,
).join('\n');

let dir: string;
let many: string;
let nextPid = 7100;
const BASE = 0x500000000n;

beforeAll(() => {
  dir = makeTempDir('hotpath-bounds-');
  many = gcc(dir, 'many', `${MANY_FUNCTIONS}\nint main(void) { return 0; }\n`, ['-fPIE', '-pie']);
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface FakeProcess {
  procRoot: string;
  pid: number;
  root: string;
}

/** A process of a synthetic /proc with its own root directory and the given maps text. */
function fakeProcess(procRoot: string, maps = ''): FakeProcess {
  const pid = nextPid++;
  const root = path.join(procRoot, String(pid), 'root');
  fs.mkdirSync(path.join(root, 'tmp'), { recursive: true });
  fs.writeFileSync(path.join(procRoot, String(pid), 'maps'), maps);
  return { procRoot, pid, root };
}

/** Runtime address of `name` in a copy of `many` mapped whole at `base`. */
function runtimeAddress(name: string, base: bigint): bigint {
  const r = parseElf(bufferSource(fs.readFileSync(many)));
  if (!r.ok) throw new Error(r.error);
  const x = r.elf.execSegment!;
  const sym = nmFunctions(many).find((f) => f.name === name)!;
  return base + (sym.address - x.vaddr + x.offset);
}

describe('Symbolizer memory bounds', () => {
  it('keeps parsed files within its byte budget, least recently used out, and still names every frame', () => {
    const procRoot = makeTempDir('hotpath-bounds-proc-');
    const files = 8;
    let maps = '';
    const p = fakeProcess(procRoot);
    for (let i = 0; i < files; i++) {
      // Distinct identities (size differs), same symbols.
      const copy = path.join(p.root, `app${i}`);
      fs.copyFileSync(many, copy);
      fs.appendFileSync(copy, Buffer.alloc(i + 1));
      const base = BASE + BigInt(i) * 0x1000000n;
      maps += `${base.toString(16)}-${(base + 0x100000n).toString(16)} r-xp 00000000 fd:01 ${fs.statSync(copy).ino}   /app${i}\n`;
    }
    fs.writeFileSync(path.join(procRoot, String(p.pid), 'maps'), maps);
    const one = parseElf(bufferSource(fs.readFileSync(many)));
    if (!one.ok) throw new Error(one.error);
    // Room for about three parsed files in the ELF share (5/8) of the budget.
    const maxCacheBytes = Math.ceil((one.elf.retainedBytes * 3 * 8) / 5);
    const s = new Symbolizer({ procRoot, kallsymsText: '', debuginfod: null, maxCacheBytes });
    let maxUsed = 0;
    for (let round = 0; round < 3; round++) {
      s.beginDrain();
      for (let i = 0; i < files; i++) {
        const name = `osprey_bounds_function_with_a_rather_long_name_${(i * 97 + round) % FUNCTIONS}`;
        const [f] = s.symbolizeUser(p.pid, [runtimeAddress(name, BASE + BigInt(i) * 0x1000000n)]);
        expect(f.functionName).toBe(name);
        maxUsed = Math.max(maxUsed, s.bytesUsed);
      }
      s.endDrain();
    }
    console.log(`${files} files of ${one.elf.retainedBytes} bytes, budget ${maxCacheBytes}: at most ${maxUsed} used, ${s.stats.elfEvictions} evictions`);
    expect(maxUsed).toBeLessThanOrEqual(maxCacheBytes);
    expect(s.stats.elfEvictions).toBeGreaterThanOrEqual(files);
    expect(s.cacheSize.files).toBeLessThanOrEqual(3);
  });

  it('parses at most maxParseBytesPerDrain per window; the rest waits for the next window', () => {
    const procRoot = makeTempDir('hotpath-bounds-proc-');
    const p = fakeProcess(procRoot);
    let maps = '';
    for (let i = 0; i < 2; i++) {
      const copy = path.join(p.root, `app${i}`);
      fs.copyFileSync(many, copy);
      fs.appendFileSync(copy, Buffer.alloc(i + 1));
      const base = BASE + BigInt(i) * 0x1000000n;
      maps += `${base.toString(16)}-${(base + 0x100000n).toString(16)} r-xp 00000000 fd:01 ${fs.statSync(copy).ino}   /app${i}\n`;
    }
    fs.writeFileSync(path.join(procRoot, String(p.pid), 'maps'), maps);
    const s = new Symbolizer({ procRoot, kallsymsText: '', debuginfod: null, maxParseBytesPerDrain: 1 });
    const name = 'osprey_bounds_function_with_a_rather_long_name_5';
    const addrs = [runtimeAddress(name, BASE), runtimeAddress(name, BASE + 0x1000000n)];
    s.beginDrain();
    expect(s.symbolizeUser(p.pid, addrs).map((f) => f.functionName)).toEqual([name, undefined]);
    s.endDrain();
    expect(s.stats.elfParsesDeferred).toBe(1);
    s.beginDrain();
    expect(s.symbolizeUser(p.pid, addrs).map((f) => f.functionName)).toEqual([name, name]);
    s.endDrain();
  });

  it('keeps a named stack across windows by its key while the maps stay; a changed maps text drops it', () => {
    const procRoot = makeTempDir('hotpath-bounds-proc-');
    const p = fakeProcess(procRoot);
    const copy = path.join(p.root, 'app');
    fs.copyFileSync(many, copy);
    const line = `${BASE.toString(16)}-${(BASE + 0x100000n).toString(16)} r-xp 00000000 fd:01 ${fs.statSync(copy).ino}   /app\n`;
    fs.writeFileSync(path.join(procRoot, String(p.pid), 'maps'), line);
    const s = new Symbolizer({ procRoot, kallsymsText: '', debuginfod: null, maxParseBytesPerDrain: 1 << 30 });
    const names = ['osprey_bounds_function_with_a_rather_long_name_7', 'osprey_bounds_function_with_a_rather_long_name_8'];
    const addrs = names.map((n) => runtimeAddress(n, BASE));
    const key = 0x1234n;
    s.beginDrain();
    expect(s.cachedUserStack(p.pid, key)).toBeUndefined();
    const first = s.symbolizeUser(p.pid, addrs, key);
    expect(first.map((f) => f.functionName)).toEqual(names);
    s.endDrain();
    s.beginDrain();
    expect(s.cachedUserStack(p.pid, key)).toBe(first);
    // Another key for a stack with an address outside every mapping: not kept.
    const unnamed = s.symbolizeUser(p.pid, [0x10n], 0x99n);
    expect(unnamed[0].functionName).toBeUndefined();
    // An address in the file that no symbol covers (its headers) is unnamed for good: kept.
    const inHeaders = s.symbolizeUser(p.pid, [BASE + 0x10n, addrs[0]], 0x77n);
    expect(inHeaders.map((f) => f.functionName)).toEqual([undefined, names[0]]);
    s.endDrain();
    s.beginDrain();
    expect(s.cachedUserStack(p.pid, 0x99n)).toBeUndefined();
    expect(s.cachedUserStack(p.pid, 0x77n)).toBe(inHeaders);
    expect(s.stats.stackCacheHits).toBe(2);
    s.endDrain();
    // The process mapped something else (dlopen, exec): its kept stacks go.
    fs.writeFileSync(path.join(procRoot, String(p.pid), 'maps'), line + line.replace('/app', '/app2').replace(BASE.toString(16), (BASE + 0x2000000n).toString(16)));
    s.beginDrain();
    expect(s.cachedUserStack(p.pid, key)).toBeUndefined();
    s.endDrain();
  });

  it('keeps stacks through a file stripped of every symbol (read, names final), not through one it could not read', () => {
    const procRoot = makeTempDir('hotpath-bounds-proc-');
    const p = fakeProcess(procRoot);
    const stripped = path.join(p.root, 'stripped');
    execFileSync('objcopy', ['--strip-all', many, stripped]);
    const blob = path.join(p.root, 'blob');
    fs.writeFileSync(blob, Buffer.alloc(0x2000, 0x41)); // not ELF
    const other = BASE + 0x1000000n;
    fs.writeFileSync(
      path.join(procRoot, String(p.pid), 'maps'),
      `${BASE.toString(16)}-${(BASE + 0x100000n).toString(16)} r-xp 00000000 fd:01 ${fs.statSync(stripped).ino}   /stripped\n` +
        `${other.toString(16)}-${(other + 0x2000n).toString(16)} r-xp 00000000 fd:01 ${fs.statSync(blob).ino}   /blob\n`,
    );
    const s = new Symbolizer({ procRoot, kallsymsText: '', debuginfod: null, maxParseBytesPerDrain: 1 << 30 });
    const inStripped = [BASE + 0x1200n, BASE + 0x1300n];
    s.beginDrain();
    const kept = s.symbolizeUser(p.pid, inStripped, 0x51n);
    expect(kept.map((f) => f.functionName)).toEqual([undefined, undefined]);
    const notKept = s.symbolizeUser(p.pid, [BASE + 0x1200n, other + 0x10n], 0x52n);
    expect(notKept.map((f) => f.kind)).toEqual(['native', 'native']);
    s.endDrain();
    s.beginDrain();
    expect(s.cachedUserStack(p.pid, 0x51n)).toBe(kept);
    expect(s.cachedUserStack(p.pid, 0x52n)).toBeUndefined();
    s.endDrain();
  });

  it('caps what all perf maps keep together, and counts what it leaves unread', () => {
    const procRoot = makeTempDir('hotpath-bounds-proc-');
    const maxCacheBytes = 4 << 20; // 1 MiB for perf maps
    const s = new Symbolizer({ procRoot, kallsymsText: '', debuginfod: null, maxCacheBytes });
    const line = (i: number) => `${(0x10000000 + i * 0x40).toString(16)} 40 JS:*osprey_jit_${i} /srv/app.js:1:1\n`;
    const text = Array.from({ length: 20_000 }, (_, i) => line(i)).join(''); // about 900 KB each
    const procs = [0, 1, 2].map(() => fakeProcess(procRoot));
    for (const p of procs) fs.writeFileSync(path.join(p.root, 'tmp', `perf-${p.pid}.map`), text);
    s.beginDrain();
    const named = procs.map((p) => s.symbolizeUser(p.pid, [0x10000000n + 10n])[0].functionName);
    s.endDrain();
    expect(named[0]).toBe('JS:*osprey_jit_0 /srv/app.js:1:1');
    expect(s.bytesUsed).toBeLessThanOrEqual(maxCacheBytes);
    expect(s.stats.perfMapBytesCapped).toBeGreaterThanOrEqual(1);
    // The first process goes away: its share is given back and the others can read further.
    s.forgetPid(procs[0].pid);
    const before = s.bytesUsed;
    expect(before).toBeLessThan(1 << 20);
  });

  it('tracks at most maxPids processes', () => {
    const procRoot = makeTempDir('hotpath-bounds-proc-');
    const s = new Symbolizer({ procRoot, kallsymsText: '', debuginfod: null, maxPids: 2 });
    const procs = Array.from({ length: 5 }, () => fakeProcess(procRoot, '1000-2000 r-xp 00000000 00:00 0   [vdso]\n'));
    s.beginDrain();
    for (const p of procs) s.symbolizeUser(p.pid, [0x3000n]);
    s.endDrain();
    expect(s.cacheSize.pids).toBe(2);
    expect(s.stats.pidsEvictedOverCap).toBe(3);
  });

  it('keeps only executable mappings of a process', () => {
    const procRoot = makeTempDir('hotpath-bounds-proc-');
    let maps = '';
    for (let i = 0; i < 10_000; i++) maps += `${(0x10000000 + i * 0x2000).toString(16)}-${(0x10001000 + i * 0x2000).toString(16)} rw-p 00000000 00:00 0   /some/rather/long/path/to/a/data/file/${i}\n`;
    const p = fakeProcess(procRoot, maps);
    const s = new Symbolizer({ procRoot, kallsymsText: '', debuginfod: null });
    s.symbolizeUser(p.pid, [0x10000010n]);
    // No mapping kept: only the unknown frame the address became, shared with later windows.
    expect(s.bytesUsed).toBe(INTERNED_FRAME_BYTES);
  });
});

describe.each(IN_ROOT_RESOLVERS)('Symbolizer and files that are not regular files (opened by %s)', (resolver) => {
  useInRootResolver(resolver);

  it('refuses a perf map that is a device, a FIFO, a directory or a symlink, without blocking', () => {
    const procRoot = makeTempDir('hotpath-bounds-proc-');
    const s = new Symbolizer({ procRoot, kallsymsText: '', debuginfod: null });
    const kinds: Array<[string, (file: string) => void]> = [
      ['symlink to a device', (f) => fs.symlinkSync('/dev/null', f)],
      ['FIFO', (f) => execFileSync('mkfifo', [f])],
      ['directory', (f) => fs.mkdirSync(f)],
      ['symlink to a regular file', (f) => {
        fs.writeFileSync(`${f}.real`, '10000000 40 JS:*planted\n');
        fs.symlinkSync(path.basename(`${f}.real`), f);
      }],
    ];
    for (const [what, make] of kinds) {
      const p = fakeProcess(procRoot);
      make(path.join(p.root, 'tmp', `perf-${p.pid}.map`));
      const t0 = performance.now();
      const [f] = s.symbolizeUser(p.pid, [0x10000010n]);
      expect(f.kind, what).toBe('unknown');
      expect(performance.now() - t0, what).toBeLessThan(500);
    }
    expect(s.stats.nonRegularFilesRefused).toBe(4);
    expect(s.stats.perfMapsLoaded).toBe(0);
  });

  it('counts a perf map behind a magic link or a symlink loop as a refused link, and reports both as gave-up reasons', () => {
    const procRoot = makeTempDir('hotpath-bounds-proc-');
    const s = new Symbolizer({ procRoot, kallsymsText: '', debuginfod: null });
    // /tmp itself is the way in: a symlink loop planted in its place.
    const loop = fakeProcess(procRoot);
    fs.rmSync(path.join(loop.root, 'tmp'), { recursive: true });
    fs.symlinkSync('tmp2', path.join(loop.root, 'tmp'));
    fs.symlinkSync('tmp', path.join(loop.root, 'tmp2'));
    expect(s.symbolizeUser(loop.pid, [0x10000010n])[0].kind).toBe('unknown');
    expect(s.stats.linksRefused).toBe(1);
    const gaveUp = symbolizerGaveUp(s.stats);
    expect(gaveUp.link_refused).toBe(1);
    expect(gaveUp.not_regular_file).toBe(0);
    expect(Object.values(gaveUp).every((n) => Number.isInteger(n))).toBe(true);
  });
});

describe('KernelSymbols and modules', () => {
  it('reads kallsyms again when the module list changes, and only then', () => {
    const procRoot = makeTempDir('hotpath-bounds-proc-');
    const write = (name: string, modules: string) => {
      fs.writeFileSync(path.join(procRoot, 'kallsyms'), `ffffffff81000000 T _stext\nffffffffc0001000 t ${name}\t[demo]\n`);
      fs.writeFileSync(path.join(procRoot, 'modules'), modules);
    };
    write('first_fn', 'demo 16384 0 - Live 0xffffffffc0000000\n');
    const stats = emptySymbolizerStats();
    const k = new KernelSymbols(stats, { procRoot, moduleCheckMs: 0 });
    expect(k.symbolize([0xffffffffc0001010n])[0].functionName).toBe('first_fn [demo]');
    // kallsyms changed but the modules did not (a reference count did): not read again.
    write('second_fn', 'demo 16384 3 - Live 0xffffffffc0000000\n');
    expect(k.reloadIfModulesChanged()).toBe(false);
    expect(k.symbolize([0xffffffffc0001010n])[0].functionName).toBe('first_fn [demo]');
    // The module was reloaded elsewhere.
    write('third_fn', 'demo 16384 0 - Live 0xffffffffc0100000\n');
    expect(k.reloadIfModulesChanged()).toBe(true);
    expect(k.symbolize([0xffffffffc0001010n])[0].functionName).toBe('third_fn [demo]');
    expect(stats.kallsymsReloads).toBe(1);
    // Compared at most once per moduleCheckMs.
    const slow = new KernelSymbols(emptySymbolizerStats(), { procRoot, moduleCheckMs: 60_000 });
    slow.symbolize([0xffffffffc0001010n]);
    write('fourth_fn', 'other 16384 0 - Live 0xffffffffc0200000\n');
    expect(slow.reloadIfModulesChanged()).toBe(false);
  });
});
