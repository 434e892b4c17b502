// Measures the agent's retained store: the memory an hour of windows takes (against the store's own estimate,
// which its memory bound counts) and how long a from/to merge of the hour takes. Windows are real: one is
// recorded from this machine (system-wide CPU profile while native and JIT workloads run) and replayed as 360
// windows of 10 s, each symbolized afresh from raw samples decoded afresh (new comm strings and addresses), as
// the agent builds and holds them.
// Run as root: node --expose-gc dist/bench/retention-store.js [--windows 360] [--seconds 10]
import { spawn } from 'node:child_process';
import { encodePprofGzip, type ProfileData } from '../exporters/pprof/index.js';
import { CpuSource } from '../collector/sources/index.js';
import { Symbolizer } from '../collector/symbolize/index.js';
import { buildWindowProfile } from '../collector/windows/window-profile.js';
import { WindowStore } from '../collector/windows/window-store.js';
import { mergeStored } from '../collector/windows/merge-stored.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

/** The JavaScript heap and the typed arrays' backing stores (outside the heap: a stored window's arrays). */
function heapUsed(): number {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const windows = arg('windows', 360);
const seconds = arg('seconds', 10);
if (!(globalThis as { gc?: () => void }).gc) {
  console.error('run with node --expose-gc for exact heap figures');
}

// A mixed workload so the window has many distinct stacks: stress-ng CPU methods, and node with a perf map
// (JIT frames, which the symbolizer makes per window rather than sharing), running until the replay is done.
const load = spawn('stress-ng', ['--cpu', '2', '--cpu-method', 'all', '--timeout', '600s'], { stdio: 'ignore' });
const jsLoad = `const f = [];
for (let i = 0; i < 64; i++) f.push(new Function('n', 'let s = 0; for (let j = 0; j < n; j++) s += Math.sqrt(j * ' + i + '); return s;'));
const end = Date.now() + 600_000;
while (Date.now() < end) for (const g of f) g(2000);`;
const jit = spawn(process.execPath, ['--perf-basic-prof', '-e', jsLoad], { stdio: 'ignore' });
const profiler = CpuSource.start({ hz: 99 });
await new Promise((r) => setTimeout(r, seconds * 1000));
const raw = await profiler.drain();
const symbolizer = new Symbolizer();
// Symbolized once while the workloads still run (their maps and perf maps are read now), then replayed.
const template = buildWindowProfile(raw.samples, symbolizer, { kind: 'cpu', hz: 99, startNs: raw.startNs, endNs: raw.endNs });
await profiler.close();
const samplesPerWindow = template.samples.length;
const framesOf = (kind?: string) => template.samples.reduce((a, s) => a + s.frames.filter((f) => !kind || f.kind === kind).length, 0);
const windowFrames = new Set(template.samples.flatMap((s) => s.frames.filter((f) => f.kind === 'jit' || f.kind === 'unknown')));

const store = new WindowStore({ retentionNs: BigInt(windows * seconds + 60) * 1_000_000_000n, maxBytes: Number.MAX_SAFE_INTEGER });
const windowNs = BigInt(seconds) * 1_000_000_000n;
const start = template.timeNanos;
// Decoded afresh each drain in the agent: new comm strings, new BigInt addresses.
const freshRaw = () =>
  raw.samples.map((s) => ({
    ...s,
    comm: Buffer.from(s.comm, 'latin1').toString('latin1'),
    kernelStack: s.kernelStack.map((a) => BigInt.asUintN(64, a + 0n)),
    userStack: Array.from(s.userStack, (a) => BigInt.asUintN(64, a + 0n)),
  }));
const before = heapUsed();
for (let i = 0; i < windows; i++) {
  const t = start + BigInt(i) * windowNs;
  const data: ProfileData = buildWindowProfile(freshRaw(), symbolizer, { kind: 'cpu', hz: 99, startNs: t, endNs: t + windowNs });
  store.add(data, t + windowNs);
}
const after = heapUsed();
load.kill();
jit.kill();

const mergeTimes: number[] = [];
let merged: ProfileData | undefined;
const all = store.overlapping(start, start + BigInt(windows) * windowNs);
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  const m = mergeStored({ sampleTypes: template.sampleTypes, period: template.period, windows: all, catalog: store.catalog, pids: [] });
  merged = { ...template, timeNanos: m.startNs!, durationNanos: m.endNs! - m.startNs!, samples: m.samples };
  mergeTimes.push(performance.now() - t0);
}
const t1 = performance.now();
const encoded = await encodePprofGzip(merged!);
const encodeMs = performance.now() - t1;
mergeTimes.sort((a, b) => a - b);

const stored = all.map((w) => store.toProfileData(w).samples);
const sampleCount = stored.reduce((a, w) => a + w.length, 0);
const storedFrames = stored.reduce((a, w) => a + w.reduce((b, s) => b + s.frames.length, 0), 0);
const storedWindowFrames = stored.reduce(
  (a, w) => a + new Set(w.flatMap((s) => s.frames.filter((f) => f.kind === 'jit' || f.kind === 'unknown'))).size,
  0,
);
console.log(`catalog: ${JSON.stringify(store.catalog.stats)}`);
console.log(
  `replayed windows: ${(storedFrames / sampleCount).toFixed(1)} frames per sample, ` +
    `${(storedWindowFrames / sampleCount).toFixed(1)} of them JIT or unknown (made per window)`,
);
console.log(
  `windows: ${windows} x ${seconds} s, ${samplesPerWindow} distinct samples per window (recorded here), ` +
    `${(framesOf() / samplesPerWindow).toFixed(1)} frames per sample (${framesOf('jit')} JIT, ${framesOf('unknown')} unknown: ` +
    `${windowFrames.size} distinct)`,
);
console.log(
  `retained store: ${((after - before) / 1048576).toFixed(1)} MiB of heap and array buffers measured; ${(store.size.bytes / 1048576).toFixed(1)} MiB ` +
    `estimated by the store's bound (measured/estimated ${((after - before) / store.size.bytes).toFixed(2)}; ` +
    `${((after - before) / sampleCount).toFixed(0)} vs ${(store.size.bytes / sampleCount).toFixed(0)} bytes per sample)`,
);
console.log(`from/to merge of all windows: median ${mergeTimes[1].toFixed(0)} ms (runs: ${mergeTimes.map((t) => t.toFixed(0)).join(', ')})`);
console.log(`encode merged profile: ${encodeMs.toFixed(0)} ms, ${encoded.length} bytes gzipped, ${merged!.samples.length} samples`);
