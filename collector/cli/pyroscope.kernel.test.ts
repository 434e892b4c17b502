// hotpath serve --pyroscope-url against a local Pyroscope push receiver that decodes every request with
// protobufjs (from the API's .proto files) and the gzipped pprof inside with pprof-format: labels, sample
// types and the hot function of a real workload; then the receiver goes away for 30 s and comes back.
import type { ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Profile } from 'pprof-format';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPushReceiver, type PushReceiver, type ReceivedSeries } from '../../exporters/push/test-support/pyroscope-receiver.js';
import { seriesValue } from '../test-support/metrics-text.js';
import { compileWorkload, requireRoot, startAgent, startProcess, tempDir, type RunningAgent } from '../test-support/kernel.js';

const HOT_SOURCE = `
#include <stdint.h>
volatile uint64_t sink;
__attribute__((noinline)) void hotpath_pyroscope_hot(void) { for (int i = 0; i < 1000000; i++) sink += i * 7; }
int main(void) { for (;;) hotpath_pyroscope_hot(); }
`;
const QUEUE_BYTES = 256 * 1024;

function strings(p: Profile): string[] {
  return p.stringTable.strings;
}

/** The function with the most self value (last sample type), by name. */
function topFunction(p: Profile): string {
  const s = strings(p);
  const fnOfLocation = new Map(p.location.map((l) => [Number(l.id), Number(l.line[0]?.functionId ?? 0)]));
  const nameOfFn = new Map(p.function.map((f) => [Number(f.id), s[Number(f.name)]]));
  const self = new Map<string, number>();
  for (const x of p.sample) {
    const leaf = nameOfFn.get(fnOfLocation.get(Number(x.locationId[0])) ?? 0) ?? '?';
    self.set(leaf, (self.get(leaf) ?? 0) + Number(x.value[x.value.length - 1]));
  }
  return [...self].sort((a, b) => b[1] - a[1])[0][0];
}

function types(p: Profile): string[] {
  const s = strings(p);
  return p.sampleType.map((t) => `${s[Number(t.type)]}/${s[Number(t.unit)]}`);
}

