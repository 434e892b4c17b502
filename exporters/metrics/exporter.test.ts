import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetricsExporter, type MetricsExporter } from './exporter.js';
import { Log2Recorder } from './log2-histogram.js';
import type { HistogramSeries, MetricsSource, ProgramStats } from './producer.js';

const PROMTOOL = '/usr/bin/promtool';

function slots(entries: Record<number, bigint>, n = 40): bigint[] {
  const s = new Array<bigint>(n).fill(0n);
  for (const [k, v] of Object.entries(entries)) s[Number(k)] = v;
  return s;
}

/** Plain input data, as the collector would hand it over; `tick()` advances the kernel counters. */
class FakeSource implements MetricsSource {
  runq = { slots: slots({ 0: 1n, 10: 4n, 20: 2n, 39: 1n }), sumNs: 3_000_000_000n };
  read = { slots: slots({ 17: 3n }), sumNs: 400_000n };
  write = { slots: slots({ 22: 5n, 30: 1n }), sumNs: 2_000_000_000n };
  lost: Record<string, bigint> = { stack_collision: 3n, missing_stack: 0n };
  drains = new Log2Recorder();
  programs: ProgramStats[] = [{ program: 'cpu_profile', runTimeNs: 1_500_000_000n, runCount: 12_345n }];

  constructor() {
    this.drains.record(2_000_000);
  }
  runqueueLatency(): HistogramSeries[] {
    return [{ attributes: {}, histogram: this.runq }];
  }
  blockIoLatency(): HistogramSeries[] {
    return [
      { attributes: { device: 'vda', operation: 'read' }, histogram: this.read },
      { attributes: { device: 'vda', operation: 'write' }, histogram: this.write },
    ];
  }
  samplesLost() {
    return this.lost;
  }
  drainDurations(): HistogramSeries[] {
    return [{ attributes: {}, histogram: this.drains.snapshot() }];
  }
  programStats() {
    return this.programs;
  }
  info() {
    return { version: '0.1.0', kernel: '6.18.0-test' };
  }
  tick(): void {
    this.runq.slots[10] += 6n;
    this.runq.slots[39] += 1n;
    this.runq.sumNs += 100_000_000_000n;
    this.lost.stack_collision += 2n;
    this.programs = [{ program: 'cpu_profile', runTimeNs: 3_000_000_000n, runCount: 20_000n }];
    this.drains.record(4_000_000);
  }
}

