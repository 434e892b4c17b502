// Symbolizer depth: demangled C++ frames, perf maps that grow, debuginfod for stripped binaries, and process
// metadata read once per window. Real g++/gcc binaries, real processes, a real HTTP server on 127.0.0.1.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWindowProfile } from '../windows/window-profile.js';
import { DebuginfodClient } from './debuginfod.js';
import { Symbolizer } from './symbolizer.js';
import { PROGRAM_SOURCE, LIB_SOURCE, gcc, makeTempDir, readelfBuildId } from './test-support/native.js';

const CXX_SOURCE = `
#include <cstdio>
#include <unistd.h>
namespace hp {
struct Worker { static long tick(long n); };
long Worker::tick(long n) { volatile long s = 0; for (long i = 0; i < n; i++) s += i; return s; }
template <typename T> __attribute__((noinline)) T scale(T v) { return v * 3; }
__attribute__((noinline)) int spin(const char *tag, int n) { return tag[0] + n; }
}
int main() {
  std::printf("tick=%p scale=%p spin=%p\\n", (void *)&hp::Worker::tick, (void *)&hp::scale<double>, (void *)&hp::spin);
  std::fflush(stdout);
  for (;;) { hp::Worker::tick(1000); hp::scale(2.0); hp::spin("x", 1); usleep(20000); }
}
`;

let dir: string;
const children: ChildProcess[] = [];

