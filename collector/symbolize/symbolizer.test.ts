import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bufferSource, parseElf, parseElfNotes } from './elf.js';
import { parseProcMaps } from './proc-maps.js';
import { openInRootDir } from './process-files.js';
import { Symbolizer } from './symbolizer.js';
import { IN_ROOT_RESOLVERS, useInRootResolver } from '../test-support/in-root-resolvers.js';
import { LIB_SOURCE, PROGRAM_SOURCE, gcc, makeTempDir, nmFunctions, readelfBuildId } from './test-support/native.js';

interface Running {
  child: ChildProcess;
  hot: bigint;
  helper: bigint;
  lib: bigint;
  anon: bigint;
  vdso: bigint;
}

let dir: string;
let lib: string;
let prog: string;
let progStripped: string;
let progBased: string;
let progNoPie: string;
const children: ChildProcess[] = [];

function nmAddress(file: string, name: string): bigint {
  return nmFunctions(file).find((s) => s.name === name)!.address;
}

/** Starts a test program and waits for the line where it prints its function addresses. */
function start(file: string): Promise<Running> {
  const child = spawn(file, [], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no output from ${file}`)), 10_000);
    child.on('error', reject);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /hot=(\S+) helper=(\S+) lib=(\S+) anon=(\S+) vdso=(\S+)\n/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      const num = (s: string) => (s === '(nil)' ? 0n : BigInt(s));
      resolve({ child, hot: num(m[1]), helper: num(m[2]), lib: num(m[3]), anon: num(m[4]), vdso: num(m[5]) });
    });
  });
}

beforeAll(() => {
  dir = makeTempDir('hotpath-sym-');
  lib = gcc(dir, 'libosprey.so', LIB_SOURCE, ['-shared', '-fPIC']);
  prog = gcc(dir, 'prog', PROGRAM_SOURCE, ['-fPIE', '-pie', `-L${dir}`, '-losprey', `-Wl,-rpath,${dir}`, '-ldl']);
  const link = [`-L${dir}`, '-losprey', `-Wl,-rpath,${dir}`, '-ldl'];
  // File offsets differ from virtual addresses here, so normalization must go through PT_LOAD.
  progBased = gcc(dir, 'prog-based', PROGRAM_SOURCE, ['-fPIE', '-pie', '-Wl,-Ttext-segment=0x200000', ...link]);
  progNoPie = gcc(dir, 'prog-nopie', PROGRAM_SOURCE, ['-fno-pie', '-no-pie', ...link]);
  progStripped = path.join(dir, 'prog-stripped');
  execFileSync('strip', ['-o', progStripped, prog]);
});

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('Symbolizer on live processes', () => {
  it('names functions of a PIE executable and its shared library, with normalized addresses', async () => {
    const p = await start(prog);
    const s = new Symbolizer();
    s.beginDrain();
    const t0 = performance.now();
    const frames = s.symbolizeUser(p.child.pid!, [p.hot + 4n, p.helper, p.lib]);
    const ms = performance.now() - t0;
    s.endDrain();
    expect(frames.map((f) => f.functionName)).toEqual(['osprey_hot_loop', 'osprey_helper', 'osprey_lib_work']);
    expect(frames.map((f) => f.kind)).toEqual(['native', 'native', 'native']);
    expect(frames[0].systemName).toBe('osprey_hot_loop');
    // Normalized = the ELF virtual address nm prints, not the randomized runtime address.
    expect(frames[0].address).toBe(nmAddress(prog, 'osprey_hot_loop') + 4n);
    expect(frames[1].address).toBe(nmAddress(prog, 'osprey_helper'));
    expect(frames[2].address).toBe(nmAddress(lib, 'osprey_lib_work'));
    const m = frames[0].mapping!;
    expect(m).toMatchObject({ file: prog, buildId: readelfBuildId(prog), hasFunctions: true });
    expect(frames[0].address >= m.start && frames[0].address < m.limit).toBe(true);
    expect(frames[1].mapping).toBe(m);
    expect(frames[2].mapping).toMatchObject({ file: lib, buildId: readelfBuildId(lib), hasFunctions: true });
    expect(s.stats).toMatchObject({ framesTotal: 3, framesSymbolized: 3, nativeFrames: 3, elfFilesLoaded: 2, processesGone: 0 });
    console.log(`first user symbolization (maps + 2 ELF files): ${ms.toFixed(1)} ms`);
  });

  it('normalizes through PT_LOAD when file offsets and virtual addresses differ (PIE at 0x200000, non-PIE)', async () => {
    for (const file of [progBased, progNoPie]) {
      const p = await start(file);
      const s = new Symbolizer();
      const [hot, helper] = s.symbolizeUser(p.child.pid!, [p.hot + 1n, p.helper]);
      expect(hot).toMatchObject({ functionName: 'osprey_hot_loop', address: nmAddress(file, 'osprey_hot_loop') + 1n });
      expect(helper).toMatchObject({ functionName: 'osprey_helper', address: nmAddress(file, 'osprey_helper') });
      const x = hot.mapping!;
      expect(x.start).not.toBe(x.offset);
      expect(x.start <= hot.address && hot.address < x.limit).toBe(true);
    }
  });

  it('shares one mapping object per file across processes and reads each file once', async () => {
    const [a, b] = await Promise.all([start(prog), start(prog)]);
    const s = new Symbolizer();
    s.beginDrain();
    const fa = s.symbolizeUser(a.child.pid!, [a.hot]);
    const fb = s.symbolizeUser(b.child.pid!, [b.hot]);
    s.endDrain();
    expect(a.hot).not.toBe(b.hot); // ASLR: different runtime addresses...
    expect(fa[0].address).toBe(fb[0].address); // ...same normalized address
    expect(fa[0].mapping).toBe(fb[0].mapping);
    expect(s.stats.elfFilesLoaded).toBe(1);
    expect(s.stats.elfCacheHits).toBe(1);
  });

  it('keeps addresses of a stripped executable under its mapping, without names', async () => {
    const p = await start(progStripped);
    const s = new Symbolizer();
    const [hot, libFrame] = s.symbolizeUser(p.child.pid!, [p.hot, p.lib]);
    expect(hot.functionName).toBeUndefined();
    expect(hot.kind).toBe('native');
    expect(hot.address).toBe(nmAddress(prog, 'osprey_hot_loop'));
    expect(hot.mapping).toMatchObject({ file: progStripped, buildId: readelfBuildId(prog), hasFunctions: false });
    expect(libFrame.functionName).toBe('osprey_lib_work');
    expect(s.stats.framesSymbolized).toBe(1);
  });

  it('reads a deleted executable through map_files', async () => {
    const copy = path.join(dir, 'prog-deleted');
    fs.copyFileSync(prog, copy);
    fs.chmodSync(copy, 0o755);
    const p = await start(copy);
    fs.unlinkSync(copy);
    const maps = parseProcMaps(fs.readFileSync(`/proc/${p.child.pid}/maps`, 'utf8')).mappings;
    expect(maps.some((m) => m.path === copy && m.deleted)).toBe(true);
    const [f] = new Symbolizer().symbolizeUser(p.child.pid!, [p.helper]);
    expect(f.functionName).toBe('osprey_helper');
    expect(f.mapping?.file).toBe(copy);
  });

  it('names vdso functions from the vdso image', async () => {
    const p = await start(prog);
    expect(p.vdso).not.toBe(0n);
    const s = new Symbolizer();
    const [f] = s.symbolizeUser(p.child.pid!, [p.vdso + 2n]);
    expect(f.functionName).toMatch(/clock_gettime/);
    expect(f.kind).toBe('native');
    expect(f.mapping).toMatchObject({ file: '[vdso]', hasFunctions: true });
    expect(f.mapping!.buildId).toMatch(/^[0-9a-f]{40}$/);
    expect(s.stats.vdsoErrors).toBe(0);
  });

  it('names JIT code from the perf map and leaves other anonymous code unknown', async () => {
    const p = await start(prog);
    const mapFile = `/tmp/perf-${p.child.pid}.map`;
    fs.writeFileSync(mapFile, `${p.anon.toString(16)} 40 JS:*osprey_fake /srv/app.js:1:20\n`);
    try {
      const s = new Symbolizer();
      const [jit, other] = s.symbolizeUser(p.child.pid!, [p.anon + 0x10n, p.anon + 0x1000n]);
      expect(jit).toMatchObject({ address: p.anon + 0x10n, functionName: 'JS:*osprey_fake /srv/app.js:1:20', kind: 'jit' });
      expect(jit.mapping?.file).toBe('[jit]');
      expect(other).toMatchObject({ address: p.anon + 0x1000n, kind: 'unknown' });
      expect(other.functionName).toBeUndefined();
      expect(other.mapping?.file).toBe('[unknown]');
      expect(s.stats).toMatchObject({ jitFrames: 1, unknownFrames: 1, perfMapsLoaded: 1 });
    } finally {
      fs.rmSync(mapFile, { force: true });
    }
  });

  it('names frames of a real Node.js JIT through its perf map', async () => {
    const script = 'function osprey_hot(n){let s=0;for(let i=0;i<n;i++)s+=i%7;return s}let t=0;setInterval(()=>{t+=osprey_hot(2e5)},5);';
    // cwd: --perf-basic-prof also makes V8 write isolate-*.log files into the working directory.
    const child = spawn(process.execPath, ['--perf-basic-prof', '-e', script], { stdio: 'ignore', cwd: dir });
    children.push(child);
    const mapFile = `/tmp/perf-${child.pid}.map`;
    try {
      let entry: { addr: bigint; name: string } | undefined;
      for (let i = 0; i < 200 && !entry; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const text = fs.existsSync(mapFile) ? fs.readFileSync(mapFile, 'utf8') : '';
        const m = /^([0-9a-f]+) ([0-9a-f]+) (JS:\S*osprey_hot[^\n]*)$/m.exec(text);
        if (m) entry = { addr: BigInt('0x' + m[1]), name: m[3] };
      }
      expect(entry, 'osprey_hot in the perf map').toBeDefined();
      // A mixed stack: JIT code, then native code of the (non-PIE, unstripped, ~100 MB) node binary.
      const node = fs.realpathSync(process.execPath);
      const uvRun = nmAddress(node, 'uv_run');
      const s = new Symbolizer();
      const t0 = performance.now();
      const [f, native] = s.symbolizeUser(child.pid!, [entry!.addr + 1n, uvRun + 8n]);
      console.log(`node process, first symbolization incl. node's ELF symbols: ${(performance.now() - t0).toFixed(0)} ms`);
      expect(f.kind).toBe('jit');
      expect(f.functionName).toContain('osprey_hot');
      expect(f.address).toBe(entry!.addr + 1n);
      expect(native).toMatchObject({ functionName: 'uv_run', kind: 'native', address: uvRun + 8n });
      expect(native.mapping).toMatchObject({ file: node, buildId: readelfBuildId(node), hasFunctions: true });
    } finally {
      child.kill('SIGKILL');
      fs.rmSync(mapFile, { force: true });
    }
  });

  it('keeps addresses and counts a process that does not exist or has exited', async () => {
    const s = new Symbolizer();
    const frames = s.symbolizeUser(4_194_304 + 77, [0x401000n, 0x7f0000001234n]);
    expect(frames).toEqual([
      { address: 0x401000n, kind: 'unknown', mapping: expect.objectContaining({ file: '[unknown]' }) },
      { address: 0x7f0000001234n, kind: 'unknown', mapping: expect.objectContaining({ file: '[unknown]' }) },
    ]);
    const done = spawn('true');
    await new Promise((r) => done.on('exit', r));
    s.symbolizeUser(done.pid!, [0x401000n]);
    expect(s.stats).toMatchObject({ processesGone: 2, framesTotal: 3, framesSymbolized: 0, unknownFrames: 3 });
  });

  it('evicts parsed files beyond the cache limit and idle pids', async () => {
    const p = await start(prog);
    const s = new Symbolizer({ maxFiles: 1, pidIdleDrains: 2 });
    for (let i = 0; i < 3; i++) {
      s.beginDrain();
      expect(s.symbolizeUser(p.child.pid!, [p.hot, p.lib]).map((f) => f.functionName)).toEqual(['osprey_hot_loop', 'osprey_lib_work']);
      s.endDrain();
    }
    expect(s.stats.elfEvictions).toBeGreaterThanOrEqual(5);
    expect(s.cacheSize.files).toBe(1);
    expect(s.cacheSize.pids).toBe(1);
    s.beginDrain();
    s.endDrain();
    s.beginDrain();
    s.endDrain();
    expect(s.cacheSize.pids).toBe(0);
    expect(s.stats.pidsEvicted).toBe(1);
  });
});

