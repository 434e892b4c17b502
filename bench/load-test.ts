// Load test of `hotpath serve` (issue 10): many clients on loopback while the agent profiles the machine.
// Starts its own agent (dist/, --window 1s) on a free loopback port, fills 30 s of history, then runs
// --clients closed-loop clients for --duration seconds: each request is /metrics (90%) or a 30 s history
// profile (10%; --history-spread S makes the ranges end anywhere in the last S seconds, so fewer requests
// read the same windows and share a build); --live more clients loop on live profiles of --live-seconds, and
// a prober reads /healthz every 100 ms. Reports p50/p99/max per route (time to the end of the body), errors,
// status codes, the agent's loss and refusal counters that moved, and lost windows (half-second slices of
// the test period without a retained window). Loopback only (--url must be a loopback agent), bounded in
// requests (--max-requests) and time (every request has a timeout); ends by itself. Not in the test suite.
// Run as root after `npm run build`:
//   flock /tmp/hotpath-kernel.lock node dist/bench/load-test.js [--duration 60] [--clients 50] [--live 5]
// To profile the agent under load: --node-arg --perf-basic-prof, then `hotpath record --pid` (node's own
// --cpu-prof makes the kernel's verifier give up loading the programs with EAGAIN).
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent as Dispatcher, request } from 'undici';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { SERVE_NODE_FLAGS } from '../collector/cli/node-flags.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i > 0 ? Number(process.argv[i + 1]) : def;
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name}: expected a number`);
  return v;
}

const durationS = arg('duration', 60);
const clients = arg('clients', 50);
const liveClients = arg('live', 5);
const liveSeconds = arg('live-seconds', 5);
const warmupS = arg('warmup', 32);
const maxRequests = arg('max-requests', 200_000);
const historyShare = arg('history-share', 0.1);
/** History ranges end a random time within the last this many seconds (0: all end now, as dashboards ask). */
const historySpread = arg('history-spread', 0);
/** --node-arg ARG (repeatable) runs the agent's node with ARG, e.g. --perf-basic-prof to profile it. */
const nodeArgs = process.argv.flatMap((a, i) => (process.argv[i - 1] === '--node-arg' ? [a] : []));
const cliPath = join(dirname(fileURLToPath(import.meta.url)), '..', 'collector', 'cli.js');

interface Stats {
  times: number[];
  status: Map<number, number>;
  errors: number;
  bytes: number;
}
const stats = new Map<string, Stats>();
function record(route: string, ms: number, status: number | 'error', bytes = 0): void {
  let s = stats.get(route);
  if (!s) stats.set(route, (s = { times: [], status: new Map(), errors: 0, bytes: 0 }));
  if (status === 'error') {
    s.errors++;
    return;
  }
  s.times.push(ms);
  s.status.set(status, (s.status.get(status) ?? 0) + 1);
  s.bytes += bytes;
}

function startAgent(): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...SERVE_NODE_FLAGS, ...nodeArgs, cliPath, 'serve', '--host', '127.0.0.1', '--port', '0', '--window', '1s', '--retention', '10m'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`agent did not start:\n${stderr}`)), 60_000);
    child.stderr!.on('data', (d) => {
      stderr += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: `http://127.0.0.1:${m[1]}`, stderr: () => stderr });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`agent exited with ${code}:\n${stderr}`));
    });
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Sums of the agent's counters whose names tell of dropped windows or samples. */
function lossCounters(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(hotpath_\w*(?:lost|dropped|evict|rejected|error)\w*_total(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

const dispatcher = new Dispatcher({ connections: clients + liveClients + 8, headersTimeout: 700_000, bodyTimeout: 700_000 });

const firstFailure = new Map<string, string>();

/** One request, timed to the end of its body; given up after `timeoutMs` (counted as an error). */
async function get(url: string, route: string, timeoutMs = 60_000): Promise<Buffer | null> {
  const t0 = performance.now();
  try {
    const res = await request(url, { dispatcher, signal: AbortSignal.timeout(timeoutMs) });
    const body = Buffer.from(await res.body.arrayBuffer());
    record(route, performance.now() - t0, res.statusCode, body.length);
    if (res.statusCode !== 200 && !firstFailure.has(route)) firstFailure.set(route, `${res.statusCode} ${body.toString('utf8', 0, 200).trim()}`);
    return res.statusCode === 200 ? body : null;
  } catch {
    record(route, performance.now() - t0, 'error');
    return null;
  }
}

/** --url URL: load an agent already running (on loopback) instead of starting one; it is left running. */
const externalUrl = (() => {
  const i = process.argv.indexOf('--url');
  if (i < 0) return undefined;
  const u = new URL(process.argv[i + 1]);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) throw new Error('--url: loopback addresses only');
  return u.origin;
})();

const agent = externalUrl
  ? { child: { pid: undefined, exitCode: 0, once: () => {}, kill: () => {} } as unknown as ChildProcess, url: externalUrl, stderr: () => '' }
  : await startAgent();
let stopped = false;
const stopAgent = (): Promise<number | null> =>
  new Promise((done) => {
    if (agent.child.exitCode !== null) return done(agent.child.exitCode);
    agent.child.once('exit', (code) => done(code));
    agent.child.kill('SIGTERM');
  });
process.once('SIGINT', () => {
  stopped = true;
  void stopAgent().then(() => process.exit(130));
});

try {
  console.log(`agent (pid ${agent.child.pid}) at ${agent.url}; filling ${warmupS} s of history`);
  await sleep(warmupS * 1000);
  const before = lossCounters(await (await request(`${agent.url}/metrics`, { dispatcher })).body.text());
  const testStartS = Date.now() / 1000;
  const deadline = performance.now() + durationS * 1000;
  let issued = 0;
  const more = () => !stopped && performance.now() < deadline && issued++ < maxRequests;

  const mixed = async () => {
    while (more()) {
      if (Math.random() < historyShare) {
        const to = Date.now() / 1000 - Math.random() * historySpread;
        await get(`${agent.url}/debug/pprof/profile?from=${(to - 30).toFixed(3)}&to=${to.toFixed(3)}`, 'history 30s');
      } else {
        await get(`${agent.url}/metrics`, '/metrics');
      }
    }
  };
  const live = async () => {
    while (more()) await get(`${agent.url}/debug/pprof/profile?seconds=${liveSeconds}`, `live ${liveSeconds}s`, (liveSeconds + 60) * 1000);
  };
  const prober = async () => {
    while (!stopped && performance.now() < deadline) {
      await get(`${agent.url}/healthz`, '/healthz');
      await sleep(100);
    }
  };
  const started = performance.now();
  await Promise.all([
    ...Array.from({ length: clients }, mixed),
    ...Array.from({ length: liveClients }, live),
    prober(),
  ]);
  const elapsedS = (performance.now() - started) / 1000;
  const testEndS = Date.now() / 1000;
  await sleep(1500); // the last window of the test period is stored
  const after = lossCounters(await (await request(`${agent.url}/metrics`, { dispatcher })).body.text());

  // Lost windows: every half-second slice of the test period must overlap a retained window (an empty
  // answer is a profile with no samples whose time is exactly the slice's start).
  let slices = 0;
  let uncovered = 0;
  for (let t = Math.ceil(testStartS); t + 0.5 <= testEndS; t += 0.5) {
    slices++;
    const res = await request(`${agent.url}/debug/pprof/profile?from=${t.toFixed(1)}&to=${(t + 0.5).toFixed(1)}`, { dispatcher });
    const body = Buffer.from(await res.body.arrayBuffer());
    if (res.statusCode !== 200) {
      uncovered++;
      continue;
    }
    const p = Profile.decode(gunzipSync(body));
    if (p.sample.length === 0 && BigInt(p.timeNanos) === BigInt(Math.round(t * 10)) * 100_000_000n) uncovered++;
  }

  const spread = historySpread > 0 ? ` ending within the last ${historySpread} s` : '';
  console.log(`\n${clients} clients (/metrics ${Math.round((1 - historyShare) * 100)}%, 30 s history${spread} ${Math.round(historyShare * 100)}%) + ${liveClients} live ${liveSeconds} s clients + /healthz prober, ${elapsedS.toFixed(1)} s, window 1s\n`);
  console.log('route              requests    p50 ms    p99 ms    max ms   errors  status');
  let fiveXX = 0;
  let errors = 0;
  for (const [route, s] of [...stats].sort()) {
    const t = s.times.slice().sort((a, b) => a - b);
    const status = [...s.status].sort().map(([c, n]) => `${c}:${n}`).join(' ');
    for (const [c, n] of s.status) if (c >= 500) fiveXX += n;
    errors += s.errors;
    console.log(
      `${route.padEnd(18)} ${String(t.length).padStart(8)} ${percentile(t, 50).toFixed(1).padStart(9)} ${percentile(t, 99).toFixed(1).padStart(9)} ${(t[t.length - 1] ?? Number.NaN).toFixed(1).padStart(9)} ${String(s.errors).padStart(8)}  ${status}`,
    );
  }
  for (const [route, text] of firstFailure) console.log(`first failure of ${route}: ${text}`);
  console.log(`\n5xx answers: ${fiveXX}; connection errors: ${errors}`);
  const changed = [...after].filter(([k, v]) => v !== (before.get(k) ?? 0)).map(([k, v]) => `${k} +${v - (before.get(k) ?? 0)}`);
  console.log(`agent loss/reject counters that moved during the test: ${changed.length ? changed.join(', ') : 'none'}`);
  console.log(`lost windows: ${uncovered} of ${slices} half-second slices of the test period have no retained window`);
} finally {
  stopped = true;
  const t0 = performance.now();
  const code = await stopAgent();
  console.log(`agent stopped with ${code} in ${(performance.now() - t0).toFixed(0)} ms`);
  await dispatcher.close();
}
