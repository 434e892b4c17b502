// bench/scaling.svg: a line chart of the rows that carry a chart point (x: distinct stacks per window, log
// scale; y: the median, linear, with a min–max bar). Written by hand: no chart library, deterministic output.
import { formatValue, summarize, type Row } from './stats.js';

export interface ChartOptions {
  title: string;
  yLabel: string;
  xLabel: string;
  width?: number;
  height?: number;
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** 1, 2, 5 × 10^k steps covering [0, max] in about five ticks. */
export function niceTicks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = 0; v < max + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1] < max) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

function formatX(x: number): string {
  return x >= 1000 && x % 1000 === 0 ? `${x / 1000}k` : String(x);
}

/** The chart of every row with `chart` set, one line per series; an empty chart says so. */
export function renderScalingSvg(rows: readonly Row[], opts: ChartOptions): string {
  const width = opts.width ?? 760;
  const height = opts.height ?? 400;
  const left = 70;
  const right = 210;
  const top = 40;
  const bottom = 55;
  const plotW = width - left - right;
  const plotH = height - top - bottom;

  interface Point { x: number; median: number; min: number; max: number }
  const series = new Map<string, Point[]>();
  for (const r of rows) {
    const s = summarize(r.runs);
    if (!r.chart || !s || !(r.chart.x > 0)) continue;
    let list = series.get(r.chart.series);
    if (!list) series.set(r.chart.series, (list = []));
    list.push({ x: r.chart.x, median: s.median, min: s.min, max: s.max });
  }
  const all = [...series.values()].flat();
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(opts.title)}</text>`,
  ];
  if (all.length === 0) {
    out.push(`<text x="${width / 2}" y="${height / 2}" text-anchor="middle">no data</text>`, '</svg>');
    return `${out.join('\n')}\n`;
  }

  const xs = [...new Set(all.map((p) => p.x))].sort((a, b) => a - b);
  let lo = Math.log10(xs[0]);
  let hi = Math.log10(xs[xs.length - 1]);
  if (hi - lo < 1e-9) {
    lo -= 0.5;
    hi += 0.5;
  }
  const pad = (hi - lo) * 0.06;
  lo -= pad;
  hi += pad;
  const xPos = (x: number) => left + ((Math.log10(x) - lo) / (hi - lo)) * plotW;
  const ticks = niceTicks(Math.max(...all.map((p) => p.max)));
  const yMax = ticks[ticks.length - 1];
  const yPos = (y: number) => top + plotH - (y / yMax) * plotH;
  const f = (v: number) => v.toFixed(1);

  // Axes, grid and labels.
  for (const t of ticks) {
    out.push(`<line x1="${left}" y1="${f(yPos(t))}" x2="${left + plotW}" y2="${f(yPos(t))}" stroke="#e0e0e0"/>`);
    out.push(`<text x="${left - 6}" y="${f(yPos(t) + 4)}" text-anchor="end">${formatValue(t)}</text>`);
  }
  for (let k = Math.ceil(lo); k <= Math.floor(hi); k++) {
    const x = 10 ** k;
    out.push(`<line x1="${f(xPos(x))}" y1="${top}" x2="${f(xPos(x))}" y2="${top + plotH}" stroke="#f0f0f0"/>`);
  }
  for (const x of xs) {
    out.push(`<text x="${f(xPos(x))}" y="${top + plotH + 18}" text-anchor="middle">${formatX(x)}</text>`);
  }
  out.push(`<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#000"/>`);
  out.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#000"/>`);
  out.push(`<text x="${left + plotW / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(opts.xLabel)}</text>`);
  out.push(
    `<text x="18" y="${top + plotH / 2}" text-anchor="middle" transform="rotate(-90 18 ${top + plotH / 2})">${escapeXml(opts.yLabel)}</text>`,
  );

  // One polyline per series, a min–max bar and the median's value at each point, and the legend.
  let i = 0;
  for (const [name, points] of series) {
    const colour = COLOURS[i % COLOURS.length];
    points.sort((a, b) => a.x - b.x);
    const path = points.map((p) => `${f(xPos(p.x))},${f(yPos(p.median))}`).join(' ');
    out.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${path}"/>`);
    for (const p of points) {
      const x = f(xPos(p.x));
      out.push(`<line x1="${x}" y1="${f(yPos(p.min))}" x2="${x}" y2="${f(yPos(p.max))}" stroke="${colour}"/>`);
      out.push(`<circle cx="${x}" cy="${f(yPos(p.median))}" r="3.5" fill="${colour}"/>`);
      out.push(`<text x="${f(xPos(p.x) + 6)}" y="${f(yPos(p.median) - 6)}" fill="${colour}">${formatValue(p.median)}</text>`);
    }
    const ly = top + 10 + i * 20;
    out.push(`<line x1="${left + plotW + 15}" y1="${ly}" x2="${left + plotW + 35}" y2="${ly}" stroke="${colour}" stroke-width="2"/>`);
    out.push(`<text x="${left + plotW + 40}" y="${ly + 4}">${escapeXml(name)}</text>`);
    i++;
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
