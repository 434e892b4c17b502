// --otlp-endpoint on a live agent: a local OTLP/HTTP receiver decodes every export request with protobufjs
// (opentelemetry-proto's messages) and finds the run-queue histogram with its buckets and the resource; then
// the receiver goes away for 30 s and comes back: exports resume, the failures are counted, the agent's
// memory stays bounded and its drains and /healthz stay on time throughout.
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { createServer as createNetServer, type Socket } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireRoot, runCli, startAgent, waitFor as waitForValue, type RunningAgent } from '../test-support/kernel.js';
import { seriesValue } from '../test-support/metrics-text.js';
import { attributesOf, metricsOf, OtlpReceiver, type DecodedExport } from '../test-support/otlp-receiver.js';

const OUTAGE_MS = 30_000;

/** Polls every 250 ms (test-support's waitFor). */
const waitFor = <T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> =>
  waitForValue(what, fn, timeoutMs, 250);

function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

describe('OTLP push (kernel)', () => {
  const receiver = new OtlpReceiver();
  let port: number;
  let agent: RunningAgent;
  const metricsText = async () => (await (await request(`${agent.url}/metrics`)).body.text());

  beforeAll(async () => {
    requireRoot();
    port = await receiver.start();
    agent = await startAgent([
      '--programs', 'cpu,runqlat', '--window', '1s', '--kubernetes-node', 'test-node-1',
      '--otlp-endpoint', `http://127.0.0.1:${port}`, '--otlp-interval', '2s',
    ]);
  });

  afterAll(async () => {
    await agent?.stop();
    await receiver.stop();
  });

  it('explains --otlp-* and --kubernetes-* in --help, and refuses bad values with one line and exit status 2', async () => {
    const help = await runCli(['serve', '--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--otlp-endpoint URL', '--otlp-interval DURATION', '--otlp-headers-file FILE', '--kubernetes ', '--kubernetes-node NAME', '--kubernetes-api URL']) {
      expect(help.stdout).toContain(flag);
    }
    for (const args of [
      ['--otlp-endpoint', 'grpc://127.0.0.1:4317'],
      ['--otlp-endpoint', 'http://127.0.0.1:4318', '--otlp-interval', '0s'],
      ['--kubernetes', '--kubernetes-api', 'http://127.0.0.1:1'],
    ]) {
      const r = await runCli(['serve', ...args], { env: { NODE_NAME: '' } });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('pushes hotpath_runqueue_latency_seconds as a cumulative histogram with its buckets, and the resource', async () => {
    const withCounts = (e: DecodedExport) => {
      const h = metricsOf(e).find((m) => m.name === 'hotpath_runqueue_latency_seconds')?.histogram;
      return h && Number(h.dataPoints[0]?.count) > 0 ? h : undefined;
    };
    const hist = await waitFor('an export with run-queue latencies', () => receiver.exports.map(withCounts).find(Boolean), 20_000);
    expect(receiver.failures).toEqual([]);
    expect(hist.aggregationTemporality).toBe('AGGREGATION_TEMPORALITY_CUMULATIVE');
    expect(hist.dataPoints).toHaveLength(1);
    const p = hist.dataPoints[0];
    // Powers of two of nanoseconds shown in seconds, one more bucket (+Inf) than bounds, counts summing to count.
    expect(p.explicitBounds[0]).toBeCloseTo(1e-9, 15);
    for (let i = 1; i < p.explicitBounds.length; i++) expect(p.explicitBounds[i] / p.explicitBounds[i - 1]).toBeCloseTo(2, 9);
    expect(p.bucketCounts).toHaveLength(p.explicitBounds.length + 1);
    expect(p.bucketCounts.reduce((a, c) => a + Number(c), 0)).toBe(Number(p.count));
    expect(p.sum).toBeGreaterThan(0);
    expect(BigInt(p.timeUnixNano)).toBeGreaterThan(BigInt(p.startTimeUnixNano));

    const exp = receiver.exports.at(-1)!;
    expect(exp.contentType).toBe('application/x-protobuf');
    expect(exp.contentEncoding).toBe('gzip');
    const resource = attributesOf(exp.resourceMetrics[0].resource?.attributes);
    expect(resource).toMatchObject({ 'host.name': hostname(), 'service.name': 'hotpath', 'k8s.node.name': 'test-node-1' });
    expect(resource['service.version']).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('pushes the metrics /metrics serves, every interval, and reports what an export costs', async () => {
    const before = receiver.exports.length;
    const text = await metricsText();
    await waitFor('two more exports', () => (receiver.exports.length >= before + 2 ? true : undefined), 10_000);
    const pushed = new Set(metricsOf(receiver.exports.at(-1)!).map((m) => m.name));
    const served = [...text.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1]);
    expect(served.length).toBeGreaterThan(5);
    expect(served.filter((name) => !pushed.has(name))).toEqual([]);
    const recent = receiver.exports.slice(before);
    const gaps = recent.slice(1).map((e, i) => e.receivedAtMs - recent[i].receivedAtMs);
    for (const g of gaps) expect(g).toBeGreaterThan(1000);
    const bytes = recent.map((e) => e.bytes);
    console.log(`otlp: ${recent.length} requests, ${Math.min(...bytes)}-${Math.max(...bytes)} bytes each (gzipped protobuf), ${pushed.size} metrics, gaps ${gaps.join(', ')} ms`);
  });

  it('survives the receiver gone for 30 s: drops counted, memory bounded, drains and /healthz on time, exports resume', async () => {
    const pid = agent.child.pid!;
    const drains = (t: string) => seriesValue(t, 'hotpath_drain_duration_seconds_count') ?? NaN;
    const drainsBefore = drains(await metricsText());
    const rssBefore = rssBytes(pid);
    await receiver.stop();
    const downAt = Date.now();
    let maxRss = rssBefore;
    let healthFailures = 0;
    let healthChecks = 0;
    while (Date.now() - downAt < OUTAGE_MS) {
      const res = await request(`${agent.url}/healthz`);
      await res.body.dump();
      healthChecks++;
      if (res.statusCode !== 200) healthFailures++;
      maxRss = Math.max(maxRss, rssBytes(pid));
      await new Promise((r) => setTimeout(r, 1000));
    }
    const during = await metricsText();
    const drainsDuring = drains(during) - drainsBefore;
    const dropped = [...during.matchAll(/^hotpath_push_dropped_total\{target="otlp",reason="([a-z_]+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])] as const);
    const exportsBeforeReturn = receiver.exports.length;
    await receiver.start(port);
    const upAt = Date.now();
    await waitFor('exports after the receiver is back', () => (receiver.exports.length > exportsBeforeReturn ? true : undefined), 15_000);
    const resumedMs = Date.now() - upAt;
    const after = await metricsText();
    console.log(
      `otlp outage ${OUTAGE_MS / 1000} s: dropped ${JSON.stringify(Object.fromEntries(dropped))}, drains ${drainsDuring}, ` +
        `healthz ${healthChecks - healthFailures}/${healthChecks} ok, RSS ${(rssBefore / 2 ** 20).toFixed(0)} -> max ${(maxRss / 2 ** 20).toFixed(0)} MiB, ` +
        `first export ${resumedMs} ms after the receiver came back`,
    );
    expect(healthFailures).toBe(0);
    // One drain a second (--window 1s): none late by more than a few.
    expect(drainsDuring).toBeGreaterThanOrEqual(OUTAGE_MS / 1000 - 3);
    // Every 2 s interval's export is given up as unreachable (connection refused), none left pending.
    const unreachable = dropped.find(([r]) => r === 'unreachable')?.[1] ?? 0;
    expect(unreachable).toBeGreaterThanOrEqual(10);
    expect(maxRss - rssBefore).toBeLessThan(32 * 2 ** 20);
    expect(seriesValue(after, 'hotpath_push_requests_total', { target: 'otlp', outcome: 'success' })).toBeGreaterThan(0);
    expect(receiver.failures).toEqual([]);
  }, OUTAGE_MS + 60_000);

  it('stops within a few seconds on SIGTERM even when the receiver accepts and never answers', async () => {
    await receiver.stop();
    // A receiver that hangs: connections accepted, requests read, nothing ever written back.
    const held = new Set<Socket>();
    const blackHole = createNetServer((s) => {
      held.add(s);
      s.resume();
    });
    await new Promise<void>((resolve) => blackHole.listen(port, '127.0.0.1', resolve));
    try {
      // Until an export is stuck in it.
      await waitFor('a connection to the hung receiver', () => (held.size > 0 ? true : undefined), 10_000);
      const t0 = Date.now();
      expect(await agent.stop()).toBe(0);
      const ms = Date.now() - t0;
      console.log(`otlp: SIGTERM to exit with the receiver hung: ${ms} ms`);
      expect(ms).toBeLessThan(5000);
    } finally {
      for (const s of held) s.destroy();
      await new Promise((resolve) => blackHole.close(resolve));
    }
  });
});