describe.each(IN_ROOT_RESOLVERS)('Symbolizer with a synthetic /proc (process files by %s)', (resolver) => {
  useInRootResolver(resolver);

  it('reads maps once per drain and resolves files inside the process root only', () => {
    const procRoot = path.join(dir, `proc-${resolver}`);
    const root = path.join(procRoot, '4242', 'root');
    fs.mkdirSync(path.join(root, 'opt'), { recursive: true });
    fs.copyFileSync(prog, path.join(root, 'opt', 'app'));
    // An absolute symlink must resolve inside the process root, not on the host.
    fs.symlinkSync('/opt/app', path.join(root, 'opt', 'link'));
    const ino = fs.statSync(path.join(root, 'opt', 'app')).ino;
    const elfR = parseElf(bufferSource(fs.readFileSync(prog)));
    if (!elfR.ok) throw new Error(elfR.error);
    const x = elfR.elf.execSegment!;
    const base = 0x500000000n;
    const mapsText = `${base.toString(16)}-${(base + 0x100000n).toString(16)} r-xp 00000000 fd:01 ${ino}   /opt/link\n`;
    fs.writeFileSync(path.join(procRoot, '4242', 'maps'), mapsText);
    const helper = nmAddress(prog, 'osprey_helper');
    const addr = base + (helper - x.vaddr + x.offset);

    const s = new Symbolizer({ procRoot, kallsymsText: '' });
    s.beginDrain();
    expect(s.symbolizeUser(4242, [addr])[0]).toMatchObject({ functionName: 'osprey_helper', address: helper });
    fs.writeFileSync(path.join(procRoot, '4242', 'maps'), '');
    expect(s.symbolizeUser(4242, [addr])[0].functionName).toBe('osprey_helper'); // same drain: maps not re-read
    s.endDrain();
    s.beginDrain();
    const gone = s.symbolizeUser(4242, [addr])[0];
    expect(gone).toMatchObject({ address: addr, kind: 'unknown' });
    expect(gone.functionName).toBeUndefined();
    s.endDrain();

    // A maps line whose inode does not match the file at that path is not trusted.
    fs.writeFileSync(path.join(procRoot, '4242', 'maps'), mapsText.replace(` ${ino} `, ` ${ino + 1} `));
    s.beginDrain();
    const untrusted = s.symbolizeUser(4242, [addr])[0];
    expect(untrusted).toMatchObject({ address: addr, kind: 'native', mapping: { file: '/opt/link', hasFunctions: false } });
    expect(untrusted.functionName).toBeUndefined();
    s.endDrain();
    expect(s.stats.fileOpenErrors).toBe(1);
  });

  it('names a vdso that does not parse [vdso] and stops reading it after a few failures', () => {
    const procRoot = path.join(dir, `proc-vdso-${resolver}`);
    fs.mkdirSync(path.join(procRoot, '4243'), { recursive: true });
    fs.writeFileSync(path.join(procRoot, '4243', 'maps'), '1000-2000 r-xp 00000000 00:00 0   [vdso]\n');
    // Not ELF64 (as a 32-bit process's ELF32 vdso is not): the parse error must stay inside the symbolizer.
    fs.writeFileSync(path.join(procRoot, '4243', 'mem'), Buffer.alloc(0x2000, 0xcc));
    const s = new Symbolizer({ procRoot, kallsymsText: '', debuginfod: null });
    for (let i = 0; i < 10; i++) {
      expect(s.symbolizeUser(4243, [0x1010n])[0]).toMatchObject({ functionName: '[vdso]', kind: 'native', mapping: { file: '[unknown]' } });
    }
    expect(s.stats.vdsoErrors).toBe(8);
  });

  it('openInRootDir follows symlinks inside the root and never above it', () => {
    const root = makeTempDir('hotpath-root-');
    const opened = (p: string, options = {}) => {
      const r = openInRootDir(root, p, options);
      if (!r.ok) return r.reason;
      fs.closeSync(r.file.fd);
      return r.file.inode;
    };
    try {
      fs.mkdirSync(path.join(root, 'bin'));
      fs.mkdirSync(path.join(root, 'lib'));
      fs.writeFileSync(path.join(root, 'bin', 'target'), 'x');
      const st = fs.statSync(path.join(root, 'bin', 'target'));
      const target = `${st.dev}:${st.ino}`;
      fs.symlinkSync('/bin/target', path.join(root, 'lib', 'abs'));
      fs.symlinkSync('../bin/target', path.join(root, 'lib', 'rel'));
      fs.symlinkSync('../../../../../../etc/hostname', path.join(root, 'lib', 'escape'));
      fs.symlinkSync('/etc', path.join(root, 'lib', 'etc'));
      fs.symlinkSync('loop', path.join(root, 'lib', 'loop'));
      fs.symlinkSync('/proc/self/root/etc/hostname', path.join(root, 'lib', 'magic'));
      expect(opened('/lib/abs')).toBe(target);
      expect(opened('/lib/rel')).toBe(target);
      expect(opened('/../../bin/./target')).toBe(target);
      expect(opened('/lib/escape')).toBe('missing'); // clamps to <root>/etc/hostname, which is absent
      expect(opened('/lib/etc/hostname')).toBe('missing'); // <root>/etc, not the host's
      expect(opened('/lib/loop')).toBe('link-refused'); // ELOOP, counted as a refused link
      expect(opened('/lib/magic')).toBe('missing'); // <root>/proc: absent (and magic links are refused)
      expect(opened('relative/path')).toBe('missing');
      expect(opened('/lib/abs', { followLast: false })).toBe('not-regular'); // the link itself, refused
      expect(opened('/bin')).toBe('not-regular');
      expect(opened('/bin/target', { maxBytes: 0 })).toBe('too-large');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('Symbolizer kernel frames', () => {
  it('names kernel addresses from /proc/kallsyms under [kernel.kallsyms]', () => {
    const text = fs.readFileSync('/proc/kallsyms', 'utf8');
    const addrOf = (name: string) => BigInt('0x' + new RegExp(`^([0-9a-f]+) [tT] ${name}$`, 'm').exec(text)![1]);
    const s = new Symbolizer();
    const frames = s.symbolizeKernel([addrOf('do_sys_openat2') + 0x20n, addrOf('__x64_sys_read'), 0x10n]);
    expect(frames.map((f) => f.functionName)).toEqual(['do_sys_openat2', '__x64_sys_read', undefined]);
    expect(frames.every((f) => f.kind === 'kernel')).toBe(true);
    expect(frames[0].address).toBe(addrOf('do_sys_openat2') + 0x20n);
    const m = frames[0].mapping!;
    expect(m).toMatchObject({ file: '[kernel.kallsyms]', offset: 0n, hasFunctions: true });
    expect(m.buildId).toBe(parseElfNotes(fs.readFileSync('/sys/kernel/notes')).buildId);
    expect(m.start <= frames[0].address && frames[0].address < m.limit).toBe(true);
    expect(frames[2].mapping).toBe(m);
    expect(s.stats).toMatchObject({ kernelFrames: 3, framesSymbolized: 2, kallsymsRestricted: false });
    expect(s.stats.kallsymsSymbols).toBeGreaterThan(10000);
  });

  it('appends the module name and reports hidden addresses', () => {
    const s = new Symbolizer({ kallsymsText: 'ffffffffc0001000 t nf_hook_slow\t[nf_tables]\nffffffff81000000 T _stext\n' });
    expect(s.symbolizeKernel([0xffffffffc0001010n])[0].functionName).toBe('nf_hook_slow [nf_tables]');
    const hidden = new Symbolizer({ kallsymsText: '0000000000000000 T _stext\n0000000000000000 T do_syscall_64\n' });
    const [f] = hidden.symbolizeKernel([0xffffffff81000010n]);
    expect(f).toMatchObject({ address: 0xffffffff81000010n, functionName: undefined, kind: 'kernel' });
    expect(f.mapping).toMatchObject({ file: '[kernel.kallsyms]', hasFunctions: false });
    expect(hidden.stats.kallsymsRestricted).toBe(true);
    expect(hidden.stats.kallsymsError).toMatch(/kptr_restrict/);
  });
});
