// /metrics of a live agent, read by the real promtool and scraped by a real Prometheus server while fio
// does direct I/O.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, killAndWait, requireRoot, runTool, startAgent, tempDir, waitFor, type RunningAgent } from '../test-support/kernel.js';

describe('metrics (kernel)', () => {
  let agent: RunningAgent;
  let prometheus: ChildProcess | undefined;
  let fio: ChildProcess | undefined;
  let dir: string;
  const fioFile = '/var/tmp/hotpath-metrics-fio';

  beforeAll(async () => {
    requireRoot();
    dir = tempDir('hotpath-metrics-');
    agent = await startAgent(['--programs', 'runqlat,biolatency', '--window', '1s']);
  });

  afterAll(async () => {
    await killAndWait([fio, prometheus]);
    await agent?.stop();
    rmSync(fioFile, { force: true });
  });

  it('serves metrics that pass promtool check metrics', async () => {
    const res = await request(`${agent.url}/metrics`);
    expect(res.statusCode).toBe(200);
    const text = await res.body.text();
    expect(text).toMatch(/^hotpath_runqueue_latency_seconds_bucket\{le="\+Inf"\} \d+$/m);
    expect(text).toMatch(/^hotpath_info\{version="[^"]+",kernel="[^"]+"\} 1$/m);
    expect(text).toMatch(/^hotpath_samples_lost_total\{reason="[a-z_]+"\} \d+$/m);
    const file = join(dir, 'metrics.txt');
    writeFileSync(file, text);
    const check = await runTool('sh', ['-c', `promtool check metrics < ${file}`]);
    expect(check.stdout + check.stderr).toBe('');
    expect(check.code).toBe(0);
  });

  it('a real Prometheus computes the p99 block I/O latency while fio does direct I/O', async () => {
    const port = await freePort();
    const config = join(dir, 'prometheus.yml');
    writeFileSync(config, `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: hotpath\n    static_configs:\n      - targets: ["127.0.0.1:${agent.port}"]\n`);
    prometheus = spawn('prometheus', [
      `--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`,
    ], { stdio: 'ignore' });
    // --thread: the job runs inside this one process, so killing it stops the I/O (a forked fio job would
    // outlive its parent and disturb the tests that count I/Os after this one).
    fio = spawn('fio', ['--name=hotpath', '--thread', `--filename=${fioFile}`, '--size=64M', '--rw=randread', '--direct=1',
      '--bs=4k', '--ioengine=psync', '--time_based', '--runtime=60'], { stdio: 'ignore' });
    const query = 'histogram_quantile(0.99, rate(hotpath_block_io_latency_seconds_bucket[30s]))';
    const p99 = await waitFor('a p99 from Prometheus', async () => {
      const res = await request(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(query)}`);
      const body = (await res.body.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      const read = body.data?.result?.find((r) => r.metric.operation === 'read' && Number.isFinite(Number(r.value[1])));
      return read ? { device: read.metric.device, seconds: Number(read.value[1]) } : undefined;
    }, 60_000);
    console.log(`prometheus: p99 read latency on ${p99.device} = ${(p99.seconds * 1e6).toFixed(0)} us`);
    expect(p99.seconds).toBeGreaterThan(0);
    expect(p99.seconds).toBeLessThan(10);
    expect(p99.device).toMatch(/^[a-z]/);
  });
});
