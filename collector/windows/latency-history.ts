// Per-window deltas of the cumulative latency histograms (runqlat, biolatency), for the UI's heatmaps (issue
// 13). The kernel maps stay cumulative (the metrics contract); each window stores what it added, per label
// set, as a small typed array, and only the label sets that changed. Bounded like the profile store: by
// retention and by a count of windows.
import type { HistogramSeries } from '../../exporters/metrics/index.js';

export type LatencyMetric = 'runqlat' | 'biolatency';

export interface LatencyHistoryOptions {
  retentionNs: bigint;
  /** Windows held at most per metric (extra cuts for live profiles make windows shorter than --window). */
  maxWindows: number;
}

interface SeriesDelta {
  attributes: Readonly<Record<string, string>>;
  counts: Float64Array;
}

interface LatencyWindow {
  startNs: bigint;
  endNs: bigint;
  series: SeriesDelta[];
}

interface MetricState {
  windows: LatencyWindow[];
  /** The cumulative slots last seen, per label set key. */
  last: Map<string, Float64Array>;
  lastEndNs?: bigint;
}

export interface Heatmap {
  metric: LatencyMetric;
  /** Per window: [start, end] in Unix seconds. */
  windows: [number, number][];
  /** Slot numbers shown (rows), lowest first: slot k counts latencies in (2^(k-1), 2^k] ns. */
  firstSlot: number;
  lastSlot: number;
  /** counts[w][k - firstSlot]. */
  counts: number[][];
  /** Per window: the slot holding the median and the 99th percentile (upper bound), or null when empty. */
  p50: (number | null)[];
  p99: (number | null)[];
  /** Label values seen over the windows held (device names for biolatency), for the page's picker. */
  devices: string[];
  operations: string[];
}

const keyOf = (a: Readonly<Record<string, string>>) => Object.keys(a).sort().map((k) => `${k}=${a[k]}`).join(',');

/** The slot at which the cumulative count first reaches q of the total, or null when empty. */
export function quantileSlot(counts: ArrayLike<number>, q: number): number | null {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  if (total <= 0) return null;
  const target = q * total;
  let acc = 0;
  for (let i = 0; i < counts.length; i++) {
    acc += counts[i];
    if (acc >= target) return i;
  }
  return counts.length - 1;
}

export class LatencyHistory {
  private readonly metrics = new Map<LatencyMetric, MetricState>();

  constructor(private readonly opts: LatencyHistoryOptions) {}

  /** Records the window ending at `endNs` from the cumulative series read now. */
  record(metric: LatencyMetric, endNs: bigint, series: readonly HistogramSeries[]): void {
    let st = this.metrics.get(metric);
    if (!st) this.metrics.set(metric, (st = { windows: [], last: new Map() }));
    const deltas: SeriesDelta[] = [];
    for (const s of series) {
      const key = keyOf(s.attributes);
      const n = s.histogram.slots.length;
      const cur = new Float64Array(n);
      for (let i = 0; i < n; i++) cur[i] = Number(s.histogram.slots[i]);
      const prev = st.last.get(key);
      st.last.set(key, cur);
      const d = new Float64Array(n);
      let any = false;
      for (let i = 0; i < n; i++) {
        // A counter that went back (the program was reloaded) starts over: its whole value is new.
        const v = prev && prev.length === n && cur[i] >= prev[i] ? cur[i] - prev[i] : cur[i];
        d[i] = v;
        if (v > 0) any = true;
      }
      if (any) deltas.push({ attributes: s.attributes, counts: d });
    }
    // The first reading holds everything since load: it is the baseline, not a window.
    if (st.lastEndNs !== undefined) st.windows.push({ startNs: st.lastEndNs, endNs, series: deltas });
    st.lastEndNs = endNs;
    while (st.windows.length > 0 && (st.windows.length > this.opts.maxWindows || st.windows[0].endNs < endNs - this.opts.retentionNs)) st.windows.shift();
  }

  /** Windows held, per metric. */
  size(metric: LatencyMetric): number {
    return this.metrics.get(metric)?.windows.length ?? 0;
  }

  /** The heatmap of the windows overlapping [fromNs, toNs), summed over the label sets that match `where`. */
  heatmap(metric: LatencyMetric, fromNs: bigint, toNs: bigint, where: { device?: string; operation?: string } = {}): Heatmap {
    const ws = (this.metrics.get(metric)?.windows ?? []).filter((w) => w.endNs > fromNs && w.startNs < toNs);
    const devices = new Set<string>();
    const operations = new Set<string>();
    const sums: Float64Array[] = [];
    let first = Infinity;
    let last = -Infinity;
    for (const w of ws) {
      let sum: Float64Array | undefined;
      for (const s of w.series) {
        if (s.attributes.device !== undefined) devices.add(s.attributes.device);
        if (s.attributes.operation !== undefined) operations.add(s.attributes.operation);
        if (where.device && s.attributes.device !== where.device) continue;
        if (where.operation && s.attributes.operation !== where.operation) continue;
        sum ??= new Float64Array(s.counts.length);
        for (let i = 0; i < s.counts.length && i < sum.length; i++) sum[i] += s.counts[i];
      }
      sum ??= new Float64Array(0);
      sums.push(sum);
      for (let i = 0; i < sum.length; i++) {
        if (sum[i] > 0) {
          first = Math.min(first, i);
          last = Math.max(last, i);
        }
      }
    }
    if (first === Infinity) {
      first = 0;
      last = -1;
    }
    const sec = (ns: bigint) => Number(ns) / 1e9;
    return {
      metric,
      windows: ws.map((w) => [sec(w.startNs), sec(w.endNs)]),
      firstSlot: first,
      lastSlot: last,
      counts: sums.map((s) => Array.from({ length: last - first + 1 }, (_, i) => s[first + i] ?? 0)),
      p50: sums.map((s) => quantileSlot(s, 0.5)),
      p99: sums.map((s) => quantileSlot(s, 0.99)),
      devices: [...devices].sort(),
      operations: [...operations].sort(),
    };
  }
}