/** Parses exposition lines into `name{labels}` -> value; label order as printed. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

function promtool(text: string) {
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

const open: MetricsExporter[] = [];
function exporterFor(source: MetricsSource): MetricsExporter {
  const ex = createMetricsExporter(source);
  open.push(ex);
  return ex;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((ex) => ex.shutdown()));
});

describe('exposition text', () => {
  it('shows kernel slots as cumulative le buckets with _count = +Inf and _sum in seconds', async () => {
    const text = await exporterFor(new FakeSource()).collectText();
    const s = samples(text);
    const q = 'hotpath_runqueue_latency_seconds';
    expect(text).toContain(`# TYPE ${q} histogram`);
    expect(s.get(`${q}_bucket{le="1e-9"}`)).toBe(1);
    expect(s.get(`${q}_bucket{le="5.12e-7"}`)).toBe(1); // 2^9 ns: slot 10 not yet included
    expect(s.get(`${q}_bucket{le="0.000001024"}`)).toBe(5); // 2^10 ns, upper-inclusive
    expect(s.get(`${q}_bucket{le="0.001048576"}`)).toBe(7); // 2^20 ns
    expect(s.get(`${q}_bucket{le="68.719476736"}`)).toBe(7); // top finite boundary: overflow not in it
    expect(s.get(`${q}_bucket{le="+Inf"}`)).toBe(8);
    expect(s.get(`${q}_count`)).toBe(8);
    expect(s.get(`${q}_sum`)).toBe(3);
    // Fixed boundary set: 2^0..2^36 ns plus +Inf.
    expect([...s.keys()].filter((k) => k.startsWith(`${q}_bucket`))).toHaveLength(38);

    const b = 'hotpath_block_io_latency_seconds';
    expect(s.get(`${b}_bucket{device="vda",operation="read",le="0.000065536"}`)).toBe(0);
    expect(s.get(`${b}_bucket{device="vda",operation="read",le="0.000131072"}`)).toBe(3);
    expect(s.get(`${b}_count{device="vda",operation="read"}`)).toBe(3);
    expect(s.get(`${b}_sum{device="vda",operation="read"}`)).toBe(0.0004);
    expect(s.get(`${b}_bucket{device="vda",operation="write",le="1.073741824"}`)).toBe(6);
    expect(s.get(`${b}_bucket{device="vda",operation="write",le="+Inf"}`)).toBe(6);
    expect(s.get(`${b}_count{device="vda",operation="write"}`)).toBe(6);
    expect(s.get(`${b}_sum{device="vda",operation="write"}`)).toBe(2);

    expect(s.get('hotpath_drain_duration_seconds_bucket{le="0.002097152"}')).toBe(1);
    expect(s.get('hotpath_drain_duration_seconds_count')).toBe(1);
    expect(s.get('hotpath_drain_duration_seconds_sum')).toBe(0.002);
  });

  it('names counters with _total exactly once and shows hotpath_info as a gauge of 1', async () => {
    const text = await exporterFor(new FakeSource()).collectText();
    const s = samples(text);
    expect(text).toContain('# TYPE hotpath_samples_lost_total counter');
    expect(s.get('hotpath_samples_lost_total{reason="stack_collision"}')).toBe(3);
    expect(s.get('hotpath_samples_lost_total{reason="missing_stack"}')).toBe(0);
    expect(text).toContain('# TYPE hotpath_bpf_program_run_seconds_total counter');
    expect(s.get('hotpath_bpf_program_run_seconds_total{program="cpu_profile"}')).toBe(1.5);
    expect(s.get('hotpath_bpf_program_runs_total{program="cpu_profile"}')).toBe(12345);
    expect(text).not.toContain('_total_total');
    expect(text).toContain('# TYPE hotpath_info gauge');
    expect(s.get('hotpath_info{version="0.1.0",kernel="6.18.0-test"}')).toBe(1);
    // No OTel-specific series or labels.
    expect(text).not.toMatch(/target_info|otel_scope/);
  });

  it('stays cumulative across scrapes (nothing resets on scrape)', async () => {
    const src = new FakeSource();
    const ex = exporterFor(src);
    const first = samples(await ex.collectText());
    const again = samples(await ex.collectText());
    expect(again).toEqual(first);
    src.tick();
    const second = samples(await ex.collectText());
    const q = 'hotpath_runqueue_latency_seconds';
    expect(second.get(`${q}_bucket{le="0.000001024"}`)).toBe(11);
    expect(second.get(`${q}_bucket{le="+Inf"}`)).toBe(15);
    expect(second.get(`${q}_count`)).toBe(15);
    expect(second.get(`${q}_sum`)).toBe(103);
    expect(second.get('hotpath_samples_lost_total{reason="stack_collision"}')).toBe(5);
    expect(second.get('hotpath_bpf_program_runs_total{program="cpu_profile"}')).toBe(20000);
    expect(second.get('hotpath_drain_duration_seconds_count')).toBe(2);
    // Same le set on both scrapes, and no series went down.
    expect([...second.keys()].sort()).toEqual([...first.keys()].sort());
    for (const [k, v] of first) expect(second.get(k)!, k).toBeGreaterThanOrEqual(v);
  });

  it('leaves out what is not running, and survives a failing or bad source', async () => {
    const src = new FakeSource();
    src.programs = [];
    src.blockIoLatency = () => {
      throw new Error('map read failed');
    };
    src.runqueueLatency = (): HistogramSeries[] => [
      { attributes: {}, histogram: { slots: [1n, -2n], sumNs: 0n } }, // refused
      { attributes: { cpu: '0' }, histogram: { slots: slots({ 1: 1n }), sumNs: 2n } },
      { attributes: { cpu: '0' }, histogram: { slots: slots({ 1: 2n }), sumNs: 4n } }, // duplicate: merged
      { attributes: { le: '1' }, histogram: { slots: slots({}), sumNs: 0n } }, // reserved label
    ];
    const ex = exporterFor(src);
    const { text, errors } = await ex.collect();
    const s = samples(text);
    expect(text).not.toContain('hotpath_block_io_latency_seconds');
    expect(text).not.toContain('hotpath_bpf_program_run');
    expect(s.get('hotpath_runqueue_latency_seconds_count{cpu="0"}')).toBe(3);
    expect([...s.keys()].filter((k) => k.startsWith('hotpath_runqueue_latency_seconds_count'))).toHaveLength(1);
    expect(s.get('hotpath_info{version="0.1.0",kernel="6.18.0-test"}')).toBe(1);
    expect(errors.map(String).join('\n')).toMatch(/collect hotpath_block_io_latency_seconds: map read failed/);
    expect(ex.producer.stats).toEqual({ sourceErrors: 1, invalidSeries: 2, overflowSeries: 0 });
    expect(promtool(text)).toEqual({ status: 0, output: '' });
  });

  it('shows dropped windows and the memory budget, counters as counters, and passes promtool', async () => {
    const src = new FakeSource() as FakeSource & Required<Pick<MetricsSource, 'windowsDropped' | 'memory' | 'symbolizerGaveUp'>>;
    src.symbolizerGaveUp = () => ({ not_regular_file: 3, demangle_over_budget: 1, link_refused: 0 });
    src.windowsDropped = () => [
      { profile: 'cpu', reason: 'memory', windows: 4 },
      { profile: 'cpu', reason: 'symbolize_error', windows: 1 },
      { profile: 'offcpu', reason: 'drain_error', windows: 2 },
    ];
    src.memory = () => ({
      limitBytes: 192 << 20,
      residentBytes: 150 << 20,
      parts: [
        { part: 'history', budgetBytes: 48 << 20, usedBytes: 1000, evictions: 4 },
        { part: 'symbols', budgetBytes: 48 << 20, evictions: 7 },
      ],
      collections: 5,
    });
    const text = await exporterFor(src).collectText();
    const s = samples(text);
    expect(text).toContain('# TYPE hotpath_windows_dropped_total counter');
    expect(s.get('hotpath_windows_dropped_total{profile="cpu",reason="memory"}')).toBe(4);
    expect(s.get('hotpath_windows_dropped_total{profile="cpu",reason="symbolize_error"}')).toBe(1);
    expect(s.get('hotpath_windows_dropped_total{profile="offcpu",reason="drain_error"}')).toBe(2);
    expect(s.get('hotpath_memory_limit_bytes')).toBe(192 << 20);
    expect(s.get('process_resident_memory_bytes')).toBe(150 << 20);
    expect(s.get('hotpath_memory_budget_bytes{part="history"}')).toBe(48 << 20);
    expect(s.get('hotpath_memory_used_bytes{part="history"}')).toBe(1000);
    expect(s.has('hotpath_memory_used_bytes{part="symbols"}')).toBe(false);
    expect(text).toContain('# TYPE hotpath_memory_evictions_total counter');
    expect(s.get('hotpath_memory_evictions_total{part="symbols"}')).toBe(7);
    expect(text).toContain('# TYPE hotpath_memory_collections_total counter');
    expect(s.get('hotpath_memory_collections_total')).toBe(5);
    expect(text).toContain('# TYPE hotpath_symbolizer_gave_up_total counter');
    expect(s.get('hotpath_symbolizer_gave_up_total{reason="not_regular_file"}')).toBe(3);
    expect(s.get('hotpath_symbolizer_gave_up_total{reason="demangle_over_budget"}')).toBe(1);
    expect(s.get('hotpath_symbolizer_gave_up_total{reason="link_refused"}')).toBe(0);
    expect(promtool(text)).toEqual({ status: 0, output: '' });
  });

  it('shows push targets: requests by outcome, drops by reason, queue and sent bytes; passes promtool', async () => {
    const src = new FakeSource() as FakeSource & Required<Pick<MetricsSource, 'push'>>;
    src.push = () => [{
      target: 'pyroscope',
      requests: { success: 12, network_error: 5 },
      dropped: { queue_full: 3, rejected: 0 },
      queueBytes: 4096,
      sentBytes: 123456,
    }];
    const text = await exporterFor(src).collectText();
    const s = samples(text);
    expect(text).toContain('# TYPE hotpath_push_requests_total counter');
    expect(s.get('hotpath_push_requests_total{target="pyroscope",outcome="success"}')).toBe(12);
    expect(s.get('hotpath_push_requests_total{target="pyroscope",outcome="network_error"}')).toBe(5);
    expect(text).toContain('# TYPE hotpath_push_dropped_total counter');
    expect(s.get('hotpath_push_dropped_total{target="pyroscope",reason="queue_full"}')).toBe(3);
    expect(s.get('hotpath_push_dropped_total{target="pyroscope",reason="rejected"}')).toBe(0);
    expect(text).toContain('# TYPE hotpath_push_queue_bytes gauge');
    expect(s.get('hotpath_push_queue_bytes{target="pyroscope"}')).toBe(4096);
    expect(s.get('hotpath_push_sent_bytes_total{target="pyroscope"}')).toBe(123456);
    expect(promtool(text)).toEqual({ status: 0, output: '' });
  });

  it('shows HTTP requests refused, by route and status code, as a counter', async () => {
    const src = new FakeSource() as FakeSource & Required<Pick<MetricsSource, 'httpRequestsRejected'>>;
    src.httpRequestsRejected = () => [
      { route: '/debug/pprof/profile', code: '429', requests: 3 },
      { route: 'other', code: '404', requests: 1 },
    ];
    const text = await exporterFor(src).collectText();
    const s = samples(text);
    expect(text).toContain('# TYPE hotpath_http_requests_rejected_total counter');
    expect(s.get('hotpath_http_requests_rejected_total{route="/debug/pprof/profile",code="429"}')).toBe(3);
    expect(s.get('hotpath_http_requests_rejected_total{route="other",code="404"}')).toBe(1);
    expect(promtool(text)).toEqual({ status: 0, output: '' });
  });

  it('caps the number of series per metric', async () => {
    const src = new FakeSource();
    src.samplesLost = () => Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`r${i}`, BigInt(i)]));
    const ex = createMetricsExporter(src, { maxSeriesPerMetric: 10 });
    open.push(ex);
    const text = await ex.collectText();
    expect(text.split('\n').filter((l) => l.startsWith('hotpath_samples_lost_total{'))).toHaveLength(10);
    expect(ex.producer.stats.overflowSeries).toBe(40);
  });
});

describe('promtool check metrics', () => {
  it('passes on the exposition, with no lint problems', async () => {
    const src = new FakeSource();
    const ex = exporterFor(src);
    expect(promtool(await ex.collectText())).toEqual({ status: 0, output: '' });
    src.tick();
    expect(promtool(await ex.collectText())).toEqual({ status: 0, output: '' });
  });

  it('does find problems when there are some (the check can fail)', () => {
    const bad = '# HELP bad_counter x\n# TYPE bad_counter counter\nbad_counter 1\n';
    const r = promtool(bad);
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/_total/);
  });
});

describe('HTTP', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  it('serves the exposition from the agent-owned server', async () => {
    const ex = exporterFor(new FakeSource());
    server = createServer((req, res) => ex.handle(req, res));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const res = await request(`http://127.0.0.1:${port}/metrics`);
    const body = await res.body.text();
    expect(res.statusCode).toBe(200);
    expect(String(res.headers['content-type'])).toMatch(/^text\/plain/);
    expect(body).toBe(await ex.collectText());
    expect(body).not.toMatch(/target_info|otel_scope/);
    expect(body).toContain('hotpath_block_io_latency_seconds_bucket{device="vda",operation="write",le="+Inf"} 6');
    expect(promtool(body)).toEqual({ status: 0, output: '' });
  });
});
