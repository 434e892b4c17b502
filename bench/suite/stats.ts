// The one shape every benchmark section returns, and the one place its runs become a median and a spread.

/** Where a row sits on bench/scaling.svg: its series (line) and x value (distinct stacks per window). */
export interface ChartPoint {
  series: string;
  x: number;
}

/** One measured figure: every run's value; median and min–max are computed by `summarize`. */
export interface Row {
  section: string;
  metric: string;
  unit: string;
  /** One value per run; empty when the figure could not be measured (then `note` says why). */
  runs: number[];
  /** Shown beside the figure, or instead of it when there are no runs ("not installed: /usr/sbin/profile"). */
  note?: string;
  chart?: ChartPoint;
}

export interface Summary {
  median: number;
  min: number;
  max: number;
  /** Runs that gave a finite value. */
  n: number;
}

/** Median (mean of the middle two for an even count), min and max of the finite runs; undefined when none. */
export function summarize(runs: readonly number[]): Summary | undefined {
  const xs = runs.filter(Number.isFinite).sort((a, b) => a - b);
  if (xs.length === 0) return undefined;
  const mid = xs.length >> 1;
  const median = xs.length % 2 === 1 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
  return { median, min: xs[0], max: xs[xs.length - 1], n: xs.length };
}

/** A figure with about three significant digits, without exponent notation for the ranges benchmarks see. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  if (a >= 0.01) return v.toFixed(3);
  return v.toPrecision(2);
}

/** "12.3", "n/a (not installed: ...)" when there are no runs. */
export function formatMedian(row: Row): string {
  const s = summarize(row.runs);
  return s ? formatValue(s.median) : 'n/a';
}

/** "11.9–12.8"; a single run gives its value once; no runs gives "". */
export function formatSpread(row: Row): string {
  const s = summarize(row.runs);
  if (!s) return '';
  return s.n === 1 ? formatValue(s.min) : `${formatValue(s.min)}–${formatValue(s.max)}`;
}

/** Runs as a ratio a/b, pairwise when both have the same count, else the ratio of medians (one run). */
export function ratioRuns(a: readonly number[], b: readonly number[]): number[] {
  if (a.length > 0 && a.length === b.length) return a.map((x, i) => x / b[i]).filter(Number.isFinite);
  const sa = summarize(a);
  const sb = summarize(b);
  if (!sa || !sb || sb.median === 0) return [];
  return [sa.median / sb.median];
}

/** The seeded PRNG the fuzz tests use (mulberry32), so synthetic windows are the same on every run. */
export { prng as seededRandom } from '../../collector/test-support/prng.js';
