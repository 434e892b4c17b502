// Nothing lost silently: a window whose symbolization fails counts its samples as lost, drains that fail are
// counted and turn /healthz unhealthy (503, naming them), and every counter reaches /metrics in a form promtool
// accepts. The agent runs in this process so the test can break it underneath: the symbolizer throws, then the
// CPU source is closed under the agent, so every drain fails.
import { writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetricsExporter, type MetricsExporter } from '../../exporters/metrics/index.js';
import { HttpServer } from '../http/index.js';
import { nowNs, type StackSource } from '../sources/index.js';
import type { Symbolizer } from '../symbolize/index.js';
import { requireRoot, runTool, tempDir } from '../test-support/kernel.js';
import { Agent, UNHEALTHY_AFTER_FAILED_DRAINS } from './agent.js';

/** The agent's parts this test breaks on purpose. */
interface AgentInsides {
  sources: Map<string, StackSource>;
  symbolizer: Symbolizer;
}

describe('failed drains and symbolization (kernel)', () => {
  let agent: Agent;
  let metrics: MetricsExporter;
  let server: HttpServer;
  let url: string;
  const logged: string[] = [];

  beforeAll(async () => {
    requireRoot();
    agent = await Agent.start({
      hz: 99, programs: ['cpu', 'runqlat'], windowSeconds: 1, retentionSeconds: 60, pids: [], minBlockNs: 1000,
      version: 'test', kernel: release(), log: (line) => logged.push(line),
    });
    expect(agent.attachedPrograms).toEqual(['cpu', 'runqlat']);
    metrics = createMetricsExporter(agent.metricsSource());
    server = new HttpServer({ host: '127.0.0.1', port: 0, agent, metrics, retentionNs: 60_000_000_000n, nowNs });
    url = `http://127.0.0.1:${(await server.listen()).port}`;
  });

  afterAll(async () => {
    await server?.close();
    await agent?.close();
    await metrics?.shutdown();
  });

  const health = async () => {
    const res = await request(`${url}/healthz`);
    return { status: res.statusCode, body: await res.body.text() };
  };
  const scrape = async () => (await request(`${url}/metrics`)).body.text();
  const value = (text: string, series: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };
  async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = await fn();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(200);
    }
  }

  it('is healthy while windows are drained and stored, with the memory budget on /metrics', async () => {
    await agent.cut();
    expect(await health()).toEqual({ status: 200, body: 'ok: attached: cpu, runqlat\n' });
    const text = await scrape();
    expect(value(text, 'hotpath_memory_limit_bytes')).toBe(192 * 1024 * 1024);
    expect(value(text, 'hotpath_memory_budget_bytes{part="history"}')).toBe(agent.memory.historyBytes);
    expect(value(text, 'hotpath_memory_used_bytes{part="history"}')).toBeGreaterThan(0);
    expect(value(text, 'process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
    // The agent's own cost as Prometheus client libraries name it, and each window's symbolization time.
    const cpu = value(text, 'process_cpu_seconds_total');
    expect(cpu).toBeGreaterThan(0);
    expect(cpu).toBeLessThan(process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6 + 1);
    expect(text).toContain('# TYPE process_cpu_seconds_total counter');
    expect(value(text, 'process_open_fds')).toBeGreaterThan(3);
    expect(value(text, 'process_max_fds')).toBeGreaterThanOrEqual(value(text, 'process_open_fds')!);
    expect(value(text, 'process_virtual_memory_bytes')).toBeGreaterThan(value(text, 'process_resident_memory_bytes')!);
    expect(Math.abs(value(text, 'process_start_time_seconds')! - (Date.now() / 1000 - process.uptime()))).toBeLessThan(5);
    expect(value(text, 'hotpath_symbolize_duration_seconds_count{profile="cpu"}')).toBeGreaterThanOrEqual(1);
    expect(value(text, 'hotpath_windows_dropped_total{profile="cpu",reason="memory"}')).toBe(0);
    expect(value(text, 'hotpath_samples_lost_total{reason="runqlat_start_map_full"}')).toBe(0);
    expect(value(text, 'hotpath_samples_lost_total{reason="runqlat_task_storage"}')).toBe(0);
  });

  it('counts every sample of a window whose symbolization fails, and names the failure on /healthz', async () => {
    const insides = agent as unknown as AgentInsides;
    const beginDrain = insides.symbolizer.beginDrain;
    insides.symbolizer.beginDrain = () => {
      throw new Error('symbolizer broken by the test');
    };
    try {
      // A busy loop here guarantees CPU samples in every window.
      const spin = (ms: number) => {
        const end = Date.now() + ms;
        while (Date.now() < end);
      };
      spin(300);
      await agent.cut();
      const h = await health();
      expect(h.body).toMatch(/cpu: the last \d+ drains? failed \(symbolize cpu: symbolizer broken by the test\)/);
      const text = await scrape();
      expect(value(text, 'hotpath_windows_dropped_total{profile="cpu",reason="symbolize_error"}')).toBeGreaterThanOrEqual(1);
      expect(value(text, 'hotpath_samples_lost_total{reason="cpu_symbolize_error"}')).toBeGreaterThanOrEqual(10);
    } finally {
      insides.symbolizer.beginDrain = beginDrain;
    }
    await agent.cut();
    expect((await health()).status).toBe(200);
  });

  it('turns /healthz unhealthy (503) when every drain fails, saying how many failed, and counts them', async () => {
    const before = value(await scrape(), 'hotpath_windows_dropped_total{profile="cpu",reason="drain_error"}');
    expect(before).toBe(0);
    await (agent as unknown as AgentInsides).sources.get('cpu')!.close();
    const t0 = nowNs();
    const unhealthy = await until('an unhealthy /healthz', async () => {
      const h = await health();
      return h.status === 503 ? h : undefined;
    });
    const tookMs = Number((nowNs() - t0) / 1_000_000n);
    expect(unhealthy.body).toMatch(
      new RegExp(`^unhealthy: draining has stalled; cpu: the last ([3-9]|\\d\\d+) drains failed \\(drain cpu: .*closed.*\\); attached: cpu, runqlat\\n$`),
    );
    console.log(`/healthz after ${tookMs} ms: ${unhealthy.body.trim()}`);
    const failed = Number(/the last (\d+) drains failed/.exec(unhealthy.body)![1]);
    expect(failed).toBeGreaterThanOrEqual(UNHEALTHY_AFTER_FAILED_DRAINS);
    // Windows are cut every second: unhealthy after about three.
    expect(tookMs).toBeLessThan(8000);
    const text = await scrape();
    expect(value(text, 'hotpath_windows_dropped_total{profile="cpu",reason="drain_error"}')).toBeGreaterThanOrEqual(failed);
    expect(logged.some((l) => /^hotpath serve: drain cpu: /.test(l))).toBe(true);
    // Everything exposed passes the real promtool.
    const file = join(tempDir('hotpath-health-'), 'metrics.txt');
    writeFileSync(file, text);
    const check = await runTool('sh', ['-c', `promtool check metrics < ${file}`]);
    expect(check.stdout + check.stderr).toBe('');
    expect(check.code).toBe(0);
  });
});