function startAndRead(file: string, re: RegExp): Promise<{ child: ChildProcess; m: RegExpExecArray }> {
  const child = spawn(file, [], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no output from ${file}`)), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = re.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, m });
      }
    });
  });
}

beforeAll(() => {
  dir = makeTempDir('hotpath-symdepth-');
});

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('Symbolizer: demangling', () => {
  it('shows C++ frames demangled and keeps the mangled name as system name', async () => {
    fs.writeFileSync(path.join(dir, 'w.cc'), CXX_SOURCE);
    const bin = path.join(dir, 'w');
    execFileSync('g++', ['-O1', '-fno-omit-frame-pointer', '-o', bin, path.join(dir, 'w.cc')]);
    const { child, m } = await startAndRead(bin, /tick=(\S+) scale=(\S+) spin=(\S+)\n/);
    const s = new Symbolizer({ debuginfod: null });
    const frames = s.symbolizeUser(child.pid!, [BigInt(m[1]) + 2n, BigInt(m[2]), BigInt(m[3])]);
    expect(frames.map((f) => f.functionName)).toEqual(['hp::Worker::tick(long)', 'double hp::scale<double>(double)', 'hp::spin(char const*, int)']);
    expect(frames.map((f) => f.systemName)).toEqual(['_ZN2hp6Worker4tickEl', '_ZN2hp5scaleIdEET_S1_', '_ZN2hp4spinEPKci']);
    expect(s.stats.demangledNames).toBe(3);
    const plain = new Symbolizer({ debuginfod: null, demangle: false }).symbolizeUser(child.pid!, [BigInt(m[1])]);
    expect(plain[0].functionName).toBe('_ZN2hp6Worker4tickEl');
  });
});

describe('Symbolizer: perf maps', () => {
  it('reads only the appended lines of a growing perf map and starts over when it is replaced', () => {
    const pid = process.pid;
    const file = `/tmp/perf-${pid}.map`;
    // Addresses outside every mapping of this process: only the perf map can name them.
    const base = 0x10000000000n;
    fs.writeFileSync(file, `${base.toString(16)} 100 JS:*first /a.js:1:1\n${(base + 0x100n).toString(16)} 100 JS:*sec`);
    try {
      const s = new Symbolizer({ debuginfod: null, kallsymsText: '' });
      s.beginDrain();
      expect(s.symbolizeUser(pid, [base + 1n, base + 0x101n]).map((f) => f.functionName)).toEqual(['JS:*first /a.js:1:1', undefined]);
      s.endDrain();
      // The runtime finishes the half-written line and adds one that re-uses the first range.
      fs.appendFileSync(file, `ond /a.js:2:1\n${base.toString(16)} 80 JS:*third /a.js:3:1\n`);
      s.beginDrain();
      expect(s.symbolizeUser(pid, [base + 1n, base + 0x101n]).map((f) => f.functionName)).toEqual(['JS:*third /a.js:3:1', 'JS:*second /a.js:2:1']);
      s.endDrain();
      expect(s.stats).toMatchObject({ perfMapsLoaded: 1, perfMapAppends: 1 });
      // Unchanged: nothing read.
      s.beginDrain();
      s.symbolizeUser(pid, [base + 1n]);
      s.endDrain();
      expect(s.stats).toMatchObject({ perfMapsLoaded: 1, perfMapAppends: 1 });
      // A new, shorter file (a restarted runtime with the same pid): read again from the start.
      fs.rmSync(file);
      fs.writeFileSync(file, `${base.toString(16)} 10 JS:*fresh\n`);
      s.beginDrain();
      expect(s.symbolizeUser(pid, [base + 1n, base + 0x101n]).map((f) => f.functionName)).toEqual(['JS:*fresh', undefined]);
      s.endDrain();
      expect(s.stats.perfMapsLoaded).toBe(2);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('does not block on a FIFO planted where the perf map should be', () => {
    const file = `/tmp/perf-${process.pid}.map`;
    execFileSync('mkfifo', [file]);
    try {
      const s = new Symbolizer({ debuginfod: null, kallsymsText: '' });
      const [f] = s.symbolizeUser(process.pid, [0x30000000000n]);
      expect(f.kind).toBe('unknown');
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('parses a 200k-line perf map within the size cap and in bounded time', () => {
    const pid = process.pid;
    const file = `/tmp/perf-${pid}.map`;
    const base = 0x20000000000n;
    const lines: string[] = [];
    for (let i = 0; i < 200_000; i++) lines.push(`${(base + BigInt(i) * 0x40n).toString(16)} 40 LazyCompile:*fn_${i} /app/x.js:${i}:1`);
    fs.writeFileSync(file, lines.join('\n') + '\n');
    try {
      const s = new Symbolizer({ debuginfod: null, kallsymsText: '', maxPerfMapBytes: 4 << 20 });
      const t0 = performance.now();
      const [a, b] = s.symbolizeUser(pid, [base + 0x40n * 1000n + 3n, base + 0x40n * 199_999n]);
      const ms = performance.now() - t0;
      expect(a.functionName).toBe('LazyCompile:*fn_1000 /app/x.js:1000:1');
      // Past the 4 MiB cap: not read, not named.
      expect(b.functionName).toBeUndefined();
      expect(ms).toBeLessThan(2000);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });
});

describe('Symbolizer: debuginfod', () => {
  let server: http.Server;
  let url: string;
  let requests: string[];
  let serveDelayMs = 0;
  let prog: string;
  let stripped: string;
  let buildId: string;

  beforeAll(async () => {
    gcc(dir, 'libosprey.so', LIB_SOURCE, ['-shared', '-fPIC']);
    prog = gcc(dir, 'prog', PROGRAM_SOURCE, ['-fPIE', '-pie', `-L${dir}`, '-losprey', `-Wl,-rpath,${dir}`, '-ldl']);
    stripped = path.join(dir, 'prog-stripped');
    execFileSync('strip', ['-o', stripped, prog]);
    buildId = readelfBuildId(prog);
    requests = [];
    server = http.createServer((req, res) => {
      requests.push(req.url ?? '');
      setTimeout(() => {
        if (req.url === `/buildid/${buildId}/debuginfo`) {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          res.end(fs.readFileSync(prog));
        } else {
          res.writeHead(404);
          res.end('not found');
        }
      }, serveDelayMs);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('names a stripped binary from the next window on, without blocking the window that asked', async () => {
    const p = await startAndRead(stripped, /hot=(\S+) helper=(\S+)/);
    const hot = BigInt(p.m[1]);
    const cacheDir = path.join(dir, 'cache1');
    const client = new DebuginfodClient({ urls: [url + '/'], cacheDir, timeoutMs: 5000 });
    const s = new Symbolizer({ debuginfod: client, kallsymsText: '' });
    serveDelayMs = 300;
    s.beginDrain();
    const t0 = performance.now();
    const [first] = s.symbolizeUser(p.child.pid!, [hot + 4n]);
    expect(performance.now() - t0).toBeLessThan(250); // did not wait for the 300 ms server
    s.endDrain();
    expect(first.functionName).toBeUndefined();
    expect(first.mapping?.buildId).toBe(buildId);
    await client.whenIdle();
    expect(client.stats).toMatchObject({ requested: 1, fetched: 1 });
    expect(fs.existsSync(path.join(cacheDir, buildId, 'debuginfo'))).toBe(true);
    s.beginDrain();
    const [second] = s.symbolizeUser(p.child.pid!, [hot + 4n]);
    s.endDrain();
    expect(second.functionName).toBe('osprey_hot_loop');
    expect(second.mapping?.hasFunctions).toBe(true);
    expect(s.stats.debugFilesAttached).toBe(1);
    expect(requests.filter((r) => r.includes(buildId))).toHaveLength(1);

    // Another agent with the same cache names it at once, without asking the server.
    const again = new Symbolizer({ debuginfod: new DebuginfodClient({ urls: [url], cacheDir }), kallsymsText: '' });
    expect(again.symbolizeUser(p.child.pid!, [hot + 4n])[0].functionName).toBe('osprey_hot_loop');
    expect(requests.filter((r) => r.includes(buildId))).toHaveLength(1);
  });

  it('counts misses, oversized files and unreachable servers, and asks again only after the retry delay', async () => {
    serveDelayMs = 0;
    const cacheDir = path.join(dir, 'cache2');
    const client = new DebuginfodClient({ urls: [url], cacheDir, maxBytes: 1024 });
    client.request('00'.repeat(20));
    client.request(buildId); // larger than 1 KiB
    client.request('not-a-build-id');
    await client.whenIdle();
    expect(client.stats).toMatchObject({ requested: 2, notFound: 1, tooLarge: 1, fetched: 0 });
    client.request('00'.repeat(20));
    await client.whenIdle();
    expect(client.stats.requested).toBe(2);
    expect(fs.readdirSync(path.join(cacheDir, buildId))).toEqual([]); // no partial file left behind

    const down = new DebuginfodClient({ urls: ['http://127.0.0.1:1'], cacheDir, timeoutMs: 500 });
    down.request(buildId);
    await down.whenIdle();
    expect(down.stats.failed).toBe(1);
    expect(down.stats.lastError).toMatch(/127\.0\.0\.1:1/);
    expect(DebuginfodClient.fromEnv({})).toBeUndefined();
    expect(DebuginfodClient.fromEnv({ DEBUGINFOD_URLS: 'ftp://x' })).toBeUndefined();
    expect(DebuginfodClient.fromEnv({ DEBUGINFOD_URLS: ` ${url} ` })).toBeInstanceOf(DebuginfodClient);
  });
});

describe('Symbolizer: process metadata', () => {
  it('reads a process at most once per window, again after some windows or a maps change, keeps the last metadata after it exits, and labels samples', () => {
    const proc = path.join(dir, 'proc');
    const pidDir = path.join(proc, '4242');
    fs.mkdirSync(pidDir, { recursive: true });
    const id = 'ab'.repeat(32);
    fs.writeFileSync(path.join(pidDir, 'comm'), 'nginx\n');
    fs.writeFileSync(path.join(pidDir, 'cgroup'), `0::/kubepods.slice/kubepods-pod0a1b2c3d_0000_4000_8000_00000000abcd.slice/cri-containerd-${id}.scope\n`);
    const s = new Symbolizer({ procRoot: proc, kallsymsText: '', debuginfod: null });
    const raw = [{ pid: 4242, tid: 4243, comm: 'worker', kernelStack: [], userStack: [], count: 2 }];
    const opts = { kind: 'cpu' as const, hz: 99, startNs: 0n, endNs: 1_000_000_000n };
    const first = buildWindowProfile(raw, s, opts);
    expect(first.samples[0].strLabels).toEqual({ comm: 'worker', process: 'nginx', container_id: id, pod_uid: '0a1b2c3d-0000-4000-8000-00000000abcd' });
    expect(first.samples[0].numLabels).toEqual({ pid: 4242, tid: 4243 });
    // Within one window the file is not read again.
    s.beginDrain();
    s.processMetadata(4242);
    fs.writeFileSync(path.join(pidDir, 'comm'), 'nginx-renamed\n');
    expect(s.processMetadata(4242)?.process).toBe('nginx');
    s.endDrain();
    // Name and cgroup are read again within META_REFRESH_DRAINS (6) windows...
    let windows = 0;
    while (buildWindowProfile(raw, s, opts).samples[0].strLabels?.process !== 'nginx-renamed' && windows < 10) windows++;
    expect(windows).toBeGreaterThanOrEqual(3);
    expect(windows).toBeLessThan(6);
    // ...and in the next window when the process's maps text changes (an exec, or another process with the pid).
    fs.writeFileSync(path.join(pidDir, 'maps'), '00400000-00401000 r-xp 00000000 fd:01 1 /bin/true\n');
    s.beginDrain();
    s.symbolizeUser(4242, [0x400100n]);
    s.endDrain();
    fs.writeFileSync(path.join(pidDir, 'comm'), 'execd\n');
    fs.writeFileSync(path.join(pidDir, 'maps'), '00500000-00501000 r-xp 00000000 fd:01 2 /bin/false\n');
    s.beginDrain();
    s.symbolizeUser(4242, [0x500100n]);
    expect(s.processMetadata(4242)?.process).toBe('execd');
    s.endDrain();
    fs.writeFileSync(path.join(pidDir, 'comm'), 'nginx-renamed\n');
    for (let i = 0; i < 6; i++) buildWindowProfile(raw, s, opts);
    expect(buildWindowProfile(raw, s, opts).samples[0].strLabels?.process).toBe('nginx-renamed');
    // The process exits: its last metadata still labels the samples drained after.
    fs.rmSync(pidDir, { recursive: true });
    expect(buildWindowProfile(raw, s, opts).samples[0].strLabels?.process).toBe('nginx-renamed');
    // A host process without container: only `process`.
    const host = path.join(proc, '7');
    fs.mkdirSync(host);
    fs.writeFileSync(path.join(host, 'comm'), 'sshd\n');
    fs.writeFileSync(path.join(host, 'cgroup'), '0::/system.slice/ssh.service\n');
    expect(buildWindowProfile([{ ...raw[0], pid: 7 }], s, opts).samples[0].strLabels).toEqual({ comm: 'worker', process: 'sshd' });
  });
});
