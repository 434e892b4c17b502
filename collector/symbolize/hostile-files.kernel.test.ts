// Issue 10: processes that attack the symbolizer through what it reads, on the real /proc (root needed).
// - A perf map that is a device (or a symlink to one), or a FIFO: nothing is opened (an inotify watch on the
//   node sees no IN_OPEN) and nothing blocks.
// - A process in its own root that swaps a directory for a symlink to the host while the symbolizer reads its
//   perf map: nothing outside the root is ever opened.
//   Both run with the kernel's openat2 and with the user-space walk used where it is missing.
// - `hotpath serve` profiling a process whose binary has a 256 MiB string table and one whose hot function
//   is named by the demangler bomb: /healthz answers within 100 ms throughout and RSS stays flat.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileWorkload, RENAME_EXCHANGE_SOURCE, requireRoot, startAgent, tempDir } from '../test-support/kernel.js';
import { IN_ROOT_RESOLVERS, useInRootResolver } from '../test-support/in-root-resolvers.js';
import { Symbolizer } from './symbolizer.js';
import { demanglerBombs, inflateStringTable } from './test-support/native.js';
import { countWhere, decodeProfile } from './test-support/profile.js';

/** Prints `ready`, then one line per IN_OPEN or IN_ACCESS on any of the paths it watches. */
const WATCH_SOURCE = `
#include <stdio.h>
#include <sys/inotify.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int in = inotify_init1(0);
  for (int i = 1; i < argc; i++) if (inotify_add_watch(in, argv[i], IN_OPEN | IN_ACCESS) < 0) { perror(argv[i]); return 1; }
  printf("ready\\n"); fflush(stdout);
  char buf[4096];
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n <= 0) return 0;
    for (char *p = buf; p < buf + n; p += sizeof(struct inotify_event) + ((struct inotify_event *)p)->len) {
      struct inotify_event *e = (struct inotify_event *)p;
      printf("event %s mask %x\\n", argv[e->wd], e->mask); fflush(stdout);
    }
  }
}
`;

const SLEEPER_SOURCE = `
#include <unistd.h>
int main(void) { for (;;) pause(); }
`;

let dir: string;
let watchBin: string;
const children: ChildProcess[] = [];

