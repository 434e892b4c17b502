// Measures the agent's retained store: the memory an hour of windows takes and how long a from/to merge of
// the hour takes. Windows are real: one is recorded from this machine (system-wide CPU profile while a
// workload runs) and replayed as 360 windows of 10 s with fresh sample objects, as the agent would hold them.
// Run as root: node --expose-gc dist/bench/retention-store.js [--windows 360] [--seconds 10]
import { spawn } from 'node:child_process';
import { mergeProfileData, encodePprofGzip, type ProfileData } from '../exporters/pprof/index.js';
import { CpuSource } from '../collector/sources/index.js';
import { Symbolizer } from '../collector/symbolize/index.js';
import { buildWindowProfile } from '../collector/windows/window-profile.js';
import { WindowStore } from '../collector/windows/window-store.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

function heapUsed(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

const windows = arg('windows', 360);
const seconds = arg('seconds', 10);
if (!(globalThis as { gc?: () => void }).gc) {
  console.error('run with node --expose-gc for exact heap figures');
}

// A mixed workload so the window has many distinct stacks: stress-ng CPU methods plus node itself.
const load = spawn('stress-ng', ['--cpu', '2', '--cpu-method', 'all', '--timeout', `${seconds + 2}s`], { stdio: 'ignore' });
const profiler = CpuSource.start({ hz: 99 });
await new Promise((r) => setTimeout(r, seconds * 1000));
const raw = await profiler.drain();
await profiler.close();
load.kill();
const symbolizer = new Symbolizer();
const template = buildWindowProfile(raw.samples, symbolizer, { kind: 'cpu', hz: 99, startNs: raw.startNs, endNs: raw.endNs });
const samplesPerWindow = template.samples.length;

const before = heapUsed();
const store = new WindowStore({ retentionNs: BigInt(windows * seconds + 60) * 1_000_000_000n, maxBytes: Number.MAX_SAFE_INTEGER });
const windowNs = BigInt(seconds) * 1_000_000_000n;
const start = template.timeNanos;
for (let i = 0; i < windows; i++) {
  const data: ProfileData = {
    ...template,
    timeNanos: start + BigInt(i) * windowNs,
    durationNanos: windowNs,
    samples: template.samples.map((s) => ({
      frames: [...s.frames],
      values: [...s.values],
      numLabels: { ...s.numLabels },
      strLabels: { ...s.strLabels },
    })),
  };
  store.add(data, data.timeNanos + windowNs);
}
const after = heapUsed();

const mergeTimes: number[] = [];
let merged: ProfileData | undefined;
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  merged = mergeProfileData(store.overlapping(start, start + BigInt(windows) * windowNs).map((w) => w.data));
  mergeTimes.push(performance.now() - t0);
}
const t1 = performance.now();
const encoded = await encodePprofGzip(merged!);
const encodeMs = performance.now() - t1;
mergeTimes.sort((a, b) => a - b);

console.log(`windows: ${windows} x ${seconds} s, ${samplesPerWindow} distinct samples per window (recorded here)`);
console.log(`retained store: ${((after - before) / 1048576).toFixed(1)} MiB of heap measured; ${(store.size.bytes / 1048576).toFixed(1)} MiB estimated by the store's bound`);
console.log(`from/to merge of all windows: median ${mergeTimes[1].toFixed(0)} ms (runs: ${mergeTimes.map((t) => t.toFixed(0)).join(', ')})`);
console.log(`encode merged profile: ${encodeMs.toFixed(0)} ms, ${encoded.length} bytes gzipped, ${merged!.samples.length} samples`);
