// deploy/grafana/hotpath.json as Grafana reads it: the panels the issue asks for, each on the dashboard's data
// source variable, laid out on Grafana's 24-column grid. That its queries name real metrics and return data
// from a real Prometheus is dashboard.kernel.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deployDir } from '../deploy-files.js';
import { dashboardQueries, metricNames } from './promql.js';

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { h: number; w: number; x: number; y: number };
  repeat?: string;
  targets?: { refId: string; expr: string; datasource?: { uid: string } }[];
}

const dashboard = JSON.parse(readFileSync(join(deployDir, 'grafana', 'hotpath.json'), 'utf8')) as {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string }[] };
};
const panels = dashboard.panels.filter((p) => p.type !== 'row');
const namesOf = (p: Panel): string[] => (p.targets ?? []).flatMap((t) => metricNames(t.expr));

describe('deploy/grafana/hotpath.json', () => {
  it('has unique panel ids on the 24-column grid, every query on the ${datasource} variable', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
    for (const p of panels) {
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      for (const t of p.targets ?? []) expect(t.datasource?.uid, `${p.title} ${t.refId}`).toBe('${datasource}');
    }
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'job', 'instance', 'device']);
  });

  it('shows run-queue and block I/O latency as heatmaps (one per device) and quantiles, per device for I/O', () => {
    const heatmaps = panels.filter((p) => p.type === 'heatmap');
    expect(heatmaps.map(namesOf)).toEqual([['hotpath_runqueue_latency_seconds_bucket'], ['hotpath_block_io_latency_seconds_bucket']]);
    expect(heatmaps[1].repeat).toBe('device');
    const quantiles = panels.flatMap((p) => p.targets ?? []).map((t) => t.expr).filter((e) => e.startsWith('histogram_quantile('));
    expect(quantiles.filter((e) => e.includes('hotpath_runqueue_latency_seconds_bucket'))).toHaveLength(2);
    expect(quantiles.filter((e) => e.includes('hotpath_block_io_latency_seconds_bucket') && /by \(device, operation, le\)/.test(e))).toHaveLength(2);
  });

  it('shows lost samples, windows dropped, agent CPU and memory, and the programs attached', () => {
    const all = panels.flatMap(namesOf);
    for (const name of ['hotpath_samples_lost_total', 'hotpath_windows_dropped_total', 'process_cpu_seconds_total',
      'hotpath_bpf_program_run_seconds_total', 'process_resident_memory_bytes', 'hotpath_program_attached']) {
      expect(all, name).toContain(name);
    }
    expect(dashboardQueries(dashboard).length).toBeGreaterThan(panels.length);
  });
});