describe('hotpath serve --pyroscope-url (kernel)', () => {
  let receiver: PushReceiver;
  let agent: RunningAgent;
  let workload: ChildProcess;

  beforeAll(async () => {
    requireRoot();
    const dir = tempDir('hotpath-pyroscope-');
    workload = startProcess(compileWorkload(dir, 'pyro-hot', HOT_SOURCE));
    receiver = await startPushReceiver();
    agent = await startAgent([
      '--programs', 'cpu,offcpu', '--window', '2s', '--retention', '5m',
      '--pyroscope-url', receiver.url, '--pyroscope-label', 'env=kernel-test', '--pyroscope-tenant', 'tenant-1',
      '--pyroscope-queue-memory', `${QUEUE_BYTES / 1024}K`,
    ]);
  });

  afterAll(async () => {
    workload?.kill('SIGKILL');
    if (agent && agent.child.exitCode === null) await agent.stop();
    await receiver?.close().catch(() => {});
  });

  const scrape = async () => (await request(`${agent.url}/metrics`)).body.text();
  const seriesOf = (name: string) =>
    receiver.requests.flatMap((r) => r.series).filter((s) => s.labels.__name__ === name);

  it('pushes every window: process_cpu and off_cpu series with our labels, the hot function on top', async () => {
    const end = Date.now() + 30_000;
    const hotSeries = () => seriesOf('process_cpu').filter((s) => s.labels.process === 'pyro-hot');
    while ((hotSeries().length < 2 || seriesOf('off_cpu').length === 0) && Date.now() < end) await sleep(250);
    expect(hotSeries().length, agent.stderr()).toBeGreaterThanOrEqual(2);
    const req = receiver.requests[0];
    expect(req.headers['content-type']).toBe('application/proto');
    expect(req.headers['connect-protocol-version']).toBe('1');
    expect(req.headers['x-scope-orgid']).toBe('tenant-1');
    expect(req.headers['user-agent']).toMatch(/^hotpath\//);
    // One request per window and profile type; each series one gzipped pprof.
    for (const r of receiver.requests) {
      expect(new Set(r.series.map((s) => s.labels.__name__)).size).toBe(1);
      for (const s of r.series) expect(s.profiles).toHaveLength(1);
    }
    const hot: ReceivedSeries = hotSeries()[1];
    expect(hot.labels).toMatchObject({ __name__: 'process_cpu', __delta__: 'false', service_name: 'pyro-hot', process: 'pyro-hot', env: 'kernel-test' });
    const p = hot.profiles[0];
    expect(types(p)).toEqual(['samples/count', 'cpu/nanoseconds']);
    expect(`${strings(p)[Number(p.periodType!.type)]}/${strings(p)[Number(p.periodType!.unit)]}`).toBe('cpu/nanoseconds');
    expect(topFunction(p)).toBe('hotpath_pyroscope_hot');
    expect(Number(p.durationNanos) / 1e9).toBeGreaterThan(1.5);
    expect(Number(p.durationNanos) / 1e9).toBeLessThan(2.6);
    // Every series of a window has one service_name; no two series of a request share their labels.
    for (const r of receiver.requests) {
      const keys = r.series.map((s) => JSON.stringify(Object.entries(s.labels).sort()));
      expect(new Set(keys).size).toBe(keys.length);
      for (const s of r.series) expect(s.labels.service_name).toBeTruthy();
    }
    const off = seriesOf('off_cpu')[0];
    expect(off.labels.__delta__).toBe('false');
    expect(types(off.profiles[0])).toEqual(['samples/count', 'offcpu/nanoseconds']);
    const m = await scrape();
    expect(seriesValue(m, 'hotpath_push_requests_total', { target: 'pyroscope', outcome: 'success' })).toBeGreaterThanOrEqual(3);
  });

  it('rides out the receiver down for 30 s: queue bounded and drained after, drops counted, RSS bounded, drains on time', async () => {
    const before = await scrape();
    const rss0 = seriesValue(before, 'process_resident_memory_bytes')!;
    const failed0 = seriesValue(before, 'hotpath_push_requests_total', { target: 'pyroscope', outcome: 'network_error' }) ?? 0;
    const n0 = receiver.requests.length;
    await receiver.close();
    const downAt = Date.now();
    let peakQueue = 0;
    let peakRss = rss0;
    const health: number[] = [];
    while (Date.now() - downAt < 30_000) {
      const h = await request(`${agent.url}/healthz`);
      await h.body.text();
      health.push(h.statusCode);
      const m = await scrape();
      peakQueue = Math.max(peakQueue, seriesValue(m, 'hotpath_push_queue_bytes', { target: 'pyroscope' }) ?? 0);
      peakRss = Math.max(peakRss, seriesValue(m, 'process_resident_memory_bytes') ?? 0);
      await sleep(1000);
    }
    expect(receiver.requests.length).toBe(n0);
    await receiver.reopen();
    const upAt = Date.now();
    // The backoff is capped at 30 s (jittered): the queue is sent within that and a few requests.
    let after = '';
    for (const end = Date.now() + 50_000; Date.now() < end; await sleep(500)) {
      after = await scrape();
      const queued = seriesValue(after, 'hotpath_push_queue_bytes', { target: 'pyroscope' });
      if (receiver.requests.some((r) => r.at >= upAt) && queued !== undefined && queued < QUEUE_BYTES / 4) break;
    }
    const recoveredAt = receiver.requests.find((r) => r.at >= upAt)?.at;
    const dropped = seriesValue(after, 'hotpath_push_dropped_total', { target: 'pyroscope', reason: 'queue_full' }) ?? 0;
    const failed = (seriesValue(after, 'hotpath_push_requests_total', { target: 'pyroscope', outcome: 'network_error' }) ?? 0) - failed0;
    console.log(JSON.stringify({
      requestsDuringOutageDelivered: receiver.requests.filter((r) => r.at >= upAt).length,
      droppedQueueFull: dropped, failedAttempts: failed, peakQueueBytes: peakQueue, rss0MiB: rss0 / 2 ** 20,
      peakRssMiB: peakRss / 2 ** 20, recoverySeconds: recoveredAt ? (recoveredAt - upAt) / 1000 : null,
    }));
    expect(recoveredAt, agent.stderr()).toBeDefined();
    expect(failed).toBeGreaterThan(2);
    expect(dropped).toBeGreaterThan(0);
    expect(peakQueue).toBeGreaterThan(0);
    expect(peakQueue).toBeLessThanOrEqual(QUEUE_BYTES);
    expect(peakRss - rss0).toBeLessThan(64 * 2 ** 20);
    // Drains went on while nothing could be sent: /healthz stayed 200 (it turns 503 after 3 late windows)...
    expect(health.every((s) => s === 200), JSON.stringify(health)).toBe(true);
    // ...and the windows kept while nothing got through (down, then the backoff's last wait) arrived
    // afterwards, each one window long, in order: drop-oldest keeps the newest of them.
    const outage = receiver.requests
      .filter((r) => r.at >= upAt)
      .flatMap((r) => r.series.filter((s) => s.labels.__name__ === 'process_cpu').slice(0, 1))
      .map((s) => ({ start: Number(BigInt(s.profiles[0].timeNanos) / 1_000_000n), seconds: Number(s.profiles[0].durationNanos) / 1e9 }))
      .filter((w) => w.start >= downAt && w.start < recoveredAt!);
    expect(outage.length).toBeGreaterThan(2);
    for (const w of outage) {
      expect(w.seconds).toBeGreaterThan(1.5);
      expect(w.seconds).toBeLessThan(2.6);
    }
    const starts = outage.map((w) => w.start);
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
    expect(seriesValue(after, 'hotpath_push_dropped_total', { target: 'pyroscope', reason: 'encode_backlog' }) ?? 0).toBe(0);
  });

  it('exits on SIGTERM within a few seconds while a request hangs', async () => {
    await receiver.close();
    // Same port: accepts and reads requests, never answers.
    const hung: Server = createServer(() => {});
    await new Promise<void>((resolve) => hung.listen(receiver.port, '127.0.0.1', resolve));
    try {
      await sleep(4_000);
      const t0 = Date.now();
      expect(await agent.stop()).toBe(0);
      expect(Date.now() - t0).toBeLessThan(5_000);
    } finally {
      hung.closeAllConnections();
      hung.close();
    }
  });
});