function start(file: string, args: string[] = []): ChildProcess {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

/** Starts the inotify watcher on `paths`; `events()` is what it saw so far. */
async function watch(paths: string[]): Promise<{ events: () => string[]; stop: () => void }> {
  const child = start(watchBin, paths);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  for (let i = 0; i < 100 && !out.includes('ready'); i++) await sleep(20);
  expect(out).toContain('ready');
  return { events: () => out.split('\n').filter((l) => l.startsWith('event')), stop: () => child.kill('SIGKILL') };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

beforeAll(() => {
  requireRoot();
  dir = tempDir('hotpath-hostile-');
  watchBin = compileWorkload(dir, 'watch', WATCH_SOURCE);
});

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe.each(IN_ROOT_RESOLVERS)('hostile perf maps, process files opened by %s (kernel)', (resolver) => {
  useInRootResolver(resolver);

  it('never opens a device or a FIFO planted as a perf map, and does not block on them', async () => {
    const sleeper = start(compileWorkload(dir, 'sleeper', SLEEPER_SOURCE));
    const pid = sleeper.pid!;
    const perfMap = `/tmp/perf-${pid}.map`;
    // Our own device node (same device as /dev/null), so no other process on the machine opens it.
    const device = path.join(dir, `null-device-${resolver}`);
    execFileSync('mknod', [device, 'c', '1', '3']);
    const fifo = path.join(dir, `fifo-${resolver}`);
    execFileSync('mkfifo', [fifo]);
    const watcher = await watch([device, fifo]);
    try {
      const cases: Array<[string, () => void]> = [
        ['symlink to a device', () => fs.symlinkSync(device, perfMap)],
        ['symlink to a FIFO', () => fs.symlinkSync(fifo, perfMap)],
        ['device node', () => execFileSync('mknod', [perfMap, 'c', '1', '3'])],
        ['FIFO', () => execFileSync('mkfifo', [perfMap])],
      ];
      const s = new Symbolizer({ debuginfod: null });
      for (const [what, plant] of cases) {
        fs.rmSync(perfMap, { force: true });
        plant();
        const t0 = performance.now();
        s.beginDrain();
        const [f] = s.symbolizeUser(pid, [0x10000010n]);
        s.endDrain();
        expect(f.kind, what).toBe('unknown');
        expect(performance.now() - t0, what).toBeLessThan(1000);
      }
      expect(s.stats.nonRegularFilesRefused).toBe(4);
      await sleep(300);
      expect(watcher.events()).toEqual([]);
      // The watch works: opening the device does show.
      fs.closeSync(fs.openSync(device, 'r'));
      await sleep(300);
      expect(watcher.events().length).toBeGreaterThan(0);
    } finally {
      watcher.stop();
      fs.rmSync(perfMap, { force: true });
    }
  });

  it('opens nothing outside a process root while the process swaps a directory for a symlink to the host', async () => {
    const root = path.join(dir, `root-${resolver}`);
    fs.mkdirSync(path.join(root, 'tmp'), { recursive: true });
    fs.copyFileSync(compileWorkload(dir, 'static-sleeper', SLEEPER_SOURCE, ['-static']), path.join(root, 'sleeper'));
    fs.chmodSync(path.join(root, 'sleeper'), 0o755);
    const contained = start('chroot', [root, '/sleeper']);
    const pid = contained.pid!;
    await sleep(200);
    expect(fs.readlinkSync(`/proc/${pid}/root`)).toBe(root);
    // Inside the root: a real perf map in /tmp. Outside it, on the host: a planted one.
    fs.writeFileSync(path.join(root, 'tmp', `perf-${pid}.map`), '10000000 100 inside_the_root\n');
    const outside = path.join(dir, `outside-${resolver}`);
    fs.mkdirSync(outside);
    const planted = path.join(outside, `perf-${pid}.map`);
    fs.writeFileSync(planted, '10000000 100 planted_outside_the_root\n');
    // /tmp inside the root swaps with a symlink to the host directory, absolute and relative.
    fs.symlinkSync(outside, path.join(root, 'abs-link'));
    fs.symlinkSync(path.relative(root, outside), path.join(root, 'rel-link'));
    const watcher = await watch([planted]);
    const swappers = [
      start(compileWorkload(dir, 'swap', RENAME_EXCHANGE_SOURCE), [path.join(root, 'tmp'), path.join(root, 'abs-link')]),
      start(path.join(dir, 'swap'), [path.join(root, 'tmp'), path.join(root, 'rel-link')]),
    ];
    try {
      const names = new Map<string, number>();
      const t0 = performance.now();
      for (let i = 0; i < 3000; i++) {
        const s = new Symbolizer({ debuginfod: null });
        const name = s.symbolizeUser(pid, [0x10000010n])[0].functionName ?? '(none)';
        names.set(name, (names.get(name) ?? 0) + 1);
      }
      console.log(`3000 perf map reads during the swap in ${(performance.now() - t0).toFixed(0)} ms:`, Object.fromEntries(names));
      expect(names.get('planted_outside_the_root')).toBeUndefined();
      expect(names.get('inside_the_root')).toBeGreaterThan(0);
      await sleep(300);
      expect(watcher.events()).toEqual([]);
    } finally {
      for (const s of swappers) s.kill('SIGKILL');
      watcher.stop();
    }
  });
});

describe('hostile binaries under hotpath serve (kernel)', () => {
  it('keeps /healthz under 100 ms and RSS flat while it symbolizes a 256 MiB string table and the demangler bomb', async () => {
    const bomb = demanglerBombs().fourKiB;
    // Half busy each (this machine may have two CPUs: the agent must get one to answer).
    const bigSource = `
#include <stdint.h>
#include <unistd.h>
volatile uint64_t sink;
__attribute__((noinline)) void hotpath_bigstrtab_hot(void) { for (int i = 0; i < 1000000; i++) sink += i * 7; }
int main(void) { for (;;) { hotpath_bigstrtab_hot(); usleep(2000); } }
`;
    const bombSource = `
#include <stdint.h>
#include <unistd.h>
volatile uint64_t sink;
void bomb_hot(void) __asm__("${bomb}");
__attribute__((noinline)) void bomb_hot(void) { for (int i = 0; i < 1000000; i++) sink += i * 7; }
int main(void) { for (;;) { bomb_hot(); usleep(2000); } }
`;
    const big = compileWorkload(dir, 'bigstrtab', bigSource);
    inflateStringTable(big, 256 << 20);
    const bombBin = compileWorkload(dir, 'bomb', bombSource);
    expect(execFileSync('nm', [bombBin], { encoding: 'utf8', maxBuffer: 1 << 26 })).toContain(bomb);
    // Both wait as shells until told to go, then exec the workload (same pid, which --pid names).
    const go = path.join(dir, 'go');
    const waitThenExec = (bin: string) => start('/bin/sh', ['-c', `while [ ! -e ${go} ]; do sleep 0.05; done; exec ${bin}`]);
    const bigProc = waitThenExec(big);
    const bombProc = waitThenExec(bombBin);
    // A process in the kernel all the time, so kernel symbols are loaded before the measurement starts.
    const syscalls = start('/bin/sh', ['-c', 'exec dd if=/dev/zero of=/dev/null bs=1']);
    const agent = await startAgent(['--programs', 'cpu', '--window', '1s', '--pid', String(bigProc.pid), '--pid', String(bombProc.pid), '--pid', String(syscalls.pid)]);
    const rss = () => Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${agent.child.pid}/status`, 'utf8'))?.[1]) / 1024;
    const healthz = async (ms: number): Promise<number[]> => {
      const latencies: number[] = [];
      for (const end = Date.now() + ms; Date.now() < end; ) {
        const a = performance.now();
        const res = await fetch(`${agent.url}/healthz`);
        await res.text();
        latencies.push(performance.now() - a);
        await sleep(20);
      }
      return latencies.sort((a, b) => a - b);
    };
    const summary = (xs: number[]) => `${xs.length} requests, p50 ${xs[xs.length >> 1].toFixed(1)} ms, max ${xs[xs.length - 1].toFixed(1)} ms`;
    try {
      await sleep(2000);
      const warm = await healthz(2000); // warm-up windows: kernel symbols, libc
      syscalls.kill('SIGKILL');
      const rssBefore = rss();
      const t0 = Date.now();
      fs.writeFileSync(go, '');
      const latencies = await healthz(6000);
      const rssAfter = rss();
      const max = latencies[latencies.length - 1];
      console.log(`/healthz before: ${summary(warm)}; during hostile symbolization: ${summary(latencies)}; agent RSS ${rssBefore.toFixed(0)} → ${rssAfter.toFixed(0)} MB`);
      const res = await fetch(`${agent.url}/debug/pprof/profile?from=${Math.floor(t0 / 1000)}&to=${Math.ceil(Date.now() / 1000)}`);
      expect(res.status).toBe(200);
      const samples = decodeProfile(Buffer.from(await res.arrayBuffer()));
      const bigNamed = countWhere(samples.filter((x) => x.labels.pid === bigProc.pid), (f) => f.name === 'hotpath_bigstrtab_hot');
      // The bomb is kept as its mangled name (demangling it is given up).
      const bombNamed = countWhere(samples.filter((x) => x.labels.pid === bombProc.pid), (f) => f.name === bomb && f.systemName === bomb);
      console.log(`samples named: 256 MiB .strtab workload ${bigNamed}, bomb workload ${bombNamed}`);
      expect(bigNamed).toBeGreaterThan(100);
      expect(bombNamed).toBeGreaterThan(100);
      expect(max).toBeLessThan(100);
      expect(rssAfter - rssBefore).toBeLessThan(64);
    } finally {
      await agent.stop();
      fs.rmSync(go, { force: true });
    }
  });
});
