// deploy/grafana/hotpath.json and deploy/prometheus/rules.yml against a live agent: every metric an
// expression names is in the agent's /metrics, and a real Prometheus that scrapes the agent (every second,
// while fio does direct I/O) answers every dashboard expression, Grafana's variables filled in, with data,
// and records every recording rule from it.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { freePort, killAndWait, requireRoot, startAgent, tempDir, waitFor, type RunningAgent } from '../../collector/test-support/kernel.js';
import { deployDir } from '../deploy-files.js';
import { dashboardQueries, fillGrafanaVariables, metricNames } from './promql.js';

const dashboard = JSON.parse(readFileSync(join(deployDir, 'grafana', 'hotpath.json'), 'utf8'));
const queries = dashboardQueries(dashboard);
const rulesPath = join(deployDir, 'prometheus', 'rules.yml');
const rules = (YAML.parse(readFileSync(rulesPath, 'utf8')) as { groups: { rules: { record?: string; alert?: string; expr: string }[] }[] })
  .groups.flatMap((g) => g.rules);
const recorded = rules.filter((r) => r.record).map((r) => r.record!);
/** Scrape every second: $__rate_interval as Grafana sets it for that (4 scrape intervals), with margin. */
const intervals = { rateInterval: '30s', interval: '5s', range: '1m' };

/** The expression Prometheus runs for a panel target, or for a variable (label_values(sel, l) → count by (l) (sel)). */
function asPromQL(expr: string): string {
  const filled = fillGrafanaVariables(expr, intervals);
  const lv = /^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$/.exec(filled.trim());
  return lv ? `count by (${lv[2]}) (${lv[1]})` : filled;
}

interface QueryResult {
  status: string;
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

describe('deploy/grafana/hotpath.json (kernel)', () => {
  let agent: RunningAgent;
  let prometheus: ChildProcess | undefined;
  let fio: ChildProcess | undefined;
  let promUrl = '';
  let dir: string;
  const fioFile = '/var/tmp/hotpath-dashboard-fio';

  async function query(expr: string): Promise<QueryResult> {
    const res = await request(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    return (await res.body.json()) as QueryResult;
  }

  beforeAll(async () => {
    requireRoot();
    dir = tempDir('hotpath-dashboard-');
    // Every program (the stack profiles feed the drain and lost-sample metrics), short windows.
    agent = await startAgent(['--window', '1s']);
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    const config = join(dir, 'prometheus.yml');
    writeFileSync(config, YAML.stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [rulesPath],
      scrape_configs: [{ job_name: 'hotpath', static_configs: [{ targets: [`127.0.0.1:${agent.port}`] }] }],
    }));
    prometheus = spawn('prometheus', [
      `--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`,
    ], { stdio: 'ignore' });
    // --thread: the job stays inside this process, so killing it stops the I/O (metrics.kernel.test.ts).
    fio = spawn('fio', ['--name=hotpath', '--thread', `--filename=${fioFile}`, '--size=64M', '--rw=randrw', '--direct=1',
      '--bs=4k', '--ioengine=psync', '--time_based', '--runtime=120', '--rate_iops=500'], { stdio: 'ignore' });
  });

  afterAll(async () => {
    await killAndWait([fio, prometheus]);
    await agent?.stop();
    rmSync(fioFile, { force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('finds the queries of every panel and variable, each naming a metric', () => {
    expect(queries.length).toBeGreaterThanOrEqual(15);
    for (const q of queries) expect(metricNames(q.expr), q.where).not.toEqual([]);
  });

  it('names only metrics the live agent exports (dashboard and rules)', async () => {
    const res = await request(`${agent.url}/metrics`);
    expect(res.statusCode).toBe(200);
    const exported = new Set((await res.body.text()).split('\n').filter((l) => l && !l.startsWith('#')).map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)![0]));
    const missing: string[] = [];
    for (const q of queries) for (const name of metricNames(q.expr)) if (!exported.has(name)) missing.push(`${q.where}: ${name}`);
    // Rules may also use Prometheus's own `up` and what other rules record.
    for (const r of rules) {
      for (const name of metricNames(r.expr)) {
        if (!exported.has(name) && name !== 'up' && !recorded.includes(name)) missing.push(`rule ${r.record ?? r.alert}: ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('a real Prometheus scraping the agent answers every dashboard expression with data', async () => {
    await waitFor('10 scrapes of the agent', async () => {
      const r = await query('count_over_time(up{job="hotpath"}[1m]) >= 10 and up{job="hotpath"} == 1');
      return r.data?.result.length ? true : undefined;
    }, 60_000);
    const answers: Record<string, string> = {};
    for (const q of queries) {
      const promql = asPromQL(q.expr);
      // A quantile needs events in its window: retry while fio's I/O and the scheduler's wakeups arrive.
      answers[q.where] = await waitFor(`data for ${q.where}: ${promql}`, async () => {
        const r = await query(promql);
        if (r.status !== 'success') throw new Error(`${r.status}: ${r.error}`);
        const finite = r.data!.result.filter((s) => Number.isFinite(Number(s.value[1])));
        return finite.length > 0 ? `${finite.length} series` : undefined;
      }, 30_000);
    }
    console.log(`prometheus answered ${queries.length} dashboard queries: ${JSON.stringify(answers)}`);
    expect(Object.keys(answers)).toHaveLength(queries.length);
  });

  it('an expression naming a metric the agent does not export gets no data (the check can fail)', async () => {
    const r = await query(asPromQL('sum by (le) (rate(hotpath_runqueue_latency_bucket{instance=~"$instance"}[$__rate_interval]))'));
    expect(r.status).toBe('success');
    expect(r.data!.result).toEqual([]);
  });

  it('Prometheus records every recording rule of rules.yml from the live agent', async () => {
    for (const name of recorded) {
      await waitFor(`a sample of ${name}`, async () => {
        const r = await query(name);
        return r.data?.result.some((s) => Number.isFinite(Number(s.value[1]))) ? true : undefined;
      }, 30_000);
    }
    const rulesApi = (await (await request(`${promUrl}/api/v1/rules`)).body.json()) as {
      data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    const unhealthy = rulesApi.data.groups.flatMap((g) => g.rules).filter((r) => r.health !== 'ok');
    expect(unhealthy).toEqual([]);
  });
});
